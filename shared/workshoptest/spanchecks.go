package workshoptest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ot2otel/workshop/shared/app"
	"github.com/ot2otel/workshop/shared/broker"
	"github.com/ot2otel/workshop/shared/tracecheck"
)

// Spans is one step's services traced for a test: each constructor returns the service
// tracing into a recorder of the test's own, and Spans what it recorded.
type Spans struct {
	Gateway  func(checkoutURL string) http.Handler
	Checkout func(b broker.Broker) http.Handler
	Spans    func() []tracecheck.Span
	// ServerSpan checks anything else of a server span (nil: nothing).
	ServerSpan func(t *testing.T, hop tracecheck.Hop, span tracecheck.Span)
	// ClientSpan checks anything else of the gateway's client span (nil: nothing).
	ClientSpan func(t *testing.T, hop tracecheck.Hop, span tracecheck.Span)
}

// SpanChecks is what the shared span tests need of one step: its services, its spans
// and the hints its messages give.
type SpanChecks struct {
	// Record returns the step's services, recording into one recorder of the test's own.
	Record func(t *testing.T) Spans
	// GatewayServer, CheckoutServer and PlaceOrder are the spans the tests look at.
	GatewayServer, CheckoutServer, PlaceOrder tracecheck.Hop
	// Tags checks a span's tags or attributes (nil: CheckTags).
	Tags func(t *testing.T, span tracecheck.Span, want map[string]string, todo string)
	// TraceResponseFormat and TraceResponseSpan are the hints when the traceresponse
	// header is malformed and when it names another span.
	TraceResponseFormat, TraceResponseSpan string
	// ServerError follows the spans when a server span's error is wrong ("" for none);
	// PlaceOrderError is what a failed "place order" span must have, PlaceOrderEvent the
	// name of its event, PlaceOrderHint what follows the spans when it has not.
	ServerError                                      string
	PlaceOrderError, PlaceOrderEvent, PlaceOrderHint string
	// ServerTags are the tags or attributes of a server span that answered 202 on
	// route; Healthz is the hint when /healthz is traced ("": none); BadTraceparent: a
	// bad traceparent from a caller never fails a request.
	ServerTags     func(route string) map[string]string
	Healthz        string
	BadTraceparent bool
	// ClientTags are the tags or attributes of the gateway's client span of a call to
	// checkoutURL that got a 202; ClientParent is the span it is under; ClientContext
	// checks the trace context the request to checkout carries. ClientError is what the
	// client span of a failed call must be, ClientErrorHint what follows the spans when
	// it is not.
	ClientTags                   func(checkoutURL string) map[string]string
	ClientParent                 tracecheck.Hop
	ClientContext                func(t *testing.T, headers http.Header, client tracecheck.Span)
	ClientError, ClientErrorHint string
	// Submit, when set, is the gateway's span on the OpenTelemetry API ("submit order",
	// 04–06), between GatewayServer and GatewayClient.
	Submit        *tracecheck.Hop
	GatewayClient tracecheck.Hop
}

// RunSpanChecks runs, as subtests of t, the span tests every traced step shares: the
// traceresponse header, the business span, and what an error is.
func RunSpanChecks(t *testing.T, c SpanChecks) {
	if c.Tags == nil {
		c.Tags = CheckTags
	}
	t.Run("ServerSpans", func(t *testing.T) { testServerSpans(t, c) })
	t.Run("TraceResponse", func(t *testing.T) { testTraceResponse(t, c) })
	t.Run("ClientSpan", func(t *testing.T) { testClientSpan(t, c) })
	t.Run("BusinessSpan", func(t *testing.T) { testBusinessSpan(t, c) })
	t.Run("FailedOrderIsAnError", func(t *testing.T) { testFailedOrderIsAnError(t, c) })
	if c.Submit != nil {
		t.Run("NativeSpan", func(t *testing.T) { testNativeSpan(t, c, *c.Submit) })
	}
}

// testNativeSpan checks the gateway's span on the OpenTelemetry API, "submit order",
// between its server span and its client span: OpenTracing's under the bridge (04, 05),
// otelmux's and otelhttp's in 06.
func testNativeSpan(t *testing.T, c SpanChecks, submit tracecheck.Hop) {
	rec := c.Record(t)
	checkoutURL := FakeCheckout(t, func(w http.ResponseWriter, r *http.Request) {
		app.WriteJSON(w, http.StatusAccepted, map[string]string{"order_id": "ord_test"})
	})
	gateway := httptest.NewServer(rec.Gateway(checkoutURL))
	defer gateway.Close()
	Post(t, gateway.URL+"/checkout", DemoOrder(), http.StatusAccepted)

	spans := rec.Spans()
	if err := tracecheck.CheckParent(spans, submit, c.GatewayServer); err != nil {
		t.Fatal(err)
	}
	if err := tracecheck.CheckParent(spans, c.GatewayClient, submit); err != nil {
		t.Error(err)
	}
	span, _ := tracecheck.Find(spans, submit)
	c.Tags(t, span, map[string]string{"order.lines": "1", "order.quantity": "2"}, submit.Todo)
	if span.Error {
		t.Errorf("the \"submit order\" span of an order checkout accepted is an error.\nLook at %s", submit.Todo)
	}

	for _, tc := range []struct {
		name     string
		checkout http.HandlerFunc
	}{
		{"checkout down", nil},
		{"checkout fails", func(w http.ResponseWriter, r *http.Request) {
			app.WriteError(w, http.StatusInternalServerError, "out of coffee")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := c.Record(t)
			gateway := httptest.NewServer(rec.Gateway(FakeCheckout(t, tc.checkout)))
			defer gateway.Close()
			Post(t, gateway.URL+"/checkout", DemoOrder(), http.StatusBadGateway)
			span, ok := tracecheck.Find(rec.Spans(), submit)
			if !ok || !span.Error {
				t.Errorf("when checkout does not take the order, \"submit order\" must be an error (status Error):\n%s"+
					"Look at %s; span.SetStatus(codes.Error, ...) when the call fails or checkout does not answer 202",
					tracecheck.String(rec.Spans()), submit.Todo)
			}
		})
	}
}

func testServerSpans(t *testing.T, c SpanChecks) {
	rec := c.Record(t)
	checkout := httptest.NewServer(rec.Checkout(Broker(t)))
	defer checkout.Close()
	gateway := httptest.NewServer(rec.Gateway(checkout.URL))
	defer gateway.Close()

	Post(t, gateway.URL+"/checkout", DemoOrder(), http.StatusAccepted)
	for _, url := range []string{gateway.URL, checkout.URL} {
		resp, err := http.Get(url + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}

	spans := rec.Spans()
	for _, tc := range []struct {
		hop   tracecheck.Hop
		route string
	}{{c.GatewayServer, "/checkout"}, {c.CheckoutServer, "/orders"}} {
		span, ok := tracecheck.Find(spans, tc.hop)
		if !ok {
			t.Errorf("no %s span for a request the %s answered 202.\nLook at %s\n\nrecorded spans:\n%s",
				tc.hop, tc.hop.Service, tc.hop.Todo, tracecheck.String(spans))
			continue
		}
		c.Tags(t, span, c.ServerTags(tc.route), tc.hop.Todo)
		if span.Error {
			t.Errorf("the %s span of a 202 is marked as an error.\nLook at %s", tc.hop, tc.hop.Todo)
		}
		if rec.ServerSpan != nil {
			rec.ServerSpan(t, tc.hop, span)
		}
	}
	hint := ""
	if c.Healthz != "" {
		hint = ".\nLook at " + c.Healthz
	}
	for _, s := range spans {
		if s.Attrs["http.route"] == "/healthz" || strings.Contains(s.Name, "healthz") {
			t.Errorf("%s traced /healthz (span %q): health checks would bury the orders%s", s.Service, s.Name, hint)
		}
	}
	if !c.BadTraceparent {
		return
	}
	// A bad traceparent from a caller starts a new trace; it never fails the request.
	for _, bad := range []string{"garbage", "00-00000000000000000000000000000000-00f067aa0ba902b7-01", "00-4bf92f3577b34da6a3ce929d0e0e4736-zzzz"} {
		req, _ := http.NewRequest(http.MethodPost, checkout.URL+"/orders", strings.NewReader(string(DemoOrder().Encode())))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("traceparent", bad)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Errorf("POST /orders with traceparent: %q: %s, want 202: a bad trace context never fails a request", bad, resp.Status)
		}
	}
}

func testTraceResponse(t *testing.T, c SpanChecks) {
	ok := func(w http.ResponseWriter, r *http.Request) {
		app.WriteJSON(w, http.StatusAccepted, map[string]string{"order_id": "ord_test"})
	}
	for _, tc := range []struct {
		name       string
		checkout   http.HandlerFunc // nil: checkout is down
		order      any
		wantStatus int
	}{
		{"accepted", ok, DemoOrder(), http.StatusAccepted},
		{"invalid order", ok, `{"items": []}`, http.StatusBadRequest},
		{"checkout down", nil, DemoOrder(), http.StatusBadGateway},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := c.Record(t)
			gateway := httptest.NewServer(rec.Gateway(FakeCheckout(t, tc.checkout)))
			defer gateway.Close()

			tr := Post(t, gateway.URL+"/checkout", tc.order, tc.wantStatus).Header.Get("traceresponse")
			m := TraceResponseFormat.FindStringSubmatch(tr)
			if m == nil {
				t.Fatalf("the gateway answered %d with traceresponse: %q, want 00-<32 hex trace ID>-<16 hex span ID>-<2 hex flags>.\n"+
					"Look at %s", tc.wantStatus, tr, c.TraceResponseFormat)
			}
			server, found := tracecheck.Find(rec.Spans(), c.GatewayServer)
			if !found || server.TraceID != m[1] || server.SpanID != m[2] || m[3] != "01" {
				t.Errorf("traceresponse: %s, but the gateway's server span is %s/%s (sampled, so flags 01).\n"+
					"Look at %s\n\nrecorded spans:\n%s",
					tr, server.TraceID, server.SpanID, c.TraceResponseSpan, tracecheck.String(rec.Spans()))
			}
		})
	}
}

func testClientSpan(t *testing.T, c SpanChecks) {
	rec := c.Record(t)
	received := make(chan http.Header, 1)
	checkoutURL := FakeCheckout(t, func(w http.ResponseWriter, r *http.Request) {
		received <- r.Header.Clone()
		app.WriteJSON(w, http.StatusAccepted, map[string]string{"order_id": "ord_test"})
	})
	gateway := httptest.NewServer(rec.Gateway(checkoutURL))
	defer gateway.Close()
	Post(t, gateway.URL+"/checkout", DemoOrder(), http.StatusAccepted)

	spans := rec.Spans()
	if err := tracecheck.CheckChain(spans, c.GatewayClient); err != nil {
		t.Fatal(err)
	}
	client, _ := tracecheck.Find(spans, c.GatewayClient)
	c.Tags(t, client, c.ClientTags(checkoutURL), c.GatewayClient.Todo)
	if rec.ClientSpan != nil {
		rec.ClientSpan(t, c.GatewayClient, client)
	}
	c.ClientContext(t, <-received, client)
	if err := tracecheck.CheckParent(spans, c.GatewayClient, c.ClientParent); err != nil {
		t.Error(err)
	}

	for _, tc := range []struct {
		name     string
		checkout http.HandlerFunc
	}{
		{"checkout down", nil},
		{"checkout fails", func(w http.ResponseWriter, r *http.Request) {
			app.WriteError(w, http.StatusInternalServerError, "out of coffee")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := c.Record(t)
			gateway := httptest.NewServer(rec.Gateway(FakeCheckout(t, tc.checkout)))
			defer gateway.Close()
			Post(t, gateway.URL+"/checkout", DemoOrder(), http.StatusBadGateway)
			span, ok := tracecheck.Find(rec.Spans(), c.GatewayClient)
			if !ok || !span.Error {
				t.Errorf("when the call to checkout fails, the gateway's client span must %s:\n%s%s",
					c.ClientError, tracecheck.String(rec.Spans()), c.ClientErrorHint)
			}
		})
	}
}

func testBusinessSpan(t *testing.T, c SpanChecks) {
	rec := c.Record(t)
	checkout := httptest.NewServer(rec.Checkout(Broker(t)))
	defer checkout.Close()
	resp := Post(t, checkout.URL+"/orders", DemoOrder(), http.StatusAccepted)

	spans := rec.Spans()
	if err := tracecheck.CheckParent(spans, c.PlaceOrder, c.CheckoutServer); err != nil {
		t.Fatal(err)
	}
	span, _ := tracecheck.Find(spans, c.PlaceOrder)
	c.Tags(t, span, map[string]string{"order.id": resp.OrderID()}, c.PlaceOrder.Todo)
	if span.Error {
		t.Errorf("the \"place order\" span of an accepted order is an error.\nLook at %s", c.PlaceOrder.Todo)
	}
}

// testFailedOrderIsAnError pins what an error is. The HTTP server spans follow HTTP: a
// 5xx is the server's failure, an error; a 4xx is the caller's, not an error of the
// server. The business span follows the business: an order that could not be placed,
// invalid or unrecorded, is an error, with an event (OpenTracing: a log record) saying why.
func testFailedOrderIsAnError(t *testing.T, c SpanChecks) {
	refusing := broker.NewMemory(broker.Config{Exchange: "closed", Queue: "closed"})
	refusing.Close() // every publish fails
	for _, tc := range []struct {
		name        string
		b           broker.Broker
		order       any
		status      int
		serverError bool
	}{
		{"the broker refuses the order", refusing, DemoOrder(), http.StatusServiceUnavailable, true},
		{"invalid order", Broker(t), `{"customer_id": "c1", "items": []}`, http.StatusBadRequest, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := c.Record(t)
			checkout := httptest.NewServer(rec.Checkout(tc.b))
			defer checkout.Close()
			Post(t, checkout.URL+"/orders", tc.order, tc.status)

			spans := rec.Spans()
			if server, ok := tracecheck.Find(spans, c.CheckoutServer); !ok || server.Error != tc.serverError {
				t.Errorf("checkout answered %d: want a server span with error=%v (5xx is an error, 4xx is not):\n%s%s",
					tc.status, tc.serverError, tracecheck.String(spans), c.ServerError)
			}
			span, ok := tracecheck.Find(spans, c.PlaceOrder)
			if !ok || !span.Error || !HasEvent(span, c.PlaceOrderEvent) {
				t.Errorf("checkout answered %d: want a \"place order\" span with %s saying why:\n%s%s",
					tc.status, c.PlaceOrderError, tracecheck.String(spans), c.PlaceOrderHint)
			}
		})
	}
}

// OpenTracingClientTags are the tags of the gateway's OpenTracing client span of a
// call to checkoutURL that got a 202, in every step whose gateway traces with
// OpenTracing (02–05).
func OpenTracingClientTags(checkoutURL string) map[string]string {
	return map[string]string{"http.method": "POST", "http.url": checkoutURL + "/orders",
		"peer.service": "checkout", "http.status_code": "202"}
}

// OpenTracingServerTags are the tags of an OpenTracing server span that answered 202
// on route (nethttp.Middleware's, steps 02–05).
func OpenTracingServerTags(route string) map[string]string {
	return map[string]string{"http.method": "POST", "http.route": route, "http.status_code": "202"}
}
