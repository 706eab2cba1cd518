package workshop

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestPrefetchIsEnoughOffline proves that make prefetch fetches everything the day needs.
// It fills a module cache of its own, empty at the start, with make prefetch alone,
// taking the modules from this machine's module cache as a proxy (GOPROXY=file://...,
// so the test needs no network and copies rather than downloads). Then, with
// GOPROXY=off and that cache, it loads every package and test of every module of go.work,
// in the workspace and on the module's own go.mod, as go build, vet and test would load
// them (go list -deps -test: every source file of every dependency must be there), the
// slides' present tool and Jaeger's cmd/jaeger (its whole module graph and every package
// it builds from, without compiling Jaeger, which takes minutes), builds the workshop
// command and runs `workshop list`.
//
// The filled cache is kept between runs while nothing that decides the fill changes
// (prefetchCache): a first run takes minutes, a later one only the offline checks.
//
// What it does not prove: that the Go toolchain (go.mod's go line) or a Docker image is
// on the laptop; the images are only checked to be listed (compose_test.go loads the
// same file).
func TestPrefetchIsEnoughOffline(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the prefetch test copies about 350 MB of modules")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatalf("make prefetch needs make: %v", err)
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(goBin, "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	source := filepath.Join(strings.TrimSpace(string(out)), "cache", "download")
	tmp := t.TempDir()
	cache, fillLog, filled := prefetchCache(t)
	base := []string{
		"GOMODCACHE=" + cache,
		// Read-write, so that the test's clean-up can remove the cache.
		"GOFLAGS=-modcacherw -buildvcs=false",
		"GOTOOLCHAIN=local",
	}
	env := func(extra ...string) []string {
		var e []string
		for _, kv := range os.Environ() {
			k, _, _ := strings.Cut(kv, "=")
			switch k {
			case "GOMODCACHE", "GOFLAGS", "GOPROXY", "GOSUMDB", "GONOSUMDB", "GOPRIVATE", "GONOPROXY", "GOWORK", "GOTOOLCHAIN":
				continue
			}
			e = append(e, kv)
		}
		return append(append(e, base...), extra...)
	}
	run := func(dir string, environ []string, name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		cmd.Env = environ
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("in %s: %s %s: %v\n%s", dir, name, strings.Join(args, " "), err, tail(out))
		}
		return string(out)
	}

	// The fill: make prefetch and nothing else. go.sum still checks every module; the
	// checksum database is not asked, as the modules come from this machine.
	var fill string
	if filled {
		b, err := os.ReadFile(fillLog)
		if err != nil {
			t.Fatal(err)
		}
		fill = string(b)
		t.Logf("%s was filled by make prefetch from the same go.work, go.mod, go.sum, prefetch.sh, compose file and Dockerfile: not filled again", cache)
	} else {
		before := prefetchInputs(t)
		fill = run(".", env("GOPROXY=file://"+filepath.ToSlash(source), "GOSUMDB=off"), "make", "--no-print-directory", "prefetch")
		if prefetchInputs(t) != before {
			t.Fatalf("make prefetch changed a go.mod, go.sum or go.work of the repository (git diff says which): it must only fetch")
		}
		if err := os.WriteFile(fillLog, []byte(fill), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	offline := env("GOPROXY=off")
	// The check can fail: a module prefetch did not fetch is not found offline.
	cmd := exec.Command(goBin, "mod", "download", "github.com/opentracing/opentracing-go@v1.1.0")
	cmd.Env = offline
	if out, err := cmd.CombinedOutput(); err == nil || !bytes.Contains(out, []byte("module lookup disabled")) {
		t.Fatalf("GOPROXY=off found a module make prefetch never fetched (%v): the check below proves nothing\n%s", err, out)
	}

	modules := workspaceModules(t, ".")
	for _, m := range modules {
		run(m, offline, goBin, "list", "-deps", "-test", "./...")
		run(m, append(offline, "GOWORK=off"), goBin, "list", "-deps", "-test", "./...")
	}
	run("slides", offline, goBin, "list", "-deps", "tool")
	run("tools/jaeger", append(offline, "GOWORK=off"), goBin, "list", "-deps", "github.com/jaegertracing/jaeger/cmd/jaeger")
	bin := filepath.Join(tmp, "workshop")
	run(".", offline, goBin, "build", "-trimpath", "-o", bin, "./cmd/workshop")
	if list := run(".", offline, bin, "list"); !strings.Contains(list, "01-untraced") || !strings.Contains(list, "06-native-otel") {
		t.Errorf("workshop list, offline, does not list the steps:\n%s", list)
	}

	// Every image docker-compose.yml runs is in prefetch's list.
	listed := regexp.MustCompile(`(?m)^  (\S+)$`).FindAllStringSubmatch(fill, -1)
	var images []string
	for _, m := range listed {
		images = append(images, m[1])
	}
	for _, s := range loadCompose(t, nil, "shop").Services {
		if s.Build == nil && !slices.Contains(images, s.Image) {
			t.Errorf("make prefetch does not list %s's image %s (it lists %v)", s.Name, s.Image, images)
		}
	}
	t.Logf("make prefetch filled %s; offline, %d modules load in the workspace and on their own, Jaeger's graph is complete, workshop list runs; images: %v", cache, len(modules), images)
}

// prefetchCache returns the module cache the test fills with make prefetch, the file
// that keeps the fill's output, and whether a fill completed already. Filling copies about
// 350 MB and takes minutes on two cores, so the cache is kept in the user's cache
// directory under a name made from everything that decides what prefetch fetches: the
// workspace, every module's go.mod and go.sum, Jaeger's, prefetch.sh, the Makefile, the
// compose file and the Dockerfile. When any of them changes, the name changes, and the
// test fills a new, empty cache (and removes the old ones). Nothing but make prefetch
// ever writes a module into it: the checks run with GOPROXY=off.
func prefetchCache(t *testing.T) (cache, fillLog string, filled bool) {
	t.Helper()
	key := prefetchInputs(t)
	root, err := os.UserCacheDir()
	if err != nil {
		root = os.TempDir()
	}
	parent := filepath.Join(root, "ot2otel-workshop")
	dir := filepath.Join(parent, "prefetch-"+key)
	fillLog = filepath.Join(dir, "prefetch.log")
	if _, err := os.Stat(fillLog); err == nil {
		return filepath.Join(dir, "mod"), fillLog, true
	}
	old, _ := filepath.Glob(filepath.Join(parent, "prefetch-*"))
	for _, o := range old {
		if err := os.RemoveAll(o); err != nil {
			t.Logf("removing an old prefetch cache: %v", err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "mod"), fillLog, false
}

// prefetchInputs hashes every file that decides what make prefetch fetches.
func prefetchInputs(t *testing.T) string {
	t.Helper()
	h := sha256.New()
	files := []string{"go.work", "scripts/prefetch.sh", "Makefile", "docker-compose.yml", "Dockerfile", "tools/jaeger/go.mod", "tools/jaeger/go.sum"}
	for _, m := range workspaceModules(t, ".") {
		files = append(files, filepath.Join(m, "go.mod"), filepath.Join(m, "go.sum"))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		fmt.Fprintf(h, "%s %d\n", f, len(b))
		h.Write(b)
	}
	return fmt.Sprintf("%x", h.Sum(nil)[:8])
}

// tail is the end of a long output.
func tail(b []byte) string {
	const n = 3000
	if len(b) > n {
		return "…" + string(b[len(b)-n:])
	}
	return string(b)
}
