package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// checkRepo is newRepo with a step that has one passing and one failing test.
func checkRepo(t *testing.T) (*workshop, step) {
	t.Helper()
	t.Setenv("GOWORK", "off") // the tiny repository's step is a module of its own
	w := newRepo(t)
	s := step{Name: "01-demo", Number: "01"}
	write(t, filepath.Join(w.starter(s), "go.mod"), "module example.com/demo\n\ngo 1.26\n")
	write(t, filepath.Join(w.starter(s), "main_test.go"), "package main\n\nimport \"testing\"\n\n"+
		"func TestBuilds(t *testing.T) {}\n\n"+
		"func TestGreet(t *testing.T) {\n\tif greet() == \"\" {\n\t\tt.Fatal(\"greet() = \\\"\\\": look at TODO(01.1)\")\n\t}\n}\n")
	return w, s
}

func TestCheckPlain(t *testing.T) {
	w, s := checkRepo(t)
	err := w.check(t.Context(), s)
	if err != errReported {
		t.Fatalf("check of a step with a failing test: %v, want errReported", err)
	}
	out := w.out.(*bytes.Buffer).String()
	if strings.Contains(out, "\033[") {
		t.Errorf("check off a terminal wrote escape sequences:\n%q", out)
	}
	for _, want := range []string{"✓ TestBuilds\n", "✗ TestGreet\n", "look at TODO(01.1)", "1 of 2 tests pass.", "Next: TODO(01.1) in steps/01-demo"} {
		if !strings.Contains(out, want) {
			t.Errorf("check's output lacks %q:\n%s", want, out)
		}
	}
	// Progress: each test's line comes as the test ends, before the summary of failures.
	if i, j := strings.Index(out, "✗ TestGreet\n"), strings.Index(out, "What the failing tests say:"); i < 0 || j < 0 || i > j {
		t.Errorf("the failing test's mark does not come before the failures' details:\n%s", out)
	}
}

func TestCheckColour(t *testing.T) {
	w, s := checkRepo(t)
	w.color = true
	w.check(t.Context(), s)
	out := w.out.(*bytes.Buffer).String()
	for _, want := range []string{"\033[32m✓\033[0m TestBuilds", "\033[31m✗\033[0m TestGreet", "\033[1mNext:\033[0m", "running… 1 test(s) done"} {
		if !strings.Contains(out, want) {
			t.Errorf("check on a terminal lacks %q:\n%q", want, out)
		}
	}
}

func TestCheckDone(t *testing.T) {
	w, s := checkRepo(t)
	write(t, filepath.Join(w.starter(s), "main.go"), "package main\n\nfunc greet() string { return \"hello\" }\n\nfunc main() {}\n")
	if err := w.check(t.Context(), s); err != nil {
		t.Fatalf("check of a solved step: %v", err)
	}
	if out := w.out.(*bytes.Buffer).String(); !strings.Contains(out, "Step 01 is done. Run it: go run ./cmd/workshop demo -step 01") {
		t.Errorf("check of a solved step:\n%s", out)
	}
}

func TestResetKeepsABackup(t *testing.T) {
	w := newRepo(t)
	s := step{Name: "01-demo", Number: "01"}
	if err := w.capture(s); err != nil {
		t.Fatal(err)
	}
	// Nothing to keep while the step is as generated.
	if err := w.reset(s); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(w.root, backupDir)); err == nil {
		t.Error("reset of an untouched step made a backup")
	}

	mine := "package main\n\nfunc greet() string { return \"my attempt\" }\n\nfunc main() {}\n"
	write(t, filepath.Join(w.starter(s), "main.go"), mine)
	write(t, filepath.Join(w.starter(s), "notes.go"), "package main\n")
	if err := w.reset(s); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(filepath.Join(w.starter(s), "main.go")); !strings.Contains(string(data), "TODO(01.1)") {
		t.Fatalf("reset did not put the starting code back:\n%s", data)
	}
	kept, _ := filepath.Glob(filepath.Join(w.root, backupDir, s.Name, "*", "main.go"))
	if len(kept) != 1 {
		t.Fatalf("backups of main.go: %v, want one", kept)
	}
	if data, _ := os.ReadFile(kept[0]); string(data) != mine {
		t.Errorf("the backup holds %q, want the attendee's %q", data, mine)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(kept[0]), "notes.go")); err != nil {
		t.Errorf("the backup lacks the attendee's new file: %v", err)
	}
	if out := w.out.(*bytes.Buffer).String(); !strings.Contains(out, "kept in "+filepath.Join(backupDir, s.Name)) {
		t.Errorf("reset did not say where the backup is:\n%s", out)
	}
}

func TestListWraps(t *testing.T) {
	w := newRepo(t)
	long := strings.Repeat("carry the trace context across the broker ", 6)
	write(t, filepath.Join(w.root, "steps/01-demo/main.go"), "package main\n\n// TODO(01.1): "+long+"\nfunc main() {}\n")
	if err := w.list(); err != nil {
		t.Fatal(err)
	}
	out := w.out.(*bytes.Buffer).String()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	task := 0
	for _, l := range lines {
		if n := len([]rune(l)); n > listWidth {
			t.Errorf("line of %d columns, over %d: %q", n, listWidth, l)
		}
		if strings.HasPrefix(l, "      ") {
			task++
		}
	}
	if task < 3 {
		t.Errorf("the long task was not wrapped into several indented lines:\n%s", out)
	}
	if got := strings.Join(strings.Fields(out), " "); !strings.Contains(got, strings.TrimSpace(strings.Join(strings.Fields(long), " "))) {
		t.Errorf("wrapping lost words:\n%s", out)
	}
}

func TestWrap(t *testing.T) {
	if got := wrap("a bb ccc", 6, "> ", "  "); got != "> a bb\n  ccc\n" {
		t.Errorf("wrap = %q", got)
	}
	if got := wrap("averyveryverylongword x", 6, "", ""); got != "averyveryverylongword\nx\n" {
		t.Errorf("a word longer than the width: %q", got)
	}
}

func TestCheckMapsAPanicToItsTODO(t *testing.T) {
	w, s := checkRepo(t)
	write(t, filepath.Join(w.starter(s), "main.go"), "package main\n\nfunc greet() string {\n"+
		"\t// TODO(01.1): say hello,\n\t// politely.\n\tvar m map[string]string\n\tm[\"x\"] = \"y\"\n\treturn \"\"\n}\n\nfunc main() {}\n")
	write(t, filepath.Join(w.starter(s), "main_test.go"), "package main\n\nimport \"testing\"\n\n"+
		"func TestGreet(t *testing.T) {\n\tif greet() == \"\" {\n\t\tt.Fatal(\"greet() is empty\")\n\t}\n}\n")
	if err := w.check(t.Context(), s); err != errReported {
		t.Fatalf("check of a panicking step: %v", err)
	}
	out := w.out.(*bytes.Buffer).String()
	for _, want := range []string{"The test panicked in main.go:7: look at TODO(01.1).", "Next: TODO(01.1) in steps/01-demo"} {
		if !strings.Contains(out, want) {
			t.Errorf("check's output lacks %q:\n%s", want, out)
		}
	}
}

// TestCheckLeavesOutStrayOutput: what the code under test prints by itself (a log
// record, OpenTelemetry's complaint about a header a test sent on purpose) is no message
// of the test: the summary shows the test's own lines only.
func TestCheckLeavesOutStrayOutput(t *testing.T) {
	got := testMessages([]string{
		"=== RUN   TestGreet\n",
		"2026/12/05 11:00:00 invalid baggage list-member: \";;;\"\n",
		"time=2026-12-05T11:00:00Z level=WARN msg=\"slow consumer\"\n",
		"    main_test.go:7: greet() = \"\": look at TODO(01.1)\n",
		"        the detail, on a line of its own\n",
		"--- FAIL: TestGreet (0.00s)\n",
	})
	want := "    main_test.go:7: greet() = \"\": look at TODO(01.1)\n        the detail, on a line of its own\n"
	if got != want {
		t.Errorf("testMessages kept %q, want %q", got, want)
	}
	panicked := testMessages([]string{"panic: assignment to entry in nil map\n", "goroutine 7 [running]:\n", "main.greet()\n", "\t/src/main.go:7 +0x1d\n"})
	if !strings.Contains(panicked, "panic: assignment") || !strings.Contains(panicked, "goroutine 7") || !strings.Contains(panicked, "main.go:7") {
		t.Errorf("testMessages dropped a panic and its stack: %q", panicked)
	}
}
