package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/ot2otel/workshop/shared/otelenv"
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
// W3C Trace Context (traceparent, tracestate) and W3C Baggage.
//
// The Jaeger propagator (uber-trace-id) is gone: it was needed while some service still
// spoke only jaeger-client's format, and now none does.
func newPropagator() propagation.TextMapPropagator {
	return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
}

// recordError marks span as failed because of err: an "exception" event that says why,
// and the status Error.
func recordError(span trace.Span, err error) {
	span.RecordError(err)
	span.SetStatus(codes.Error, err.Error())
}

// instrumentRedis traces stock's Redis commands into tp with redisotel, go-redis's own
// OpenTelemetry instrumentation: a client span per command, with the database semantic
// conventions (db.system, server.address, server.port). The statement is left out
// (WithDBStatement(false)): redisotel would record each command with its values, and
// keys and values may be personal data. So is the caller (WithCallerEnabled(false)):
// finding it walks the stack on every command, about 2 % of the shop's CPU under load,
// to say what the span's name and parent already do, that the ledger made the call.
// redisotel measures the commands and the connection pool into mp as well.
func instrumentRedis(tp trace.TracerProvider, mp metric.MeterProvider) func(redis.UniversalClient) error {
	return func(c redis.UniversalClient) error {
		return errors.Join(
			redisotel.InstrumentTracing(c, redisotel.WithTracerProvider(tp),
				redisotel.WithDBStatement(false), redisotel.WithCallerEnabled(false)),
			redisotel.InstrumentMetrics(c, redisotel.WithMeterProvider(mp)))
	}
}
