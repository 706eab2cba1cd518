package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/opentracing/opentracing-go"
	"github.com/opentracing/opentracing-go/ext"
	"go.opentelemetry.io/otel/baggage"
	otelbridge "go.opentelemetry.io/otel/bridge/opentracing"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/ot2otel/workshop/shared/app"
	"github.com/ot2otel/workshop/shared/fleet"
	"github.com/ot2otel/workshop/shared/otelenv/otelenvtest"
	"github.com/ot2otel/workshop/shared/tracecheck"
	"github.com/ot2otel/workshop/shared/workshoptest"
	"github.com/ot2otel/workshop/shared/workshoptest/bridgesuite"
	"github.com/ot2otel/workshop/shared/workshoptest/otelsuite"
)

// These tests check that every service now traces with an OpenTelemetry SDK of its own,
// through the OpenTracing bridge, with every OpenTracing call of steps 02 and 03 as it
// was; that W3C traceparent is what crosses HTTP and RabbitMQ; that the new
// OpenTelemetry-native span nests between OpenTracing spans; and that shutting down
// flushes every span. One order is still one trace, from the gateway to stock.
//
// They set OTEL_EXPORTER_OTLP_ENDPOINT with t.Setenv, because the OTLP exporter reads the
// process environment, so none of them runs in parallel.

// The spans of one order, in the order they nest, and the step 04 task each one belongs to.
var (
	gatewayServer = workshoptest.GatewayServerHop("TODO(04.1): every service traces through the bridge newTracing returns; serverSpans itself is unchanged")
	gatewaySubmit = workshoptest.GatewaySubmitHop("TODO(04.3): in placeOrder, start a \"submit order\" span with otelTracer (OpenTelemetry API) from r's context, " +
		"and build the request to checkout from the context it returns")
	gatewayClient = workshoptest.GatewayClientHop("TODO(04.3): the request to checkout carries the \"submit order\" span's context; the OpenTracing client span " +
		"nests under that OpenTelemetry span only when it comes from the bridge's wrapped provider (TODO(04.1): Provider: wrapped, never the SDK's provider)")
	checkoutServer = workshoptest.CheckoutServerHop("TODO(04.2): the bridge injects and extracts with the W3C propagator (newPropagator, bridge.SetTextMapPropagator); " +
		"otherwise it falls back to the global propagator, which carries nothing")
	checkoutPlaceOrder = workshoptest.PlaceOrderHop("TODO(04.1): checkout traces through the bridge newTracing returns; its OpenTracing code is unchanged")
	stockReserve       = workshoptest.StockReserveHop("TODO(04.1): stock traces through the bridge newTracing returns; its OpenTracing code is unchanged")
)

// publishHop and processHop are the broker's spans, named after the fleet's exchange
// and queue. The TracedRabbitBroker is step 03's, unchanged.
var (
	publishHop = workshoptest.PublishHop("TODO(04.2): the bridge injects the producer span's context as traceparent into the AMQP headers " +
		"(newPropagator, bridge.SetTextMapPropagator); the TracedRabbitBroker of step 03 is unchanged")
	processHop = workshoptest.ProcessHop("TODO(04.2): stock's bridge extracts traceparent from the AMQP headers with the same W3C propagator " +
		"(newPropagator, bridge.SetTextMapPropagator); the TracedRabbitBroker of step 03 is unchanged")
)

// TestStandardVariables checks that the standard variables choose newTracerProvider's
// exporter (OTEL_TRACES_EXPORTER: otlp, console or none; OTEL_EXPORTER_OTLP_PROTOCOL:
// http/protobuf or grpc) and that OTEL_SDK_DISABLED=true turns tracing off.
func TestStandardVariables(t *testing.T) {
	otelenvtest.CheckStandardVariables(t, newTracerProvider,
		"TODO(04.1): newTracerProvider takes its exporter from autoexport.NewSpanExporter(ctx), which reads OTEL_TRACES_EXPORTER and OTEL_EXPORTER_OTLP_PROTOCOL, wraps it in otelenv.Readable, and returns otelenv.Noop() when otelenv.SDKDisabled()")
}

// TestTracingFromEnv: the tracing newTracing builds from the OTEL_* variables.
func TestTracingFromEnv(t *testing.T) {
	bridgesuite.CheckTracingFromEnv(t, fromEnv(t))
}

// fromEnv is newTracing as main calls it, exporting to a collector of the test's own.
func fromEnv(t *testing.T) bridgesuite.FromEnv {
	c := otelsuite.Collect(t)
	return bridgesuite.FromEnv{
		New:   bridgesuite.NewTracing(newTracing, newPropagator()),
		Spans: c.Spans,
		Built: "TODO(04.1): newTracerProvider builds an SDK tracer provider (resource with service.name, batch span " +
			"processor, autoexport.NewSpanExporter exporter from the OTEL_* environment); newTracing puts the bridge on it " +
			"(otelbridge.NewTracerPair) and returns the provider's Shutdown, which flushes the batch",
		Sampler: "TODO(04.1): pass no sampler option to the SDK: one would override OTEL_TRACES_SAMPLER, " +
			"and without it the SDK samples parent-based, always on",
		Nesting: "TODO(04.1): tracing.Provider is the wrapped provider NewTracerPair returns with the bridge, " +
			"never the SDK's tracer provider: only the wrapped one makes its spans the active OpenTracing span too",
	}
}

func TestPropagator(t *testing.T) {
	prop := newPropagator()
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:     trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
		TraceFlags: trace.FlagsSampled,
	})
	member, _ := baggage.NewMember("customer", "c1")
	bag, _ := baggage.New(member)
	ctx := baggage.ContextWithBaggage(trace.ContextWithSpanContext(context.Background(), sc), bag)
	carrier := propagation.MapCarrier{}
	prop.Inject(ctx, carrier)

	want := propagation.MapCarrier{
		"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"baggage":     "customer=c1",
	}
	for k, v := range want {
		if carrier[k] != v {
			t.Errorf("newPropagator() injected %v, want %s: %q.\nLook at TODO(04.2): a composite of "+
				"propagation.TraceContext{} and propagation.Baggage{}", carrier, k, v)
		}
	}
	back := prop.Extract(context.Background(), want)
	if got := trace.SpanContextFromContext(back); got.TraceID() != sc.TraceID() || got.SpanID() != sc.SpanID() {
		t.Errorf("newPropagator() extracted %v from %v, want the span context back.\nLook at TODO(04.2)", got, want)
	}
}

// TestBridgeSpeaksW3C checks the bridge's own propagator: the one OpenTracing's Inject
// and Extract use, in gateway.go, the TracedRabbitBroker and nethttp.Middleware.
func TestBridgeSpeaksW3C(t *testing.T) {
	otelsuite.Collect(t)
	tr, err := newTracing("gateway", newPropagator(), workshoptest.DiscardLogger())
	if err != nil {
		t.Fatalf("newTracing: %v", err)
	}
	defer tr.Shutdown(context.Background())

	span := tr.Tracer.StartSpan("client", ext.SpanKindRPCClient)
	span.SetBaggageItem("customer", "c1")
	defer span.Finish()
	headers := http.Header{}
	if err := tr.Tracer.Inject(span.Context(), opentracing.HTTPHeaders, opentracing.HTTPHeadersCarrier(headers)); err != nil {
		t.Fatalf("Inject: %v", err)
	}
	got := w3c.Extract(context.Background(), propagation.HeaderCarrier(headers))
	if sc := trace.SpanContextFromContext(got); !sc.IsValid() {
		t.Fatalf("the bridge injected %v: no traceparent.\nLook at TODO(04.1): the tracer is the bridge from "+
			"otelbridge.NewTracerPair; and at TODO(04.2): bridge.SetTextMapPropagator(prop), or the bridge injects "+
			"with the global propagator, a no-op", headers)
	}
	if m := baggage.FromContext(got).Member("customer"); m.Value() != "c1" {
		t.Errorf("the bridge injected %v: OpenTracing baggage customer=c1 should travel as the W3C baggage header.\n"+
			"Look at TODO(04.2): propagation.Baggage{} in newPropagator", headers)
	}

	// And back: a request that carries a traceparent continues its trace.
	incoming := http.Header{"Traceparent": {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}
	parent, err := tr.Tracer.Extract(opentracing.HTTPHeaders, opentracing.HTTPHeadersCarrier(incoming))
	if err != nil {
		t.Fatalf("the bridge could not extract traceparent %s: %v.\nLook at TODO(04.2): bridge.SetTextMapPropagator(prop)",
			incoming.Get("Traceparent"), err)
	}
	child := tr.Tracer.StartSpan("server", ext.RPCServerOption(parent))
	defer child.Finish()
	out := http.Header{}
	tr.Tracer.Inject(child.Context(), opentracing.HTTPHeaders, opentracing.HTTPHeadersCarrier(out))
	if !strings.HasPrefix(out.Get("Traceparent"), "00-4bf92f3577b34da6a3ce929d0e0e4736-") {
		t.Errorf("a span started as the ChildOf an extracted traceparent is in trace %q, want 4bf92f3577b34da6a3ce929d0e0e4736.\n"+
			"Look at TODO(04.2)", out.Get("Traceparent"))
	}
}

// TestTraceparentOnTheWire checks what the services send, wired as main wires them:
// traceparent, of the client span on the HTTP request, of the producer span on the
// AMQP message.
func TestTraceparentOnTheWire(t *testing.T) {
	otelsuite.Collect(t)
	prop := newPropagator()
	t.Run("HTTP", func(t *testing.T) {
		tr, err := newTracing("gateway", prop, workshoptest.DiscardLogger())
		if err != nil {
			t.Fatalf("newTracing: %v", err)
		}
		defer tr.Shutdown(context.Background())
		received := make(chan http.Header, 1)
		checkoutURL := workshoptest.FakeCheckout(t, func(w http.ResponseWriter, r *http.Request) {
			received <- r.Header.Clone()
			app.WriteJSON(w, http.StatusAccepted, map[string]string{"order_id": "ord_test"})
		})
		gateway := httptest.NewServer(newGateway(checkoutURL, tr.Tracer, tr.Provider, workshoptest.DiscardLogger()))
		defer gateway.Close()
		resp := workshoptest.Post(t, gateway.URL+"/checkout", workshoptest.DemoOrder(), http.StatusAccepted)
		headers := <-received
		checkTraceparent(t, "the request to checkout", headers.Get("traceparent"), headers, resp)
	})
	t.Run("AMQP", func(t *testing.T) {
		tr, err := newTracing("checkout", prop, workshoptest.DiscardLogger())
		if err != nil {
			t.Fatalf("newTracing: %v", err)
		}
		defer tr.Shutdown(context.Background())
		b := workshoptest.Broker(t)
		checkout := httptest.NewServer(newCheckout(NewTracedRabbitBroker(b, tr.Tracer), tr.Tracer, workshoptest.DiscardLogger()))
		defer checkout.Close()
		workshoptest.Post(t, checkout.URL+"/orders", workshoptest.DemoOrder(), http.StatusAccepted)
		msg := workshoptest.ReceiveOne(t, b)
		raw, _ := msg.Headers["traceparent"].(string)
		checkTraceparent(t, "the message checkout published", raw, msg.Headers, fleet.Response{})
	})
}

// checkTraceparent checks that what went on the wire carries a valid traceparent and, if
// resp has a traceresponse, the trace it names.
func checkTraceparent(t *testing.T, what, traceparent string, headers any, resp fleet.Response) {
	t.Helper()
	m := traceparentFormat.FindStringSubmatch(traceparent)
	if m == nil {
		t.Fatalf("%s carries no W3C traceparent (headers %v).\nLook at TODO(04.1): every service traces through the "+
			"bridge newTracing returns; and at TODO(04.2): the bridge injects with newPropagator's W3C propagator "+
			"(bridge.SetTextMapPropagator)", what, headers)
	}
	if tr := workshoptest.TraceResponseFormat.FindStringSubmatch(resp.Header.Get("traceresponse")); tr != nil && tr[1] != m[1] {
		t.Errorf("%s carries traceparent %s, in another trace than the one the gateway's traceresponse names (%s).\n"+
			"Look at TODO(04.3): build the request to checkout from the context \"submit order\" returns", what, traceparent, tr[1])
	}
}

var traceparentFormat = regexp.MustCompile(`^00-([0-9a-f]{32})-([0-9a-f]{16})-01$`)

// TestTracingNests: OpenTelemetry spans from the provider newTracing returns nest
// between OpenTracing spans, both ways.
func TestTracingNests(t *testing.T) { bridgesuite.CheckNesting(t, fromEnv(t)) }

// TestRawProviderBreaksNesting shows pitfall 2 of the bridge: OpenTelemetry code given
// the SDK's own provider instead of the bridge's wrapped one.
func TestRawProviderBreaksNesting(t *testing.T) {
	bridgesuite.RawProviderBreaksNesting(t, tracerName, otelbridge.NewTracerPair)
}

// TestSpans: steps 02's and 03's spans, now through the bridge, and "submit order"
// between the gateway's server and client spans.
func TestSpans(t *testing.T) {
	workshoptest.RunSpanChecks(t, bridgesuite.SpanChecks(workshoptest.SpanChecks{
		GatewayServer: gatewayServer, CheckoutServer: checkoutServer, PlaceOrder: checkoutPlaceOrder,
		ClientContext: otelsuite.ClientContext([]propagation.TextMapPropagator{w3c},
			"TODO(04.2): the bridge injects traceparent with newPropagator's propagator", "TODO(04.2): the bridge injects the client span's context"),
		ClientParent: gatewaySubmit, ClientError: "be an error",
		ClientErrorHint: "It is step 02's callCheckout, unchanged: ext.LogError and error=true become the span's status Error under the bridge",
		BadTraceparent:  true,
		Submit:          &gatewaySubmit, GatewayClient: gatewayClient,
		TraceResponseFormat: "TODO(04.1): under the bridge, traceResponse reads the OpenTelemetry span context from the request's context",
		TraceResponseSpan:   "TODO(04.1): traceResponse names the request's own server span",
		PlaceOrderError:     "status Error and an event (event=error)", PlaceOrderEvent: "error",
	}, newGateway, newCheckout, func(t *testing.T) (bridgesuite.Tracing, opentracing.Tracer, func() []tracecheck.Span) {
		rec := newRecorder(t)
		return rec.Tracing("gateway", w3c), rec.Tracing("checkout", w3c).Tracer, rec.Spans
	}))
}

// TestShutdownFlushes: a batch that would wait an hour still arrives, because each
// service shuts its provider down as it stops.
func TestShutdownFlushes(t *testing.T) {
	c := otelsuite.Collect(t)
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "3600000")
	workshoptest.CheckShutdownFlushes(t, workshoptest.ShutdownFlushes{Run: run, Spans: c.Spans,
		Received: func(t *testing.T) []tracecheck.Span { return workshoptest.Received(t, c, noSpans) },
		Batched:  "TODO(04.1): newTracerProvider batches (sdktrace.WithBatcher)",
		Flush:    "Look at TODO(04.1): tracing.Shutdown is the provider's Shutdown, which flushes the batch (main calls it on SIGTERM)",
		Hops:     []tracecheck.Hop{gatewayServer, checkoutPlaceOrder, stockReserve}, Trace: orderTrace})
}

// orderTrace is step 03's order trace with "submit order" in it, all exported through
// OpenTelemetry, in one process and in three (TestContract/OrderTrace and
// OrderTraceAcrossProcesses).
func orderTrace(env map[string]string, _ string) workshoptest.OrderTrace {
	want := workshoptest.BrokerOrderTrace(env, publishHop, processHop, stockReserve,
		gatewayServer, gatewaySubmit, gatewayClient, checkoutServer, checkoutPlaceOrder)
	want.TraceResponse = "TODO(04.1): traceResponse under the bridge"
	want.Sources = map[string]string{"gateway": "otel", "checkout": "otel", "stock": "otel"}
	want.SourceHint = "every service exports through OpenTelemetry now.\nLook at TODO(04.1)"
	return want
}

// w3c is the propagator the tests read and write trace contexts with: their own, so
// that the tests of the instrumentation do not depend on the exercise's newPropagator.
var w3c = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// newRecorder returns a recorder of services that each trace through an SDK provider
// of their own with the bridge on top, as newTracing builds them.
func newRecorder(t *testing.T) *bridgesuite.Recorder {
	return bridgesuite.NewRecorder(t, tracerName, otelbridge.NewTracerPair)
}

// noSpans is what to look at when no span reaches the test's collector.
const noSpans = "TODO(04.1): newTracing builds an OpenTelemetry SDK tracer provider with an OTLP exporter " +
	"(newTracerProvider), puts the bridge on it, and returns the provider's Shutdown, which flushes it"

// TestRouteTemplate: serverSpans, unchanged, still names spans after the route
// template under the bridge.
func TestRouteTemplate(t *testing.T) {
	rec := newRecorder(t)
	workshoptest.CheckRouteTemplate(t, serverSpans(rec.Tracing("checkout", w3c).Tracer), rec.Spans, "checkout",
		"TODO(04.1): every service traces through the bridge newTracing returns; serverSpans itself is unchanged")
}
