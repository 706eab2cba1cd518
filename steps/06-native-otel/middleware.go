package main

import (
	"net/http"

	"github.com/gorilla/mux"
	"github.com/opentracing-contrib/go-stdlib/nethttp"
	"github.com/opentracing/opentracing-go"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// serverSpans is a mux middleware that traces each request with a server span named
// after the matched route, such as "POST /checkout", continuing the caller's trace when
// the request carries one. nethttp tags http.method, http.url and http.status_code,
// and marks the span as an error when the answer is a 5xx; serverSpans adds http.route.
// /healthz, which load balancers poll, is not traced.
//
// TODO(06.1): trace the servers with otelmux, gorilla/mux's OpenTelemetry
// instrumentation, in place of the bridge and nethttp: a server span per request that
// continues the caller's trace, /healthz left out. otelmux names the span after the
// route template and sets http.route itself: route can go. Look up otelmux.Middleware
// and its options. Pitfall: without the service's own provider and propagator otelmux
// falls back on the globals, and the tests (three services in one process) could pass
// while a real fleet broke.
func serverSpans(service string, tp trace.TracerProvider, prop propagation.TextMapPropagator) mux.MiddlewareFunc {
	tracer := openTracer(tp.Tracer(tracerName), prop)
	return func(next http.Handler) http.Handler {
		return nethttp.Middleware(tracer, next,
			nethttp.OperationNameFunc(func(r *http.Request) string {
				return r.Method + " " + route(r)
			}),
			nethttp.MWSpanObserver(func(span opentracing.Span, r *http.Request) {
				span.SetTag("http.route", route(r))
			}),
			nethttp.MWSpanFilter(func(r *http.Request) bool {
				return route(r) != "/healthz"
			}),
		)
	}
}

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
