package main

import (
	"net/http"

	"github.com/gorilla/mux"
	"github.com/opentracing/opentracing-go"
)

// serverSpans is a mux middleware that traces each request with a server span named
// after the matched route, such as "POST /checkout", continuing the caller's trace when
// the request carries one. nethttp tags http.method, http.url and http.status_code,
// and marks the span as an error when the answer is a 5xx; serverSpans adds http.route.
// /healthz, which load balancers poll, is not traced.
func serverSpans(tracer opentracing.Tracer) mux.MiddlewareFunc {
	return func(next http.Handler) http.Handler {
		// TODO(02.2): a server span for each request, continuing the caller's trace, named
		// after the route that matched rather than the path (r.Method + " " + route(r): "GET
		// /orders/{id}", one operation, not one per order), tagged http.route; /healthz, which
		// load balancers poll, is not traced. Look up nethttp.Middleware in
		// github.com/opentracing-contrib/go-stdlib/nethttp and its options. Pitfall: its default
		// name, "HTTP POST", makes every route one operation.
		return next
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
func traceResponse(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// TODO(02.2): answer with a "traceresponse" header (W3C Trace Context level 2,
		// "00-{trace id}-{span id}-{flags}") that names the request's span, so that a caller can
		// quote the trace. Look up opentracing.SpanFromContext; with jaeger-client its context is
		// a jaeger.SpanContext. Pitfall: the trace ID is 128 bits in two halves, High and Low, and
		// each part has a fixed width in hex, zero-padded; flags are 01 when sampled, 00 if not.
		next.ServeHTTP(w, r)
	})
}
