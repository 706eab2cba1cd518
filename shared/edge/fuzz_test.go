package edge

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"go.opentelemetry.io/contrib/propagators/jaeger"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// FuzzSanitize feeds the edge any trace and baggage headers a caller could send, and
// checks what it lets through: at most one traceparent, one tracestate within W3C Trace
// Context's limits and every member valid, and no baggage key that is not allowed.
func FuzzSanitize(f *testing.F) {
	tp := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	f.Add(tp, "", "a=1,b=2", "c=3", "user.id=1,tenant=a", "x", "abc%3Adef%3A0%3A1")
	f.Add(tp, tp, "", "", "tenant=a;p=1", "tenant", "4bf92f3577b34da6:00f067aa0ba902b7:0:0")
	f.Add(tp+","+tp, "", " , ,", "long="+strings.Repeat("x", 250), "", "session", "%zz")
	f.Add("00-00000000000000000000000000000000-0000000000000000-00", "", "k@v=1,=,a==", "", "=,;,,", "", ":::")
	f.Fuzz(func(t *testing.T, tp1, tp2, ts1, ts2, bag, uberKey, uber string) {
		h := http.Header{}
		for _, v := range []string{tp1, tp2} {
			if v != "" {
				h.Add("traceparent", v)
			}
		}
		h.Add("tracestate", ts1)
		h.Add("tracestate", ts2)
		h.Add("baggage", bag)
		h.Add("jaeger-baggage", bag)
		h.Set("uberctx-"+uberKey, "v")
		h.Set("uber-trace-id", uber)
		cfg := Config{BaggageAllow: []string{"tenant"}}
		Sanitize(h, cfg)
		forceSampled(h)

		if n := len(h.Values("traceparent")); n > 1 {
			t.Errorf("%d traceparent headers left", n)
		}
		if ts := h.Values("tracestate"); len(ts) > 1 {
			t.Errorf("%d tracestate headers left", len(ts))
		} else if len(ts) == 1 {
			if len(ts[0]) > maxStateLength {
				t.Errorf("tracestate of %d characters", len(ts[0]))
			}
			parsed, err := trace.ParseTraceState(ts[0])
			if err != nil || parsed.Len() > maxMembers || ts[0] == "" {
				t.Errorf("tracestate %q: %v (%d members)", ts[0], err, parsed.Len())
			}
		}
		for key, vs := range h {
			if strings.HasPrefix(key, uberBaggage) && !cfg.allowed(strings.TrimPrefix(key, uberBaggage)) {
				t.Errorf("baggage header %s let through", key)
			}
			if key == baggageHeader || key == jaegerBaggage {
				for _, v := range vs {
					for _, m := range strings.Split(v, ",") {
						k, _, _ := strings.Cut(m, "=")
						k, _, _ = strings.Cut(k, ";")
						if !cfg.allowed(strings.TrimSpace(k)) {
							t.Errorf("%s member %q let through", key, m)
						}
					}
				}
			}
		}
		// Whatever is left, the propagators read it without trouble.
		p := ReadURLEncodedJaeger(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}, jaeger.Jaeger{}))
		ctx := p.Extract(context.Background(), propagation.HeaderCarrier(h))
		if sc := trace.SpanContextFromContext(ctx); sc.IsValid() && !sc.IsSampled() {
			t.Errorf("a caller's context %v is not sampled after the edge", sc)
		}
	})
}

// FuzzCombineTraceState checks the combined tracestate of any two headers keeps W3C
// Trace Context's limits, and only ever drops members: it never makes one up.
func FuzzCombineTraceState(f *testing.F) {
	f.Add("a=1,b=2", "c=3")
	f.Add(strings.Repeat("k=v,", 40), "long="+strings.Repeat("x", 200))
	f.Add(" ,\t, ", "a=1,a=2")
	f.Fuzz(func(t *testing.T, a, b string) {
		got := CombineTraceState([]string{a, b})
		if got == "" {
			return
		}
		ts, err := trace.ParseTraceState(got)
		if err != nil || ts.Len() > maxMembers || len(got) > maxStateLength {
			t.Fatalf("CombineTraceState(%q, %q) = %q: %v", a, b, got, err)
		}
		for _, m := range strings.Split(got, ",") {
			if !strings.Contains(a, m) && !strings.Contains(b, m) {
				t.Errorf("member %q is in neither header", m)
			}
		}
	})
}
