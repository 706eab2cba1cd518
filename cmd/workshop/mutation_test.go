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
	name  string
	step  string // the solution's directory under solutions/
	edits []edit
	run   string // the -run patterns of the tests that must catch it, space-separated
	want  []string
	dont  []string // what the failure must not say: a hint that blames the wrong cause
}

// edit replaces the first old in file by new; old must occur.
type edit struct{ file, old, new string }

var mutations = []mutation{
	{
		name: "01 handler reassigns the shared logger", step: "01-untraced", edits: []edit{{"checkout.go", `logger := logger.With("request_id", requestID)`, `logger = logger.With("request_id", requestID)`}},
		run:  "TestContract/Correlation/IDFromCaller",
		want: []string{"carries more than one request_id", "logger = logger.With", "TODO(01.2)"},
	},
	{
		name: "01 AMQP header written as []byte", step: "01-untraced", edits: []edit{{"checkout.go", `amqp.Table{requestIDAMQPHeader: requestID}`, `amqp.Table{requestIDAMQPHeader: []byte(requestID)}`}},
		run:  "TestContract/Correlation/CheckoutPutsIDOnTheMessage",
		want: []string{"header is a []byte", "Write string(id), not []byte(id)", "TODO(01.2)"},
	},
	{
		name: "03 carrier asserts a string", step: "03-traced-rabbit-broker", edits: []edit{{"broker.go", "func (c amqpHeadersCarrier) Get(key string) string {\n", "func (c amqpHeadersCarrier) Get(key string) string {\n\tif v, ok := c[key]; ok && v != nil {\n\t\t_ = v.(string)\n\t}\n"}},
		run:  "TestBroker/Carrier",
		want: []string{"Get panicked on a []byte value: use a type switch (TODO(03.2))"},
	},
	{
		name: "03 consumer returns early when Extract succeeds", step: "03-traced-rabbit-broker", edits: []edit{{"broker.go", extract, extract + "\t\tif err == nil {\n\t\t\treturn err\n\t\t}\n"}},
		run: "TestBroker/TalkBugExtractSuccessDropsMessage",
		want: []string{"returned early when Extract SUCCEEDED", "TODO(03.2)",
			// Noticed as it happens, not waited for: the suite fails in a second, not 5 s a test.
			"the consume wrapper returned nil for message \"ord_1\" without calling the handler"},
		dont: []string{"message(s) in 5s"},
	},
	{
		name: "03 consumer skips the handler when extraction fails", step: "03-traced-rabbit-broker", edits: []edit{{"broker.go", extract, extract + "\t\tif err != nil {\n\t\t\treturn nil\n\t\t}\n"}},
		run:  "TestBroker/ConsumeBadHeaders",
		want: []string{"skipped the handler when extraction FAILED", "TODO(03.2)", "without calling the handler: the broker acked it unhandled"},
		dont: []string{"message(s) in 5s"},
	},
	{
		name: "03 consumer swallows the handler's error", step: "03-traced-rabbit-broker", edits: []edit{{"broker.go", "ext.LogError(span, err)\n\t\t\treturn err", "ext.LogError(span, err)\n\t\t\treturn nil"}},
		run:  "TestBroker/HandlerErrorMarksConsumerSpan",
		want: []string{"swallowed the handler's error", "TODO(03.2)", "the handler failed on message \"ord_1\" and the consume wrapper returned nil"},
		dont: []string{"message(s) in 5s"},
	},
	{
		// A consumer that fails every message: the fleet's wait for the order gives up
		// when stock dead-letters it, with the reason stock logged, not after 15 s.
		name: "03 consumer fails every message without calling the handler", step: "03-traced-rabbit-broker",
		edits: []edit{{"broker.go", "if err := h(opentracing.ContextWithSpan(ctx, span), msg); err != nil {", `if err := errors.New("the ledger is on fire"); err != nil {`}},
		run:   "TestContract/OrderFlow",
		want:  []string{"its consumer dead-lettered message ord_", "after it failed: the ledger is on fire"},
		dont:  []string{"the event did not reach the stock consumer"},
	},
	{
		name: "03 consumer continues with FollowsFrom", step: "03-traced-rabbit-broker", edits: []edit{{"broker.go", "opentracing.ChildOf(parent)", "opentracing.FollowsFrom(parent)"}},
		run:  "TestBroker/ConsumeBadHeaders",
		want: []string{"FollowsFrom, a link, not a parent", "opentracing.ChildOf(parent). Look at TODO(03.2)"},
	},
	{
		name: "04 the global propagator in place of the bridge's", step: "04-otel-bridge",
		edits: []edit{{"tracing.go", "bridge.SetTextMapPropagator(prop)", "otel.SetTextMapPropagator(prop)"}, importOTel("tracing.go")},
		run:   "TestContract/NoTracingGlobals",
		want:  []string{"replaced OpenTelemetry's global propagator (otel.SetTextMapPropagator)", "TODO(04.2)"},
	},
	{
		name: "04 WithSyncer in place of WithBatcher", step: "04-otel-bridge",
		edits: []edit{{"tracing.go", "sdktrace.WithBatcher(", "sdktrace.WithSyncer("}},
		run:   "TestShutdownFlushes",
		want:  []string{"exports each span as it ends, as sdktrace.WithSyncer does", "TODO(04.1)"},
	},
	{
		name: "04 span kind set after start", step: "04-otel-bridge",
		edits: []edit{{"gateway.go", `req.Method+" "+req.URL.Path, ext.SpanKindRPCClient)`, `req.Method+" "+req.URL.Path)` + "\n\text.SpanKindRPCClient.Set(span)"}},
		run:   "TestSpans/ClientSpan",
		want:  []string{"only its kind is missing: a span kind is a start option", "TODO(04.3)"},
	},
	{
		name: "06 a global propagator, set and used", step: "06-native-otel",
		edits: []edit{
			{"middleware.go", "otelmux.WithPropagators(prop),", "otelmux.WithPropagators(otel.GetTextMapPropagator()),"},
			importOTel("middleware.go"),
			{"tracing.go", "func newPropagator() propagation.TextMapPropagator {\n", "func newPropagator() propagation.TextMapPropagator {\n" +
				"\totel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))\n"},
			importOTel("tracing.go"),
			{"gateway.go", "otelhttp.WithPropagators(prop),", "otelhttp.WithPropagators(otel.GetTextMapPropagator()),"},
			importOTel("gateway.go"),
		},
		run:  "TestContract/NoTracingGlobals",
		want: []string{"replaced OpenTelemetry's global propagator", "TODO(06.1)"},
	},
	{
		name: "05 TraceContext missing from the composite", step: "05-mixed-fleet",
		edits: []edit{{"tracing.go", "NewCompositeTextMapPropagator(propagation.TraceContext{}, ", "NewCompositeTextMapPropagator("}},
		run:   "TestPropagator|TestConsumeBadHeaders TestContract/PublicEdge",
		want:  []string{"TODO(05.1): newPropagator's composite lacks propagation.TraceContext{} (traceparent)"},
		dont:  []string{"look at TODO(05.1): the Jaeger propagator", "Look at TODO(05.1): jaeger.Jaeger{} in the composite", "Look at TODO(05.1): newPropagator keeps"},
	},
	{
		name: "02 server span named after the raw path", step: "02-opentracing",
		edits: []edit{{"middleware.go", `return r.Method + " " + route(r)`, `return r.Method + " " + r.URL.Path`}},
		run:   "TestRouteTemplate",
		want:  []string{`named "GET /orders/ord_42", want "GET /orders/{id}"`, "TODO(02.2)"},
	},
	{
		name: "06 the consumer ignores the delivery's own exchange", step: "06-native-otel",
		edits: []edit{{"broker.go", "exchange := msg.Exchange\n", "exchange := \"\"\n"}},
		run:   "TestDestinations",
		want:  []string{`"process returns:checkout.processed:stock"`, "TODO(06.2)"},
	},
	{
		name: "06 a queue equal to the routing key named twice", step: "06-native-otel",
		edits: []edit{{"broker.go", "if queue == routingKey {", "if false {"}},
		run:   "TestDestinations",
		want:  []string{`"process stock"`, "TODO(06.2)"},
	},
	{
		name: "01 the gateway keeps any caller's ID, however long", step: "01-untraced",
		edits: []edit{{"gateway.go", "requestID := shop.RequestIDFrom(r.Header.Get(requestIDHeader))", "requestID, _ := r.Header.Get(requestIDHeader), shop.RequestIDFrom"}},
		run:   "TestContract/Correlation/IDTooLong",
		want:  []string{"shop.RequestIDFrom", "TODO(01.1)"},
	},
	{
		name: "03 no message ID for the span", step: "03-traced-rabbit-broker",
		edits: []edit{{"broker.go", "msg.MessageID = broker.NewMessageID() // to tag the span with it", "_ = broker.NewMessageID"}},
		run:   "TestBroker/PublishStartsProducerSpan",
		want:  []string{"TODO(03.1): give a message without an ID one (broker.NewMessageID)"},
	},
	{
		// Pitfall 14: a sampler that ignores its parent, below a root that did not sample.
		name: "04 checkout and stock on AlwaysSample below the root", step: "04-otel-bridge",
		edits: []edit{{"tracing.go", "sdktrace.WithSampler(sampler),", `sdktrace.WithSampler(map[bool]sdktrace.Sampler{true: sampler, false: sdktrace.AlwaysSample()}[service == "gateway"]),`}},
		run:   "TestContract/Sampling/OneDecisionPerTrace",
		want:  []string{"span(s) outside the sampled trace", "in the unsampled order's trace", "(orphans)", "otelenv.SamplerFromEnv"},
	},
	{
		name: "06 checkout ignores the incoming sampled flag", step: "06-native-otel",
		edits: []edit{{"tracing.go", "sdktrace.WithSampler(sampler),", `sdktrace.WithSampler(map[bool]sdktrace.Sampler{true: sampler, false: sdktrace.NeverSample()}[service != "checkout"]),`}},
		run:   "TestContract/Sampling/OneDecisionPerTrace",
		want:  []string{"checkout recorded no span of the order its caller sampled", "ignores the sampled flag it receives", "newTracerProvider: sdktrace.WithSampler"},
	},
	{
		// Pitfall 13: the SDK reads OTEL_TRACES_SAMPLER itself, knows no jaeger_remote,
		// and samples everything.
		name: "04 jaeger_remote left to the SDK", step: "04-otel-bridge",
		edits: []edit{{"tracing.go", "sdktrace.WithSampler(sampler),", ""}},
		run:   "TestContract/Sampling/Remote",
		want:  []string{"while the sampling endpoint says to sample nothing, an order", "the SDK alone does not know jaeger_remote", "Look at TODO(04.1): newTracerProvider passes the sampler of otelenv.SamplerFromEnv"},
	},
	{
		name: "04 the edge forces the sampled flag while trusted mode is on", step: "04-otel-bridge",
		edits: []edit{{"main.go", "edgeCfg, err := edge.LoadConfig(getenv)\n\tif err != nil {\n\t\treturn err\n\t}\n",
			"edgeCfg, err := edge.LoadConfig(getenv)\n\tif err != nil {\n\t\treturn err\n\t}\n\tedgeCfg.TrustSampling = false\n"}},
		run:  "TestContract/Sampling/TrustedFrontEnd",
		want: []string{"with GATEWAY_CALLER_SAMPLING=trust the front end's unsampled trace", "edge.Guard leaves its flag alone"},
	},
}

// importOTel adds go.opentelemetry.io/otel to file's imports.
func importOTel(file string) edit {
	return edit{file, "import (\n", "import (\n\t\"go.opentelemetry.io/otel\"\n"}
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
			for _, e := range m.edits {
				path := filepath.Join(dir, e.file)
				src, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(string(src), e.old) {
					t.Fatalf("%s no longer contains %q: update the mutation", e.file, e.old)
				}
				if err := os.WriteFile(path, []byte(strings.Replace(string(src), e.old, e.new, 1)), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			// Every mutation compiles and links a test binary of its own, most of this
			// test's CPU: no vet (the mistake is judged by the tests' messages), and the
			// compiler and linker collect garbage less often (GOGC=400: about a fifth less
			// CPU for a few hundred MB more, which the 2-core machines this runs on have).
			// -trimpath keeps the copy's random directory out of what the build cache
			// keys on: the step's unchanged packages, and a mutation unchanged since the
			// last run, come from the cache (the whole test: 47 → 17 CPU-seconds warm).
			// Patterns of tests at different depths (TestPropagator, TestContract/PublicEdge)
			// cannot share one -run: each gets a run of its own, and at least one must fail.
			var out []byte
			failed := false
			for _, run := range strings.Fields(m.run) {
				cmd := exec.Command("go", "test", "-count=1", "-vet=off", "-trimpath", "-run", "^("+strings.ReplaceAll(run, "/", ")$/^(")+")$", ".")
				cmd.Dir = dir
				cmd.Env = append(os.Environ(), "GOWORK=off", "GOGC=400")
				o, err := cmd.CombinedOutput()
				out = append(out, o...)
				failed = failed || err != nil
			}
			mu.Lock()
			defer mu.Unlock()
			if !failed {
				t.Fatalf("with the mistake planted, %s passes:\n%s", m.run, out)
			}
			for _, w := range m.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("with the mistake planted, %s fails without saying %q:\n%s", m.run, w, out)
				}
			}
			for _, w := range m.dont {
				if strings.Contains(string(out), w) {
					t.Errorf("with the mistake planted, %s blames the wrong cause, %q:\n%s", m.run, w, out)
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
