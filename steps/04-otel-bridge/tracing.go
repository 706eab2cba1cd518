package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/opentracing/opentracing-go"
	"github.com/uber/jaeger-client-go"
	"github.com/uber/jaeger-client-go/config"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/ot2otel/workshop/shared/otelenv"
)

// tracing is what one service traces with.
type tracing struct {
	// Tracer is the OpenTracing tracer that all the instrumentation of steps 02 and 03
	// keeps using, unchanged. It is the OpenTelemetry bridge: every span it starts is an
	// OpenTelemetry span of Provider's SDK.
	Tracer opentracing.Tracer
	// Provider is for code written against the OpenTelemetry API. It is the bridge's
	// wrapped provider, never the SDK's own, so that OpenTelemetry spans and
	// OpenTracing spans nest inside each other in both directions.
	Provider trace.TracerProvider
	// Shutdown flushes the spans still batched and stops the exporter: main calls it
	// once the service has stopped serving and consuming.
	Shutdown func(context.Context) error
}

// newTracing returns the tracing of one service: an OpenTelemetry SDK tracer provider
// (newTracerProvider), and the OpenTracing bridge on top of it, which speaks prop on
// the wire. The bridge's warnings, such as a span context from another tracer it
// cannot use, go to logger.
func newTracing(service string, prop propagation.TextMapPropagator, logger *slog.Logger) (tracing, error) {
	// TODO(04.1): trace with the OpenTelemetry SDK instead of jaeger-client, and keep every
	// OpenTracing call of the shop as it is: replace the jaeger-client set-up below (step
	// 03's newTracer) with newTracerProvider's provider under the OpenTracing bridge (look
	// up go.opentelemetry.io/otel/bridge/opentracing: the function that returns a pair),
	// its warnings in the service's log. Pitfall: code written against the OTel API must
	// get the bridge's wrapped provider, never the SDK's, or OTel and OpenTracing spans
	// stop nesting (see below). Then go mod tidy drops jaeger-client.
	// TODO(04.2): the bridge speaks prop on the wire. Pitfall: left alone, it injects and
	// extracts with OpenTelemetry's global propagator, a no-op, so no context crosses.
	cfg, err := config.FromEnv()
	if err != nil {
		return tracing{}, fmt.Errorf("%s: read the JAEGER_* environment: %w", service, err)
	}
	cfg.ServiceName = service
	if cfg.Sampler.Type == "" {
		cfg.Sampler.Type = jaeger.SamplerTypeConst
		cfg.Sampler.Param = 1
	}
	tracer, closer, err := cfg.NewTracer()
	if err != nil {
		return tracing{}, fmt.Errorf("%s: start the tracer: %w", service, err)
	}
	return tracing{
		Tracer:   tracer,
		Provider: noop.NewTracerProvider(), // jaeger-client has no OpenTelemetry side
		Shutdown: func(context.Context) error { return closer.Close() },
	}, nil
}

// How OpenTracing spans and OpenTelemetry spans nest in one process.
//
// An OpenTracing span lives in a Go context under opentracing-go's key, an OpenTelemetry
// span under the OTel API's key. The pair from NewTracerPair keeps the two in step:
//
//   - OpenTracing inside OpenTelemetry: opentracing.ContextWithSpan, which
//     StartSpanFromContextWithTracer and nethttp.Middleware call, asks the bridge (a
//     TracerContextWithSpanExtension) to set the context up. The bridge hands the OTel
//     span to the wrapped tracer's DeferredContextSetupHook, which puts it under the OTel
//     key too. So an OpenTelemetry span started from that context has the OpenTracing
//     span as its parent.
//   - OpenTelemetry inside OpenTracing: a tracer from the wrapped provider starts the
//     span with the SDK and then, through ContextWithBridgeSpan, also puts it in the
//     context as the active OpenTracing span. So an OpenTracing span started from that
//     context is its child.
//
// A tracer from the SDK's own provider does only the first half: its spans have the
// right parent, but the OpenTracing spans started under them skip them and hang from
// the OpenTracing span above. TestRawProviderBreaksNesting shows it.

// tracerName is the instrumentation scope of the spans the shop's own code starts,
// through the bridge or through the OpenTelemetry API.
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
	// TODO(04.1): an SDK tracer provider configured by the standard OTEL_* variables: the
	// exporter they ask for (contrib exporters/autoexport v0.72.0), a resource that names
	// the service and keeps OTEL_RESOURCE_ATTRIBUTES (sdk/resource; the detector given
	// last wins, so the service's name beats OTEL_SERVICE_NAME), spans exported in batches
	// (sdktrace, through otelenv.Readable for the console exporter), and the sampler
	// otelenv.SamplerFromEnv builds, bound to the provider so its Shutdown stops a remote
	// sampler. Pitfalls: exporting each span as it ends is a network call per span; and
	// left to the SDK, OTEL_TRACES_SAMPLER=jaeger_remote silently samples everything.
	return nil, errors.New(service + ": newTracerProvider is not written yet")
}

// newPropagator returns the propagator every service hands to the bridge, and to any
// OpenTelemetry instrumentation that injects or extracts: W3C Trace Context
// (traceparent, tracestate) and W3C Baggage (baggage). Nothing falls back to the global
// propagator, which is a no-op unless someone sets it.
func newPropagator() propagation.TextMapPropagator {
	// TODO(04.2): the wire formats every service speaks: W3C Trace Context and W3C Baggage
	// (look up the propagation package's composite). Pitfall: nothing falls back to a
	// sensible default; an empty composite carries no context at all.
	return propagation.NewCompositeTextMapPropagator()
}
