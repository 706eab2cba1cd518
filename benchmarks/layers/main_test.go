package main

import (
	"regexp"
	"testing"
)

// TestParseAndCharge reads `go tool pprof -traces` output as it prints it, and charges
// each stack to the layer that asked for the work.
func TestParseAndCharge(t *testing.T) {
	out := []byte(`File: 06-native-otel
Type: alloc_space
-----------+-------------------------------------------------------
     bytes:  704B
    5.50MB   go.opentelemetry.io/otel/trace.attributeOption.applySpan (inline)
             go.opentelemetry.io/otel/sdk/trace.(*tracer).Start
             go.opentelemetry.io/contrib/instrumentation/github.com/gorilla/mux/otelmux.traceware.ServeHTTP
             github.com/gorilla/mux.(*Router).ServeHTTP
             main.newGateway.placeOrder.func1
-----------+-------------------------------------------------------
      10ms   runtime.scanobject
             runtime.gcDrain
             runtime.gcBgMarkWorker
-----------+-------------------------------------------------------
     1.20s   net/textproto.readMIMEHeader
             net/http.readRequest
             net/http.(*conn).serve
-----------+-------------------------------------------------------
      20ms   go.opentelemetry.io/otel/sdk/trace.(*batchSpanProcessor).processQueue
             go.opentelemetry.io/otel/sdk/trace.NewBatchSpanProcessor.func1
`)
	samples := parseTraces(out)
	want := []struct {
		value float64
		layer string
	}{
		{5.5e6, "otelmux"},
		{1e4, "runtime: GC background mark"},
		{1.2e6, "standard library: net/http"},
		{2e4, "tracer's own goroutines"},
	}
	if len(samples) != len(want) {
		t.Fatalf("%d samples, want %d: %+v", len(samples), len(want), samples)
	}
	for i, w := range want {
		if samples[i].value != w.value || layerOf(samples[i].frames) != w.layer {
			t.Errorf("sample %d: %v charged to %q, want %v to %q", i, samples[i].value, layerOf(samples[i].frames), w.value, w.layer)
		}
	}
}

// TestInstrumentationOf: -instrumentation charges a sample by its innermost frame outside
// the standard library, the tracers included, and tells the workshop's own frames apart.
func TestInstrumentationOf(t *testing.T) {
	instr := regexp.MustCompile(`go\.opentelemetry\.io|TracedRabbitBroker`)
	for _, c := range []struct {
		frames []string
		want   string
	}{
		{[]string{"runtime.mallocgc", "go.opentelemetry.io/otel/sdk/trace.(*tracer).Start", "main.placeOrder"}, "instrumentation: libraries"},
		{[]string{"runtime.mapassign", "main.(*TracedRabbitBroker).Publish", "main.createOrder"}, "instrumentation: the workshop's"},
		{[]string{"net/http.(*Client).Do", "main.placeOrder", "go.opentelemetry.io/contrib/otelmux.traceware.ServeHTTP"}, "application"},
		{[]string{"runtime.scanobject", "runtime.gcBgMarkWorker"}, "garbage collection"},
		{[]string{"net/textproto.readMIMEHeader", "net/http.(*conn).serve"}, "runtime, standard library only"},
	} {
		if got := instrumentationOf(c.frames, instr); got != c.want {
			t.Errorf("%q: %q, want %q", c.frames, got, c.want)
		}
	}
}
