package workshoptest

import (
	"sort"
	"strings"
	"testing"

	"github.com/ot2otel/workshop/shared/tracecheck"
)

// StartReceiver starts a span receiver with start (otelspans.NewCollector,
// jaegerspans.NewCollector) for t, and closes it when t ends.
func StartReceiver[R tracecheck.Receiver](t testing.TB, start func() (R, error)) R {
	t.Helper()
	r, err := start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// Received returns the spans r received, and fails t, with hint, when there are none at
// all; the message names the variable that points the tracers at r.
func Received(t testing.TB, r tracecheck.Receiver, hint string) []tracecheck.Span {
	t.Helper()
	spans := r.Spans()
	if len(spans) == 0 {
		t.Fatalf("no span reached %s after the services stopped.\nLook at %s", endpointVar(r), hint)
	}
	return spans
}

// ReceiverTraces is a step's OrderTraces.Collect from a suite's collect, which starts
// a receiver of the test's own and points the tracers at it: the fleet gets the
// receiver's environment, and the spans come with Received's check, naming hint.
func ReceiverTraces[R tracecheck.Receiver](collect func(testing.TB) R, hint string) func(t *testing.T) (map[string]string, func() []tracecheck.Span) {
	return func(t *testing.T) (map[string]string, func() []tracecheck.Span) {
		r := collect(t)
		return r.Env(), func() []tracecheck.Span { return Received(t, r, hint) }
	}
}

// endpointVar is the variable of r's environment that names its endpoint.
func endpointVar(r tracecheck.Receiver) string {
	var keys []string
	for k := range r.Env() {
		if strings.HasSuffix(k, "_ENDPOINT") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return strings.Join(keys, " or ")
}
