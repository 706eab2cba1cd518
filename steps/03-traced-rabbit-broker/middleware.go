package main

import (
	"fmt"
	"net/http"

	"github.com/gorilla/mux"
	"github.com/opentracing-contrib/go-stdlib/nethttp"
	"github.com/opentracing/opentracing-go"
	"github.com/uber/jaeger-client-go"
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
func traceResponse(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if span := opentracing.SpanFromContext(r.Context()); span != nil {
			if sc, ok := span.Context().(jaeger.SpanContext); ok {
				flags := 0
				if sc.IsSampled() {
					flags = 1
				}
				// jaeger's 64-bit trace IDs are padded to W3C's 128 bits.
				w.Header().Set("traceresponse", fmt.Sprintf("00-%016x%016x-%016x-%02x",
					sc.TraceID().High, sc.TraceID().Low, uint64(sc.SpanID()), flags))
			}
		}
		next.ServeHTTP(w, r)
	})
}
