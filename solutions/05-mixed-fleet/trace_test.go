package main

import (
	"context"
	"net/http"
	"testing"

	"github.com/gorilla/mux"

	"github.com/opentracing/opentracing-go"
	jaegerclient "github.com/uber/jaeger-client-go"
	"go.opentelemetry.io/contrib/propagators/jaeger"
	otelbridge "go.opentelemetry.io/otel/bridge/opentracing"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/ot2otel/workshop/shared/broker"
	"github.com/ot2otel/workshop/shared/otelenv/otelenvtest"
	"github.com/ot2otel/workshop/shared/tracecheck"
	"github.com/ot2otel/workshop/shared/tracecheck/jaegerspans"
	"github.com/ot2otel/workshop/shared/tracecheck/otelspans"
	"github.com/ot2otel/workshop/shared/workshoptest"
)

// These tests check the fleet in the middle of its migration: gateway and stock on
// OpenTelemetry through the bridge, as in step 04, checkout still on jaeger-client, as in
// step 03. Each service keeps its own tests; the order is still one trace, recorded by
// two kinds of tracer and exported to two collectors. mixed_test.go checks what makes
// the trace cross between the two.
//
// They set OTEL_EXPORTER_OTLP_ENDPOINT and JAEGER_ENDPOINT with t.Setenv, because the
// OTLP exporter and jaeger-client read the process environment, so none of them runs in
// parallel.

// The spans of one order, in the order they nest, and the task each one belongs to.
var (
	gatewayServer = tracecheck.Hop{Service: "gateway", Kind: tracecheck.KindServer, Name: "POST /checkout",
		Todo: "step 04's newTracing: the gateway traces through the bridge; serverSpans is unchanged"}
	gatewaySubmit = tracecheck.Hop{Service: "gateway", Kind: tracecheck.KindInternal, Name: "submit order",
		Todo: "step 04's \"submit order\" span in placeOrder, started with the wrapped provider's tracer"}
	gatewayClient = tracecheck.Hop{Service: "gateway", Kind: tracecheck.KindClient, Name: "POST /orders",
		Todo: "step 04's placeOrder: the request to checkout is built from the \"submit order\" span's context"}
	checkoutServer = tracecheck.Hop{Service: "checkout", Kind: tracecheck.KindServer, Name: "POST /orders",
		Todo: "TODO(05.1): checkout still runs jaeger-client, which reads uber-trace-id and nothing else: the gateway's " +
			"propagator must write it too (jaeger.Jaeger{} in newPropagator's composite)"}
	checkoutPlaceOrder = tracecheck.Hop{Service: "checkout", Kind: tracecheck.KindInternal, Name: "place order",
		Todo: "checkout traces with jaeger-client (newLegacyTracing); its OpenTracing code is step 02's, unchanged"}
	stockReserve = tracecheck.Hop{Service: "stock", Kind: tracecheck.KindInternal, Name: "reserve stock",
		Todo: "stock traces through the bridge (step 04's newTracing); its OpenTracing code is step 03's, unchanged"}
)

// publishHop and processHop are the broker's spans, named after the fleet's exchange
// and queue. The TracedRabbitBroker is step 03's, unchanged: checkout's, on jaeger-client,
// injects uber-trace-id; stock's, on the bridge, extracts with newPropagator.
func publishHop(exchange string) tracecheck.Hop {
	return tracecheck.Hop{Service: "checkout", Kind: tracecheck.KindProducer, Name: "publish " + exchange,
		Todo: "step 03's TracedRabbitBroker.Publish, with checkout's jaeger-client tracer: it injects uber-trace-id"}
}

func processHop(queue string) tracecheck.Hop {
	return tracecheck.Hop{Service: "stock", Kind: tracecheck.KindConsumer, Name: "process " + queue,
		Todo: "TODO(05.1): stock must read the uber-trace-id that checkout, still on jaeger-client, puts in the AMQP " +
			"headers: jaeger.Jaeger{} in newPropagator's composite, which stock's bridge extracts with"}
}

// TestStandardVariables checks that the standard variables choose the exporter
// (OTEL_TRACES_EXPORTER: otlp, console or none; OTEL_EXPORTER_OTLP_PROTOCOL: http/protobuf
// or grpc) and that OTEL_SDK_DISABLED=true turns tracing off, as the specification says.
func TestStandardVariables(t *testing.T) {
	otelenvtest.CheckStandardVariables(t, newTracerProvider,
		"step 04's newTracerProvider: its exporter comes from autoexport.NewSpanExporter(ctx), which reads OTEL_TRACES_EXPORTER and OTEL_EXPORTER_OTLP_PROTOCOL, and it returns otelenv.Noop() when otelenv.SDKDisabled()")
}

func TestTracingFromEnv(t *testing.T) {
	c := collect(t)
	t.Setenv("OTEL_SERVICE_NAME", "someone-else")
	// The batch would wait an hour: only Shutdown can deliver the span in time.
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "3600000")
	tr, err := newTracing("checkout", newPropagator(), workshoptest.DiscardLogger())
	if err != nil {
		t.Fatalf("newTracing: %v", err)
	}
	tr.Tracer.StartSpan("hello").Finish()
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatalf("shutting the tracing down: %v", err)
	}
	if spans := c.otel.Spans(); len(spans) != 1 || spans[0].Service != "checkout" {
		t.Fatalf("once the tracing was shut down, OTEL_EXPORTER_OTLP_ENDPOINT had received %d span(s), want 1 from "+
			"service \"checkout\":\n%s"+
			"Look at step 04's newTracerProvider: it builds an SDK tracer provider (resource with service.name, batch span "+
			"processor, autoexport.NewSpanExporter exporter from the OTEL_* environment); newTracing puts the bridge on it "+
			"(otelbridge.NewTracerPair) and returns the provider's Shutdown, which flushes the batch",
			len(spans), tracecheck.String(spans))
	}

	t.Run("the environment decides the sampler", func(t *testing.T) {
		t.Setenv("OTEL_TRACES_SAMPLER", "always_off")
		tr, err := newTracing("checkout", newPropagator(), workshoptest.DiscardLogger())
		if err != nil {
			t.Fatalf("newTracing: %v", err)
		}
		tr.Tracer.StartSpan("not sampled").Finish()
		tr.Shutdown(context.Background())
		if spans := c.otel.Spans(); len(spans) != 1 {
			t.Errorf("with OTEL_TRACES_SAMPLER=always_off the tracer provider still sampled a span.\n" +
				"Look at step 04's newTracerProvider: pass no sampler option to the SDK: one would override OTEL_TRACES_SAMPLER, " +
				"and without it the SDK samples parent-based, always on")
		}
	})
}

// TestTracingNests checks the provider newTracing hands to OpenTelemetry code: spans it
// starts nest between the spans of the OpenTracing tracer, in both directions.
func TestTracingNests(t *testing.T) {
	c := collect(t)
	tr, err := newTracing("stock", newPropagator(), workshoptest.DiscardLogger())
	if err != nil {
		t.Fatalf("newTracing: %v", err)
	}
	outer, ctx := opentracing.StartSpanFromContextWithTracer(context.Background(), tr.Tracer, "opentracing outer")
	ctx, native := tr.Provider.Tracer("test").Start(ctx, "opentelemetry middle")
	inner, _ := opentracing.StartSpanFromContextWithTracer(ctx, tr.Tracer, "opentracing inner")
	inner.Finish()
	native.End()
	outer.Finish()
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatalf("shutting the tracing down: %v", err)
	}

	spans := c.otel.Spans()
	hop := func(name string) tracecheck.Hop {
		return tracecheck.Hop{Service: "stock", Kind: tracecheck.KindInternal, Name: name,
			Todo: "step 04's newTracing: tracing.Provider is the wrapped provider NewTracerPair returns with the bridge, " +
				"never the SDK's tracer provider: only the wrapped one makes its spans the active OpenTracing span too"}
	}
	if err := tracecheck.CheckParent(spans, hop("opentelemetry middle"), hop("opentracing outer")); err != nil {
		t.Error(err)
	}
	if err := tracecheck.CheckParent(spans, hop("opentracing inner"), hop("opentelemetry middle")); err != nil {
		t.Error(err)
	}
}

// TestRawProviderBreaksNesting shows pitfall 2 of the bridge: OpenTelemetry code given
// the SDK's own provider instead of the bridge's wrapped one. Its span still finds its
// OpenTracing parent, but the OpenTracing spans started under it skip it.
func TestRawProviderBreaksNesting(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec),
		sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName("gateway"))))
	bridge, _ := otelbridge.NewTracerPair(tp.Tracer(tracerName))

	outer, ctx := opentracing.StartSpanFromContextWithTracer(context.Background(), bridge, "opentracing outer")
	ctx, native := tp.Tracer("raw").Start(ctx, "opentelemetry middle") // the mistake: tp, not the wrapped provider
	inner, _ := opentracing.StartSpanFromContextWithTracer(ctx, bridge, "opentracing inner")
	inner.Finish()
	native.End()
	outer.Finish()

	spans := otelspans.FromReadOnly(rec.Ended())
	hop := func(name string) tracecheck.Hop {
		return tracecheck.Hop{Service: "gateway", Kind: tracecheck.KindInternal, Name: name}
	}
	if err := tracecheck.CheckParent(spans, hop("opentelemetry middle"), hop("opentracing outer")); err != nil {
		t.Fatalf("with the SDK's provider, the OpenTelemetry span still finds its OpenTracing parent: %v", err)
	}
	err := tracecheck.CheckParent(spans, hop("opentracing inner"), hop("opentelemetry middle"))
	if err == nil {
		t.Fatalf("with the SDK's provider the OpenTracing span under the OpenTelemetry span should skip it; it did not:\n%s",
			tracecheck.String(spans))
	}
	t.Logf("As expected, with the SDK's provider instead of the bridge's wrapped one:\n%v", err)
}

// TestSpans runs the span checks every traced step shares (workshoptest.RunSpanChecks):
// the server spans, the traceresponse header, the client span, the business span, and what an error is.
func TestSpans(t *testing.T) {
	workshoptest.RunSpanChecks(t, workshoptest.SpanChecks{
		Record: func(t *testing.T) workshoptest.Spans {
			rec := newRecorder(t)
			return workshoptest.Spans{
				Gateway: func(url string) http.Handler {
					tr := rec.tracing("gateway")
					return newGateway(url, tr.Tracer, tr.Provider, workshoptest.DiscardLogger())
				},
				Checkout: func(b broker.Broker) http.Handler {
					return newCheckout(b, rec.legacyTracer("checkout"), workshoptest.DiscardLogger())
				},
				Spans: rec.spans,
			}
		},
		GatewayServer: gatewayServer, CheckoutServer: checkoutServer, PlaceOrder: checkoutPlaceOrder,
		ClientTags: func(checkoutURL string) map[string]string {
			return map[string]string{"http.method": "POST", "http.url": checkoutURL + "/orders",
				"peer.service": "checkout", "http.status_code": "202"}
		},
		ClientContext: func(t *testing.T, headers http.Header, client tracecheck.Span) {
			for _, format := range []propagation.TextMapPropagator{propagation.TraceContext{}, jaeger.Jaeger{}} {
				sc := trace.SpanContextFromContext(format.Extract(context.Background(), propagation.HeaderCarrier(headers)))
				if !sc.IsValid() || sc.SpanID().String() != client.SpanID {
					t.Errorf("checkout's request carries %s %q, want the client span's context (span %s)",
						format.Fields()[0], headers.Get(format.Fields()[0]), client.SpanID)
				}
			}
		},
		ClientParent: gatewaySubmit, ClientError: "be an error",
		ClientErrorHint: "It is step 02's callCheckout, unchanged: ext.LogError and error=true become the span's status Error under the bridge",
		ServerTags: func(route string) map[string]string {
			return map[string]string{"http.method": "POST", "http.route": route, "http.status_code": "202"}
		},
		Submit: &gatewaySubmit, GatewayClient: gatewayClient,
		TraceResponseFormat: "step 04's traceResponse: under the bridge, it reads the OpenTelemetry span context from the request's context",
		TraceResponseSpan:   "step 04's traceResponse: it names the request's own server span",
		ServerError:         "",
		PlaceOrderError:     "error=true and a log record (event=error)", PlaceOrderEvent: "error",
		PlaceOrderHint: "",
	})
}

// TestMixedFleetTrace is the order's trace across both kinds of tracer: gateway
// (OpenTelemetry) → checkout (jaeger-client) over HTTP, checkout → RabbitMQ → stock
// (OpenTelemetry). The spans arrive at two collectors, OTLP and jaeger, and are one trace.
func TestMixedFleetTrace(t *testing.T) {
	c := collect(t)
	f := workshoptest.Start(t, run, nil)
	resp := f.PlaceDemoOrder(nil)
	f.WaitReserved(workshoptest.DemoSKU, 2)
	f.Stop()
	workshoptest.CheckOrderTrace(t, c.received(t), resp, orderTrace(f.Env))
}

// TestMixedFleetAcrossProcesses runs the three services as they are deployed, as three
// processes that share nothing but RabbitMQ and the collectors: OTEL_EXPORTER_OTLP_ENDPOINT
// for the OpenTelemetry services, JAEGER_ENDPOINT for the legacy one. Their spans form one
// trace, and each process flushes its spans when SIGTERM stops it.
func TestMixedFleetAcrossProcesses(t *testing.T) {
	c := newCollectors(t)
	f := workshoptest.StartProcesses(t, c.env())
	resp := f.PlaceDemoOrder(nil)
	f.WaitReserved(workshoptest.DemoSKU, 2)
	f.Stop()
	workshoptest.CheckOrderTrace(t, c.received(t), resp, orderTrace(f.Env))
}

// TestShutdownFlushes stops the services right after stock reserved the order, with
// batches that would wait an hour before they are sent: every span, stock's last one
// too, arrives only because each service shuts its provider down, or closes its jaeger
// tracer, as it stops.
func TestShutdownFlushes(t *testing.T) {
	c := collect(t)
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "3600000")
	t.Setenv("JAEGER_REPORTER_FLUSH_INTERVAL", "1h")
	f := workshoptest.Start(t, run, nil)
	resp := f.PlaceDemoOrder(nil)
	f.WaitReserved(workshoptest.DemoSKU, 2)
	f.Stop()
	spans := c.received(t)
	for _, hop := range []tracecheck.Hop{gatewayServer, checkoutPlaceOrder, stockReserve} {
		if _, ok := tracecheck.Find(spans, hop); !ok {
			t.Errorf("no %s span arrived, although the service ended it before it stopped: it was still in the batch.\n"+
				"tracing.Shutdown flushes: the provider's Shutdown, or the jaeger tracer's Close\n\nrecorded spans:\n%s",
				hop, tracecheck.String(spans))
		}
	}
	if t.Failed() {
		return
	}
	workshoptest.CheckOrderTrace(t, spans, resp, orderTrace(f.Env))
}

// orderTrace is what one order's trace must be in the mixed fleet: one trace from the
// gateway through RabbitMQ to stock, each span directly under the one before, each
// recorded by its service's tracer.
func orderTrace(env map[string]string) workshoptest.OrderTrace {
	producer, consumer := publishHop(env["AMQP_EXCHANGE"]), processHop(env["AMQP_QUEUE"])
	return workshoptest.OrderTrace{
		Spans:      []tracecheck.Hop{gatewayServer, gatewaySubmit, gatewayClient, checkoutServer, checkoutPlaceOrder, producer, consumer, stockReserve},
		Continuous: true,
		Check: func(t *testing.T, spans []tracecheck.Span) {
			workshoptest.CheckRedisSpans(t, spans, workshoptest.OpenTracingRedisSpans(stockReserve))
			for _, s := range spans {
				if want := sourceOf[s.Service]; s.Source != want {
					t.Errorf("the span %s %q came from %s, want %s: checkout still runs jaeger-client (newLegacyTracing), "+
						"gateway and stock run on OpenTelemetry (newTracing)", s.Service, s.Name, s.Source, want)
				}
			}
		},
		Tagged: []tracecheck.Hop{producer, consumer}, Tags: workshoptest.BrokerTagsIn(env),
	}
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
// of one or two services at a time: OpenTelemetry services, each with an SDK tracer
// provider of its own and the bridge on top, and legacy services, each with a
// jaeger-client tracer of its own.
type recorder struct {
	t        *testing.T
	otel     *tracetest.SpanRecorder
	reporter *jaegerclient.InMemoryReporter
}

func newRecorder(t *testing.T) *recorder {
	return &recorder{t: t, otel: tracetest.NewSpanRecorder(), reporter: jaegerclient.NewInMemoryReporter()}
}

// tracing returns the tracing of an OpenTelemetry service, speaking both formats.
func (r *recorder) tracing(service string) tracing {
	return r.tracingWith(service, mixed)
}

// tracingWith returns the tracing of an OpenTelemetry service, speaking prop.
func (r *recorder) tracingWith(service string, prop propagation.TextMapPropagator) tracing {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(r.otel),
		sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName(service))))
	r.t.Cleanup(func() { tp.Shutdown(context.Background()) })
	bridge, wrapped := otelbridge.NewTracerPair(tp.Tracer(tracerName))
	bridge.SetTextMapPropagator(prop)
	return tracing{Tracer: bridge, Provider: wrapped, Shutdown: tp.Shutdown}
}

// legacyTracer returns the jaeger-client tracer of a service that has not migrated,
// sampling every span and making 128-bit trace IDs.
func (r *recorder) legacyTracer(service string) opentracing.Tracer {
	tracer, closer := jaegerclient.NewTracer(service, jaegerclient.NewConstSampler(true), r.reporter,
		jaegerclient.TracerOptions.Gen128Bit(true))
	r.t.Cleanup(func() { closer.Close() })
	return tracer
}

// spans returns the spans of every service, whichever tracer recorded them.
func (r *recorder) spans() []tracecheck.Span {
	return append(otelspans.FromReadOnly(r.otel.Ended()), jaegerspans.FromOpenTracing(r.reporter.GetSpans())...)
}

// collectors are the two collectors a mixed fleet exports to: OTLP for the
// OpenTelemetry services, jaeger for the legacy one.
type collectors struct {
	otel   *otelspans.Collector
	jaeger *jaegerspans.Collector
}

// newCollectors starts both collectors for the test.
func newCollectors(t *testing.T) *collectors {
	t.Helper()
	o, err := otelspans.NewCollector()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	j, err := jaegerspans.NewCollector()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return &collectors{otel: o, jaeger: j}
}

// env points the services at the collectors, as in production: the standard variables.
func (c *collectors) env() map[string]string {
	return map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": c.otel.Endpoint(), "JAEGER_ENDPOINT": c.jaeger.Endpoint()}
}

// collect starts both collectors and points every tracer made during the test at them.
func collect(t *testing.T) *collectors {
	t.Helper()
	c := newCollectors(t)
	for k, v := range c.env() {
		t.Setenv(k, v)
	}
	workshoptest.PinExporter(t)
	return c
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

// TestRouteTemplate: a server span is named after the route template, which a route
// with a path variable tells apart from the raw path.
func TestRouteTemplate(t *testing.T) {
	rec := newRecorder(t)
	r := mux.NewRouter()
	r.Handle(workshoptest.RoutePattern, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).Methods(http.MethodGet)
	r.Use(serverSpans(rec.legacyTracer("checkout")))
	workshoptest.CheckRouteTemplate(t, r, rec.spans, "checkout", "serverSpans in tracing.go, unchanged since step 02")
}
