package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// sync regenerates steps/NN from solutions/NN and the exercise patch; with check it
// only reports whether steps/NN is what it would generate.
func (w *workshop) sync(s step, check bool) error {
	gen, diffs, cleanup, err := w.generated(s)
	if err != nil {
		return err
	}
	defer cleanup()
	if len(diffs) == 0 {
		if !check {
			fmt.Fprintf(w.out, "steps/%s is up to date\n", s.Name)
		}
		return nil
	}
	if check {
		return fmt.Errorf("steps/%s is stale: %s differ from solutions/%s with exercises/%s.diff applied.\n"+
			"Run `go run ./cmd/workshop sync %s` to regenerate it, or, if you edited the step on purpose, "+
			"`go run ./cmd/workshop capture %s` to record the edit.\n"+
			"Working on the exercise? This check is for maintainers: check your work with `make check STEP=%s`",
			s.Name, strings.Join(diffs, ", "), s.Name, s.Name, s.Number, s.Number, s.Number)
	}
	return w.replace(s, gen, diffs)
}

// generated writes steps/NN's starting code into a temporary directory and lists the
// files in which steps/NN, as it is, differs from it; cleanup removes the directory.
func (w *workshop) generated(s step) (gen string, diffs []string, cleanup func(), err error) {
	tmp, err := os.MkdirTemp("", "workshop-sync-")
	if err != nil {
		return "", nil, nil, err
	}
	cleanup = func() { os.RemoveAll(tmp) }
	gen = filepath.Join(tmp, "step")
	if err := w.generate(s, gen); err != nil {
		cleanup()
		return "", nil, nil, err
	}
	if diffs, err = compareTrees(gen, w.starter(s)); err != nil {
		cleanup()
		return "", nil, nil, err
	}
	return gen, diffs, cleanup, nil
}

// replace puts the generated tree gen in place of steps/NN, whose files diffs lists.
func (w *workshop) replace(s step, gen string, diffs []string) error {
	if err := os.RemoveAll(w.starter(s)); err != nil {
		return err
	}
	if err := copyTree(gen, w.starter(s)); err != nil {
		return err
	}
	fmt.Fprintf(w.out, "steps/%s regenerated (%s)\n", s.Name, strings.Join(diffs, ", "))
	return nil
}

// generate writes the step's starting code into dir: the solution plus the patch.
func (w *workshop) generate(s step, dir string) error {
	if err := copyTree(w.solution(s), dir); err != nil {
		return err
	}
	patch := w.patch(s)
	if _, err := os.Stat(patch); err != nil {
		return fmt.Errorf("steps/%s: no exercise patch %s: write the starting code in steps/%s and run `go run ./cmd/workshop capture %s`",
			s.Name, rel(w.root, patch), s.Name, s.Number)
	}
	cmd := exec.Command("git", "apply", "-p1", "--whitespace=nowarn", patch)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_DIR="+filepath.Join(dir, ".no-git")) // never the repository's index
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("steps/%s: %s no longer applies to solutions/%s (the solution changed where the exercise is):\n%s\n"+
			"Fix steps/%s by hand, then run `go run ./cmd/workshop capture %s`", s.Name, rel(w.root, patch), s.Name, out, s.Name, s.Number)
	}
	return nil
}

// capture records steps/NN as the patch that turns solutions/NN into it.
func (w *workshop) capture(s step) error {
	tmp, err := os.MkdirTemp("", "workshop-capture-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := copyTree(w.solution(s), filepath.Join(tmp, "a")); err != nil {
		return err
	}
	if err := copyTree(w.starter(s), filepath.Join(tmp, "b")); err != nil {
		return err
	}
	cmd := exec.Command("git", "diff", "--no-index", "--no-prefix", "--no-color", "--no-ext-diff", "--", "a", "b")
	cmd.Dir = tmp
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 1) {
		return fmt.Errorf("diff solutions/%s steps/%s: %v\n%s", s.Name, s.Name, err, errOut.String())
	}
	if out.Len() == 0 {
		return fmt.Errorf("steps/%s is the same as solutions/%s: there is no exercise to capture", s.Name, s.Name)
	}
	if err := os.MkdirAll(filepath.Dir(w.patch(s)), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(w.patch(s), out.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(w.out, "wrote %s\n", rel(w.root, w.patch(s)))
	return w.sync(s, true)
}

// skip reports files that are never part of a step: build output and editor leftovers.
func skip(name string) bool {
	for _, suffix := range []string{".test", ".out", "~", ".orig", ".rej", ".swp"} {
		if strings.HasSuffix(name, suffix) {
			return true
		}
	}
	return name == ".DS_Store"
}

// copyTree copies the regular files under src to dst.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		r, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, r)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() || skip(d.Name()) {
			return nil
		}
		// A binary left by `go build` in the step is never part of it.
		if info, err := d.Info(); err != nil || info.Mode()&0o111 != 0 {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}

// compareTrees lists the files that differ between two trees.
func compareTrees(a, b string) ([]string, error) {
	files := map[string]bool{}
	for _, root := range []string{a, b} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if errors.Is(err, fs.ErrNotExist) && path == root {
				return nil
			}
			if err != nil {
				return err
			}
			if info, err := d.Info(); err == nil && d.Type().IsRegular() && !skip(d.Name()) && info.Mode()&0o111 == 0 {
				r, _ := filepath.Rel(root, path)
				files[r] = true
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	var diffs []string
	for f := range files {
		x, errA := os.ReadFile(filepath.Join(a, f))
		y, errB := os.ReadFile(filepath.Join(b, f))
		if errA != nil || errB != nil || !bytes.Equal(x, y) {
			diffs = append(diffs, f)
		}
	}
	sort.Strings(diffs)
	return diffs, nil
}

func rel(root, path string) string {
	if r, err := filepath.Rel(root, path); err == nil {
		return r
	}
	return path
}

// reset puts steps/NN back to its starting code. When the attendee had changed it, what
// it overwrites is kept first in backupDir/NN-name/TIME (see backup).
func (w *workshop) reset(s step) error {
	gen, diffs, cleanup, err := w.generated(s)
	if err != nil {
		return err
	}
	defer cleanup()
	if len(diffs) == 0 {
		fmt.Fprintf(w.out, "steps/%s is up to date\n", s.Name)
		return nil
	}
	dir, err := w.backup(s)
	if err != nil {
		return fmt.Errorf("steps/%s not reset: keep a backup of it first: %w", s.Name, err)
	}
	fmt.Fprintf(w.out, "your steps/%s is kept in %s\n", s.Name, rel(w.root, dir))
	return w.replace(s, gen, diffs)
}

// backupDir is where reset keeps the steps it overwrites, under the repository root.
// The go command ignores directories whose name starts with a dot, and git ignores it.
const backupDir = ".workshop/backup"

// backup copies steps/NN, as it is, into a new directory of backupDir and returns it.
func (w *workshop) backup(s step) (string, error) {
	dir := filepath.Join(w.root, backupDir, s.Name, time.Now().Format("20060102-150405.000"))
	if _, err := os.Stat(w.starter(s)); errors.Is(err, fs.ErrNotExist) {
		return dir, os.MkdirAll(dir, 0o755)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", err
	}
	return dir, copyTree(w.starter(s), dir)
}
