package workshoptest

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ot2otel/workshop/shared/fleet"
)

// PropagatorsStep says how a step's services take their propagators from
// OTEL_PROPAGATORS (TestContract/Propagators, for the steps on OpenTelemetry).
type PropagatorsStep struct {
	// Env puts every service on OpenTelemetry, where the step lets it choose (step 05:
	// SHOP_TRACER=otel); nil elsewhere.
	Env map[string]string
	// Todo names what to look at when the services do not speak what OTEL_PROPAGATORS
	// names; empty: the step has no such check.
	Todo string
}

// CheckPropagatorsFromEnv checks that the services speak the propagators
// OTEL_PROPAGATORS names, on both wires, and that a name they cannot honour stops them
// at start with an error that names the variable and the names it takes: OpenTelemetry's
// autoprop alone logs an unknown name and carries on without it.
func CheckPropagatorsFromEnv(t *testing.T, run fleet.RunFunc, s PropagatorsStep) {
	t.Helper()
	env := func(extra map[string]string) map[string]string {
		e := maps.Clone(s.Env)
		if e == nil {
			e = map[string]string{}
		}
		maps.Copy(e, extra)
		return e
	}
	t.Run("unknown names stop the services at start", func(t *testing.T) {
		for value, bad := range map[string]string{"tracecontext,zipkin": "zipkin", "tracecontext,none": "none"} {
			// Ports of its own, and a few seconds: a shop that does not refuse serves
			// until the context ends.
			e := env(map[string]string{"OTEL_PROPAGATORS": value, "GATEWAY_ADDR": "127.0.0.1:0", "CHECKOUT_ADDR": "127.0.0.1:0", "STOCK_ADDR": "127.0.0.1:0"})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err := run(ctx, []string{"shop", "all"}, func(k string) string { return e[k] }, &strings.Builder{})
			cancel()
			if err == nil || !strings.Contains(err.Error(), "OTEL_PROPAGATORS") || !strings.Contains(err.Error(), bad) ||
				!strings.Contains(err.Error(), "tracecontext, baggage, jaeger") {
				t.Errorf("with OTEL_PROPAGATORS=%s: %v, want the shop to stop at start with an error naming the "+
					"variable, %s and the names it takes (otelenv.PropagatorsFromEnv in main, before the broker): a "+
					"propagator a service cannot honour is never a silent fallback.\n(Look at %s.)", value, err, bad, s.Todo)
			}
		}
	})

	// b3 alone: a format no step speaks by default, so a service that ignores the
	// variable shows on the wire.
	t.Run("b3 on both wires", func(t *testing.T) {
		seen := newWireLog(t)
		f := Start(t, run, env(map[string]string{"OTEL_PROPAGATORS": "b3", "CHECKOUT_URL": seen.URL}))
		seen.watch(t, f)
		h := http.Header{"X-Request-Id": {"propagators-b3"}}
		resp, err := f.Fleet.PlaceOrder(context.Background(), DemoOrder(), h)
		if err != nil || resp.Status != http.StatusAccepted {
			t.Fatalf("POST /checkout with OTEL_PROPAGATORS=b3: %v %d %s, want 202", err, resp.Status, resp.Body)
		}
		hint := fmt.Sprintf("every service speaks what OTEL_PROPAGATORS names (otelenv.PropagatorsFromEnv in main), "+
			"its newPropagator only when the variable is unset.\n(Look at %s.)", s.Todo)
		httpHeaders := seen.wait(t, "http", "propagators-b3")
		traceID, _, _ := strings.Cut(httpHeaders.Get("b3"), "-")
		if traceID == "" || httpHeaders.Get("traceparent") != "" || httpHeaders.Get("uber-trace-id") != "" {
			t.Errorf("with OTEL_PROPAGATORS=b3, the gateway's request to checkout carries b3 %q, traceparent %q, "+
				"uber-trace-id %q: want b3 alone: %s", httpHeaders.Get("b3"), httpHeaders.Get("traceparent"),
				httpHeaders.Get("uber-trace-id"), hint)
		}
		if amqpHeaders, ok := seen.waitAMQP(t, "propagators-b3"); ok {
			var b3 string
			if v := amqpHeaders["b3"]; len(v) > 0 {
				b3 = v[0]
			}
			if got, _, _ := strings.Cut(b3, "-"); got == "" || got != traceID || amqpHeaders.Get("traceparent") != "<nil>" {
				t.Errorf("with OTEL_PROPAGATORS=b3, the message checkout published carries b3 %q and traceparent %s: "+
					"want b3 alone, in the trace of checkout's request (%s): %s", b3, amqpHeaders.Get("traceparent"), traceID, hint)
			}
		}
		f.Stop()
	})
}
