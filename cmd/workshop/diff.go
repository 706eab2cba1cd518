package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// diffExcluded are the files `workshop diff` leaves out unless asked for everything: each
// step's tests check that step's own tracer, so they change every time without being part
// of the migration, and READMEs and go.sum are prose and checksums.
func diffExcluded(name string) bool {
	return strings.HasSuffix(name, "_test.go") || name == "README.md" || name == "go.sum"
}

// diffCmd parses `diff [-all] [-color=auto|always|never] NN MM`.
func (w *workshop) diffCmd(args []string) error {
	fs := flag.NewFlagSet("diff", flag.ContinueOnError)
	fs.SetOutput(w.errOut)
	all := fs.Bool("all", false, "keep the tests, READMEs and go.sum")
	color := fs.String("color", "auto", "auto (a terminal without NO_COLOR), always or never")
	// Flags may come after the steps too (`workshop diff 03 04 -all`), as people type them.
	var steps []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		steps = append(steps, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(steps) != 2 {
		return errors.New("usage: workshop diff [-all] [-color=auto|always|never] NN MM, e.g. workshop diff 03 04")
	}
	from, err := w.stepArg(steps[:1])
	if err != nil {
		return err
	}
	to, err := w.stepArg(steps[1:])
	if err != nil {
		return err
	}
	var colored bool
	switch *color {
	case "auto":
		colored = isTerminal(w.out) && os.Getenv("NO_COLOR") == ""
	case "always":
		colored = true
	case "never":
	default:
		return fmt.Errorf("-color=%s: want auto, always or never", *color)
	}
	return w.diff(from, to, *all, colored)
}

// diff writes the changes from solution from to solution to as a unified diff, with the
// paths as they are in the repository (solutions/NN-name/file).
func (w *workshop) diff(from, to step, all, colored bool) error {
	tmp, err := os.MkdirTemp("", "workshop-diff-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	var dirs []string
	for _, s := range []step{from, to} {
		dir := filepath.Join("solutions", s.Name)
		if err := copyForDiff(w.solution(s), filepath.Join(tmp, dir), all); err != nil {
			return fmt.Errorf("diff: %w", err)
		}
		dirs = append(dirs, dir)
	}
	colorFlag := "--no-color"
	if colored {
		colorFlag = "--color=always"
	}
	cmd := exec.Command("git", "diff", "--no-index", "--no-ext-diff", colorFlag, "--", dirs[0], dirs[1])
	cmd.Dir = tmp
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = w.out, &stderr
	err = cmd.Run()
	// git diff --no-index exits 1 when the trees differ, which is what we expect.
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 1 {
		return nil
	}
	// A pager or head that stops reading early is no failure of the diff.
	if errors.As(err, &exit) {
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGPIPE {
			return nil
		}
	}
	if err != nil {
		return fmt.Errorf("diff %s %s: %v: %s", from.Number, to.Number, err, strings.TrimSpace(stderr.String()))
	}
	fmt.Fprintf(w.errOut, "solutions %s and %s do not differ\n", from.Name, to.Name)
	return nil
}

// copyForDiff copies the files of a solution that the diff shows.
func copyForDiff(src, dst string, all bool) error {
	if err := copyTree(src, dst); err != nil {
		return err
	}
	if all {
		return nil
	}
	return filepath.WalkDir(dst, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !diffExcluded(d.Name()) {
			return err
		}
		return os.Remove(path)
	})
}

// isTerminal reports whether w is a terminal, where colours help.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}
