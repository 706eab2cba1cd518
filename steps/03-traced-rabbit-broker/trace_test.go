package main

import (
	"testing"

	"github.com/ot2otel/workshop/shared/workshoptest"
	"github.com/ot2otel/workshop/shared/workshoptest/jaegersuite"
)

// These tests check that every service traces with a jaeger-client tracer of its own,
// and that one order is one trace from the gateway through checkout and RabbitMQ to
// stock. broker_test.go checks the TracedRabbitBroker on its own. The HTTP tracing is
// step 02's, unchanged: its hints say so.

// The HTTP spans of one order, step 02's; the broker's follow orderTrace.
var (
	gatewayServer      = workshoptest.GatewayServerHop("step 02's exercise 02.2: trace the HTTP servers in serverSpans (middleware.go): nethttp.Middleware, the span named method + route")
	gatewayClient      = workshoptest.GatewayClientHop("step 02's exercise 02.3: in callCheckout, start a client span as a child of the request's span, and inject its context into the request's headers")
	checkoutServer     = workshoptest.CheckoutServerHop("step 02's exercise 02.2 traces checkout's server too; it continues the gateway's trace once step 02's exercise 02.3 injects the context into the request")
	checkoutPlaceOrder = workshoptest.PlaceOrderHop("step 02's exercise 02.4: start a \"place order\" span from the request's context around checkout's business logic")
)

// TestTracerFromEnv: the tracer newTracer builds from the JAEGER_* variables, step 02's.
func TestTracerFromEnv(t *testing.T) {
	jaegersuite.CheckTracerFromEnv(t, jaegersuite.FromEnv{New: newTracer,
		Built: "step 02's exercise 02.1: newTracer builds the tracer with config.FromEnv(), named after its service, " +
			"sampling every span unless JAEGER_SAMPLER_TYPE says otherwise; its closer flushes the spans",
		Sampler:    "step 02's exercise 02.1: default to the const sampler only when the environment sets no sampler type",
		BadSetting: "step 02's exercise 02.1: return config.FromEnv's error, so a typo does not silently turn tracing off"})
}

// TestSpans: step 02's HTTP and business spans, which step 03 must not break.
func TestSpans(t *testing.T) {
	workshoptest.RunSpanChecks(t, jaegersuite.SpanChecks(workshoptest.SpanChecks{
		GatewayServer: gatewayServer, CheckoutServer: checkoutServer, PlaceOrder: checkoutPlaceOrder,
		GatewayClient: gatewayClient,
		ClientContext: jaegersuite.ClientContext(
			"step 02's exercise 02.3: tracer.Inject(span.Context(), opentracing.HTTPHeaders, opentracing.HTTPHeadersCarrier(req.Header))",
			"step 02's exercise 02.3: inject the client span's context"),
		ClientParent: gatewayServer, ClientError: "be an error (error=true)",
		ClientErrorHint: "Look at step 02's exercise 02.3: ext.LogError(span, err) when there is no answer, error=true on a 5xx answer",
		Healthz:         "step 02's exercise 02.2: leave /healthz out with nethttp.MWSpanFilter",
		TraceResponseFormat: "step 02's exercise 02.2: traceResponse names the trace and the request's server span " +
			"(the span in its context) in the traceresponse header",
		TraceResponseSpan: "step 02's exercise 02.2: traceresponse names the request's own server span, with jaeger's trace ID padded to 32 hex digits",
		ServerError:       "Look at step 02's exercise 02.2: nethttp.Middleware sets the error tag on 5xx answers",
		PlaceOrderError:   "error=true and a log record (event=error)", PlaceOrderEvent: "error",
		PlaceOrderHint: "Look at step 02's exercise 02.4: ext.LogError(span, err) where the order fails",
	}, newGateway, newCheckout))
}

// orderTrace is what one order's trace must be (TestContract/OrderTrace, and
// OrderTraceAcrossProcesses, where the broker hop joins three processes' spans): one
// trace from the gateway through RabbitMQ to stock, each span directly under the one
// before.
func orderTrace(env map[string]string, _ string) workshoptest.OrderTrace {
	want := workshoptest.BrokerOrderTrace(env, publishHop, processHop, stockReserve,
		gatewayServer, gatewayClient, checkoutServer, checkoutPlaceOrder)
	want.TraceResponse = "step 02's exercise 02.2: traceResponse"
	return want
}

// publishHop and processHop are the broker's spans, named after the fleet's exchange
// and queue.
var (
	publishHop = workshoptest.PublishHop("TODO(03.1): in TracedRabbitBroker.Publish, start a producer span (ext.SpanKindProducer as a start option) " +
		"as a child of the span in ctx, and inject its context into the message's headers")
	processHop = workshoptest.ProcessHop("TODO(03.2): in TracedRabbitBroker.Consume, extract the context from the message's headers and " +
		"start a consumer span (ext.SpanKindConsumer) as its ChildOf")
)

var stockReserve = workshoptest.StockReserveHop("TODO(03.2): call the handler with a context that holds the consumer span (opentracing.ContextWithSpan)")

// TestRouteTemplate: step 02's serverSpans still names spans after the route template.
func TestRouteTemplate(t *testing.T) {
	rec := jaegersuite.NewRecorder(t)
	workshoptest.CheckRouteTemplate(t, serverSpans(rec.Tracer("checkout")), rec.Spans, "checkout", "serverSpans (middleware.go), unchanged since step 02")
}
