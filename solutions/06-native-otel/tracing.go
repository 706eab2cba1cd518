package main

import (
	"context"
	"fmt"
	"net/http"

	"github.com/gorilla/mux"
	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/contrib/instrumentation/github.com/gorilla/mux/otelmux"
	"go.opentelemetry.io/otel/codes"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/ot2otel/workshop/shared/otelenv"
)

// tracerName is the instrumentation scope of the spans the shop's own code starts.
const tracerName = "github.com/ot2otel/workshop/shop"

// newTracerProvider returns the tracer provider of one service. Its spans carry the
// service's name and go, in batches, to the exporter the standard variables ask for,
// which autoexport builds: OTLP unless OTEL_TRACES_EXPORTER says console or none, over
// HTTP unless OTEL_EXPORTER_OTLP_PROTOCOL says grpc. With OTEL_SDK_DISABLED=true it is
// a no-op provider.
//
// Everything else comes from the standard OTEL_* variables, read by the SDK itself: where
// the spans go (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
// https://localhost:4318 by default), how they are batched (OTEL_BSP_*), extra resource
// attributes (OTEL_RESOURCE_ATTRIBUTES) and the sampler (OTEL_TRACES_SAMPLER). No sampler
// option is passed, because one would override OTEL_TRACES_SAMPLER; without it the SDK
// samples parent-based, always on.
//
// The caller must Shutdown the provider when the service stops: that flushes the spans
// still in the batch.
func newTracerProvider(service string) (otelenv.Provider, error) {
	if otelenv.SDKDisabled() {
		return otelenv.Noop(), nil
	}
	// Neither call below connects to anything: the context only bounds detection.
	ctx := context.Background()
	exporter, err := autoexport.NewSpanExporter(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: create the exporter OTEL_TRACES_EXPORTER asks for: %w", service, err)
	}
	// Later detectors win: the service name beats OTEL_SERVICE_NAME, which cannot be
	// right for three services in one process (the all command).
	res, err := resource.New(ctx,
		resource.WithSchemaURL(semconv.SchemaURL),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(),
		resource.WithAttributes(semconv.ServiceName(service)),
	)
	if err != nil {
		return nil, fmt.Errorf("%s: resource from OTEL_RESOURCE_ATTRIBUTES: %w", service, err)
	}
	return sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(otelenv.Readable(exporter)),
		sdktrace.WithResource(res),
	), nil
}

// newPropagator returns the propagator every service hands to all its instrumentation:
// W3C Trace Context (traceparent, tracestate) and W3C Baggage.
//
// The Jaeger propagator (uber-trace-id) is gone: it was needed while some service still
// spoke only jaeger-client's format, and now none does.
func newPropagator() propagation.TextMapPropagator {
	return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
}

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
			w.Header().Set("traceresponse", fmt.Sprintf("00-%s-%s-%s", sc.TraceID(), sc.SpanID(), sc.TraceFlags()))
		}
		next.ServeHTTP(w, r)
	})
}

// recordError marks span as failed because of err: an "exception" event that says why,
// and the status Error.
func recordError(span trace.Span, err error) {
	span.RecordError(err)
	span.SetStatus(codes.Error, err.Error())
}
