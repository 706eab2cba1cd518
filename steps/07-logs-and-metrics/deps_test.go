package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// openTracing lists the module paths of OpenTracing and its tracers: after this step, no
// package of the build may come from them.
var openTracing = []string{
	"github.com/opentracing/",
	"github.com/opentracing-contrib/",
	"github.com/uber/jaeger-client-go",
	"go.opentelemetry.io/otel/bridge/opentracing",
}

// TestNoOpenTracingLeft checks the step builds, tests included, without a package of
// OpenTracing, jaeger-client or the bridge, and that go.mod no longer requires them.
func TestNoOpenTracingLeft(t *testing.T) {
	// Parallel: go list and go.mod, nothing of the process.
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", "-test", "-f", "{{.ImportPath}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps -test .: %v\n%s", err, out)
	}
	var found []string
	for _, pkg := range strings.Fields(string(out)) {
		if isOpenTracing(pkg) {
			found = append(found, pkg)
		}
	}
	for _, pkg := range strings.Fields(string(out)) {
		if pkg == "github.com/ot2otel/workshop/shared/otredis" {
			t.Errorf("the step still builds with the OpenTracing hook of the Redis client (shared/otredis).\n" +
				"Look at TODO(06.4): instrumentRedis traces with redisotel, into the service's provider")
		}
	}
	if len(found) > 0 {
		t.Errorf("the step still builds with OpenTracing: %s.\n"+
			"Look at TODO(06.3): replace every OpenTracing call with the OTel API, drop the bridge from tracing.go, "+
			"then run go mod tidy (`go mod why -m <module>` says who still imports one)", strings.Join(found, ", "))
	}

	gomod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(gomod), "\n") {
		if f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "require")); len(f) > 0 && isOpenTracing(f[0]) {
			t.Errorf("go.mod still requires %s.\nLook at TODO(06.3): once nothing imports it, go mod tidy drops it", f[0])
		}
	}
}

func isOpenTracing(path string) bool {
	for _, prefix := range openTracing {
		if strings.HasPrefix(path, prefix) {
			return true
		}
	}
	return false
}
