package main

import (
	"net/http"

	"github.com/gorilla/mux"
	"go.opentelemetry.io/contrib/instrumentation/github.com/gorilla/mux/otelmux"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// serverSpans is a mux middleware that traces each request with a server span named
// after the matched route, such as "POST /checkout", continuing the caller's trace when
// the request carries one in a format prop reads. otelmux sets http.request.method,
// http.route, http.response.status_code and the other HTTP conventions, and the status
// Error when the answer is a 5xx. /healthz, which load balancers poll, is not traced.
func serverSpans(service string, tp trace.TracerProvider, prop propagation.TextMapPropagator) mux.MiddlewareFunc {
	// Without the two options otelmux would use the global provider and propagator:
	// the tests, three services in one process, could pass while a real fleet broke.
	return otelmux.Middleware(service,
		otelmux.WithTracerProvider(tp),
		otelmux.WithPropagators(prop),
		otelmux.WithMeterProvider(noMetrics),
		otelmux.WithFilter(func(r *http.Request) bool { return r.URL.Path != "/healthz" }),
	)
}

// noMetrics is the meter provider of the HTTP instrumentation: the shop exports no
// metrics yet. Said explicitly, it records into nothing, where the global provider
// otelmux and otelhttp fall back on would hold every measurement for a provider that
// might be set later.
var noMetrics = metricnoop.NewMeterProvider()

// traceResponse is a mux middleware, used inside serverSpans, that answers with a
// traceresponse header (W3C Trace Context level 2) naming the request's trace and
// server span, so a caller can quote the trace of an order that went wrong.
func traceResponse(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if sc := trace.SpanContextFromContext(r.Context()); sc.IsValid() {
			// Concatenated rather than formatted: it is on every answer, and Sprintf would box
			// the IDs (BenchmarkTraceResponse in benchmarks: 3 allocations against 8).
			w.Header().Set("traceresponse", "00-"+sc.TraceID().String()+"-"+sc.SpanID().String()+"-"+sc.TraceFlags().String())
		}
		next.ServeHTTP(w, r)
	})
}
