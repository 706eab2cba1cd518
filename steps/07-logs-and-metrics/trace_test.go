package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/ot2otel/workshop/shared/broker"
	"github.com/ot2otel/workshop/shared/otelenv/otelenvtest"
	"github.com/ot2otel/workshop/shared/tracecheck"
	"github.com/ot2otel/workshop/shared/workshoptest"
	"github.com/ot2otel/workshop/shared/workshoptest/otelsuite"
)

// These tests check that every service traces with the OpenTelemetry API alone: the
// HTTP spans come from otelmux and otelhttp, the broker's spans follow the messaging
// semantic conventions, and one order is one trace from the gateway through checkout and
// RabbitMQ to stock. broker_test.go checks the TracedRabbitBroker on its own, and
// deps_test.go that nothing of OpenTracing is left in the build.

// The spans of one order, now from otelmux, otelhttp and the OpenTelemetry API, and the step 06 task each one belongs to.
var (
	gatewayServer = workshoptest.GatewayServerHop("TODO(06.1): trace the HTTP servers with otelmux in serverSpans (middleware.go), passing the service's provider and propagator")
	gatewaySubmit = workshoptest.GatewaySubmitHop("TODO(06.1): placeOrder starts \"submit order\" with tracer.Start(r.Context(), ...), as since step 04, " +
		"and builds the request to checkout from the context it returns")
	gatewayClient = workshoptest.GatewayClientHop("TODO(06.1): give the gateway's client an otelhttp transport in clientSpans (gateway.go), passing the service's provider and propagator; " +
		"it starts the client span from the request's context, under \"submit order\"")
	checkoutServer     = workshoptest.CheckoutServerHop("TODO(06.1): serverSpans (middleware.go) traces checkout too; it continues the gateway's trace when otelmux extracts with the service's propagator")
	checkoutPlaceOrder = workshoptest.PlaceOrderHop("TODO(06.3): in createOrder (checkout.go), start the \"place order\" span with tracer.Start(r.Context(), ...) " +
		"and publish with the context it returns")
)

// TestStandardVariables: without the bridge, newTracerProvider's exporter still
// follows the standard variables, and OTEL_SDK_DISABLED=true still turns tracing off.
func TestStandardVariables(t *testing.T) {
	otelenvtest.CheckStandardVariables(t, newTracerProvider,
		"newTracerProvider (tracing.go): its exporter comes from autoexport.NewSpanExporter(ctx), which reads OTEL_TRACES_EXPORTER and OTEL_EXPORTER_OTLP_PROTOCOL, and it returns otelenv.Noop() when otelenv.SDKDisabled()")
}

func TestTracerProviderFromEnv(t *testing.T) {
	c := otelsuite.Collect(t)
	t.Setenv("OTEL_SERVICE_NAME", "someone-else")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "service.name=someone-else,deployment.environment.name=workshop")
	tp, err := newTracerProvider("checkout")
	if err != nil {
		t.Fatalf("newTracerProvider: %v", err)
	}
	rec := tracetest.NewSpanRecorder()
	tp.(*sdktrace.TracerProvider).RegisterSpanProcessor(rec)
	_, span := tp.Tracer("test").Start(context.Background(), "hello")
	span.End()
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatalf("shutting the provider down: %v", err)
	}
	if spans := c.Spans(); len(spans) != 1 || spans[0].Service != "checkout" {
		t.Fatalf("once the provider was shut down, OTEL_EXPORTER_OTLP_ENDPOINT had received %d span(s), want 1 from service \"checkout\":\n%s"+
			"Look at TODO(06.3): newTracerProvider batches to autoexport.NewSpanExporter(ctx), configured by the OTEL_* variables alone, "+
			"with a resource whose service.name is the service's, whatever OTEL_SERVICE_NAME says",
			len(spans), tracecheck.String(spans))
	}
	if v, _ := rec.Ended()[0].Resource().Set().Value("deployment.environment.name"); v.AsString() != "workshop" {
		t.Errorf("the resource lacks deployment.environment.name=workshop from OTEL_RESOURCE_ATTRIBUTES: %v.\n"+
			"Look at TODO(06.3): detect the resource from the environment (resource.WithFromEnv), then set service.name",
			rec.Ended()[0].Resource())
	}

	t.Run("the environment decides the sampler", func(t *testing.T) {
		t.Setenv("OTEL_TRACES_SAMPLER", "always_off")
		tp, err := newTracerProvider("checkout")
		if err != nil {
			t.Fatalf("newTracerProvider: %v", err)
		}
		_, span := tp.Tracer("test").Start(context.Background(), "not sampled")
		span.End()
		tp.Shutdown(context.Background())
		if spans := c.Spans(); len(spans) != 1 {
			t.Errorf("with OTEL_TRACES_SAMPLER=always_off the provider still sampled a span.\n" +
				"Look at TODO(06.3): pass no sampler to sdktrace.NewTracerProvider; the SDK reads OTEL_TRACES_SAMPLER itself")
		}
	})
	t.Run("by default the parent decides", func(t *testing.T) {
		tp, err := newTracerProvider("checkout")
		if err != nil {
			t.Fatalf("newTracerProvider: %v", err)
		}
		defer tp.Shutdown(context.Background())
		notSampled := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}, Remote: true})
		_, span := tp.Tracer("test").Start(trace.ContextWithRemoteSpanContext(context.Background(), notSampled), "child")
		defer span.End()
		if span.SpanContext().IsSampled() {
			t.Errorf("a span whose remote parent was not sampled was sampled: the default sampler must be parent-based.\n" +
				"Look at TODO(06.3): pass no sampler to sdktrace.NewTracerProvider; its default is ParentBased(AlwaysSample())")
		}
	})
	t.Run("a bad setting is an error", func(t *testing.T) {
		t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "no-equals-sign")
		if tp, err := newTracerProvider("checkout"); err == nil {
			tp.Shutdown(context.Background())
			t.Errorf("newTracerProvider with OTEL_RESOURCE_ATTRIBUTES=no-equals-sign returned no error.\n" +
				"Look at TODO(06.3): return resource.New's error, so a typo does not go unnoticed")
		}
	})
}

// TestSpans: the HTTP spans of otelmux and otelhttp, with the semantic conventions'
// attributes, and the business spans on the OpenTelemetry API.
func TestSpans(t *testing.T) {
	workshoptest.RunSpanChecks(t, workshoptest.SpanChecks{
		Record: func(t *testing.T) workshoptest.Spans {
			rec := newRecorder(t)
			return workshoptest.Spans{
				Gateway: func(url string) http.Handler {
					return newGateway(url, rec.provider("gateway"), metricnoop.NewMeterProvider(), newPropagator(), workshoptest.DiscardLogger())
				},
				Checkout: func(b broker.Broker) http.Handler {
					return newCheckout(b, rec.provider("checkout"), metricnoop.NewMeterProvider(), newPropagator(), workshoptest.DiscardLogger())
				},
				Spans: rec.Spans,
				ClientSpan: func(t *testing.T, hop tracecheck.Hop, span tracecheck.Span) {
					if scope := rec.Scope(span); scope != otelhttpScope {
						t.Errorf("the %s span was recorded by %q, not by otelhttp (%s).\nLook at %s", hop, scope, otelhttpScope, hop.Todo)
					}
				},
				ServerSpan: func(t *testing.T, hop tracecheck.Hop, span tracecheck.Span) {
					if scope := rec.Scope(span); scope != otelmuxScope {
						t.Errorf("the %s span was recorded by %q, not by otelmux (%s).\nLook at %s",
							hop, scope, otelmuxScope, hop.Todo)
					}
				},
			}
		},
		GatewayServer: gatewayServer, CheckoutServer: checkoutServer, PlaceOrder: checkoutPlaceOrder,
		// "submit order", written against the OpenTelemetry API since step 04, needs no
		// change, but the spans around it do.
		Submit: &gatewaySubmit, GatewayClient: gatewayClient,
		ClientTags: func(checkoutURL string) map[string]string {
			u, _ := url.Parse(checkoutURL)
			return map[string]string{"http.request.method": "POST", "url.full": checkoutURL + "/orders",
				"server.address": u.Hostname(), "server.port": u.Port(), "http.response.status_code": "202"}
		},
		ClientContext: otelsuite.ClientContext([]propagation.TextMapPropagator{newPropagator()},
			"TODO(06.1): otelhttp.WithPropagators(prop): without it otelhttp injects with the global propagator, a no-op",
			"TODO(06.1): the transport injects its own span's context"),
		ClientParent: gatewaySubmit, ClientError: "have the status Error", ClientErrorHint: "Look at " + gatewayClient.Todo,
		ServerTags: func(route string) map[string]string {
			return map[string]string{"http.request.method": "POST", "http.route": route, "http.response.status_code": "202"}
		},
		Healthz:             "TODO(06.1): leave /healthz out with otelmux.WithFilter",
		Tags:                otelsuite.CheckAttrs,
		TraceResponseFormat: "TODO(06.1): traceResponse names the span in the request's context (trace.SpanContextFromContext)",
		TraceResponseSpan:   "TODO(06.1): traceResponse runs inside serverSpans, so it names otelmux's server span",
		ServerError:         "Look at TODO(06.1): otelmux sets the status from the answer's code",
		PlaceOrderError:     "the status Error and an \"exception\" event", PlaceOrderEvent: semconv.ExceptionEventName,
		PlaceOrderHint: "Look at TODO(06.3): span.RecordError(err) and span.SetStatus(codes.Error, ...) where the order fails",
	})
}

// The instrumentation scopes of otelmux and otelhttp, spelled out so that the tests do
// not import the packages the exercise brings in.
const (
	otelmuxScope  = "go.opentelemetry.io/contrib/instrumentation/github.com/gorilla/mux/otelmux"
	otelhttpScope = "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
)

// TestShutdownFlushes holds the spans back until the services stop: if they all
// arrive, each service's Close shut its provider down, which flushed them. It checks
// the order's spans by service and kind only: TestContract/OrderTrace checks the rest.
func TestShutdownFlushes(t *testing.T) {
	c := otelsuite.Collect(t)
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "3600000") // an hour: only Shutdown exports
	f := workshoptest.Start(t, run, nil)
	resp := f.PlaceDemoOrder(nil)
	f.WaitReserved(workshoptest.DemoSKU, 2)
	early := len(c.Spans())
	f.Stop()
	workshoptest.CheckBatched(t, early, "TODO(06.3): newTracerProvider batches (sdktrace.WithBatcher)")

	m := workshoptest.TraceResponseFormat.FindStringSubmatch(resp.Header.Get("traceresponse"))
	if m == nil {
		t.Fatalf("traceresponse: %q.\nLook at TODO(06.1): traceResponse", resp.Header.Get("traceresponse"))
	}
	const todo = "TODO(06.3): each service's Close shuts its provider down (tp.Shutdown), which exports what the batch holds"
	var hops []tracecheck.Hop
	for _, h := range [][2]string{{"gateway", tracecheck.KindServer}, {"gateway", tracecheck.KindClient},
		{"checkout", tracecheck.KindServer}, {"checkout", tracecheck.KindProducer}, {"stock", tracecheck.KindConsumer}} {
		hops = append(hops, tracecheck.Hop{Service: h[0], Kind: h[1], Todo: todo})
	}
	if err := tracecheck.CheckChain(tracecheck.Filter(c.Spans(), m[1]), hops...); err != nil {
		t.Fatalf("after the services stopped, the order's spans had not all arrived (%d spans had before the shutdown): %v", early, err)
	}
}

// orderTrace is what one order's trace must be: one trace from the gateway through
// RabbitMQ to stock, each span directly under the one before, the broker's spans with
// the messaging conventions' attributes in place of OpenTracing's tags.
func orderTrace(env map[string]string, orderID string) workshoptest.OrderTrace {
	producer, consumer := publishHop(env["AMQP_EXCHANGE"]), processHop(env["AMQP_EXCHANGE"], env["AMQP_QUEUE"])
	return workshoptest.OrderTrace{
		Spans:      []tracecheck.Hop{gatewayServer, gatewaySubmit, gatewayClient, checkoutServer, checkoutPlaceOrder, producer, consumer, stockReserve},
		Continuous: true, TraceResponseSpan: true,
		TraceResponse: "TODO(06.1): traceResponse runs inside serverSpans and names the span in the request's context",
		Check: func(t *testing.T, spans []tracecheck.Span) {
			workshoptest.CheckRedisSpans(t, spans, workshoptest.RedisotelSpans(stockReserve, redisTodo))
			for _, hop := range []tracecheck.Hop{producer, consumer} {
				span, _ := tracecheck.Find(spans, hop)
				otelsuite.CheckAttrs(t, span, otelsuite.BrokerAttrs(hop, env["AMQP_EXCHANGE"], env["AMQP_QUEUE"], orderID), hop.Todo)
				for _, tag := range []string{"message_bus.destination", "peer.hostname", "peer.port"} {
					if _, ok := span.Attrs[tag]; ok {
						t.Errorf("the %s span still carries OpenTracing's %s tag: the conventions replace it.\nLook at %s", hop, tag, hop.Todo)
					}
				}
			}
		},
		Attrs: true,
	}
}

// publishHop and processHop are the broker's spans, named "{operation} {destination}"
// as the messaging conventions name them, after the fleet's exchange and queue.
func publishHop(exchange string) tracecheck.Hop {
	return tracecheck.Hop{Service: "checkout", Kind: tracecheck.KindProducer, Name: "publish " + exchange + ":" + broker.RoutingKey,
		Todo: "TODO(06.2): in TracedRabbitBroker.Publish, start a PRODUCER span named \"publish {exchange}:{routing key}\" " +
			"(trace.WithSpanKind at the start) from ctx, and inject its context into the message's headers with the propagator"}
}

func processHop(exchange, queue string) tracecheck.Hop {
	return tracecheck.Hop{Service: "stock", Kind: tracecheck.KindConsumer, Name: "process " + exchange + ":" + broker.RoutingKey + ":" + queue,
		Todo: "TODO(06.2): in TracedRabbitBroker.Consume, extract the context from the message's headers with the propagator, " +
			"and start a CONSUMER span named \"process {exchange}:{routing key}:{queue}\" from it, its child"}
}

var stockReserve = workshoptest.StockReserveHop("TODO(06.3): start the \"reserve stock\" span with tracer.Start(ctx, ...) in reserveStock, under the consumer span in ctx")

// TestPropagator checks what crosses the wire: W3C Trace Context and Baggage, and no
// uber-trace-id, which no service reads any more.
func TestPropagator(t *testing.T) {
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{0xab, 1}, SpanID: trace.SpanID{0xcd, 2},
		TraceFlags: trace.FlagsSampled})
	carrier := propagation.MapCarrier{}
	newPropagator().Inject(trace.ContextWithSpanContext(context.Background(), sc), carrier)
	want := "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-01"
	if carrier["traceparent"] != want {
		t.Errorf("the propagator wrote traceparent %q, want %q.\n"+
			"Look at TODO(06.3): newPropagator is TraceContext{} + Baggage{}", carrier["traceparent"], want)
	}
	if len(carrier.Keys()) != 1 {
		t.Errorf("the propagator wrote %v, want traceparent alone for a span context without tracestate or baggage.\n"+
			"Look at TODO(06.3): no service speaks uber-trace-id any more: drop the Jaeger propagator from newPropagator",
			carrier)
	}
	fields := newPropagator().Fields()
	for _, f := range []string{"traceparent", "tracestate", "baggage"} {
		if !strings.Contains(strings.Join(fields, " "), f) {
			t.Errorf("the propagator's fields %v lack %s.\nLook at TODO(06.3): newPropagator is TraceContext{} + Baggage{}", fields, f)
		}
	}
}

// recorder keeps the finished spans of the providers it makes in memory, for the tests
// of one or two services at a time; its providers sample every span.
type recorder struct{ *otelsuite.Recorder }

func newRecorder(t *testing.T) recorder { return recorder{otelsuite.NewRecorder(t)} }

// provider returns a tracer provider for service that samples every span and records it.
func (r recorder) provider(service string) trace.TracerProvider {
	return r.Provider(service, sdktrace.WithSampler(sdktrace.AlwaysSample()))
}

// TestRouteTemplate: otelmux names the server span after the route template.
func TestRouteTemplate(t *testing.T) {
	rec := newRecorder(t)
	workshoptest.CheckRouteTemplate(t, serverSpans("checkout", rec.provider("checkout"), metricnoop.NewMeterProvider(), newPropagator()), rec.Spans, "checkout",
		"TODO(06.1): trace the HTTP servers with otelmux in serverSpans (middleware.go); otelmux names the span after the route")
}

// redisTodo is the task of swapping the Redis client's instrumentation.
const redisTodo = "TODO(06.4): in instrumentRedis (tracing.go), trace the Redis client with " +
	"redisotel.InstrumentTracing(c, redisotel.WithTracerProvider(tp), redisotel.WithDBStatement(false)) instead of the OpenTracing hook"
