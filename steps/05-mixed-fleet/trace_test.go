package main

import (
	"testing"

	"github.com/opentracing/opentracing-go"
	jaegerclient "github.com/uber/jaeger-client-go"
	"go.opentelemetry.io/contrib/propagators/jaeger"
	otelbridge "go.opentelemetry.io/otel/bridge/opentracing"
	"go.opentelemetry.io/otel/propagation"

	"github.com/ot2otel/workshop/shared/otelenv/otelenvtest"
	"github.com/ot2otel/workshop/shared/tracecheck"
	"github.com/ot2otel/workshop/shared/tracecheck/jaegerspans"
	"github.com/ot2otel/workshop/shared/tracecheck/otelspans"
	"github.com/ot2otel/workshop/shared/workshoptest"
	"github.com/ot2otel/workshop/shared/workshoptest/bridgesuite"
	"github.com/ot2otel/workshop/shared/workshoptest/jaegersuite"
	"github.com/ot2otel/workshop/shared/workshoptest/otelsuite"
)

// These tests check the fleet in the middle of its migration: gateway and stock on
// OpenTelemetry through the bridge, as in step 04, checkout still on jaeger-client, as in
// step 03. Each service keeps its own tests; the order is still one trace, recorded by
// two kinds of tracer and exported to two collectors. mixed_test.go checks what makes
// the trace cross between the two.

// The spans of one order, and where each comes from: step 04, step 02, or TODO(05.1).
var (
	gatewayServer  = workshoptest.GatewayServerHop("step 04's newTracing: the gateway traces through the bridge; serverSpans is unchanged")
	gatewaySubmit  = workshoptest.GatewaySubmitHop("step 04's \"submit order\" span in placeOrder, started with the wrapped provider's tracer")
	gatewayClient  = workshoptest.GatewayClientHop("step 04's placeOrder: the request to checkout is built from the \"submit order\" span's context")
	checkoutServer = workshoptest.CheckoutServerHop("TODO(05.1): checkout still runs jaeger-client, which reads uber-trace-id and nothing else: the gateway's " +
		"propagator must write it too (jaeger in defaultPropagators, the names newPropagator reads when OTEL_PROPAGATORS is unset)")
	checkoutPlaceOrder = workshoptest.PlaceOrderHop("checkout traces with jaeger-client (newLegacyTracing); its OpenTracing code is step 02's, unchanged")
	stockReserve       = workshoptest.StockReserveHop("stock traces through the bridge (step 04's newTracing); its OpenTracing code is step 03's, unchanged")
)

// publishHop and processHop are the broker's spans, after the fleet's exchange and
// queue. The TracedRabbitBroker is step 03's, unchanged: checkout's, on jaeger-client,
// injects uber-trace-id; stock's, on the bridge, extracts with newPropagator.
var (
	publishHop = workshoptest.PublishHop("step 03's TracedRabbitBroker.Publish, with checkout's jaeger-client tracer: it injects uber-trace-id")
	processHop = workshoptest.ProcessHop("TODO(05.1): stock must read the uber-trace-id that checkout, still on jaeger-client, puts in the AMQP " +
		"headers: jaeger in defaultPropagators, the names newPropagator reads when OTEL_PROPAGATORS is unset")
)

// TestStandardVariables: gateway's and stock's exporter, step 04's, still follows the
// standard variables.
func TestStandardVariables(t *testing.T) {
	otelenvtest.CheckStandardVariables(t, newTracerProvider,
		"step 04's newTracerProvider: its exporter comes from autoexport.NewSpanExporter(ctx), which reads OTEL_TRACES_EXPORTER and OTEL_EXPORTER_OTLP_PROTOCOL, and it returns otelenv.Noop() when otelenv.SDKDisabled()")
}

// TestTracingFromEnv: gateway's and stock's tracing from the OTEL_* variables, step 04's.
func TestTracingFromEnv(t *testing.T) {
	bridgesuite.CheckTracingFromEnv(t, fromEnv(t))
}

// TestTracingNests: in gateway and stock, as in step 04, OpenTelemetry spans from the
// wrapped provider nest between OpenTracing spans, both ways.
func TestTracingNests(t *testing.T) { bridgesuite.CheckNesting(t, fromEnv(t)) }

// TestRawProviderBreaksNesting: pitfall 2 of the bridge, still true in the mixed fleet.
func TestRawProviderBreaksNesting(t *testing.T) {
	bridgesuite.RawProviderBreaksNesting(t, tracerName, otelbridge.NewTracerPair)
}

// fromEnv is newTracing as main calls it for gateway and stock, exporting to
// collectors of the test's own.
func fromEnv(t *testing.T) bridgesuite.FromEnv {
	c := collect(t)
	return bridgesuite.FromEnv{
		New:     bridgesuite.NewTracing(newTracing, fleetPropagator(t)),
		Spans:   c.otel.Spans,
		Built:   "step 04's newTracing (tracing.go): an SDK provider from the OTEL_* environment, the bridge on it; its Shutdown flushes the batch",
		Sampler: "step 04's newTracerProvider: it passes no sampler, so that OTEL_TRACES_SAMPLER decides",
		Nesting: "step 04's newTracing: tracing.Provider is the bridge's wrapped provider, never the SDK's own",
	}
}

// TestSpans: the spans of step 04's gateway and of the legacy checkout, recorded
// side by side.
func TestSpans(t *testing.T) {
	workshoptest.RunSpanChecks(t, bridgesuite.SpanChecks(workshoptest.SpanChecks{
		GatewayServer: gatewayServer, CheckoutServer: checkoutServer, PlaceOrder: checkoutPlaceOrder,
		ClientContext: otelsuite.ClientContext([]propagation.TextMapPropagator{propagation.TraceContext{}, jaeger.Jaeger{}},
			"step 02's callCheckout, unchanged: the bridge injects the client span's context in every format its propagator speaks",
			"step 02's callCheckout, unchanged: it injects the client span's context"),
		ClientParent: gatewaySubmit, ClientError: "be an error",
		ClientErrorHint: "It is step 02's callCheckout, unchanged: ext.LogError and error=true become the span's status Error under the bridge",
		Submit:          &gatewaySubmit, GatewayClient: gatewayClient,
		TraceResponseFormat: "step 04's traceResponse: under the bridge, it reads the OpenTelemetry span context from the request's context",
		TraceResponseSpan:   "step 04's traceResponse: it names the request's own server span",
		PlaceOrderError:     "error=true and a log record (event=error)", PlaceOrderEvent: "error",
	}, newGateway, newCheckout, func(t *testing.T) (bridgesuite.Tracing, opentracing.Tracer, func() []tracecheck.Span) {
		rec := newRecorder(t)
		return rec.tracing("gateway"), rec.legacyTracer("checkout"), rec.spans
	}))
}

// TestShutdownFlushes: batches that would wait an hour still arrive, OTLP's and
// jaeger-client's, because each service shuts its provider down, or closes its jaeger
// tracer, as it stops.
func TestShutdownFlushes(t *testing.T) {
	c := collect(t)
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "3600000")
	t.Setenv("JAEGER_REPORTER_FLUSH_INTERVAL", "1h")
	workshoptest.CheckShutdownFlushes(t, workshoptest.ShutdownFlushes{Run: run, Spans: c.spans, Received: c.received,
		Flush: "tracing.Shutdown flushes: the provider's Shutdown, or the jaeger tracer's Close",
		Hops:  []tracecheck.Hop{gatewayServer, checkoutPlaceOrder, stockReserve}, Trace: orderTrace})
}

// orderTrace is step 04's order trace, each span recorded by its service's tracer:
// jaeger-client's or OpenTelemetry's. Gateway (OpenTelemetry) → checkout (jaeger-client)
// over HTTP, checkout → RabbitMQ → stock (OpenTelemetry): the spans arrive at two
// collectors, OTLP and jaeger, and are one trace, in one process and in three
// (TestContract/OrderTrace and OrderTraceAcrossProcesses).
func orderTrace(env map[string]string, _ string) workshoptest.OrderTrace {
	want := workshoptest.BrokerOrderTrace(env, publishHop, processHop, stockReserve,
		gatewayServer, gatewaySubmit, gatewayClient, checkoutServer, checkoutPlaceOrder)
	want.Sources = sourceOf
	want.SourceHint = "checkout still runs jaeger-client (newLegacyTracing), gateway and stock run on OpenTelemetry (newTracing)"
	return want
}

// sourceOf is what records each service's spans in the mixed fleet.
var sourceOf = map[string]string{"gateway": "otel", "checkout": "jaeger", "stock": "otel"}

// w3c and mixed are the propagators the tests read and write trace contexts with: their
// own, so that the tests of the instrumentation do not depend on the exercise's
// newPropagator. mixed is what the OpenTelemetry services of a mixed fleet speak.
var (
	w3c   = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	mixed = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}, jaeger.Jaeger{})
)

// recorder keeps the finished spans of the services it sets up in memory, for the tests
// of one or two services at a time: OpenTelemetry services through the bridge, as
// bridgesuite records them, and legacy services on jaeger-client.
type recorder struct {
	*bridgesuite.Recorder
	legacy *jaegersuite.Recorder
}

func newRecorder(t *testing.T) *recorder {
	return &recorder{bridgesuite.NewRecorder(t, tracerName, otelbridge.NewTracerPair), jaegersuite.NewRecorder(t)}
}

// tracing returns the tracing of an OpenTelemetry service, speaking both formats.
func (r *recorder) tracing(service string) bridgesuite.Tracing { return r.Tracing(service, mixed) }

// tracingWith returns the tracing of an OpenTelemetry service, speaking prop.
func (r *recorder) tracingWith(service string, prop propagation.TextMapPropagator) bridgesuite.Tracing {
	return r.Tracing(service, prop)
}

// legacyTracer returns the jaeger-client tracer of a service that has not migrated,
// sampling every span and making 128-bit trace IDs.
func (r *recorder) legacyTracer(service string) opentracing.Tracer {
	return r.legacy.Tracer(service, jaegerclient.TracerOptions.Gen128Bit(true))
}

// spans returns the spans of every service, whichever tracer recorded them.
func (r *recorder) spans() []tracecheck.Span { return append(r.Spans(), r.legacy.Spans()...) }

// collectors are the two collectors a mixed fleet exports to: OTLP for the
// OpenTelemetry services, jaeger for the legacy one.
type collectors struct {
	otel   *otelspans.Collector
	jaeger *jaegerspans.Collector
}

// env points separate processes at the collectors, as in production: the standard
// variables, OTEL_EXPORTER_OTLP_ENDPOINT for the OpenTelemetry services, JAEGER_ENDPOINT
// for the legacy one.
func (c *collectors) env() map[string]string {
	return map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": c.otel.Endpoint(), "JAEGER_ENDPOINT": c.jaeger.Endpoint()}
}

// collect starts both collectors and points every tracer made during the test at them.
func collect(t *testing.T) *collectors {
	return &collectors{otel: otelsuite.Collect(t), jaeger: jaegersuite.Collect(t)}
}

// spans returns the spans both collectors received, merged.
func (c *collectors) spans() []tracecheck.Span {
	return append(c.otel.Spans(), c.jaeger.Spans()...)
}

// received returns the spans both collectors received, and fails the test when either
// got none at all.
func (c *collectors) received(t *testing.T) []tracecheck.Span {
	t.Helper()
	if len(c.otel.Spans()) == 0 {
		t.Fatalf("no span reached OTEL_EXPORTER_OTLP_ENDPOINT after the services stopped: gateway and stock " +
			"trace with OpenTelemetry (step 04's newTracing) and flush when they stop")
	}
	if len(c.jaeger.Spans()) == 0 {
		t.Fatalf("no span reached JAEGER_ENDPOINT after the services stopped: checkout still traces with " +
			"jaeger-client (newLegacyTracing) and flushes when it stops")
	}
	return c.spans()
}

// TestRouteTemplate: the legacy checkout's serverSpans names spans after the route
// template, as in step 02.
func TestRouteTemplate(t *testing.T) {
	rec := newRecorder(t)
	workshoptest.CheckRouteTemplate(t, serverSpans(rec.legacyTracer("checkout")), rec.spans, "checkout", "serverSpans (middleware.go), unchanged since step 02")
}
