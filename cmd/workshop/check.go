package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
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
		ids := markerIDs(strings.Join(r.Output, ""), s.Number)
		if len(ids) == 0 {
			// A panic in the step's code names no TODO: the TODO above the line that
			// panicked is the one to look at.
			if id, where := panicTODO(r.Output, w.starter(s), s.Number); id != "" {
				fmt.Fprintf(w.out, "    The test panicked in %s: look at %s.\n", where, id)
				ids = []string{id}
			}
		}
		next = append(next, ids...)
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

// testMessages keeps, of a failing test's output, what the test said: the lines of
// t.Error and t.Log, which go test indents, and from a panic on, everything (the panic
// and its stack). What the code under test printed to stdout or stderr on its own (a
// WARN record, OpenTelemetry's "invalid baggage list-member" for a test that sends a
// bad header on purpose) starts at the line's first column: it is no message of the
// test, and an attendee reading the summary would take it for one.
func testMessages(lines []string) string {
	var b strings.Builder
	panicked := false
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- PASS") || strings.HasPrefix(t, "--- FAIL") ||
			strings.HasPrefix(t, "--- SKIP") {
			continue
		}
		panicked = panicked || strings.HasPrefix(l, "panic: ")
		if !panicked && !strings.HasPrefix(l, " ") && !strings.HasPrefix(l, "\t") {
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

// stackFrame is a file:line of a goroutine trace, as a panic prints it.
var stackFrame = regexp.MustCompile(`^\s+(\S+\.go):(\d+)`)

// panicTODO finds, in the stack trace of a panic in output, the first frame in a
// non-test file of dir, and returns the last TODO of step number at or above that line
// in that file, and where the frame is (file:line). It returns "" when output holds no
// panic, or no frame in dir carries a TODO above it.
func panicTODO(output []string, dir, number string) (id, where string) {
	panicked := false
	for _, l := range output {
		if strings.Contains(l, "panic: ") {
			panicked = true
		}
		if !panicked {
			continue
		}
		m := stackFrame.FindStringSubmatch(l)
		if m == nil || filepath.Dir(m[1]) != dir || strings.HasSuffix(m[1], "_test.go") {
			continue
		}
		data, err := os.ReadFile(m[1])
		if err != nil {
			continue
		}
		line, _ := strconv.Atoi(m[2])
		lines := strings.Split(string(data), "\n")
		for i := min(line, len(lines)) - 1; i >= 0; i-- {
			if ids := markerIDs(lines[i], number); len(ids) > 0 {
				return ids[0], filepath.Base(m[1]) + ":" + m[2]
			}
		}
	}
	return "", ""
}
