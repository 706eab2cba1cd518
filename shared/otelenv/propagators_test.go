package otelenv

import (
	"slices"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/propagation"
)

func TestPropagators(t *testing.T) {
	w3c := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	for _, tc := range []struct {
		value  string
		fields []string // the headers the propagator writes; nil: an error
		err    []string // what the error says
	}{
		{"", []string{"traceparent", "tracestate", "baggage"}, nil}, // the step's default
		{"  ", []string{"traceparent", "tracestate", "baggage"}, nil},
		{"tracecontext,baggage,jaeger", []string{"traceparent", "tracestate", "baggage", "uber-trace-id"}, nil},
		{" TraceContext , B3 ,", []string{"traceparent", "tracestate", "b3"}, nil},
		{"none", []string{}, nil},
		// autoprop alone would log the unknown name and carry on with the others.
		{"tracecontext,zipkin", nil, []string{"OTEL_PROPAGATORS", `"tracecontext,zipkin"`, "zipkin", KnownPropagators}},
		{"w3c", nil, []string{"OTEL_PROPAGATORS", "w3c", "tracecontext, baggage, jaeger"}},
		// autoprop alone would read it as none, silently.
		{"tracecontext,none", nil, []string{"OTEL_PROPAGATORS", "none", "alone"}},
	} {
		t.Run(tc.value, func(t *testing.T) {
			p, err := PropagatorsFromEnv(func(k string) string {
				if k == PropagatorsVar {
					return tc.value
				}
				return ""
			}, w3c)
			if tc.fields == nil {
				if err == nil {
					t.Fatalf("OTEL_PROPAGATORS=%q: a propagator that writes %v, want an error", tc.value, p.Fields())
				}
				for _, s := range tc.err {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("OTEL_PROPAGATORS=%q: %q does not say %s", tc.value, err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("OTEL_PROPAGATORS=%q: %v", tc.value, err)
			}
			got, want := slices.Sorted(slices.Values(p.Fields())), slices.Sorted(slices.Values(tc.fields))
			if !slices.Equal(got, want) {
				t.Errorf("OTEL_PROPAGATORS=%q: the propagator writes %v, want %v", tc.value, got, want)
			}
		})
	}
}
