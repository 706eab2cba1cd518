package main

import (
	"io"
	"net/http"

	"github.com/gorilla/mux"
	"github.com/opentracing/opentracing-go"
	"github.com/uber/jaeger-client-go/config"
)

// newTracer returns the tracer of one service, configured from the standard JAEGER_*
// environment (JAEGER_ENDPOINT, JAEGER_AGENT_HOST, JAEGER_SAMPLER_TYPE, ...), and the
// closer that flushes its spans: main closes it once the service has stopped. opts go to
// cfg.NewTracer: main passes the logger jaeger-client reports its errors to.
func newTracer(service string, opts ...config.Option) (opentracing.Tracer, io.Closer, error) {
	// TODO(02.1): build a jaeger-client tracer from the environment with config.FromEnv(),
	// set its ServiceName to service (one process may run all three services), and when
	// the environment sets no sampler type, sample everything: Sampler.Type
	// jaeger.SamplerTypeConst, Param 1 (the default asks an agent, and drops the first
	// spans). cfg.NewTracer(opts...) returns the tracer and the closer that flushes its spans.
	return opentracing.NoopTracer{}, io.NopCloser(nil), nil
}

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
