package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"sort"
	"strings"
	"sync"
)

// testResult is one top-level test of a `go test -json` run.
type testResult struct {
	Package, Name string
	Failed        bool
	Output        []string // the test's own output lines, subtests included
	// Leaves are its innermost subtests (itself when it has none), each with its own
	// output only: a suite that runs as one test still fails leaf by leaf.
	Leaves []*testResult
}

// goTest runs `go test -json` in dir, with flags, and returns its top-level tests, and
// whether the build failed (then the output says why). done, if not nil, is called as
// each top-level test ends, while the others still run.
func goTest(ctx context.Context, dir string, done func(*testResult), flags ...string) (results []*testResult, buildOut string, err error) {
	cmd := exec.CommandContext(ctx, "go", append(append([]string{"test", "-count=1", "-json"}, flags...), "./...")...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("go test in %s: %w", dir, err)
	}
	byName := map[string]*testResult{}
	leaves := map[string]*testResult{} // every test and subtest, by package and full name
	var order []string
	var build strings.Builder
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var ev struct {
			Action, Package, Test, Output string
		}
		if json.Unmarshal(sc.Bytes(), &ev) != nil {
			build.WriteString(sc.Text() + "\n")
			continue
		}
		if ev.Action == "build-output" {
			build.WriteString(ev.Output)
		}
		if ev.Test == "" {
			if ev.Action == "output" && strings.Contains(ev.Output, "[setup failed]") {
				build.WriteString(ev.Output)
			}
			continue
		}
		top, _, _ := strings.Cut(ev.Test, "/")
		key := ev.Package + "." + top
		r := byName[key]
		if r == nil {
			r = &testResult{Package: ev.Package, Name: top}
			byName[key] = r
			results = append(results, r)
		}
		lkey := ev.Package + "." + ev.Test
		l := leaves[lkey]
		if l == nil {
			l = &testResult{Package: ev.Package, Name: ev.Test}
			leaves[lkey] = l
			order = append(order, lkey)
		}
		switch ev.Action {
		case "output":
			r.Output = append(r.Output, ev.Output)
			l.Output = append(l.Output, ev.Output)
		case "fail":
			r.Failed = true
			l.Failed = true
		}
		if (ev.Action == "pass" || ev.Action == "fail" || ev.Action == "skip") && ev.Test == top && done != nil {
			done(r)
		}
	}
	// A line longer than the buffer stops the loop above: drain the rest, so go test
	// can finish.
	io.Copy(io.Discard, stdout)
	for _, k := range order {
		hasChild := false
		for _, other := range order {
			if strings.HasPrefix(other, k+"/") {
				hasChild = true
				break
			}
		}
		if !hasChild {
			l := leaves[k]
			top, _, _ := strings.Cut(l.Name, "/")
			byName[l.Package+"."+top].Leaves = append(byName[l.Package+"."+top].Leaves, l)
		}
	}
	runErr := cmd.Wait()
	var exit *exec.ExitError
	if runErr != nil && !errors.As(runErr, &exit) {
		return nil, "", fmt.Errorf("go test in %s: %w", dir, runErr)
	}
	build.WriteString(stderr.String())
	if strings.Contains(build.String(), "build failed") || strings.Contains(build.String(), "setup failed") ||
		(len(results) == 0 && runErr != nil) {
		return results, build.String(), nil
	}
	return results, "", nil
}

// verify checks each step's exercise is real: the step compiles and vets, its tests
// that check the exercise fail and name its TODOs, every TODO is named by a failing
// test, and the solution carries no TODO markers of its own step.
func (w *workshop) verify(ctx context.Context, steps []step) error {
	// The steps are independent and their tests mostly wait on RabbitMQ: verify a few
	// at once, and report in step order.
	type result struct {
		out bytes.Buffer
		err error
	}
	results := make([]result, len(steps))
	sem := make(chan struct{}, verifyParallel)
	var wg sync.WaitGroup
	for i, s := range steps {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			sw := *w
			sw.out = &results[i].out
			results[i].err = sw.verifyStep(ctx, s)
		})
	}
	wg.Wait()
	var errs []error
	for i, s := range steps {
		w.out.Write(results[i].out.Bytes())
		if err := results[i].err; err != nil {
			errs = append(errs, fmt.Errorf("steps/%s: %w", s.Name, err))
			fmt.Fprintf(w.out, "✗ steps/%s\n", s.Name)
		}
	}
	return errors.Join(errs...)
}

// verifyParallel is how many steps verify checks at once: all six, since each mostly
// waits (on RabbitMQ, and on timeouts its failing tests wait out), and make test runs
// verify beside the modules' tests.
const verifyParallel = 6

func (w *workshop) verifyStep(ctx context.Context, s step) error {
	todos, err := w.todos(s)
	if err != nil {
		return err
	}
	if len(todos) == 0 {
		return fmt.Errorf("no TODO(%s.k) marker in the step's code: there is no exercise", s.Number)
	}
	if marked, err := grepMarkers(w.solution(s), s.Number); err != nil {
		return err
	} else if len(marked) > 0 {
		return fmt.Errorf("solutions/%s still has TODO(%s.k) markers in %s: they belong in the step only", s.Name, s.Number, strings.Join(marked, ", "))
	}
	vet := exec.CommandContext(ctx, "go", "vet", "./...")
	vet.Dir = w.starter(s)
	if out, err := vet.CombinedOutput(); err != nil {
		return fmt.Errorf("the starting code does not compile or vet cleanly: attendees could not even start:\n%s", out)
	}
	// Vetted just now: go test need not vet again.
	results, buildOut, err := goTest(ctx, w.starter(s), nil, "-vet=off")
	if err != nil {
		return err
	}
	if buildOut != "" {
		return fmt.Errorf("the step's tests do not build:\n%s", buildOut)
	}
	named := map[string]bool{}
	var passed, failed []string
	var errs []error
	// Judged leaf by leaf: a failing subtest of a suite must name its TODO itself, so
	// that a broken contract check cannot hide behind a neighbour that names one.
	for _, r := range results {
		for _, l := range r.Leaves {
			if !l.Failed {
				passed = append(passed, l.Name)
				continue
			}
			failed = append(failed, l.Name)
			out := strings.Join(l.Output, "")
			ids := markerIDs(out, s.Number)
			if len(ids) == 0 {
				errs = append(errs, fmt.Errorf("%s fails without naming a TODO(%s.k), so an attendee cannot tell what to do:\n%s",
					l.Name, s.Number, indent(out)))
			}
			for _, id := range ids {
				named[id] = true
			}
		}
	}
	if len(failed) == 0 {
		return errors.New("every test passes on the starting code: the exercise is already solved")
	}
	for _, t := range todos {
		id, _, _ := strings.Cut(t, ":")
		if !named[id] {
			errs = append(errs, fmt.Errorf("%s is named by no failing test: that task is untested, or already done in the starting code", id))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	fmt.Fprintf(w.out, "✓ steps/%s: compiles; %d tests keep passing; %d fail naming %s\n",
		s.Name, len(passed), len(failed), strings.Join(sortedKeys(named), ", "))
	return nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
