package edge

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"go.opentelemetry.io/contrib/propagators/jaeger"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

func TestLoadConfig(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	cfg, err := LoadConfig(env(nil))
	if err != nil || cfg.PublicEndpoint || len(cfg.BaggageAllow) != 0 {
		t.Errorf("defaults: %+v %v, want no baggage and a continued trace", cfg, err)
	}
	cfg, err = LoadConfig(env(map[string]string{"GATEWAY_BAGGAGE_ALLOW": " tenant, ,region ", "GATEWAY_PUBLIC_ENDPOINT": "1"}))
	if err != nil || !cfg.PublicEndpoint || strings.Join(cfg.BaggageAllow, "|") != "tenant|region" {
		t.Errorf("from env: %+v %v", cfg, err)
	}
	if _, err := LoadConfig(env(map[string]string{"GATEWAY_PUBLIC_ENDPOINT": "yes please"})); err == nil ||
		!strings.Contains(err.Error(), "GATEWAY_PUBLIC_ENDPOINT") {
		t.Errorf("a bad GATEWAY_PUBLIC_ENDPOINT: %v, want an error naming it", err)
	}
}

func TestSanitize(t *testing.T) {
	tp := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-"
	for _, tc := range []struct {
		name string
		in   http.Header
		want http.Header
	}{
		{"no baggage allowed", http.Header{"Baggage": {"user.id=1,tenant=a"}, "Uberctx-Tenant": {"a"}, "Jaeger-Baggage": {"tenant=a"}}, http.Header{}},
		{"allowed keys kept, with properties", http.Header{"Baggage": {"user.id=1, region=eu;p=1", "tenant=a"}, "Uberctx-Region": {"eu"}, "Uberctx-User.id": {"1"},
			"Jaeger-Baggage": {"session=2, region=eu"}},
			http.Header{"Baggage": {"region=eu;p=1,tenant=a"}, "Uberctx-Region": {"eu"}, "Jaeger-Baggage": {"region=eu"}}},
		{"two traceparents", http.Header{"Traceparent": {tp + "01", tp + "01"}, "Tracestate": {"a=1"}}, http.Header{}},
		{"a traceparent with a comma", http.Header{"Traceparent": {tp + "01," + tp + "01"}}, http.Header{}},
		{"tracestate combined", http.Header{"Traceparent": {tp + "01"}, "Tracestate": {"a=1 ,", " ,b=2", "c=3"}},
			http.Header{"Traceparent": {tp + "01"}, "Tracestate": {"a=1,b=2,c=3"}}},
		{"tracestate with a repeated key: discarded", http.Header{"Traceparent": {tp + "01"}, "Tracestate": {"a=1", "b=2,a=3"}},
			http.Header{"Traceparent": {tp + "01"}}},
		{"tracestate with an invalid member: discarded", http.Header{"Traceparent": {tp + "01"}, "Tracestate": {"a=1", "Bad=4"}},
			http.Header{"Traceparent": {tp + "01"}}},
		{"tracestate of nothing", http.Header{"Tracestate": {" , "}}, http.Header{}},
		{"a jaeger debug ID", http.Header{"Jaeger-Debug-Id": {"make-me-debug"}, "Uber-Trace-Id": {"a:b:0:1"}}, http.Header{"Uber-Trace-Id": {"a:b:0:1"}}},
		{"URL-encoded uber-trace-id", http.Header{"Uber-Trace-Id": {"abc%3Adef%3A0%3A1"}}, http.Header{"Uber-Trace-Id": {"abc:def:0:1"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			Sanitize(tc.in, Config{BaggageAllow: []string{"tenant", "region"}}.orNone(tc.name == "no baggage allowed"))
			if fmt.Sprint(tc.in) != fmt.Sprint(tc.want) {
				t.Errorf("got  %v\nwant %v", tc.in, tc.want)
			}
		})
	}
}

func (c Config) orNone(none bool) Config {
	if none {
		return Config{}
	}
	return c
}

func TestForceSampled(t *testing.T) {
	for in, want := range map[string]string{
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A",
		"garbage": "garbage",
	} {
		h := http.Header{"Traceparent": {in}}
		forceSampled(h)
		if h.Get("traceparent") != want {
			t.Errorf("traceparent %s: %s, want %s", in, h.Get("traceparent"), want)
		}
	}
	for in, want := range map[string]string{"a:b:0:0": "a:b:0:1", "a:b:0:2": "a:b:0:1", "a:b:0:3": "a:b:0:1", "a:b:0:7": "a:b:0:5", "a:b:0": "a:b:0", "a:b:0:zz": "a:b:0:zz"} {
		h := http.Header{"Uber-Trace-Id": {in}}
		forceSampled(h)
		if h.Get("uber-trace-id") != want {
			t.Errorf("uber-trace-id %s: %s, want %s", in, h.Get("uber-trace-id"), want)
		}
	}
}

func TestCombineTraceStateLimits(t *testing.T) {
	var members []string
	for i := range 33 {
		members = append(members, fmt.Sprintf("k%02d=v", i))
	}
	// 32 members are the limit; 33 make the tracestate invalid: discarded whole (the W3C
	// suite's test_tracestate_member_count_limit).
	if got, want := CombineTraceState([]string{strings.Join(members[:10], ","), strings.Join(members[10:32], ",")}), strings.Join(members[:32], ","); got != want {
		t.Errorf("32 members over two headers:\n got %s\nwant %s", got, want)
	}
	if got := CombineTraceState([]string{strings.Join(members[:10], ","), strings.Join(members[10:], ",")}); got != "" {
		t.Errorf("33 members: %q, want the tracestate discarded", got)
	}
	long := "long=" + strings.Repeat("x", 200)
	// Under the member limit but over 512 characters: the long members go first.
	got := CombineTraceState([]string{long, long[:4] + "2" + long[4:], long[:4] + "3" + long[4:], "a=1"})
	if got != "a=1" {
		t.Errorf("three long members and a short one: %q, want the short one", got)
	}
	// Only members of up to 128 characters, over 512 in all: from the end.
	var mid []string
	for i := range 8 {
		mid = append(mid, fmt.Sprintf("m%d=%s", i, strings.Repeat("y", 100)))
	}
	if got := CombineTraceState(mid); got != strings.Join(mid[:4], ",") {
		t.Errorf("eight members of 103 characters: %d characters, want the first four", len(got))
	}
}

func TestReadURLEncodedJaeger(t *testing.T) {
	p := ReadURLEncodedJaeger(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}, jaeger.Jaeger{}))
	h := http.Header{"Uber-Trace-Id": {"4bf92f3577b34da6a3ce929d0e0e4736%3a00f067aa0ba902b7%3A0%3A1"}, "Baggage": {"a=1", "b=2"}}
	ctx := p.Extract(context.Background(), propagation.HeaderCarrier(h))
	if sc := trace.SpanContextFromContext(ctx); sc.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || !sc.IsSampled() {
		t.Errorf("a URL-encoded uber-trace-id: %v, want the trace read", sc)
	}
	// The carrier keeps its Values: both baggage headers are read.
	if got := fmt.Sprint(propagationBaggage(ctx)); got != "a=1,b=2" {
		t.Errorf("baggage over two headers: %s", got)
	}
	p.Inject(ctx, propagation.HeaderCarrier(http.Header{})) // Inject is the propagator's own
	if len(p.Fields()) != 4 {
		t.Errorf("Fields: %v", p.Fields())
	}
}

func propagationBaggage(ctx context.Context) string {
	h := http.Header{}
	propagation.Baggage{}.Inject(ctx, propagation.HeaderCarrier(h))
	// Baggage keeps its members in a map: sort them, or the order is the map's.
	members := strings.Split(h.Get("baggage"), ",")
	slices.Sort(members)
	return strings.Join(members, ",")
}

// TestGuardCopiesOnlyToRewrite pins the edge's fast path: a request without trace
// context or baggage reaches the gateway as it came, uncopied, and one with any of
// them still goes through the rules.
func TestGuardCopiesOnlyToRewrite(t *testing.T) {
	var got *http.Request
	h := Guard(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = r }), Config{}, nil)
	plain, _ := http.NewRequest(http.MethodPost, "http://gateway/checkout", nil)
	plain.Header.Set("Content-Type", "application/json")
	plain.Header.Set("X-Request-Id", "r-1")
	h.ServeHTTP(nil, plain)
	if got != plain {
		t.Error("a request without trace context or baggage was copied")
	}
	for _, key := range []string{"Traceparent", "Tracestate", "Baggage", "Jaeger-Baggage", "Uberctx-Tenant", "Uber-Trace-Id", "Jaeger-Debug-Id"} {
		r, _ := http.NewRequest(http.MethodPost, "http://gateway/checkout", nil)
		r.Header.Set(key, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00,tenant=a")
		h.ServeHTTP(nil, r)
		if got == r {
			t.Errorf("a request with %s skipped the rules", key)
		}
		if !carriesContext(r.Header) {
			t.Errorf("carriesContext misses %s", key)
		}
	}
}

// BenchmarkGuard times the edge for a request without trace context (the fast path,
// no copy) and for one with a traceparent to force sampled (the rules, on a copy).
func BenchmarkGuard(b *testing.B) {
	h := Guard(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), Config{}, nil)
	for _, bc := range []struct{ name, traceparent string }{
		{"plain", ""},
		{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r, _ := http.NewRequest(http.MethodPost, "http://gateway/checkout", nil)
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("User-Agent", "load")
			if bc.traceparent != "" {
				r.Header.Set("Traceparent", bc.traceparent)
			}
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(nil, r)
			}
		})
	}
}

func TestCallerSamplingConfig(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for v, want := range map[string]bool{"": false, "force": false, " Trust ": true} {
		cfg, err := LoadConfig(env(map[string]string{CallerSamplingVar: v}))
		if err != nil || cfg.TrustSampling != want {
			t.Errorf("%s=%q: %+v %v, want TrustSampling %v", CallerSamplingVar, v, cfg, err, want)
		}
	}
	for _, tc := range []struct{ env map[string]string }{
		{map[string]string{CallerSamplingVar: "1"}},
		{map[string]string{CallerSamplingVar: "yes"}},
		{map[string]string{CallerSamplingVar: "trust", "GATEWAY_PUBLIC_ENDPOINT": "1"}},
	} {
		_, err := LoadConfig(env(tc.env))
		if err == nil || !strings.Contains(err.Error(), CallerSamplingVar) || !strings.Contains(err.Error(), "trust") {
			t.Errorf("%v: %v, want an error naming %s and its values", tc.env, err, CallerSamplingVar)
		}
	}
}

// TestCallerSampling: what checkout's side of the gateway sees of a caller's flags, by
// default (force) and behind the fleet's own front end (trust).
func TestCallerSampling(t *testing.T) {
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-"
	for _, tc := range []struct {
		name, header, in, force, trust string
	}{
		{"unsampled traceparent", "Traceparent", tp + "00", tp + "01", tp + "00"},
		{"sampled traceparent", "Traceparent", tp + "01", tp + "01", tp + "01"},
		// Every flag bit set: sampled already; the unassigned bits are not the edge's
		// business, and the tracers pass on only the sampled bit.
		{"traceparent flags ff", "Traceparent", tp + "ff", tp + "ff", tp + "ff"},
		{"unsampled uber-trace-id", "Uber-Trace-Id", "a:b:0:0", "a:b:0:1", "a:b:0:0"},
		// The debug flag from an unknown caller is cleared; from the fleet's front end it stands.
		{"uber-trace-id debug", "Uber-Trace-Id", "a:b:0:3", "a:b:0:1", "a:b:0:3"},
		{"uber-trace-id debug only", "Uber-Trace-Id", "a:b:0:2", "a:b:0:1", "a:b:0:2"},
	} {
		for _, mode := range []struct {
			cfg  Config
			want string
		}{{Config{}, tc.force}, {Config{TrustSampling: true}, tc.trust}} {
			var got string
			h := Guard(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = r.Header.Get(tc.header) }), mode.cfg, nil)
			r, _ := http.NewRequest(http.MethodPost, "http://gateway/checkout", nil)
			r.Header.Set(tc.header, tc.in)
			h.ServeHTTP(nil, r)
			if got != mode.want {
				t.Errorf("%s, trust=%v: %s %q reached the gateway as %q, want %q", tc.name, mode.cfg.TrustSampling, tc.header, tc.in, got, mode.want)
			}
		}
	}
}
