package main

import (
	"encoding/binary"
	"encoding/hex"
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
				w.Header().Set("traceresponse", traceresponse(sc))
			}
		}
		next.ServeHTTP(w, r)
	})
}

// traceresponse is the header's value for sc: "00-{trace id}-{span id}-{flags}", the IDs
// zero-padded hex of fixed width (jaeger's 64-bit trace IDs padded to W3C's 128 bits).
// It is on every answer of the gateway: appended into a buffer on the stack, it costs one
// allocation where fmt.Sprintf("00-%016x%016x-%016x-%02x", ...) makes three (it boxes
// the IDs), and a third of the CPU (BenchmarkTraceResponse03 in benchmarks). Step 02's
// answer to exercise 02.2 uses fmt.Sprintf, the plainest way to say the format.
func traceresponse(sc jaeger.SpanContext) string {
	var ids [24]byte
	binary.BigEndian.PutUint64(ids[0:8], sc.TraceID().High)
	binary.BigEndian.PutUint64(ids[8:16], sc.TraceID().Low)
	binary.BigEndian.PutUint64(ids[16:24], uint64(sc.SpanID()))
	var buf [55]byte
	b := append(buf[:0], "00-"...)
	b = hex.AppendEncode(b, ids[0:16])
	b = append(b, '-')
	b = hex.AppendEncode(b, ids[16:24])
	if sc.IsSampled() {
		b = append(b, "-01"...)
	} else {
		b = append(b, "-00"...)
	}
	return string(b)
}
