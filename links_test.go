package workshop

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// checkMachinery is the import path of the span collectors and trace checks, which are
// for tests and the workshop command only.
const checkMachinery = "github.com/ot2otel/workshop/shared/tracecheck"

// TestBinariesLinkNoCollector keeps the in-process span collectors out of every step's
// and solution's binary: the workshop command's demo collects the spans in its own
// process, so nothing a step deploys carries test code.
func TestBinariesLinkNoCollector(t *testing.T) {
	dirs, err := filepath.Glob("*/[0-9][0-9]-*/go.mod")
	if err != nil {
		t.Fatal(err)
	}
	var pkgs []string
	for _, gomod := range dirs {
		if dir := filepath.Dir(gomod); strings.HasPrefix(dir, "steps/") || strings.HasPrefix(dir, "solutions/") {
			pkgs = append(pkgs, "./"+dir)
		}
	}
	if len(pkgs) < 12 {
		t.Fatalf("found the main packages %v, want the six steps' and the six solutions'", pkgs)
	}
	// Deps lists what the binary links, tests excluded.
	args := append([]string{"list", "-f", `{{.Dir}}{{range .Deps}} {{.}}{{end}}`}, pkgs...)
	out, err := exec.Command("go", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list %s: %v\n%s", strings.Join(pkgs, " "), err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		dir, deps, _ := strings.Cut(line, " ")
		var linked []string
		for _, dep := range strings.Fields(deps) {
			if dep == checkMachinery || strings.HasPrefix(dep, checkMachinery+"/") {
				linked = append(linked, dep)
			}
		}
		if len(linked) > 0 {
			t.Errorf("%s links %s: span collectors and trace checks are for tests; "+
				"the demo's receivers live in the workshop command (cmd/workshop/demo.go)", dir, strings.Join(linked, ", "))
		}
	}
}
