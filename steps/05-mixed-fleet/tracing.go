package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/opentracing/opentracing-go"
	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/contrib/propagators/autoprop"
	otelbridge "go.opentelemetry.io/otel/bridge/opentracing"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/ot2otel/workshop/shared/edge"
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
	tp, err := newTracerProvider(service)
	if err != nil {
		return tracing{}, err
	}
	// NewTracerPair ties the two halves of the bridge together: bridge implements
	// OpenTracing on the SDK's tracer, and wrapped hands out OpenTelemetry tracers that
	// know about bridge. See the comment on nesting below.
	bridge, wrapped := otelbridge.NewTracerPair(tp.Tracer(tracerName))
	// Without this the bridge injects and extracts with the global propagator, which is
	// a no-op unless someone set it: no trace context would cross any wire.
	bridge.SetTextMapPropagator(prop)
	bridge.SetWarningHandler(func(msg string) {
		logger.Warn("OpenTracing bridge", "warning", strings.TrimSpace(msg))
	})
	// keepBaggage: a request that carries baggage but no trace context keeps it.
	return tracing{Tracer: keepBaggage(bridge, prop), Provider: wrapped, Shutdown: tp.Shutdown}, nil
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

// defaultPropagators is what the OpenTelemetry services of a mixed fleet speak unless
// OTEL_PROPAGATORS says otherwise: for now, OpenTelemetry's own default, as in step 04.
//
// TODO(05.1): checkout still runs jaeger-client, which reads and writes Jaeger's
// uber-trace-id and nothing else: make the OpenTelemetry services speak it too, so the
// order stays one trace whichever services have moved. Look up the names
// OTEL_PROPAGATORS takes (contrib's autoprop registry) and decide which go in this list,
// in what order, and write down why: a request or message can carry both formats, naming
// different traces, when it passed a legacy service; in extraction the last propagator
// that finds a context wins. Pitfall: the list is also what every service writes, and
// W3C must stay in it.
const defaultPropagators = "tracecontext,baggage"

// newPropagator returns the propagator every OpenTelemetry service hands to the bridge,
// and to any OpenTelemetry instrumentation that injects or extracts: the propagators
// OTEL_PROPAGATORS names, in its order, defaultPropagators when it is unset. Nothing
// falls back to the global propagator, which is a no-op unless someone sets it.
//
// The names are OpenTelemetry's (tracecontext, baggage, jaeger, b3, b3multi, xray,
// ottrace, none), each looked up with contrib's autoprop, which on its own would log an
// unknown name and carry on with the others (autoprop.NewTextMapPropagator): a service
// that does not speak what its operator asked for would break traces silently. So a name
// it does not know is an error, and so is none with anything else, which autoprop reads
// as none alone. jaeger also reads and writes jaeger-client's baggage (jaegerBaggage):
// the contrib Jaeger propagator carries only the trace context. And jaeger reads
// uber-trace-id as jaeger-client-go does (edge.ReadURLEncodedJaeger): older jaeger
// clients and some proxies send it URL-encoded (%3A for the colons), which jaeger-client
// decodes and the contrib propagator does not. Without it, such a caller's trace would
// continue at a legacy service and restart at a migrated one.
func newPropagator(getenv func(string) string) (propagation.TextMapPropagator, error) {
	value := getenv("OTEL_PROPAGATORS")
	list := strings.TrimSpace(value)
	if list == "" {
		list = defaultPropagators
	}
	var names []string
	for _, name := range strings.Split(list, ",") {
		if name = strings.ToLower(strings.TrimSpace(name)); name != "" {
			names = append(names, name)
		}
	}
	var props []propagation.TextMapPropagator
	for _, name := range names {
		p, err := autoprop.TextMapPropagator(name)
		if err != nil {
			return nil, fmt.Errorf("OTEL_PROPAGATORS %q: %w: want a comma-separated list of %s", value, err, knownPropagators)
		}
		if name == "none" && len(names) > 1 {
			return nil, fmt.Errorf("OTEL_PROPAGATORS %q: none means no propagation at all: want it alone, or a list of %s", value, knownPropagators)
		}
		if name == "jaeger" {
			p = propagation.NewCompositeTextMapPropagator(edge.ReadURLEncodedJaeger(p), jaegerBaggage{})
		}
		props = append(props, p)
	}
	return propagation.NewCompositeTextMapPropagator(props...), nil
}

// knownPropagators are the names OTEL_PROPAGATORS takes, as autoprop knows them.
const knownPropagators = "tracecontext, baggage, jaeger, b3, b3multi, xray, ottrace (or none, alone)"
