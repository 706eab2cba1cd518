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
		// TODO(02.2): wrap next with nethttp.Middleware(tracer, next, ...) from
		// github.com/opentracing-contrib/go-stdlib/nethttp, with the options
		// nethttp.OperationNameFunc (the span's name: r.Method + " " + route(r)),
		// nethttp.MWSpanObserver (tag http.route with route(r)) and nethttp.MWSpanFilter
		// (no span for the route "/healthz").
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
		// TODO(02.2): set the "traceresponse" header from the request's span
		// (opentracing.SpanFromContext). Its context is a jaeger.SpanContext: format its
		// TraceID().High, TraceID().Low, SpanID() and IsSampled() (flags 01, or 00) as
		// "00-%016x%016x-%016x-%02x".
		next.ServeHTTP(w, r)
	})
}
