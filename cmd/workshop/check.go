package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// check runs an attendee's step and prints what passes, what fails and what to do next.
// Each test's line appears as soon as the test ends; on a terminal a line below counts
// the tests done while the others run, and the marks are coloured.
func (w *workshop) check(ctx context.Context, s step) error {
	fmt.Fprintf(w.out, "Checking steps/%s (go test ./...)…\n\n", s.Name)
	var mu sync.Mutex
	done := 0
	status := func() {
		if w.color {
			fmt.Fprintf(w.out, "\r\033[K%s", w.paint(dim, fmt.Sprintf("running… %d test(s) done", done)))
		}
	}
	status()
	stopTicker := w.tick(func() { mu.Lock(); status(); mu.Unlock() })
	results, buildOut, err := goTest(ctx, w.starter(s), func(r *testResult) {
		mu.Lock()
		defer mu.Unlock()
		done++
		if w.color {
			fmt.Fprint(w.out, "\r\033[K")
		}
		fmt.Fprintln(w.out, w.mark(r))
		status()
	})
	stopTicker()
	if w.color {
		fmt.Fprint(w.out, "\r\033[K")
	}
	if err != nil {
		return err
	}
	if buildOut != "" {
		fmt.Fprintf(w.out, "%s The step does not compile:\n%s\n", w.paint(red, "✗"), indent(buildOut))
		return errReported
	}
	var next []string
	failures := 0
	for _, r := range results {
		if !r.Failed {
			continue
		}
		if failures == 0 {
			fmt.Fprintln(w.out, "\nWhat the failing tests say:")
		}
		failures++
		fmt.Fprintf(w.out, "\n%s\n", w.mark(r))
		fmt.Fprint(w.out, indent(testMessages(r.Output)))
		next = append(next, markerIDs(strings.Join(r.Output, ""), s.Number)...)
	}
	fmt.Fprintf(w.out, "\n%d of %d tests pass.\n", len(results)-failures, len(results))
	if failures == 0 {
		fmt.Fprintf(w.out, "%s Run it: go run ./cmd/workshop demo -step %s\n", w.paint(green, "Step "+s.Number+" is done."), s.Number)
		return nil
	}
	if len(next) > 0 {
		sort.Strings(next)
		fmt.Fprintf(w.out, "%s %s in steps/%s (see its README).\n", w.paint(bold, "Next:"), next[0], s.Name)
	}
	return errReported
}

// mark is a test's line: ✓ or ✗ and its name.
func (w *workshop) mark(r *testResult) string {
	if r.Failed {
		return w.paint(red, "✗") + " " + r.Name
	}
	return w.paint(green, "✓") + " " + r.Name
}

// tick calls f every second until the returned stop is called, so that a slow test
// does not look like a hung command. Off a terminal it does nothing.
func (w *workshop) tick(f func()) (stop func()) {
	if !w.color {
		return func() {}
	}
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				f()
			}
		}
	}()
	return func() { close(quit); wg.Wait() }
}

// ANSI styles.
const (
	red   = "31"
	green = "32"
	bold  = "1"
	dim   = "2"
)

// paint styles text when out is a terminal without NO_COLOR, and leaves it plain otherwise.
func (w *workshop) paint(style, text string) string {
	if !w.color {
		return text
	}
	return "\033[" + style + "m" + text + "\033[0m"
}

// testMessages keeps what a test said, dropping go test's own bookkeeping lines.
func testMessages(lines []string) string {
	var b strings.Builder
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- PASS") || strings.HasPrefix(t, "--- FAIL") ||
			strings.HasPrefix(t, "--- SKIP") {
			continue
		}
		b.WriteString(l)
	}
	return b.String()
}

func indent(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString("    " + l + "\n")
	}
	return b.String()
}
