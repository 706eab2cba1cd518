package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/opentracing/opentracing-go"
	"github.com/opentracing/opentracing-go/ext"
	"go.opentelemetry.io/otel/baggage"
	otelbridge "go.opentelemetry.io/otel/bridge/opentracing"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/ot2otel/workshop/shared/app"
	"github.com/ot2otel/workshop/shared/broker"
	"github.com/ot2otel/workshop/shared/fleet"
	"github.com/ot2otel/workshop/shared/otelenv/otelenvtest"
	"github.com/ot2otel/workshop/shared/tracecheck"
	"github.com/ot2otel/workshop/shared/tracecheck/otelspans"
	"github.com/ot2otel/workshop/shared/workshoptest"
)

// These tests check that every service now traces with an OpenTelemetry SDK of its own,
// through the OpenTracing bridge, with every OpenTracing call of steps 02 and 03 as it
// was; that W3C traceparent is what crosses HTTP and RabbitMQ; that the new
// OpenTelemetry-native span nests between OpenTracing spans; and that shutting down
// flushes every span. One order is still one trace, from the gateway to stock.
//
// They set OTEL_EXPORTER_OTLP_ENDPOINT with t.Setenv, because the OTLP exporter reads the
// process environment, so none of them runs in parallel.

// The spans of one order, in the order they nest, and the task each one belongs to.
var (
	gatewayServer = tracecheck.Hop{Service: "gateway", Kind: tracecheck.KindServer, Name: "POST /checkout",
		Todo: "TODO(04.1): every service traces through the bridge newTracing returns; serverSpans itself is unchanged"}
	gatewaySubmit = tracecheck.Hop{Service: "gateway", Kind: tracecheck.KindInternal, Name: "submit order",
		Todo: "TODO(04.3): in placeOrder, start a \"submit order\" span with otelTracer (OpenTelemetry API) from r's context, " +
			"and build the request to checkout from the context it returns"}
	gatewayClient = tracecheck.Hop{Service: "gateway", Kind: tracecheck.KindClient, Name: "POST /orders",
		Todo: "TODO(04.3): the request to checkout carries the \"submit order\" span's context; the OpenTracing client span " +
			"nests under that OpenTelemetry span only when it comes from the bridge's wrapped provider (TODO(04.1): Provider: wrapped, never the SDK's provider)"}
	checkoutServer = tracecheck.Hop{Service: "checkout", Kind: tracecheck.KindServer, Name: "POST /orders",
		Todo: "TODO(04.2): the bridge injects and extracts with the W3C propagator (newPropagator, bridge.SetTextMapPropagator); " +
			"otherwise it falls back to the global propagator, which carries nothing"}
	checkoutPlaceOrder = tracecheck.Hop{Service: "checkout", Kind: tracecheck.KindInternal, Name: "place order",
		Todo: "TODO(04.1): checkout traces through the bridge newTracing returns; its OpenTracing code is unchanged"}
	stockReserve = tracecheck.Hop{Service: "stock", Kind: tracecheck.KindInternal, Name: "reserve stock",
		Todo: "TODO(04.1): stock traces through the bridge newTracing returns; its OpenTracing code is unchanged"}
)

// publishHop and processHop are the broker's spans, named after the fleet's exchange
// and queue. The TracedRabbitBroker is step 03's, unchanged.
func publishHop(exchange string) tracecheck.Hop {
	return tracecheck.Hop{Service: "checkout", Kind: tracecheck.KindProducer, Name: "publish " + exchange,
		Todo: "TODO(04.2): the bridge injects the producer span's context as traceparent into the AMQP headers " +
			"(newPropagator, bridge.SetTextMapPropagator); the TracedRabbitBroker of step 03 is unchanged"}
}

func processHop(queue string) tracecheck.Hop {
	return tracecheck.Hop{Service: "stock", Kind: tracecheck.KindConsumer, Name: "process " + queue,
		Todo: "TODO(04.2): stock's bridge extracts traceparent from the AMQP headers with the same W3C propagator " +
			"(newPropagator, bridge.SetTextMapPropagator); the TracedRabbitBroker of step 03 is unchanged"}
}

// TestStandardVariables checks that the standard variables choose the exporter
// (OTEL_TRACES_EXPORTER: otlp, console or none; OTEL_EXPORTER_OTLP_PROTOCOL: http/protobuf
// or grpc) and that OTEL_SDK_DISABLED=true turns tracing off, as the specification says.
func TestStandardVariables(t *testing.T) {
	otelenvtest.CheckStandardVariables(t, newTracerProvider,
		"TODO(04.1): newTracerProvider takes its exporter from autoexport.NewSpanExporter(ctx), which reads OTEL_TRACES_EXPORTER and OTEL_EXPORTER_OTLP_PROTOCOL, wraps it in otelenv.Readable, and returns otelenv.Noop() when otelenv.SDKDisabled()")
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
	if spans := c.Spans(); len(spans) != 1 || spans[0].Service != "checkout" {
		t.Fatalf("once the tracing was shut down, OTEL_EXPORTER_OTLP_ENDPOINT had received %d span(s), want 1 from "+
			"service \"checkout\":\n%s"+
			"Look at TODO(04.1): newTracerProvider builds an SDK tracer provider (resource with service.name, batch span "+
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
		if spans := c.Spans(); len(spans) != 1 {
			t.Errorf("with OTEL_TRACES_SAMPLER=always_off the tracer provider still sampled a span.\n" +
				"Look at TODO(04.1): pass no sampler option to the SDK: one would override OTEL_TRACES_SAMPLER, " +
				"and without it the SDK samples parent-based, always on")
		}
	})
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
	collect(t)
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
	collect(t)
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

	spans := received(t, c)
	hop := func(name string) tracecheck.Hop {
		return tracecheck.Hop{Service: "stock", Kind: tracecheck.KindInternal, Name: name,
			Todo: "TODO(04.1): tracing.Provider is the wrapped provider NewTracerPair returns with the bridge, " +
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
					return newCheckout(b, rec.tracer("checkout"), workshoptest.DiscardLogger())
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
			sc := trace.SpanContextFromContext(w3c.Extract(context.Background(), propagation.HeaderCarrier(headers)))
			if !sc.IsValid() || sc.SpanID().String() != client.SpanID {
				t.Errorf("checkout's request carries traceparent %q, want the client span's context (span %s).\n"+
					"Look at TODO(04.2): the bridge injects traceparent with newPropagator's propagator", headers.Get("traceparent"), client.SpanID)
			}
		},
		ClientParent: gatewaySubmit, ClientError: "be an error",
		ClientErrorHint: "It is step 02's callCheckout, unchanged: ext.LogError and error=true become the span's status Error under the bridge",
		ServerTags: func(route string) map[string]string {
			return map[string]string{"http.method": "POST", "http.route": route, "http.status_code": "202"}
		},
		BadTraceparent: true,
		Submit:         &gatewaySubmit, GatewayClient: gatewayClient,
		TraceResponseFormat: "TODO(04.1): under the bridge, traceResponse reads the OpenTelemetry span context from the request's context",
		TraceResponseSpan:   "TODO(04.1): traceResponse names the request's own server span",
		ServerError:         "",
		PlaceOrderError:     "status Error and an event (event=error)", PlaceOrderEvent: "error",
		PlaceOrderHint: "",
	})
}

func TestOrderTrace(t *testing.T) {
	c := collect(t)
	f := workshoptest.Start(t, run, nil)
	resp := f.PlaceDemoOrder(nil)
	f.WaitReserved(workshoptest.DemoSKU, 2)
	f.Stop()
	workshoptest.CheckOrderTrace(t, received(t, c), resp, orderTrace(f.Env))
}

// TestOrderTraceAcrossProcesses runs the three services as they are deployed, as three
// processes that share nothing but RabbitMQ and the collector: their spans form one
// trace, and each process flushes its spans when SIGTERM stops it.
func TestOrderTraceAcrossProcesses(t *testing.T) {
	c := newCollector(t)
	f := workshoptest.StartProcesses(t, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": c.Endpoint()})
	resp := f.PlaceDemoOrder(nil)
	f.WaitReserved(workshoptest.DemoSKU, 2)
	f.Stop()
	workshoptest.CheckOrderTrace(t, received(t, c), resp, orderTrace(f.Env))
}

// TestShutdownFlushes stops the services right after stock reserved the order, with a
// batch that would wait an hour before it is sent: every span, stock's last one too,
// arrives only because each service shuts its provider down as it stops.
func TestShutdownFlushes(t *testing.T) {
	c := collect(t)
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "3600000")
	f := workshoptest.Start(t, run, nil)
	resp := f.PlaceDemoOrder(nil)
	f.WaitReserved(workshoptest.DemoSKU, 2)
	workshoptest.CheckBatched(t, len(c.Spans()), "TODO(04.1): newTracerProvider batches (sdktrace.WithBatcher)")
	start := time.Now()
	f.Stop()
	spans := received(t, c)
	for _, hop := range []tracecheck.Hop{gatewayServer, checkoutPlaceOrder, stockReserve} {
		if _, ok := tracecheck.Find(spans, hop); !ok {
			t.Errorf("no %s span arrived, although the service ended it before it stopped: it was still in the batch.\n"+
				"Look at TODO(04.1): tracing.Shutdown is the provider's Shutdown, which flushes the batch (main calls it on SIGTERM)\n\n"+
				"recorded spans:\n%s", hop, tracecheck.String(spans))
		}
	}
	if t.Failed() {
		return
	}
	workshoptest.CheckOrderTrace(t, spans, resp, orderTrace(f.Env))
	t.Logf("the shutdown, flush included, took %s", time.Since(start).Round(time.Millisecond))
}

// orderTrace is what one order's trace must be: one trace from the gateway through
// RabbitMQ to stock, each span directly under the one before, all exported through
// OpenTelemetry.
func orderTrace(env map[string]string) workshoptest.OrderTrace {
	producer, consumer := publishHop(env["AMQP_EXCHANGE"]), processHop(env["AMQP_QUEUE"])
	return workshoptest.OrderTrace{
		Spans:      []tracecheck.Hop{gatewayServer, gatewaySubmit, gatewayClient, checkoutServer, checkoutPlaceOrder, producer, consumer, stockReserve},
		Continuous: true, TraceResponse: "TODO(04.1): traceResponse under the bridge",
		Check: func(t *testing.T, spans []tracecheck.Span) {
			workshoptest.CheckRedisSpans(t, spans, workshoptest.OpenTracingRedisSpans(stockReserve))
			for _, s := range spans {
				if s.Source != "otel" {
					t.Errorf("the span %s %q came from %s: every service exports through OpenTelemetry now.\nLook at TODO(04.1)",
						s.Service, s.Name, s.Source)
				}
			}
		},
		Tagged: []tracecheck.Hop{producer, consumer}, Tags: workshoptest.BrokerTagsIn(env),
	}
}

// w3c is the propagator the tests read and write trace contexts with: their own, so
// that the tests of the instrumentation do not depend on the exercise's newPropagator.
var w3c = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// recorder keeps the finished spans of the services it sets up in memory: each with an
// SDK tracer provider of its own, the bridge on top as the pair from NewTracerPair, and
// the W3C propagator, for the tests of one or two services at a time.
type recorder struct {
	t   *testing.T
	rec *tracetest.SpanRecorder
}

func newRecorder(t *testing.T) *recorder {
	return &recorder{t: t, rec: tracetest.NewSpanRecorder()}
}

// tracing returns the tracing of service, recording every span.
func (r *recorder) tracing(service string) tracing {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(r.rec),
		sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName(service))))
	r.t.Cleanup(func() { tp.Shutdown(context.Background()) })
	bridge, wrapped := otelbridge.NewTracerPair(tp.Tracer(tracerName))
	bridge.SetTextMapPropagator(w3c)
	return tracing{Tracer: bridge, Provider: wrapped, Shutdown: tp.Shutdown}
}

// tracer returns the OpenTracing tracer of service, recording every span.
func (r *recorder) tracer(service string) opentracing.Tracer {
	return r.tracing(service).Tracer
}

func (r *recorder) spans() []tracecheck.Span {
	return otelspans.FromReadOnly(r.rec.Ended())
}

// collect starts an OTLP collector and points every tracer provider made during the test
// at it, through OTEL_EXPORTER_OTLP_ENDPOINT as in production.
func collect(t *testing.T) *otelspans.Collector {
	t.Helper()
	c := newCollector(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", c.Endpoint())
	workshoptest.PinExporter(t)
	return c
}

// newCollector starts an OTLP collector for the test.
func newCollector(t *testing.T) *otelspans.Collector {
	t.Helper()
	c, err := otelspans.NewCollector()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// received returns the spans the collector received, and fails the test when there are
// none at all.
func received(t *testing.T, c *otelspans.Collector) []tracecheck.Span {
	t.Helper()
	spans := c.Spans()
	if len(spans) == 0 {
		t.Fatalf("no span reached OTEL_EXPORTER_OTLP_ENDPOINT after the services stopped.\n" +
			"Look at TODO(04.1): newTracing builds an OpenTelemetry SDK tracer provider with an OTLP exporter " +
			"(newTracerProvider), puts the bridge on it, and returns the provider's Shutdown, which flushes it")
	}
	return spans
}

// TestRouteTemplate: a server span is named after the route template, which a route
// with a path variable tells apart from the raw path.
func TestRouteTemplate(t *testing.T) {
	rec := newRecorder(t)
	r := mux.NewRouter()
	r.Handle(workshoptest.RoutePattern, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).Methods(http.MethodGet)
	r.Use(serverSpans(rec.tracer("checkout")))
	workshoptest.CheckRouteTemplate(t, r, rec.spans, "checkout", "TODO(04.1): every service traces through the bridge newTracing returns; serverSpans itself is unchanged")
}
