package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// todoPattern is the one pattern of an exercise marker: TODO(NN.k), NN the step's
// number. Steps' code, test messages and hints all name a task this way.
var todoPattern = regexp.MustCompile(`TODO\((\d\d)\.(\d+)\)`)

// markerIDs lists, sorted and once each, the markers of step number that text names.
func markerIDs(text, number string) []string {
	seen := map[string]bool{}
	var ids []string
	for _, m := range todoPattern.FindAllStringSubmatch(text, -1) {
		if m[1] == number && !seen[m[0]] {
			seen[m[0]] = true
			ids = append(ids, m[0])
		}
	}
	sort.Strings(ids)
	return ids
}

// grepMarkers lists the Go files, tests left out, in dir that carry a marker of step
// number.
func grepMarkers(dir, number string) ([]string, error) {
	sources, err := goSources(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, src := range sources {
		if len(markerIDs(src.text, number)) > 0 {
			out = append(out, src.name)
		}
	}
	return out, nil
}

// source is one Go file of a step, tests left out: where TODO markers live.
type source struct{ name, text string }

// goSources reads the Go files of dir, tests left out, in the order of their names.
func goSources(dir string) ([]source, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	var out []source
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		out = append(out, source{filepath.Base(f), string(data)})
	}
	return out, nil
}

// todos lists the TODO(NN.k) markers in the step's Go files: "TODO(03.1): text".
func (w *workshop) todos(s step) ([]string, error) {
	sources, err := goSources(w.starter(s))
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, src := range sources {
		lines := strings.Split(src.text, "\n")
		for i, line := range lines {
			m := todoPattern.FindStringSubmatchIndex(line)
			if m == nil || line[m[2]:m[3]] != s.Number {
				continue
			}
			id := line[m[0]:m[1]]
			// A task's text follows its marker, and goes on in the comment lines below.
			text := []string{strings.TrimSpace(strings.TrimPrefix(line[m[1]:], ":"))}
			for _, next := range lines[i+1:] {
				c, ok := strings.CutPrefix(strings.TrimSpace(next), "//")
				if !ok || todoPattern.MatchString(c) || strings.TrimSpace(c) == "" {
					break
				}
				text = append(text, strings.TrimSpace(c))
			}
			if !seen[id] {
				seen[id] = true
				out = append(out, id+": "+strings.Join(text, " "))
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// list prints the steps, each with its tasks, wrapped to listWidth columns.
func (w *workshop) list() error {
	steps, err := w.steps()
	if err != nil {
		return err
	}
	for _, s := range steps {
		fmt.Fprintf(w.out, "%s  %s\n", s.Name, w.title(s))
		todos, err := w.todos(s)
		if err != nil {
			return err
		}
		for _, t := range todos {
			fmt.Fprint(w.out, wrap(t, listWidth, "      ", "        "))
		}
	}
	fmt.Fprintln(w.out, "\nWork in steps/NN-name; check your work with: go run ./cmd/workshop check NN")
	return nil
}

// listWidth is the width list wraps to: a terminal's default.
const listWidth = 80

// wrap breaks text into lines of at most width columns, between words: the first line
// starts with first, the others with rest. A word longer than a line has one of its own.
func wrap(text string, width int, first, rest string) string {
	var b strings.Builder
	line, n := first, len([]rune(first))
	empty := true
	for _, word := range strings.Fields(text) {
		wl := len([]rune(word))
		if !empty && n+1+wl > width {
			b.WriteString(line + "\n")
			line, n, empty = rest, len([]rune(rest)), true
		}
		if !empty {
			line += " "
			n++
		}
		line += word
		n += wl
		empty = false
	}
	b.WriteString(line + "\n")
	return b.String()
}
