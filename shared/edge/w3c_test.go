package edge_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/ot2otel/workshop/shared/edge"
	"github.com/ot2otel/workshop/shared/edge/w3csuite"
)

// TestW3CTraceContextSuite sends every case of the W3C Trace Context test suite
// (w3csuite) over real HTTP to a gateway made as the OpenTelemetry steps make theirs:
// edge.Guard, then the W3C propagator's Extract, a server span of an SDK tracer, and
// Inject into the request it sends on, which the handler answers with. The same cases
// run at the running gateways of steps 04-06 (TestContract/PublicEdge).
func TestW3CTraceContextSuite(t *testing.T) {
	prop := propagation.TraceContext{}
	tp := sdktrace.NewTracerProvider()
	t.Cleanup(func() { tp.Shutdown(t.Context()) })
	gateway := func(r *http.Request) http.Header {
		ctx := prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := tp.Tracer("gateway").Start(ctx, "POST /checkout")
		defer span.End()
		out := http.Header{}
		prop.Inject(ctx, propagation.HeaderCarrier(out))
		return out
	}
	for _, guarded := range []bool{true, false} {
		var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			json.NewEncoder(w).Encode(gateway(r))
		})
		if guarded {
			h = edge.Guard(h, edge.Config{}, prop)
		}
		srv := httptest.NewServer(h)
		failed := 0
		cases := w3csuite.Cases()
		for _, c := range cases {
			req, err := http.NewRequest(http.MethodPost, srv.URL, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, kv := range c.Headers {
				req.Header[kv[0]] = append(req.Header[kv[0]], kv[1]) // the name as the suite writes it
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatalf("%s: %v", c.Name, err)
			}
			var out http.Header
			err = json.NewDecoder(resp.Body).Decode(&out)
			resp.Body.Close()
			if err != nil {
				t.Fatalf("%s: %v", c.Name, err)
			}
			problems := c.Check(out.Values("traceparent"), out.Values("tracestate"))
			if len(problems) > 0 {
				failed++
			}
			if guarded {
				for _, p := range problems {
					t.Errorf("W3C suite %s, headers %q: %s (edge.CombineTraceState, edge.Sanitize)", c.Name, c.Headers, p)
				}
			}
		}
		srv.Close()
		if guarded {
			t.Logf("behind edge.Guard: %d of the W3C suite's %d cases pass", len(cases)-failed, len(cases))
		} else {
			// The propagator alone reads only the first tracestate header: the edge is
			// what makes the rest pass.
			t.Logf("OpenTelemetry's propagator without edge.Guard: %d of %d cases pass", len(cases)-failed, len(cases))
			if failed == 0 {
				t.Errorf("without edge.Guard every case passes: the suite's cases no longer test the edge")
			}
		}
	}
}
