package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// newRepo makes a tiny workshop repository: one solution and its hand-written step.
func newRepo(t *testing.T) *workshop {
	t.Helper()
	root := t.TempDir()
	write(t, filepath.Join(root, "go.work"), "go 1.26\n")
	write(t, filepath.Join(root, "solutions/01-demo/main.go"), "package main\n\nfunc greet() string {\n\treturn \"hello\"\n}\n\nfunc main() {}\n")
	write(t, filepath.Join(root, "solutions/01-demo/README.md"), "# Step 01 — Demo\n")
	write(t, filepath.Join(root, "steps/01-demo/main.go"), "package main\n\nfunc greet() string {\n\t// TODO(01.1): say hello,\n\t// politely.\n\treturn \"\"\n}\n\nfunc main() {}\n")
	write(t, filepath.Join(root, "steps/01-demo/README.md"), "# Step 01 — Demo\n")
	return &workshop{root: root, out: &bytes.Buffer{}, errOut: &bytes.Buffer{}}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCaptureThenSync(t *testing.T) {
	w := newRepo(t)
	s := step{Name: "01-demo", Number: "01"}
	if err := w.capture(s); err != nil {
		t.Fatalf("capture: %v", err)
	}
	if err := w.sync(s, true); err != nil {
		t.Fatalf("sync -check right after capture: %v", err)
	}

	// An attendee's (or a maintainer's) edit to the step makes it stale.
	write(t, filepath.Join(w.starter(s), "main.go"), "package main\n")
	err := w.sync(s, true)
	if err == nil || !strings.Contains(err.Error(), "stale") || !strings.Contains(err.Error(), "main.go") {
		t.Fatalf("sync -check after editing the step: %v, want stale main.go", err)
	}
	// sync (reset) puts the starting code back.
	if err := w.sync(s, false); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(filepath.Join(w.starter(s), "main.go")); !strings.Contains(string(data), "TODO(01.1)") {
		t.Fatalf("after sync, the step lost its TODO:\n%s", data)
	}

	// A solution change away from the exercise flows into the step.
	write(t, filepath.Join(w.solution(s), "extra.go"), "package main\n")
	if err := w.sync(s, true); err == nil {
		t.Fatal("a new solution file did not make the step stale")
	}
	if err := w.sync(s, false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(w.starter(s), "extra.go")); err != nil {
		t.Fatal("sync did not carry the new solution file into the step")
	}

	// A solution change inside the exercise makes the patch fail loudly.
	write(t, filepath.Join(w.solution(s), "main.go"), "package main\n\nfunc greet() string {\n\treturn \"bonjour\"\n}\n\nfunc main() {}\n")
	err = w.sync(s, true)
	if err == nil || !strings.Contains(err.Error(), "no longer applies") {
		t.Fatalf("sync after changing the solution where the exercise is: %v, want 'no longer applies'", err)
	}
}

func TestCaptureWithoutExercise(t *testing.T) {
	w := newRepo(t)
	s := step{Name: "01-demo", Number: "01"}
	data, _ := os.ReadFile(filepath.Join(w.solution(s), "main.go"))
	write(t, filepath.Join(w.starter(s), "main.go"), string(data))
	if err := w.capture(s); err == nil || !strings.Contains(err.Error(), "no exercise") {
		t.Fatalf("capture of a step equal to its solution: %v", err)
	}
}

func TestSyncWithoutPatch(t *testing.T) {
	w := newRepo(t)
	err := w.sync(step{Name: "01-demo", Number: "01"}, true)
	if err == nil || !strings.Contains(err.Error(), "capture 01") {
		t.Fatalf("sync without a patch: %v, want a hint to capture", err)
	}
}

func TestTodosAndSteps(t *testing.T) {
	w := newRepo(t)
	steps, err := w.stepsArg([]string{"1"})
	if err != nil || len(steps) != 1 || steps[0].Name != "01-demo" {
		t.Fatalf("stepsArg(1) = %v, %v", steps, err)
	}
	if _, err := w.stepsArg([]string{"07"}); err == nil || !strings.Contains(err.Error(), "01-demo") {
		t.Errorf("unknown step: %v, want the list of steps", err)
	}
	todos, err := w.todos(steps[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(todos) != 1 || todos[0] != "TODO(01.1): say hello, politely." {
		t.Errorf("todos = %q", todos)
	}
	if got := w.title(steps[0]); got != "Step 01 — Demo" {
		t.Errorf("title = %q", got)
	}
}

func TestMarkerIDs(t *testing.T) {
	got := markerIDs("look at TODO(03.2) and TODO(03.1), TODO(03.2) again, not TODO(02.1)", "03")
	if strings.Join(got, ",") != "TODO(03.1),TODO(03.2)" {
		t.Errorf("markerIDs = %v", got)
	}
}

func TestVerify(t *testing.T) {
	t.Setenv("GOWORK", "off") // the tiny repository's step is a module of its own
	for _, tc := range []struct {
		name, test, wantErr string
	}{
		{"fails naming its TODO", `t.Fatal("greet() = \"\": look at TODO(01.1)")`, ""},
		{"fails without a TODO", `t.Fatal("greet() is wrong")`, "without naming a TODO(01.k)"},
		{"already solved", `_ = greet()`, "already solved"},
		{"names another TODO", `t.Fatal("look at TODO(01.2)")`, "TODO(01.1) is named by no failing test"},
		{"does not compile", `undefined()`, "does not compile"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newRepo(t)
			s := step{Name: "01-demo", Number: "01"}
			write(t, filepath.Join(w.starter(s), "go.mod"), "module example.com/demo\n\ngo 1.26\n")
			write(t, filepath.Join(w.starter(s), "main_test.go"),
				"package main\n\nimport \"testing\"\n\nfunc TestGreet(t *testing.T) {\n\t"+tc.test+"\n}\n")
			err := w.verifyStep(t.Context(), s)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("verify: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("verify: %v, want an error saying %q", err, tc.wantErr)
			}
		})
	}
}

func TestDiff(t *testing.T) {
	w := newRepo(t)
	write(t, filepath.Join(w.root, "solutions/02-next/main.go"), "package main\n\nfunc greet() string {\n\treturn \"hello, traced\"\n}\n\nfunc main() {}\n")
	write(t, filepath.Join(w.root, "solutions/02-next/README.md"), "# Step 02 — Next\n")
	write(t, filepath.Join(w.root, "solutions/02-next/main_test.go"), "package main\n")
	out := w.out.(*bytes.Buffer)

	if err := w.diffCmd([]string{"01", "02"}); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{"solutions/01-demo/main.go", "solutions/02-next/main.go", "-\treturn \"hello\"", "+\treturn \"hello, traced\""} {
		if !strings.Contains(got, want) {
			t.Errorf("diff 01 02 lacks %q:\n%s", want, got)
		}
	}
	for _, unwanted := range []string{"README.md", "main_test.go", "\x1b["} {
		if strings.Contains(got, unwanted) {
			t.Errorf("diff 01 02 shows %q, which it leaves out by default (and colours only a terminal):\n%s", unwanted, got)
		}
	}

	out.Reset()
	if err := w.diffCmd([]string{"-all", "1", "02-next", "-color=always"}); err != nil {
		t.Fatal(err)
	}
	got = out.String()
	for _, want := range []string{"README.md", "main_test.go", "\x1b["} {
		if !strings.Contains(got, want) {
			t.Errorf("diff -all -color=always lacks %q:\n%s", want, got)
		}
	}

	if err := w.diffCmd([]string{"01"}); err == nil {
		t.Error("diff with one step: no error")
	}
}
