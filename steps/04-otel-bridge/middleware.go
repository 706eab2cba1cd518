package main

import (
	"net/http"

	"github.com/gorilla/mux"
	"github.com/opentracing-contrib/go-stdlib/nethttp"
	"github.com/opentracing/opentracing-go"
	"go.opentelemetry.io/otel/trace"
)

// serverSpans is a mux middleware that traces each request with a server span named
// after the matched route, such as "POST /checkout", continuing the caller's trace when
// the request carries one. nethttp tags http.method, http.url and http.status_code,
// and marks the span as an error when the answer is a 5xx; serverSpans adds http.route.
// /healthz, which load balancers poll, is not traced.
func serverSpans(tracer opentracing.Tracer) mux.MiddlewareFunc {
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

// route is the path template of the route mux matched, such as "/stock/{sku}": unlike
// the path, it names the operation rather than one call of it.
func route(r *http.Request) string {
	if rt := mux.CurrentRoute(r); rt != nil {
		if tmpl, err := rt.GetPathTemplate(); err == nil {
			return tmpl
		}
	}
	return r.URL.Path
}

// traceResponse is a mux middleware, used inside serverSpans, that answers with a
// traceresponse header (W3C Trace Context level 2) naming the request's trace and
// server span, so a caller can quote the trace of an order that went wrong.
//
// The bridge's span context is not a type of this package's to look into, but the
// OpenTelemetry span behind the server span is in the request's context (see how
// spans nest, above), and its IDs are W3C's already: 128-bit trace, 64-bit span.
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
