package workshop

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	// step06 is where an attendee runs the `go get` lines of step 06's README, and
	// solution06 the module whose go.mod those lines must lead to.
	step06     = "steps/06-native-otel"
	solution06 = "solutions/06-native-otel"
	otelModule = "go.opentelemetry.io/otel"
	bridge     = "go.opentelemetry.io/otel/bridge/opentracing"
	// otelVersion is the one OpenTelemetry version of the whole workspace: through
	// go.work, one module's newer otel is every module's.
	otelVersion = "v1.47.0"
)

// exactGet is one `go get module@version` line, the version exact (vX.Y.Z, no query
// such as @latest, which the module proxy answers differently from day to day).
var exactGet = regexp.MustCompile(`^go get ((?:\S+@v\d+\.\d+\.\d+\S*\s*)+)$`)

// readmeGets returns the `go get` lines of a step's README, as argument lists, and the
// module→version pairs they ask for.
func readmeGets(t *testing.T, readme string) ([][]string, map[string]string) {
	t.Helper()
	data, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	var cmds [][]string
	want := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "go get ") {
			continue
		}
		if !exactGet.MatchString(line) {
			t.Errorf("%s: %q: every `go get` line names each module with an exact version (module@vX.Y.Z)", readme, line)
			continue
		}
		args := strings.Fields(line)[1:]
		for _, mv := range args[1:] {
			path, version, _ := strings.Cut(mv, "@")
			want[path] = version
		}
		cmds = append(cmds, args)
	}
	return cmds, want
}

// requirements returns a go.mod's requirements, module path → version.
func requirements(t *testing.T, dir string) map[string]string {
	t.Helper()
	cmd := exec.Command("go", "mod", "edit", "-json")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go mod edit -json in %s: %v", dir, err)
	}
	var mod struct {
		Require []struct{ Path, Version string }
	}
	if err := json.Unmarshal(out, &mod); err != nil {
		t.Fatalf("%s/go.mod: %v", dir, err)
	}
	req := map[string]string{}
	for _, r := range mod.Require {
		req[r.Path] = r.Version
	}
	return req
}

// workspaceModules returns the directories go.work uses, relative to root.
func workspaceModules(t *testing.T, root string) []string {
	t.Helper()
	cmd := exec.Command("go", "work", "edit", "-json")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go work edit -json: %v", err)
	}
	var work struct{ Use []struct{ DiskPath string } }
	if err := json.Unmarshal(out, &work); err != nil {
		t.Fatalf("go.work: %v", err)
	}
	var dirs []string
	for _, u := range work.Use {
		dirs = append(dirs, filepath.Clean(u.DiskPath))
	}
	return dirs
}

// copyRepository copies the repository's files (tracked, or new and not ignored) to dst,
// without .git: what a clone holds, plus work not committed yet.
func copyRepository(t *testing.T, dst string) {
	t.Helper()
	out, err := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	for _, name := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		if name == ".git" || strings.HasPrefix(name, ".git/") {
			continue
		}
		if err := copyFile(filepath.Join(dst, name), name); err != nil {
			if os.IsNotExist(err) {
				continue // deleted and not committed yet
			}
			t.Fatal(err)
		}
	}
}

func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	info, err := in.Stat()
	if err != nil || info.IsDir() {
		return err // a submodule's directory: nothing to copy
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, info.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// goCmd runs the go command in dir and returns its combined output.
func goCmd(dir string, env []string, args ...string) (string, error) {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestAttendeeDependencyStep runs step 06's dependency step as an attendee would, in a
// copy of the repository: the README's `go get` lines in steps/06-native-otel, then the
// exercise done (the solution's code) and a plain `go mod tidy`. After each, every step,
// every solution and the workshop command must still compile and vet through go.work,
// and every module resolve OpenTelemetry v1.47.0 (and the bridge v1.47.0 in 04 and 05),
// in the workspace and on its own go.mod. An unpinned otelmux, otelhttp or redisotel once
// moved otel in 06's go.mod, and through go.work broke the bridge in 04 and 05, with
// step 06 itself green. The `go get` lines are read from the README, so the README and
// this test cannot drift apart.
func TestAttendeeDependencyStep(t *testing.T) {
	t.Parallel()
	start := time.Now()

	cmds, asked := readmeGets(t, filepath.Join(solution06, "README.md"))
	if len(cmds) == 0 {
		t.Fatalf("%s/README.md gives no `go get` line: the attendee needs the exact versions of otelmux, otelhttp and redisotel", solution06)
	}
	// The README asks for what the solution requires, and for each library step 06 adds.
	solReq, stepReq := requirements(t, solution06), requirements(t, step06)
	var added []string
	for path := range solReq {
		if _, ok := stepReq[path]; !ok && !strings.HasPrefix(path, "github.com/ot2otel/") {
			added = append(added, path)
		}
	}
	for path, version := range asked {
		if solReq[path] != version {
			t.Errorf("README: go get %s@%s, but %s/go.mod requires %s %q", path, version, solution06, path, solReq[path])
		}
	}
	for _, path := range added {
		if _, ok := asked[path]; !ok && !indirectOnly(t, solution06, path) {
			t.Errorf("README: no `go get` line for %s %s, which step 06's solution adds to go.mod", path, solReq[path])
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	root := scratchDir(t)
	copyRepository(t, root)
	step := filepath.Join(root, step06)
	env := []string{"GOWORK=", "GOFLAGS=-buildvcs=false -trimpath"}
	for _, args := range cmds {
		if out, err := goCmd(step, env, args...); err != nil {
			t.Fatalf("go %s in %s: %v\n%s", strings.Join(args, " "), step06, err, out)
		}
	}
	checkWorkspace(t, root, env, "after the README's `go get` lines")

	// The exercise done: the solution's code in the step, then a plain go mod tidy.
	files, err := filepath.Glob(filepath.Join(solution06, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if err := copyFile(filepath.Join(step, filepath.Base(f)), f); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := goCmd(step, env, "mod", "tidy"); err != nil {
		t.Fatalf("go mod tidy in %s: %v\n%s", step06, err, out)
	}
	checkWorkspace(t, root, env, "after the exercise and `go mod tidy`")
	// And the README's commands lead to the solution's go.mod.
	got := requirements(t, step)
	for path, version := range solReq {
		if got[path] != version {
			t.Errorf("after the README's `go get` lines and go mod tidy, %s/go.mod requires %s %q, the solution %q", step06, path, got[path], version)
		}
	}
	for path, version := range got {
		if _, ok := solReq[path]; !ok {
			t.Errorf("after the README's `go get` lines and go mod tidy, %s/go.mod requires %s %s, which the solution does not", step06, path, version)
		}
	}
	t.Logf("copied, ran the README's %d `go get` lines and go mod tidy, compiled and vetted every step, solution and the workshop command twice: %s", len(cmds), time.Since(start).Round(time.Second))
}

// scratchDir returns an empty directory for the copy, the same one at every run from
// this checkout, removed when the test ends. The copy is built with -trimpath, which
// keys each compilation by module path instead of directory, as the mutation test's
// copies are: a fresh clone (CI's) then finds what earlier runs, and the mutation test's
// copies of the same modules, compiled, and compiles only what changed.
func scratchDir(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("workshop-deps-%x", sha256.Sum256([]byte(wd)))[:len("workshop-deps-")+12])
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// indirectOnly reports whether dir's go.mod requires path only as an indirect dependency.
func indirectOnly(t *testing.T, dir, path string) bool {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "require "))
		if len(f) >= 2 && f[0] == path {
			return strings.Contains(line, "// indirect")
		}
	}
	return false
}

// checkWorkspace compiles and vets every step, every solution and the workshop command
// in the copy at root through go.work, and checks the OpenTelemetry version every
// module resolves, in the workspace and on its own go.mod.
func checkWorkspace(t *testing.T, root string, env []string, when string) {
	t.Helper()
	pkgs := []string{
		"github.com/ot2otel/workshop/cmd/workshop",
		"github.com/ot2otel/workshop/solutions/...",
		"github.com/ot2otel/workshop/steps/...",
	}
	// go vet type-checks each package with its tests; go list -export compiles each
	// package (no link: linking twelve binaries would cost minutes and prove little).
	if out, err := goCmd(root, env, append([]string{"vet"}, pkgs...)...); err != nil {
		t.Fatalf("%s: go vet of the steps, solutions and workshop command through go.work fails: %v\n%s", when, err, out)
	}
	if out, err := goCmd(root, env, append([]string{"list", "-export", "-f", "{{if .Error}}{{.ImportPath}}: {{.Error}}{{end}}"}, pkgs...)...); err != nil || strings.TrimSpace(out) != "" {
		t.Fatalf("%s: compiling the steps, solutions and workshop command through go.work fails: %v\n%s", when, err, out)
	}
	if out, err := goCmd(root, env, "list", "-m", "-f", "{{.Path}} {{.Version}}", otelModule, bridge); err != nil ||
		strings.TrimSpace(out) != fmt.Sprintf("%s %s\n%s %s", otelModule, otelVersion, bridge, otelVersion) {
		t.Errorf("%s: go.work resolves\n%s(err %v), want %s and %s at %s", when, out, err, otelModule, bridge, otelVersion)
	}

	// Each module on its own go.mod (make standalone builds them so), at once.
	// -mod=mod: go list -m loads the whole module graph, and some go.sum files lack
	// entries for go.mod files the build never reads (the copy's go.sum may change).
	standalone := append(slices.Clone(env), "GOWORK=off", "GOFLAGS=-buildvcs=false -mod=mod -trimpath")
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, dir := range workspaceModules(t, root) {
		mods := []string{otelModule}
		if strings.Contains(dir, "04-otel-bridge") || strings.Contains(dir, "05-mixed-fleet") {
			mods = append(mods, bridge)
		}
		wg.Go(func() {
			out, err := goCmd(filepath.Join(root, dir), standalone, append([]string{"list", "-m", "-e", "-f", "{{.Path}} {{.Version}} {{with .Error}}{{.Err}}{{end}}"}, mods...)...)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("%s: GOWORK=off go list -m in %s: %v\n%s", when, dir, err, out)
				return
			}
			step := strings.HasPrefix(dir, "steps"+string(filepath.Separator)) || strings.HasPrefix(dir, "solutions"+string(filepath.Separator))
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				f := strings.Fields(line)
				switch {
				case len(f) >= 2 && f[1] == otelVersion:
				case len(f) >= 2 && strings.HasPrefix(f[1], "v"):
					t.Errorf("%s: %s resolves %s %s on its own go.mod, want %s", when, dir, f[0], f[1], otelVersion)
				case step:
					t.Errorf("%s: %s does not resolve %s on its own go.mod: %s", when, dir, f[0], line)
				default:
					// A module that does not depend on it (slides) cannot disagree.
				}
			}
		})
	}
	wg.Wait()
}

// TestDependencyTable checks README.md's dependency table against every go.mod: each
// module the table lists is required at the table's version wherever it is required
// (directly or not), and every direct requirement of a workspace module is in the table.
// Jaeger's own module (tools/jaeger, outside go.work, with its own OpenTelemetry) is
// checked for the Jaeger row only.
func TestDependencyTable(t *testing.T) {
	data, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(data), "\n## Dependencies\n")
	if !ok {
		t.Fatal(`README.md has no "## Dependencies" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	pinned := map[string]string{}
	quoted := regexp.MustCompile("`([^`]+)`")
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		if !strings.HasPrefix(line, "| `") || len(cells) != 2 {
			continue
		}
		var paths []string
		for _, m := range quoted.FindAllStringSubmatch(cells[0], -1) {
			if strings.Contains(m[1], ".") && !strings.Contains(m[1], " ") && !strings.HasPrefix(m[1], "cmd/") && !strings.HasPrefix(m[1], "tools/") && !strings.HasPrefix(m[1], "go.work") {
				paths = append(paths, m[1])
			}
		}
		versions := strings.Split(cells[1], ", ")
		for i, p := range paths {
			v := versions[0]
			if len(versions) == len(paths) {
				v = versions[i]
			} else if len(versions) != 1 {
				t.Fatalf("README.md: %q: %d modules, %d versions", line, len(paths), len(versions))
			}
			pinned[p] = strings.TrimSpace(v)
		}
	}
	if len(pinned) < 20 {
		t.Fatalf("README.md's dependency table lists %d modules: %v", len(pinned), pinned)
	}
	for _, dir := range workspaceModules(t, ".") {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err != nil {
			t.Fatal(err)
		}
		for path, r := range modRequires(string(data)) {
			want, listed := pinned[path]
			switch {
			case listed && r.version != want:
				t.Errorf("%s/go.mod requires %s %s, README.md's dependency table pins %s", dir, path, r.version, want)
			case !listed && !r.indirect && !strings.HasPrefix(path, "github.com/ot2otel/"):
				t.Errorf("%s/go.mod requires %s %s, which README.md's dependency table does not list", dir, path, r.version)
			}
		}
	}
	jaeger := "github.com/jaegertracing/jaeger"
	data, err = os.ReadFile("tools/jaeger/go.mod")
	if err != nil {
		t.Fatal(err)
	}
	if got := modRequires(string(data))[jaeger].version; got != pinned[jaeger] {
		t.Errorf("tools/jaeger/go.mod requires %s %q, README.md's dependency table pins %q", jaeger, got, pinned[jaeger])
	}
}

type requirement struct {
	version  string
	indirect bool
}

// modRequires reads the requirements of a go.mod's text.
func modRequires(gomod string) map[string]requirement {
	req := map[string]requirement{}
	block := false
	for _, line := range strings.Split(gomod, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "require (":
			block = true
			continue
		case block && line == ")":
			block = false
			continue
		case strings.HasPrefix(line, "require "):
			line = strings.TrimPrefix(line, "require ")
		case !block:
			continue
		}
		if f := strings.Fields(line); len(f) >= 2 {
			req[f[0]] = requirement{version: f[1], indirect: strings.Contains(line, "// indirect")}
		}
	}
	return req
}
