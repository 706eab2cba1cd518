package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	jaegerclient "github.com/uber/jaeger-client-go"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/ot2otel/workshop/shared/app"
	"github.com/ot2otel/workshop/shared/broker"
	"github.com/ot2otel/workshop/shared/shop"
	"github.com/ot2otel/workshop/shared/tracecheck"
	"github.com/ot2otel/workshop/shared/workshoptest"
)

// These tests check what makes one trace of a fleet that speaks two formats: the
// OpenTelemetry services read and write uber-trace-id as well as traceparent (TODO(05.1)),
// and the legacy service makes trace IDs as wide as theirs (TODO(05.2)).

// An example span context in both formats: the W3C specification's IDs.
const (
	exampleTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	exampleSpanID  = "00f067aa0ba902b7"
)

func TestPropagator(t *testing.T) {
	prop := fleetPropagator(t)
	traceID, _ := trace.TraceIDFromHex(exampleTraceID)
	spanID, _ := trace.SpanIDFromHex(exampleSpanID)
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: traceID, SpanID: spanID, TraceFlags: trace.FlagsSampled})
	member, _ := baggage.NewMember("customer", "c1")
	bag, _ := baggage.New(member)
	ctx := baggage.ContextWithBaggage(trace.ContextWithSpanContext(context.Background(), sc), bag)
	carrier := propagation.MapCarrier{}
	prop.Inject(ctx, carrier)

	for k, v := range map[string]string{
		"traceparent":   "00-" + exampleTraceID + "-" + exampleSpanID + "-01",
		"baggage":       "customer=c1",
		"uber-trace-id": exampleTraceID + ":" + exampleSpanID + ":0:1",
	} {
		if carrier[k] != v {
			t.Errorf("newPropagator injected %v, want %s: %q.\nLook at %s", carrier, k, v,
				propagatorHint("tracecontext, baggage and jaeger in defaultPropagators"))
		}
	}

	for _, tc := range []struct {
		name    string
		carrier propagation.MapCarrier
		want    string // trace ID/span ID of the context extracted
	}{
		{"traceparent", propagation.MapCarrier{"traceparent": "00-" + exampleTraceID + "-" + exampleSpanID + "-01"},
			exampleTraceID + "/" + exampleSpanID},
		{"a 128-bit uber-trace-id", propagation.MapCarrier{"uber-trace-id": exampleTraceID + ":" + exampleSpanID + ":0:1"},
			exampleTraceID + "/" + exampleSpanID},
		{"a 64-bit uber-trace-id, padded with zeros", propagation.MapCarrier{"uber-trace-id": "a3ce929d0e0e4736:" + exampleSpanID + ":0:1"},
			"0000000000000000a3ce929d0e0e4736/" + exampleSpanID},
		{"both, disagreeing: a legacy hop passed a stale traceparent on", propagation.MapCarrier{
			"traceparent":   "00-" + exampleTraceID + "-" + exampleSpanID + "-01",
			"uber-trace-id": exampleTraceID + ":b7ad6b7169203331:" + exampleSpanID + ":1"},
			exampleTraceID + "/b7ad6b7169203331"},
	} {
		got := trace.SpanContextFromContext(prop.Extract(context.Background(), tc.carrier))
		if id := got.TraceID().String() + "/" + got.SpanID().String(); id != tc.want {
			t.Errorf("newPropagator extracted %s from %s %v, want %s.\nLook at %s", id, tc.name, tc.carrier, tc.want,
				propagatorHint("jaeger in defaultPropagators, after tracecontext: when both formats carry a context, the last propagator that finds one wins"))
		}
	}
}

// TestLegacyTracing checks checkout's jaeger-client tracer: step 03's, with 128-bit trace
// IDs unless JAEGER_TRACEID_128BIT says otherwise.
func TestLegacyTracing(t *testing.T) {
	c := collect(t)
	t.Setenv("JAEGER_SERVICE_NAME", "someone-else")
	start := func(t *testing.T) tracecheck.Span {
		t.Helper()
		tr, err := newLegacyTracing("checkout")
		if err != nil {
			t.Fatalf("newLegacyTracing: %v", err)
		}
		before := len(c.jaeger.Spans())
		tr.Tracer.StartSpan("hello").Finish()
		if err := tr.Shutdown(context.Background()); err != nil {
			t.Fatalf("closing the tracer: %v", err)
		}
		spans := c.jaeger.Spans()
		if len(spans) != before+1 || spans[before].Service != "checkout" {
			t.Fatalf("once the tracer was closed, JAEGER_ENDPOINT had received %d new span(s), want 1 from service \"checkout\":\n%s",
				len(spans)-before, tracecheck.String(spans))
		}
		return spans[before]
	}

	if span := start(t); strings.HasPrefix(span.TraceID, "0000000000000000") {
		t.Errorf("checkout's jaeger-client tracer started trace %s: a 64-bit trace ID. A trace that starts in the legacy "+
			"service must be as wide as OpenTelemetry's, or it reaches the OpenTelemetry services as a W3C trace ID with "+
			"sixteen leading zeros.\nLook at TODO(05.2): cfg.Gen128Bit = true in newLegacyTracing, unless "+
			"JAEGER_TRACEID_128BIT is set", span.TraceID)
	}
	t.Run("the environment decides", func(t *testing.T) {
		t.Setenv("JAEGER_TRACEID_128BIT", "false")
		if span := start(t); !strings.HasPrefix(span.TraceID, "0000000000000000") {
			t.Errorf("with JAEGER_TRACEID_128BIT=false checkout's tracer still started a 128-bit trace (%s).\n"+
				"Look at TODO(05.2): make the IDs 128-bit only when JAEGER_TRACEID_128BIT is not set", span.TraceID)
		}
	})
}

// TestTraceBreaksWithoutJaegerPropagator shows why TODO(05.1) is needed. With W3C alone
// on the OpenTelemetry side, as in step 04, the legacy checkout reads nothing of what the
// gateway sends, and stock reads nothing of what checkout publishes: the order is three
// traces. With newPropagator it is one.
func TestTraceBreaksWithoutJaegerPropagator(t *testing.T) {
	for _, tc := range []struct {
		name      string
		prop      propagation.TextMapPropagator
		wantBreak bool
	}{
		{"W3C only, as in step 04", w3c, true},
		{"newPropagator", fleetPropagator(t), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder(t)
			b := workshoptest.Broker(t)
			info := b.Info()
			gateway, stock, checkout := rec.tracingWith("gateway", tc.prop), rec.tracingWith("stock", tc.prop), rec.legacyTracer("checkout")
			checkoutSrv := httptest.NewServer(newCheckout(NewTracedRabbitBroker(b, checkout), checkout, workshoptest.DiscardLogger()))
			defer checkoutSrv.Close()
			gatewaySrv := httptest.NewServer(newGateway(checkoutSrv.URL, gateway.Tracer, gateway.Provider, workshoptest.DiscardLogger()))
			defer gatewaySrv.Close()
			workshoptest.Post(t, gatewaySrv.URL+"/checkout", workshoptest.DemoOrder(), http.StatusAccepted)
			consumeOne(t, NewTracedRabbitBroker(b, stock.Tracer), reserveStock(shop.NewLedger(shop.DemoCatalogue()).Stock(), stock.Tracer, workshoptest.DiscardLogger()))

			spans := rec.spans()
			hops := []struct {
				name          string
				child, parent tracecheck.Hop
			}{
				{"OpenTelemetry → jaeger-client over HTTP", checkoutServer, gatewayClient},
				{"jaeger-client → OpenTelemetry over AMQP", processHop(info.Queue), publishHop(info.Exchange)},
			}
			for _, hop := range hops {
				err := tracecheck.CheckParent(spans, hop.child, hop.parent)
				switch {
				case tc.wantBreak && err == nil:
					t.Errorf("%s: with W3C alone the trace should break, but it did not:\n%s", hop.name, tracecheck.String(spans))
				case tc.wantBreak:
					t.Logf("As expected with W3C alone, %s breaks: %s", hop.name, strings.SplitN(err.Error(), "\n", 2)[0])
				case err != nil:
					t.Errorf("%s: %v", hop.name, err)
				}
			}
			if !tc.wantBreak {
				if err := tracecheck.CheckContinuous(spans); err != nil {
					t.Errorf("with newPropagator the order is one trace: %v\nLook at TODO(05.1)", err)
				}
			}
		})
	}
}

// TestHeadersOnTheWire checks what the services send, wired as main wires them: the
// gateway's request to checkout carries both formats, for the same span; the message
// checkout publishes carries uber-trace-id, 128 bits wide.
func TestHeadersOnTheWire(t *testing.T) {
	collect(t)
	t.Run("HTTP, from the gateway", func(t *testing.T) {
		tr, err := newTracing("gateway", fleetPropagator(t), workshoptest.DiscardLogger())
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
		workshoptest.Post(t, gateway.URL+"/checkout", workshoptest.DemoOrder(), http.StatusAccepted)
		headers := <-received

		fromW3C := trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(), propagation.HeaderCarrier(headers)))
		fromJaeger, err := jaegerclient.ContextFromString(headers.Get("uber-trace-id"))
		if err != nil {
			t.Fatalf("the request to checkout carries traceparent %q but no uber-trace-id jaeger-client can read (%q: %v): "+
				"checkout, still on jaeger-client, starts a new trace.\nLook at TODO(05.1): jaeger in defaultPropagators, the names newPropagator reads",
				headers.Get("traceparent"), headers.Get("uber-trace-id"), err)
		}
		if !fromW3C.IsValid() || fromJaeger.TraceID().String() != fromW3C.TraceID().String() ||
			tracecheck.SpanIDHex(uint64(fromJaeger.SpanID())) != fromW3C.SpanID().String() {
			t.Errorf("traceparent %q and uber-trace-id %q name different spans: both are the client span's context.\n"+
				"Look at TODO(05.1)", headers.Get("traceparent"), headers.Get("uber-trace-id"))
		}
	})
	t.Run("AMQP, from the legacy checkout", func(t *testing.T) {
		tr, err := newLegacyTracing("checkout")
		if err != nil {
			t.Fatalf("newLegacyTracing: %v", err)
		}
		defer tr.Shutdown(context.Background())
		b := workshoptest.Broker(t)
		checkout := httptest.NewServer(newCheckout(NewTracedRabbitBroker(b, tr.Tracer), tr.Tracer, workshoptest.DiscardLogger()))
		defer checkout.Close()
		workshoptest.Post(t, checkout.URL+"/orders", workshoptest.DemoOrder(), http.StatusAccepted)
		msg := workshoptest.ReceiveOne(t, b)
		raw, _ := msg.Headers["uber-trace-id"].(string)
		sc, err := jaegerclient.ContextFromString(raw)
		if err != nil {
			t.Fatalf("the message checkout published carries no uber-trace-id (headers %v): %v", msg.Headers, err)
		}
		if sc.TraceID().High == 0 {
			t.Errorf("the message checkout published carries uber-trace-id %q: a 64-bit trace ID, which stock pads with "+
				"sixteen zeros.\nLook at TODO(05.2): 128-bit trace IDs in newLegacyTracing (cfg.Gen128Bit)", raw)
		}
	})
}

// TestLegacyStartsTheTrace sends the order to checkout directly, as a service that is
// not the gateway would: the trace starts in the legacy service, on jaeger-client, and
// continues in stock, on OpenTelemetry, with one 128-bit trace ID.
func TestLegacyStartsTheTrace(t *testing.T) {
	c := collect(t)
	f := workshoptest.Start(t, run, nil)
	resp, err := f.Post(context.Background(), f.CheckoutURL+"/orders", workshoptest.DemoOrder(), nil)
	if err != nil || resp.Status != http.StatusAccepted {
		t.Fatalf("POST /orders: %v %d %s, want 202", err, resp.Status, resp.Body)
	}
	f.WaitReserved(workshoptest.DemoSKU, 2)
	f.Stop()
	spans := c.received(t)

	root, ok := tracecheck.Find(spans, checkoutServer)
	if !ok {
		t.Fatalf("no %s span:\n%s", checkoutServer, tracecheck.String(spans))
	}
	if strings.HasPrefix(root.TraceID, "0000000000000000") {
		t.Errorf("the trace checkout started is %s: 64 bits, padded with zeros wherever it goes next.\n"+
			"Look at TODO(05.2): 128-bit trace IDs in newLegacyTracing (cfg.Gen128Bit), unless JAEGER_TRACEID_128BIT is set", root.TraceID)
	}
	producer, consumer := publishHop(f.Env["AMQP_EXCHANGE"]), processHop(f.Env["AMQP_QUEUE"])
	if err := tracecheck.CheckChain(spans, checkoutServer, checkoutPlaceOrder, producer, consumer, stockReserve); err != nil {
		t.Error(err)
	}
	if err := tracecheck.CheckParent(spans, consumer, producer); err != nil {
		t.Error(err)
	}
}

// TestBadHTTPHeaders sends each side of the mixed fleet trace headers of both formats,
// good and bad. A header a service cannot read starts a new trace; it never fails the
// request. What each side can read differs.
func TestBadHTTPHeaders(t *testing.T) {
	const (
		root      = "" // a new trace
		continues = exampleTraceID + "/" + exampleSpanID
	)
	for _, tc := range []struct {
		name    string
		service string // "gateway" (OpenTelemetry, newPropagator) or "checkout" (jaeger-client)
		headers map[string]string
		want    string // trace ID/parent span ID of the server span, or root
	}{
		{"garbage traceparent", "gateway", map[string]string{"traceparent": "garbage"}, root},
		{"all-zero traceparent", "gateway", map[string]string{"traceparent": "00-00000000000000000000000000000000-" + exampleSpanID + "-01"}, root},
		{"garbage uber-trace-id", "gateway", map[string]string{"uber-trace-id": "not:a:trace:context"}, root},
		{"uber-trace-id of three fields", "gateway", map[string]string{"uber-trace-id": exampleTraceID + ":" + exampleSpanID + ":1"}, root},
		// jaeger-client-go does not URL-encode uber-trace-id, but older jaeger clients
		// (Java, Node) did, and jaeger-client-go decodes it: so does newPropagator
		// (edge.ReadURLEncodedJaeger), or migrating a service would break such a caller.
		{"URL-encoded uber-trace-id", "gateway", map[string]string{"uber-trace-id": exampleTraceID + "%3A" + exampleSpanID + "%3A0%3A1"}, continues},
		{"URL-encoded uber-trace-id, lower case", "gateway", map[string]string{"uber-trace-id": exampleTraceID + "%3a" + exampleSpanID + "%3a0%3a1"}, continues},
		{"uber-trace-id", "gateway", map[string]string{"uber-trace-id": exampleTraceID + ":" + exampleSpanID + ":0:1"}, continues},
		{"64-bit uber-trace-id", "gateway", map[string]string{"uber-trace-id": "a3ce929d0e0e4736:" + exampleSpanID + ":0:1"},
			"0000000000000000a3ce929d0e0e4736/" + exampleSpanID},
		{"good traceparent, garbage uber-trace-id", "gateway", map[string]string{
			"traceparent": "00-" + exampleTraceID + "-" + exampleSpanID + "-01", "uber-trace-id": "garbage"}, continues},

		{"traceparent only", "checkout", map[string]string{"traceparent": "00-" + exampleTraceID + "-" + exampleSpanID + "-01"}, root},
		{"garbage uber-trace-id", "checkout", map[string]string{"uber-trace-id": "not:a:trace:context"}, root},
		{"URL-encoded uber-trace-id", "checkout", map[string]string{"uber-trace-id": exampleTraceID + "%3A" + exampleSpanID + "%3A0%3A1"}, continues},
		{"uber-trace-id", "checkout", map[string]string{"uber-trace-id": exampleTraceID + ":" + exampleSpanID + ":0:1"}, continues},
	} {
		t.Run(tc.service+"/"+tc.name, func(t *testing.T) {
			rec := newRecorder(t)
			var srv *httptest.Server
			var url string
			var hop tracecheck.Hop
			if tc.service == "gateway" {
				tr := rec.tracingWith("gateway", fleetPropagator(t))
				checkoutURL := workshoptest.FakeCheckout(t, func(w http.ResponseWriter, r *http.Request) {
					app.WriteJSON(w, http.StatusAccepted, map[string]string{"order_id": "ord_test"})
				})
				srv = httptest.NewServer(newGateway(checkoutURL, tr.Tracer, tr.Provider, workshoptest.DiscardLogger()))
				url, hop = srv.URL+"/checkout", gatewayServer
			} else {
				tracer := rec.legacyTracer("checkout")
				srv = httptest.NewServer(newCheckout(workshoptest.Broker(t), tracer, workshoptest.DiscardLogger()))
				url, hop = srv.URL+"/orders", checkoutServer
			}
			defer srv.Close()

			req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(string(workshoptest.DemoOrder().Encode())))
			req.Header.Set("Content-Type", "application/json")
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				t.Fatalf("POST with %v: %s, want 202: a trace context never fails a request", tc.headers, resp.Status)
			}
			span, ok := tracecheck.Find(rec.spans(), hop)
			if !ok {
				t.Fatalf("no %s span:\n%s", hop, tracecheck.String(rec.spans()))
			}
			got := root
			if span.ParentID != "" {
				got = span.TraceID + "/" + span.ParentID
			}
			if got != tc.want {
				t.Errorf("the %s server span of a request with %v continues %q, want %q (\"\" is a new trace).\n"+
					"Look at %s", tc.service, tc.headers, got, tc.want, propagatorHint("the OpenTelemetry services read "+
					"uber-trace-id with jaeger, after tracecontext in defaultPropagators"))
			}
		})
	}
}

// consumeOne consumes from b until h has handled one message, and fails the test if none
// arrives within five seconds.
func consumeOne(t *testing.T, b broker.Broker, h broker.Handler) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var once sync.Once
	handled := false
	err := b.Consume(ctx, func(ctx context.Context, msg broker.Message) error {
		err := h(ctx, msg)
		once.Do(func() { handled = true; cancel() })
		return err
	})
	if err != nil {
		t.Fatalf("consume: %v", err)
	}
	if !handled {
		t.Fatal("no message arrived within 5s")
	}
}

// fleetPropagator is newPropagator as a service starts it with OTEL_PROPAGATORS unset:
// defaultPropagators. With t nil, it returns nil when that fails.
func fleetPropagator(t testing.TB) propagation.TextMapPropagator {
	p, err := newPropagator(func(string) string { return "" })
	if err != nil && t != nil {
		t.Helper()
		t.Fatalf("newPropagator, with OTEL_PROPAGATORS unset: %v.\nLook at TODO(05.1): defaultPropagators is a "+
			"comma-separated list of the names OTEL_PROPAGATORS takes", err)
	}
	return p
}

// propagatorHint names what defaultPropagators lacks, if anything, and otherwise otherwise.
func propagatorHint(otherwise string) string {
	p := fleetPropagator(nil)
	if p == nil {
		_, err := newPropagator(func(string) string { return "" })
		return "TODO(05.1): defaultPropagators does not parse: " + err.Error()
	}
	var missing []string
	for _, f := range []struct{ field, name string }{
		{"traceparent", "tracecontext (traceparent, what the OpenTelemetry services speak)"},
		{"baggage", "baggage (W3C's baggage header)"},
		{"uber-trace-id", "jaeger (uber-trace-id, all that a jaeger-client neighbour reads and writes)"},
	} {
		if !slices.Contains(p.Fields(), f.field) {
			missing = append(missing, f.name)
		}
	}
	if len(missing) == 0 {
		return "TODO(05.1): " + otherwise
	}
	return "TODO(05.1): defaultPropagators (" + defaultPropagators + ") lacks " + strings.Join(missing, " and ") +
		", so that format is neither read nor written"
}
