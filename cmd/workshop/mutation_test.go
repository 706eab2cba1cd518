package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// mutation is a typical attendee's mistake, planted in a copy of a solution: the step's
// test that runs must fail, and its message name the TODO and the cause.
type mutation struct {
	name     string
	step     string // the solution's directory under solutions/
	file     string
	old, new string // the edit: old must occur in file
	run      string // the -run pattern of the tests that must catch it
	want     []string
}

var mutations = []mutation{
	{
		name: "01 handler reassigns the shared logger", step: "01-untraced", file: "checkout.go",
		old: `logger := logger.With("request_id", requestID)`, new: `logger = logger.With("request_id", requestID)`,
		run:  "TestCorrelation/IDFromCaller",
		want: []string{"carries more than one request_id", "logger = logger.With", "TODO(01.2)"},
	},
	{
		name: "01 AMQP header written as []byte", step: "01-untraced", file: "checkout.go",
		old: `amqp.Table{requestIDAMQPHeader: requestID}`, new: `amqp.Table{requestIDAMQPHeader: []byte(requestID)}`,
		run:  "TestCorrelation/CheckoutPutsIDOnTheMessage",
		want: []string{"header is a []byte", "Write string(id), not []byte(id)", "TODO(01.2)"},
	},
	{
		name: "03 carrier asserts a string", step: "03-traced-rabbit-broker", file: "broker.go",
		old: "func (c amqpHeadersCarrier) Get(key string) string {\n", new: "func (c amqpHeadersCarrier) Get(key string) string {\n\tif v, ok := c[key]; ok && v != nil {\n\t\t_ = v.(string)\n\t}\n",
		run:  "TestCarrier",
		want: []string{"Get panicked on a []byte value: use a type switch (TODO(03.2))"},
	},
	{
		name: "03 consumer returns early when Extract succeeds", step: "03-traced-rabbit-broker", file: "broker.go",
		old: extract, new: extract + "\t\tif err == nil {\n\t\t\treturn err\n\t\t}\n",
		run:  "TestTalkBugExtractSuccessDropsMessage",
		want: []string{"returned early when Extract SUCCEEDED", "TODO(03.2)"},
	},
	{
		name: "03 consumer skips the handler when extraction fails", step: "03-traced-rabbit-broker", file: "broker.go",
		old: extract, new: extract + "\t\tif err != nil {\n\t\t\treturn nil\n\t\t}\n",
		run:  "TestConsumeBadHeaders",
		want: []string{"skipped the handler when extraction FAILED", "TODO(03.2)"},
	},
	{
		name: "03 consumer swallows the handler's error", step: "03-traced-rabbit-broker", file: "broker.go",
		old: "ext.LogError(span, err)\n\t\t\treturn err", new: "ext.LogError(span, err)\n\t\t\treturn nil",
		run:  "TestHandlerErrorMarksConsumerSpan",
		want: []string{"swallowed the handler's error", "TODO(03.2)"},
	},
	{
		name: "03 consumer continues with FollowsFrom", step: "03-traced-rabbit-broker", file: "broker.go",
		old: "opentracing.ChildOf(parent)", new: "opentracing.FollowsFrom(parent)",
		run:  "TestConsumeBadHeaders",
		want: []string{"FollowsFrom, a link, not a parent", "opentracing.ChildOf(parent). Look at TODO(03.2)"},
	},
}

// extract is the line of 03's consume wrapper the consumer mistakes follow.
const extract = "parent, err := t.tracer.Extract(opentracing.TextMap, amqpHeadersCarrier(msg.Headers))\n"

// TestMutations plants each mistake in a copy of its solution, outside go.work, and runs
// the tests that must catch it.
func TestMutations(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex // go test builds in parallel anyway: two at once is plenty on 2 cores
	sem := make(chan struct{}, 2)
	for _, m := range mutations {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			sem <- struct{}{}
			defer func() { <-sem }()
			dir := copySolution(t, root, m.step)
			path := filepath.Join(dir, m.file)
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(src), m.old) {
				t.Fatalf("%s no longer contains %q: update the mutation", m.file, m.old)
			}
			if err := os.WriteFile(path, []byte(strings.Replace(string(src), m.old, m.new, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("go", "test", "-count=1", "-run", "^("+strings.ReplaceAll(m.run, "/", ")$/^(")+")$", ".")
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "GOWORK=off")
			out, err := cmd.CombinedOutput()
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				t.Fatalf("with the mistake planted, %s passes:\n%s", m.run, out)
			}
			for _, w := range m.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("with the mistake planted, %s fails without saying %q:\n%s", m.run, w, out)
				}
			}
		})
	}
}

// copySolution copies solutions/step's files into a temporary directory whose go.mod
// replaces the shared module by the repository's.
func copySolution(t *testing.T, root, step string) string {
	t.Helper()
	src := filepath.Join(root, "solutions", step)
	dir := filepath.Join(t.TempDir(), step)
	if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	mod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	fixed := strings.ReplaceAll(string(mod), "=> ../../shared", "=> "+filepath.Join(root, "shared"))
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(fixed), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}
