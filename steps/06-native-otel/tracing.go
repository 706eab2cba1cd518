package main

import (
	"context"
	"fmt"
	"net/http"
	"os"

	"github.com/gorilla/mux"
	"github.com/opentracing/opentracing-go"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/contrib/propagators/jaeger"
	otelbridge "go.opentelemetry.io/otel/bridge/opentracing"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/ot2otel/workshop/shared/otelenv"
	"github.com/ot2otel/workshop/shared/otredis"
)

// tracerName is the instrumentation scope of the spans the shop's own code starts.
//
// A scope is named for a Go import path, as OpenTelemetry asks: the shop's domain
// package, since the step's own package main has a path of its own in every step.
const tracerName = "github.com/ot2otel/workshop/shared/shop"

// newTracerProvider returns the tracer provider of one service. Its spans carry the
// service's name and go, in batches, to the exporter the standard variables ask for,
// which autoexport builds: OTLP unless OTEL_TRACES_EXPORTER says console or none, over
// HTTP unless OTEL_EXPORTER_OTLP_PROTOCOL says grpc. With OTEL_SDK_DISABLED=true it is
// a no-op provider.
//
// Everything else comes from the standard OTEL_* variables, read by the SDK itself: where
// the spans go (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
// https://localhost:4318 by default), how they are batched (OTEL_BSP_*), extra resource
// attributes (OTEL_RESOURCE_ATTRIBUTES). The sampler comes from OTEL_TRACES_SAMPLER and
// OTEL_TRACES_SAMPLER_ARG too, but through otelenv.SamplerFromEnv: the SDK alone does not know
// jaeger_remote, and would sample everything. Unset, it is parent-based, always on.
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
	sampler, err := otelenv.SamplerFromEnv(service, os.Getenv)
	if err != nil {
		return nil, err
	}
	return sampler.Bind(sdktrace.NewTracerProvider(
		sdktrace.WithSampler(sampler),
		sdktrace.WithBatcher(otelenv.Readable(exporter)),
		sdktrace.WithResource(res),
	)), nil
}

// newPropagator returns the propagator every service hands to all its instrumentation:
// W3C Trace Context (traceparent, tracestate), W3C Baggage, and Jaeger's uber-trace-id,
// which the services still on jaeger-client spoke during the rolling migration.
//
// TODO(06.3): no service speaks uber-trace-id any more: drop jaeger.Jaeger{}.
func newPropagator() propagation.TextMapPropagator {
	return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}, jaeger.Jaeger{})
}

// openTracer returns an OpenTracing tracer that records its spans with tracer, through
// OpenTelemetry's OpenTracing bridge, and injects and extracts in prop's formats (a nil
// prop for a tracer that only starts spans).
//
// TODO(06.3): once no code calls it, delete openTracer and run go mod tidy: the bridge,
// opentracing-go and go-stdlib leave go.mod, and the Jaeger propagator its direct
// requirements (OTEL_PROPAGATORS may still name jaeger, through autoprop).
func openTracer(tracer trace.Tracer, prop propagation.TextMapPropagator) opentracing.Tracer {
	bridge, _ := otelbridge.NewTracerPair(tracer)
	if prop != nil {
		bridge.SetTextMapPropagator(prop)
	}
	return bridge
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

// recordError marks span as failed because of err: an "exception" event that says why,
// and the status Error.
func recordError(span trace.Span, err error) {
	span.RecordError(err)
	span.SetStatus(codes.Error, err.Error())
}

// instrumentRedis traces stock's Redis commands into tp: for now with the fleet's
// OpenTracing hook (shared/otredis, the talk's otredis), through the bridge.
//
// TODO(06.4): trace the Redis client with redisotel, go-redis's own OpenTelemetry
// instrumentation, on the service's provider (look up redisotel.InstrumentTracing and
// its options). Its spans follow the database conventions (db.system, server.address,
// server.port), and the hook, with OpenTracing, leaves the build. Pitfall: by default
// redisotel puts every command with its arguments (order IDs, keys) in db.statement:
// turn that off.
func instrumentRedis(tp trace.TracerProvider) func(redis.UniversalClient) error {
	return otredis.Instrument(openTracer(tp.Tracer(redisTracerName), nil))
}

// redisTracerName is the instrumentation scope of the hook's spans.
const redisTracerName = "github.com/ot2otel/workshop/shared/otredis"
