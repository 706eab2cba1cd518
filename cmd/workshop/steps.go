package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// workshop is the repository the command works on.
type workshop struct {
	root        string
	out, errOut io.Writer
	color       bool // out is a terminal and NO_COLOR is not set
}

// step is one numbered step, e.g. "03-traced-rabbit-broker".
type step struct {
	Name   string // 03-traced-rabbit-broker
	Number string // 03
}

func (w *workshop) solution(s step) string { return filepath.Join(w.root, "solutions", s.Name) }
func (w *workshop) starter(s step) string  { return filepath.Join(w.root, "steps", s.Name) }
func (w *workshop) patch(s step) string    { return filepath.Join(w.root, "exercises", s.Name+".diff") }

var stepDir = regexp.MustCompile(`^(\d\d)-[a-z0-9-]+$`)

// steps lists the steps that have a solution, in order.
func (w *workshop) steps() ([]step, error) {
	entries, err := os.ReadDir(filepath.Join(w.root, "solutions"))
	if err != nil {
		return nil, fmt.Errorf("list the steps: %w", err)
	}
	var out []step
	for _, e := range entries {
		if m := stepDir.FindStringSubmatch(e.Name()); e.IsDir() && m != nil {
			out = append(out, step{Name: e.Name(), Number: m[1]})
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no steps under solutions/")
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// stepArg finds the one step args names, by number ("3", "03") or name.
func (w *workshop) stepArg(args []string) (step, error) {
	if len(args) != 1 {
		return step{}, errors.New("name one step, e.g. 01 or 01-untraced")
	}
	steps, err := w.stepsArg(args)
	if err != nil {
		return step{}, err
	}
	return steps[0], nil
}

// stepsArg finds the steps args names; no args means all of them.
func (w *workshop) stepsArg(args []string) ([]step, error) {
	all, err := w.steps()
	if err != nil {
		return nil, err
	}
	if len(args) == 0 {
		return all, nil
	}
	var out []step
	for _, a := range args {
		a = strings.TrimSuffix(filepath.Base(a), "/")
		if len(a) == 1 {
			a = "0" + a
		}
		found := false
		for _, s := range all {
			if s.Name == a || s.Number == a {
				out = append(out, s)
				found = true
			}
		}
		if !found {
			var names []string
			for _, s := range all {
				names = append(names, s.Name)
			}
			return nil, fmt.Errorf("no step %q; the steps are %s", a, strings.Join(names, ", "))
		}
	}
	return out, nil
}

// title is the first heading of the step's README.
func (w *workshop) title(s step) string {
	f, err := os.Open(filepath.Join(w.solution(s), "README.md"))
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if t, ok := strings.CutPrefix(sc.Text(), "# "); ok {
			return t
		}
	}
	return ""
}

// findRoot walks up from the working directory to the directory holding go.work.
func findRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			if _, err := os.Stat(filepath.Join(dir, "solutions")); err == nil {
				return dir, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run this inside the workshop repository (no go.work with solutions/ found above here)")
		}
		dir = parent
	}
}
