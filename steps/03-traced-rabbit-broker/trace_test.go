package main

import (
	"net/http"
	"testing"

	"github.com/gorilla/mux"

	"github.com/opentracing/opentracing-go"
	"github.com/uber/jaeger-client-go"

	"github.com/ot2otel/workshop/shared/broker"
	"github.com/ot2otel/workshop/shared/tracecheck"
	"github.com/ot2otel/workshop/shared/tracecheck/jaegerspans"
	"github.com/ot2otel/workshop/shared/workshoptest"
)

// These tests check that every service traces with a jaeger-client tracer of its own,
// and that one order is one trace from the gateway through checkout and RabbitMQ to
// stock. broker_test.go checks the TracedRabbitBroker on its own.
//
// They set JAEGER_ENDPOINT with t.Setenv, because config.FromEnv reads the process
// environment, so none of them runs in parallel.

// The spans of one order, in the order they nest, and the task each one belongs to.
var (
	gatewayServer = tracecheck.Hop{Service: "gateway", Kind: tracecheck.KindServer, Name: "POST /checkout",
		Todo: "step 02's exercise 02.2: trace the HTTP servers with serverSpans in tracing.go (nethttp.Middleware, the span named method + route)"}
	gatewayClient = tracecheck.Hop{Service: "gateway", Kind: tracecheck.KindClient, Name: "POST /orders",
		Todo: "step 02's exercise 02.3: in callCheckout, start a client span as a child of the request's span, and inject its context into the request's headers"}
	checkoutServer = tracecheck.Hop{Service: "checkout", Kind: tracecheck.KindServer, Name: "POST /orders",
		Todo: "step 02's exercise 02.2 traces checkout's server too; it continues the gateway's trace once step 02's exercise 02.3 injects the context into the request"}
	checkoutPlaceOrder = tracecheck.Hop{Service: "checkout", Kind: tracecheck.KindInternal, Name: "place order",
		Todo: "step 02's exercise 02.4: start a \"place order\" span from the request's context around checkout's business logic"}
)

func TestTracerFromEnv(t *testing.T) {
	c := collect(t)
	t.Setenv("JAEGER_SERVICE_NAME", "someone-else")
	tracer, closer, err := newTracer("checkout")
	if err != nil {
		t.Fatalf("newTracer: %v", err)
	}
	tracer.StartSpan("hello").Finish()
	if err := closer.Close(); err != nil {
		t.Fatalf("closing the tracer: %v", err)
	}
	if spans := c.Spans(); len(spans) != 1 || spans[0].Service != "checkout" {
		t.Fatalf("once the tracer was closed, JAEGER_ENDPOINT had received %d span(s), want 1 from service \"checkout\":\n%s"+
			"Look at step 02's exercise 02.1: build the tracer with config.FromEnv(), name it after its service, sample every span "+
			"(a const sampler) unless JAEGER_SAMPLER_TYPE says otherwise, and return its closer, which flushes the spans",
			len(spans), tracecheck.String(spans))
	}

	t.Run("the environment decides the sampler", func(t *testing.T) {
		t.Setenv("JAEGER_SAMPLER_TYPE", "const")
		t.Setenv("JAEGER_SAMPLER_PARAM", "0")
		tracer, closer, err := newTracer("checkout")
		if err != nil {
			t.Fatalf("newTracer: %v", err)
		}
		tracer.StartSpan("not sampled").Finish()
		closer.Close()
		if spans := c.Spans(); len(spans) != 1 {
			t.Errorf("with JAEGER_SAMPLER_TYPE=const and JAEGER_SAMPLER_PARAM=0 the tracer still sampled a span.\n" +
				"Look at step 02's exercise 02.1: default to the const sampler only when the environment sets no sampler type")
		}
	})
	t.Run("a bad setting is an error", func(t *testing.T) {
		t.Setenv("JAEGER_SAMPLER_PARAM", "lots")
		if _, closer, err := newTracer("checkout"); err == nil {
			closer.Close()
			t.Errorf("newTracer with JAEGER_SAMPLER_PARAM=lots returned no error.\n" +
				"Look at step 02's exercise 02.1: return config.FromEnv's error, so a typo does not silently turn tracing off")
		}
	})
}

// TestSpans runs the span checks every traced step shares (workshoptest.RunSpanChecks):
// the server spans, the traceresponse header, the client span, the business span, and what an error is.
func TestSpans(t *testing.T) {
	workshoptest.RunSpanChecks(t, workshoptest.SpanChecks{
		Record: func(t *testing.T) workshoptest.Spans {
			rec := newRecorder(t)
			return workshoptest.Spans{
				Gateway: func(url string) http.Handler {
					tr := rec.tracer("gateway")
					return newGateway(url, tr, workshoptest.DiscardLogger())
				},
				Checkout: func(b broker.Broker) http.Handler {
					return newCheckout(b, rec.tracer("checkout"), workshoptest.DiscardLogger())
				},
				Spans: rec.spans,
			}
		},
		GatewayServer: gatewayServer, CheckoutServer: checkoutServer, PlaceOrder: checkoutPlaceOrder,
		GatewayClient: gatewayClient,
		ClientTags: func(checkoutURL string) map[string]string {
			return map[string]string{"http.method": "POST", "http.url": checkoutURL + "/orders",
				"peer.service": "checkout", "http.status_code": "202"}
		},
		ClientContext: func(t *testing.T, headers http.Header, client tracecheck.Span) {
			sc, err := newRecorder(t).tracer("gateway").Extract(opentracing.HTTPHeaders, opentracing.HTTPHeadersCarrier(headers))
			if err != nil {
				t.Fatalf("checkout's request carries no trace context it can read (uber-trace-id: %q): %v.\n"+
					"Look at step 02's exercise 02.3: tracer.Inject(span.Context(), opentracing.HTTPHeaders, opentracing.HTTPHeadersCarrier(req.Header))",
					headers.Get("uber-trace-id"), err)
			}
			if got := tracecheck.SpanIDHex(uint64(sc.(jaeger.SpanContext).SpanID())); got != client.SpanID {
				t.Errorf("checkout's request carries the context of span %s, not of the client span %s.\n"+
					"Look at step 02's exercise 02.3: inject the client span's context", got, client.SpanID)
			}
		},
		ClientParent: gatewayServer, ClientError: "be an error (error=true)",
		ClientErrorHint: "Look at step 02's exercise 02.3: ext.LogError(span, err) when there is no answer, error=true on a 5xx answer",
		ServerTags: func(route string) map[string]string {
			return map[string]string{"http.method": "POST", "http.route": route, "http.status_code": "202"}
		},
		Healthz: "step 02's exercise 02.2: leave /healthz out with nethttp.MWSpanFilter",
		TraceResponseFormat: "step 02's exercise 02.2: in traceResponse, name the trace and the server span of the request " +
			"(the span in its context) in the traceresponse header",
		TraceResponseSpan: "step 02's exercise 02.2: traceresponse names the request's own server span, with jaeger's trace ID padded to 32 hex digits",
		ServerError:       "Look at step 02's exercise 02.2: nethttp.Middleware sets the error tag on 5xx answers",
		PlaceOrderError:   "error=true and a log record (event=error)", PlaceOrderEvent: "error",
		PlaceOrderHint: "Look at step 02's exercise 02.4: ext.LogError(span, err) where the order fails",
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
// processes that share nothing but RabbitMQ and the collector: their spans form one trace.
func TestOrderTraceAcrossProcesses(t *testing.T) {
	c := newCollector(t)
	f := workshoptest.StartProcesses(t, map[string]string{"JAEGER_ENDPOINT": c.Endpoint()})
	resp := f.PlaceDemoOrder(nil)
	f.WaitReserved(workshoptest.DemoSKU, 2)
	f.Stop() // each process flushes its spans as it exits
	workshoptest.CheckOrderTrace(t, received(t, c), resp, orderTrace(f.Env))
}

// orderTrace is what one order's trace must be: one trace from the gateway through
// RabbitMQ to stock, each span directly under the one before.
func orderTrace(env map[string]string) workshoptest.OrderTrace {
	producer, consumer := publishHop(env["AMQP_EXCHANGE"]), processHop(env["AMQP_QUEUE"])
	return workshoptest.OrderTrace{
		Spans:      []tracecheck.Hop{gatewayServer, gatewayClient, checkoutServer, checkoutPlaceOrder, producer, consumer, stockReserve},
		Continuous: true, TraceResponse: "step 02's exercise 02.2: traceResponse",
		Tagged: []tracecheck.Hop{producer, consumer}, Tags: workshoptest.BrokerTagsIn(env),
		Check: func(t *testing.T, spans []tracecheck.Span) {
			workshoptest.CheckRedisSpans(t, spans, workshoptest.OpenTracingRedisSpans(stockReserve))
		},
	}
}

// publishHop and processHop are the broker's spans, named after the fleet's exchange
// and queue.
func publishHop(exchange string) tracecheck.Hop {
	return tracecheck.Hop{Service: "checkout", Kind: tracecheck.KindProducer, Name: "publish " + exchange,
		Todo: "TODO(03.1): in TracedRabbitBroker.Publish, start a producer span (ext.SpanKindProducer as a start option) " +
			"as a child of the span in ctx, and inject its context into the message's headers"}
}

func processHop(queue string) tracecheck.Hop {
	return tracecheck.Hop{Service: "stock", Kind: tracecheck.KindConsumer, Name: "process " + queue,
		Todo: "TODO(03.2): in TracedRabbitBroker.Consume, extract the context from the message's headers and " +
			"start a consumer span (ext.SpanKindConsumer) as its ChildOf"}
}

var stockReserve = tracecheck.Hop{Service: "stock", Kind: tracecheck.KindInternal, Name: "reserve stock",
	Todo: "TODO(03.2): call the handler with a context that holds the consumer span (opentracing.ContextWithSpan)"}

// recorder keeps the finished spans of the tracers it makes in memory, for the tests of
// one or two services at a time.
type recorder struct {
	t        *testing.T
	reporter *jaeger.InMemoryReporter
}

func newRecorder(t *testing.T) *recorder {
	return &recorder{t: t, reporter: jaeger.NewInMemoryReporter()}
}

// tracer returns a tracer for service that samples every span and records it.
func (r *recorder) tracer(service string) opentracing.Tracer {
	tracer, closer := jaeger.NewTracer(service, jaeger.NewConstSampler(true), r.reporter)
	r.t.Cleanup(func() { closer.Close() })
	return tracer
}

func (r *recorder) spans() []tracecheck.Span {
	return jaegerspans.FromOpenTracing(r.reporter.GetSpans())
}

// collect starts a jaeger collector and points every tracer made from the environment
// during the test at it, through JAEGER_ENDPOINT as in production.
func collect(t *testing.T) *jaegerspans.Collector {
	t.Helper()
	c := newCollector(t)
	t.Setenv("JAEGER_ENDPOINT", c.Endpoint())
	return c
}

// newCollector starts a jaeger collector for the test.
func newCollector(t *testing.T) *jaegerspans.Collector {
	t.Helper()
	c, err := jaegerspans.NewCollector()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// received returns the spans the collector received, and fails the test when there are
// none at all.
func received(t *testing.T, c *jaegerspans.Collector) []tracecheck.Span {
	t.Helper()
	spans := c.Spans()
	if len(spans) == 0 {
		t.Fatalf("no span reached JAEGER_ENDPOINT after the services stopped.\n" +
			"Look at step 02's exercise 02.1: newTracer builds a jaeger tracer with config.FromEnv and returns the closer that flushes it")
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
	workshoptest.CheckRouteTemplate(t, r, rec.spans, "checkout", "serverSpans in tracing.go, unchanged since step 02")
}
