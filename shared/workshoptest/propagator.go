package workshoptest

import (
	"slices"
	"strings"
)

// PropagatorHint names what a step's propagator lacks, from the header fields it says
// it handles (its Fields): the W3C Trace Context propagator for traceparent, Baggage
// for baggage, the Jaeger propagator for uber-trace-id. want lists the fields the step
// needs; a propagator that has them all gets otherwise, the hint for a subtler fault
// (such as the order of a composite).
func PropagatorHint(fields []string, want []string, todo, otherwise string) string {
	names := map[string]string{
		"traceparent":   "propagation.TraceContext{} (traceparent)",
		"baggage":       "propagation.Baggage{} (baggage)",
		"uber-trace-id": "jaeger.Jaeger{} (uber-trace-id)",
	}
	var missing []string
	for _, f := range want {
		if !slices.Contains(fields, f) {
			missing = append(missing, names[f])
		}
	}
	if len(missing) == 0 {
		return todo + ": " + otherwise
	}
	return todo + ": newPropagator's composite lacks " + strings.Join(missing, " and ") +
		", so that format is neither read nor written"
}
