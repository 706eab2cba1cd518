package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ot2otel/workshop/shared/tracecheck"
)

// fakeReceiver is a receiver that collected spans before the test asks for them.
type fakeReceiver struct {
	env   map[string]string
	spans []tracecheck.Span
}

func (r *fakeReceiver) Env() map[string]string   { return r.env }
func (r *fakeReceiver) Spans() []tracecheck.Span { return r.spans }
func (r *fakeReceiver) Close() error             { return nil }

func TestTraceIDWriter(t *testing.T) {
	var out bytes.Buffer
	w := &traceIDWriter{w: &out}
	text := "demo: 202 Accepted\ndemo: traceresponse: 00-661303a4cb1777165c2341c7b73364ce-122a8316dc9986fe-01\ndemo: stopped\n"
	// The step's output arrives in pieces that need not end at a line.
	for _, piece := range []string{text[:30], text[30:60], text[60:]} {
		if _, err := w.Write([]byte(piece)); err != nil {
			t.Fatal(err)
		}
	}
	if out.String() != text {
		t.Errorf("copied %q, want %q", out.String(), text)
	}
	if w.traceID != "661303a4cb1777165c2341c7b73364ce" {
		t.Errorf("traceID = %q, want the one of the traceresponse line", w.traceID)
	}
}

func TestStartReceiversLeavesTheUsersBackend(t *testing.T) {
	otlp := &fakeReceiver{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1"}}
	jaeger := &fakeReceiver{env: map[string]string{"JAEGER_ENDPOINT": "http://127.0.0.1:2/api/traces"}}
	user := map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://jaeger:4318/v1/traces"}
	rs, err := startReceivers([]func() (tracecheck.Receiver, error){
		func() (tracecheck.Receiver, error) { return otlp, nil },
		func() (tracecheck.Receiver, error) { return jaeger, nil },
	}, func(k string) string { return user[k] })
	if err != nil {
		t.Fatal(err)
	}
	if len(rs.started) != 1 || rs.started[0] != jaeger {
		t.Errorf("started %v, want only the jaeger receiver: the user named a backend for OTLP", rs.started)
	}
	if len(rs.env) != 1 || rs.env["JAEGER_ENDPOINT"] == "" {
		t.Errorf("env %v, want JAEGER_ENDPOINT alone", rs.env)
	}
	if want := "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://jaeger:4318/v1/traces"; len(rs.external) != 1 || rs.external[0] != want {
		t.Errorf("external %v, want [%s]", rs.external, want)
	}
}

func TestShowTrace(t *testing.T) {
	const order, other = "661303a4cb1777165c2341c7b73364ce", "0000000000000000000000000000beef"
	spans := []tracecheck.Span{
		{TraceID: order, SpanID: "0000000000000001", Service: "gateway", Name: "POST /checkout", Kind: tracecheck.KindServer},
		{TraceID: order, SpanID: "0000000000000002", ParentID: "0000000000000001", Service: "checkout", Name: "POST /orders", Kind: tracecheck.KindServer},
		{TraceID: other, SpanID: "0000000000000003", Service: "stock", Name: "reserve stock"},
	}
	jaeger := &fakeReceiver{env: map[string]string{"JAEGER_ENDPOINT": "http://127.0.0.1:2/api/traces"}}
	for _, tc := range []struct {
		name      string
		rs        *receivers
		want, not []string
	}{
		{"collected here", &receivers{started: []tracecheck.Receiver{&fakeReceiver{spans: spans}}},
			[]string{"The order's trace, 2 spans", "1 more span(s), NOT in the order's trace", "reserve stock"}, []string{"Spans went to", "Which collector"}},
		{"two collectors", &receivers{started: []tracecheck.Receiver{
			&fakeReceiver{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:3"}, spans: spans[:1]},
			&fakeReceiver{env: jaeger.env, spans: spans[1:]}}},
			[]string{"Which collector received which span:", "OTEL_EXPORTER_OTLP_ENDPOINT (OTLP), 1 span(s): gateway: POST /checkout",
				"JAEGER_ENDPOINT (jaeger thrift), 1 span(s): checkout: POST /orders"}, []string{"reserve stock\n  "}},
		{"nothing arrived", &receivers{started: []tracecheck.Receiver{&fakeReceiver{}}},
			[]string{"The order's trace, 0 spans", "(no spans arrived)"}, nil},
		{"all sent to the user's Jaeger", &receivers{started: []tracecheck.Receiver{jaeger}, external: []string{"OTEL_EXPORTER_OTLP_ENDPOINT=http://jaeger:4318"}},
			[]string{"Spans went to OTEL_EXPORTER_OTLP_ENDPOINT=http://jaeger:4318.", "go run ./cmd/workshop trace " + order}, []string{"The order's trace,"}},
		{"some sent to the user's Jaeger", &receivers{started: []tracecheck.Receiver{&fakeReceiver{env: jaeger.env, spans: spans[2:]}}, external: []string{"OTEL_EXPORTER_OTLP_ENDPOINT=http://jaeger:4318"}},
			[]string{"but JAEGER_ENDPOINT was not set", "the trace in Jaeger is not whole"}, []string{"go run ./cmd/workshop trace"}},
	} {
		var out bytes.Buffer
		w := &workshop{out: &out}
		w.showTrace(tc.rs, order)
		for _, want := range tc.want {
			if !strings.Contains(out.String(), want) {
				t.Errorf("%s: the output lacks %q:\n%s", tc.name, want, out.String())
			}
		}
		for _, not := range tc.not {
			if strings.Contains(out.String(), not) {
				t.Errorf("%s: the output says %q:\n%s", tc.name, not, out.String())
			}
		}
	}
}

// TestDemoDrawsTheTrace runs the mixed fleet's demo, whose spans arrive at both of the
// workshop command's receivers, and checks they make one trace, that the output says
// which collector received which span, that no span is outside the order's trace, and
// that step 05's picture is fresh (TestTracePicturesFresh checks the other steps').
func TestDemoDrawsTheTrace(t *testing.T) {
	clearSpanBackends(t) // the test's own receivers, never a backend of the caller's
	spans, traceID, out := runDemoForTest(t, "05-mixed-fleet", demoOptions{})
	for _, want := range []string{"demo: 202 Accepted", "The order's trace, ", "gateway ", "checkout ", "process ", "reserve stock",
		"Which collector received which span:", "JAEGER_ENDPOINT (jaeger thrift), ", "(OTLP), "} {
		if !strings.Contains(out, want) {
			t.Errorf("the demo's output lacks %q:\n%s", want, out)
		}
	}
	for _, not := range []string{"NOT in the order's trace", "Spans were sent to", "(no spans arrived)"} {
		if strings.Contains(out, not) {
			t.Errorf("the demo's output says %q:\n%s", not, out)
		}
	}
	if others := len(spans) - len(tracecheck.Filter(spans, traceID)); others > 0 || traceID == "" {
		t.Errorf("%d span(s) outside the order's trace %q:\n%s", others, traceID, tracecheck.String(spans))
	}
	checkPicture(t, "05-mixed-fleet", "demo", spans, traceID, out)
}
