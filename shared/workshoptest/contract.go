package workshoptest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"

	"github.com/ot2otel/workshop/shared/app"
	"github.com/ot2otel/workshop/shared/broker"
	"github.com/ot2otel/workshop/shared/fleet"
	"github.com/ot2otel/workshop/shared/shop"
	"github.com/ot2otel/workshop/shared/shop/redisledger"
)

// Step is what the contract suite needs of one step: how to run its system, how to
// build checkout's handler and stock's message handler with a tracer that records
// nothing, and what to tell an attendee when a check fails.
type Step struct {
	Run         fleet.RunFunc
	NewCheckout func(b broker.Broker, logger *slog.Logger) http.Handler
	NewReserve  func(ledger shop.Stock, logger *slog.Logger) broker.Handler
	// Hints name what to look at when a service's log lines lack the request ID. A step
	// whose exercise is not the correlation ID leaves them empty: the ID was carried
	// since step 01, so the hint points there, not at a TODO the step does not have.
	Hints CorrelationHints
	// Demo lists what the demo's output must say; nil: the step has no demo check.
	Demo []string
	// Globals are the tracing globals the step's services must leave alone.
	Globals Globals
	// Edge is what the step's gateway passes on from a caller it does not know
	// (TestContract/PublicEdge); a step without tracing leaves it empty.
	Edge EdgeStep
	// Trace is how the step's order trace is collected and what it must be
	// (TestContract/OrderTrace and OrderTraceAcrossProcesses); empty: not checked here.
	Trace OrderTraces
	// TracerLogs check that the step's tracers report their own errors to the
	// services' log (TestContract/TracerLogs/<name>).
	TracerLogs []LogCheck
	// SamplingTodo names what to look at when the services do not sample as the
	// standard variables say (TestContract/Sampling); empty: Edge.Todo.
	SamplingTodo string
	// Propagators: the services take their propagators from OTEL_PROPAGATORS
	// (TestContract/Propagators); empty for the steps before OpenTelemetry.
	Propagators PropagatorsStep
}

func (s Step) samplingTodo() string {
	if s.SamplingTodo != "" {
		return s.SamplingTodo
	}
	return s.Edge.Todo
}

// CorrelationHints name, per service, what to look at when the request ID is lost.
type CorrelationHints struct {
	Gateway, Checkout, Stock string // a service's log lines lack the ID
	Message                  string // checkout published no x-request-id header
	Header                   string // stock did not read the header
}

func (h CorrelationHints) or(hint, what string) string {
	if hint != "" {
		return hint
	}
	return what + " has worked since step 01 (compare with solutions/01-untraced): this step's changes broke it"
}

func (h CorrelationHints) service(service string) string {
	switch service {
	case "gateway":
		return h.or(h.Gateway, "the gateway's request ID")
	case "checkout":
		return h.or(h.Checkout, "checkout's request ID")
	}
	return h.or(h.Stock, "stock's request ID")
}

// Contract runs the checks of the contract every step keeps: the HTTP API, the order
// flow, bad input, a checkout that is down or slow, redelivery, correlation (step 01's
// exercise), the command line, separate processes and the demo; and, for a traced
// step, the order's trace, the public edge and the tracers' own logs.
func Contract(t *testing.T, s Step) {
	// A checkout that takes the call and never answers is a 504, after the gateway's
	// timeout (checkoutTimeout): the order is placed first, in the background (by Main,
	// before the package's first test), on a fleet of its own (its own ports, exchange,
	// queue and ledger, so nothing else sees it), and checked last, so that the wait
	// overlaps the other checks.
	timesOut := checkoutTimesOut(t, s.Run)
	// The subtests marked parallel run at once, after the others, which go one at a
	// time: each of them starts a fleet of its own (its own ports, exchange, queue and
	// Redis keys) and reads only that fleet's answers, ledger and log; none sets an
	// environment variable (t.Setenv forbids it), installs a process-wide global or
	// reads OpenTelemetry's error handler, whose records go to the latest fleet's log.
	// Those that do (the order's trace, sampling, the edge, the propagators, the
	// tracers' own logs, the globals) stay in the sequence; so does CheckoutUnreachable,
	// whose closed port a fleet started meanwhile could take.
	t.Run("OrderFlow", func(t *testing.T) {
		t.Parallel() // see above: a fleet of its own
		f := Start(t, s.Run, nil)
		resp := f.PlaceDemoOrder(nil)
		if !strings.HasPrefix(resp.OrderID(), "ord_") {
			t.Errorf("order_id = %q, want an ID starting with ord_", resp.OrderID())
		}
		f.WaitReserved(DemoSKU, 2)
		item, err := f.Stock(context.Background(), DemoSKU)
		if err != nil {
			t.Fatal(err)
		}
		if item.Reserved != 2 || item.Available != 98 {
			t.Errorf("stock after one order of 2 = %+v, want 98 available and 2 reserved", item)
		}
		checkLedgerInRedis(t, f.Fleet, DemoSKU, 2)
		t.Run("ErrorsAreJSON", func(t *testing.T) { ErrorsAreJSON(t, f) })
	})
	t.Run("BadOrders", func(t *testing.T) { t.Parallel(); badOrders(t, s.Run) }) // a fleet of its own
	t.Run("CheckoutUnreachable", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		closed := "http://" + ln.Addr().String()
		ln.Close()
		f := Start(t, s.Run, map[string]string{"CHECKOUT_URL": closed})
		resp := f.PlaceOrder(DemoOrder(), nil)
		if resp.Status != http.StatusBadGateway || resp.Error() == "" {
			t.Errorf("with checkout down: got %d %s, want 502 with a JSON error", resp.Status, resp.Body)
		}
	})
	// A 200 KB X-Request-ID neither fails the order nor closes checkout's connection to the broker.
	t.Run("OversizedRequestID", func(t *testing.T) { t.Parallel(); OversizedRequestID(t, s.Run) })
	// A topology and a ledger of its own, and stock's handler, no fleet.
	t.Run("RedeliveryReservesOnce", func(t *testing.T) { t.Parallel(); redeliveryReservesOnce(t, s) })
	t.Run("Correlation", func(t *testing.T) { t.Parallel(); Correlation(t, s) }) // see Correlation
	t.Run("Usage", func(t *testing.T) {
		for _, args := range [][]string{{"shop"}, {"shop", "nope"}, {"shop", "all", "extra"}} {
			err := s.Run(context.Background(), args, func(string) string { return "" }, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), "usage:") {
				t.Errorf("run(%q) = %v, want a usage error", args, err)
			}
		}
	})
	t.Run("SeparateProcesses", func(t *testing.T) {
		// Processes of their own, with the environment the tests in the sequence left
		// (parallel subtests start after the last of them has restored its variables).
		t.Parallel()
		f := StartProcesses(t, nil)
		f.PlaceDemoOrder(nil)
		f.WaitReserved(DemoSKU, 2)
		checkLedgerInRedis(t, f.Fleet, DemoSKU, 2)
		f.Stop() // fails the test unless each process exits 0 on SIGTERM
	})
	if s.Trace.Collect != nil {
		t.Run("OrderTrace", func(t *testing.T) {
			_, received := s.Trace.Collect(t)
			f := Start(t, s.Run, nil)
			resp := f.PlaceDemoOrder(nil)
			f.WaitReserved(DemoSKU, 2)
			if s.Trace.StockAPI.Name != "" {
				f.AskStock()
			}
			f.Stop() // stopping flushes every service's spans
			spans := received()
			if s.Trace.StockAPI.Name != "" {
				spans = CheckStockAPI(t, spans, s.Trace.StockAPI)
			}
			CheckOrderTrace(t, spans, resp, s.Trace.Want(f.Env, resp.OrderID()))
		})
		// Three processes that share nothing but RabbitMQ and the collectors, as
		// deployed: their spans form one trace too.
		t.Run("OrderTraceAcrossProcesses", func(t *testing.T) {
			env, received := s.Trace.Collect(t)
			f := StartProcesses(t, env)
			resp := f.OrderAndStop() // each process flushes its spans as it exits
			CheckOrderTrace(t, received(), resp, s.Trace.Want(f.Env, resp.OrderID()))
		})
	}
	if s.Trace.Collect != nil && s.Edge.Collect != nil {
		// One decision per trace, made at the root and followed by every service.
		t.Run("Sampling", func(t *testing.T) { Sampling(t, s.Run, s.Edge, s.Trace.Collect, s.Trace.Want, s.samplingTodo()) })
	}
	if s.Edge.Collect != nil {
		t.Run("PublicEdge", func(t *testing.T) {
			edge := s.Edge
			edge.Run = s.Run
			CheckEdge(t, edge)
		})
	}
	if s.Propagators.Todo != "" {
		t.Run("Propagators", func(t *testing.T) { CheckPropagatorsFromEnv(t, s.Run, s.Propagators) })
	}
	if len(s.TracerLogs) > 0 {
		t.Run("TracerLogs", func(t *testing.T) {
			// Each check runs in a process of its own (InOwnProcess), where it sets its
			// variables and owns OpenTelemetry's error handler: here it only waits for
			// that process, so it runs beside the other parallel subtests. In that
			// process it is the only test, and must not be parallel (t.Setenv).
			parallel := os.Getenv(ownProcessEnv) == ""
			if parallel {
				t.Parallel()
			}
			for _, c := range s.TracerLogs {
				t.Run(c.Name, func(t *testing.T) {
					if parallel {
						t.Parallel()
					}
					c.check(t, s.Run)
				})
			}
		})
	}
	if len(s.Globals.Sentinels) > 0 {
		t.Run("NoTracingGlobals", func(t *testing.T) { checkNoGlobals(t, s) })
	}
	if s.Demo != nil {
		t.Run("Demo", func(t *testing.T) {
			// A fleet of its own; what the demo prints is checked for lines it must
			// have, which another fleet's OpenTelemetry errors cannot take away.
			t.Parallel()
			CheckBroker(t)
			pinTestExporter()
			var out bytes.Buffer
			if err := s.Run(context.Background(), []string{"shop", "demo"}, os.Getenv, &out); err != nil {
				t.Fatalf("demo: %v\n%s", err, out.String())
			}
			for _, want := range s.Demo {
				if !strings.Contains(out.String(), want) {
					t.Errorf("the demo's output lacks %q:\n%s", want, out.String())
				}
			}
		})
	}
	t.Run("CheckoutTimesOut", func(t *testing.T) {
		t.Parallel() // the order's fleet is its own (see above); this waits for its answer
		if timesOut == nil {
			timesOut = StartCheckoutTimesOut(t, s.Run)
		}
		timesOut.Check(t)
	})
}

func badOrders(t *testing.T, run fleet.RunFunc) {
	f := Start(t, run, nil)
	for _, tc := range []struct {
		name, body, wantErr string
	}{
		{"malformed JSON", `{"customer_id": "c1", "items": [`, "malformed JSON"},
		{"not an object", `[1, 2, 3]`, "malformed JSON"},
		{"unknown field", `{"customer_id": "c1", "items": [{"sku": "trace-mug", "quantity": 1}], "coupon": "FREE"}`, "coupon is not a field of an order"},
		{"trailing data", `{"customer_id": "c1", "items": [{"sku": "trace-mug", "quantity": 1}]} {}`, "malformed JSON"},
		{"mistyped quantity", `{"customer_id": "c1", "items": [{"sku": "trace-mug", "quantity": "two"}]}`, "items[0].quantity must be a whole number"},
		{"mistyped customer", `{"customer_id": 7, "items": [{"sku": "trace-mug", "quantity": 1}]}`, "customer_id must be a string"},
		{"unknown SKU", `{"customer_id": "c1", "items": [{"sku": "unicorn", "quantity": 1}]}`, `items[0].sku "unicorn" is not in the catalogue`},
		{"no customer", `{"items": [{"sku": "trace-mug", "quantity": 1}]}`, "customer_id is required"},
		{"no items", `{"customer_id": "c1", "items": []}`, "items must list at least one item"},
		{"zero quantity", `{"customer_id": "c1", "items": [{"sku": "trace-mug", "quantity": 0}]}`, "items[0].quantity must be between 1 and 1000"},
		{"no sku", `{"customer_id": "c1", "items": [{"quantity": 1}]}`, "items[0].sku is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, url := range []string{f.GatewayURL + "/checkout", f.CheckoutURL + "/orders"} {
				resp, err := f.Post(context.Background(), url, tc.body, nil)
				if err != nil {
					t.Fatal(err)
				}
				if resp.Status != http.StatusBadRequest {
					t.Errorf("POST %s: status %d, want 400", url, resp.Status)
				}
				if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("POST %s: Content-Type %q, want application/json", url, ct)
				}
				if !strings.Contains(resp.Error(), tc.wantErr) || strings.Contains(resp.Error(), "Go ") {
					t.Errorf("POST %s: error %q, want it to say %q, and no Go type", url, resp.Error(), tc.wantErr)
				}
			}
		})
	}
}

func redeliveryReservesOnce(t *testing.T, s Step) {
	b := Broker(t)
	ledger := shop.NewLedger(shop.DemoCatalogue()).Stock()
	msg := broker.Message{
		RoutingKey: broker.RoutingKey, MessageID: "ord_redelivered", ContentType: "application/json",
		Body: shop.NewOrderPlaced("ord_redelivered", DemoOrder()).Encode(),
	}
	// The same event twice is what a redelivery looks like to the consumer.
	for range 2 {
		if err := b.Publish(context.Background(), msg); err != nil {
			t.Fatal(err)
		}
	}
	var handled atomic.Int32
	reserve := s.NewReserve(ledger, DiscardLogger())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- b.Consume(ctx, func(ctx context.Context, m broker.Message) error {
			defer handled.Add(1)
			return reserve(ctx, m)
		})
	}()
	deadline := time.Now().Add(10 * time.Second)
	for handled.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("consume: %v", err)
	}
	if handled.Load() != 2 {
		t.Fatalf("handled %d deliveries, want 2", handled.Load())
	}
	if item, _, _ := ledger.Get(context.Background(), DemoSKU); item.Reserved != 2 {
		t.Errorf("after the same event twice, reserved = %d, want 2 (reserved once)", item.Reserved)
	}
}

// Correlation runs the checks of step 01's exercise, which every later step keeps: one
// correlation ID, carried by hand through HTTP and AMQP headers, on every log line of
// one checkout in all three services, and on no line of the next one.
//
// Its subtests run at once: each has a fleet, or a broker's topology, of its own, and
// reads only its own fleet's log or a logger of its own.
func Correlation(t *testing.T, s Step) {
	t.Run("IDFromCaller", func(t *testing.T) {
		t.Parallel()
		f := Start(t, s.Run, nil)
		first := fmt.Sprintf("test-%d", time.Now().UnixNano())
		second := first + "-next"
		f.PlaceDemoOrder(http.Header{"X-Request-ID": {first}})
		f.WaitReserved(DemoSKU, 2)
		f.PlaceDemoOrder(http.Header{"X-Request-ID": {second}})
		f.WaitReserved(DemoSKU, 4)
		f.Stop()
		checkCorrelated(t, s.Hints, f.Logs(), first)
		checkCorrelated(t, s.Hints, f.Logs(), second)
		checkNotCarriedOver(t, s.Hints, f.LogText(), first)
	})
	t.Run("IDMadeByGateway", func(t *testing.T) {
		t.Parallel()
		f := Start(t, s.Run, nil)
		resp := f.PlaceDemoOrder(nil)
		id := resp.Header.Get("X-Request-ID")
		if id == "" {
			t.Fatalf("the gateway's response has no X-Request-ID header: when the caller sends none, "+
				"the gateway makes one and returns it, so the caller can quote it. Look at %s.", s.Hints.service("gateway"))
		}
		f.WaitReserved(DemoSKU, 2)
		f.Stop()
		checkCorrelated(t, s.Hints, f.Logs(), id)
	})
	t.Run("IDTooLong", func(t *testing.T) {
		t.Parallel()
		// An ID goes into every log line and AMQP header: one longer than
		// shop.MaxRequestIDBytes is replaced by the gateway's own, which it returns.
		f := Start(t, s.Run, nil)
		long := strings.Repeat("r", shop.MaxRequestIDBytes+1)
		resp := f.PlaceDemoOrder(http.Header{"X-Request-ID": {long}})
		if id := resp.Header.Get("X-Request-ID"); id == "" || id == long || len(id) > shop.MaxRequestIDBytes {
			t.Errorf("for a caller's X-Request-ID of %d characters, the gateway answered X-Request-ID %.40q (%d characters), "+
				"want one of its own, of at most %d: take the caller's ID through shop.RequestIDFrom, which replaces an unusable one.\nLook at %s",
				len(long), id, len(id), shop.MaxRequestIDBytes, s.Hints.service("gateway"))
		}
	})
	t.Run("CheckoutPutsIDOnTheMessage", func(t *testing.T) { t.Parallel(); checkoutPutsID(t, s) })
	t.Run("StockReadsIDFromHeaders", func(t *testing.T) { t.Parallel(); stockReadsID(t, s) })
}

// checkCorrelated checks that each service logged at least one line with the ID.
func checkCorrelated(t *testing.T, hints CorrelationHints, records []map[string]any, id string) {
	t.Helper()
	for _, service := range []string{"gateway", "checkout", "stock"} {
		var lines, withID int
		var sample map[string]any
		for _, rec := range records {
			if rec["service"] != service || rec["msg"] == "listening" || rec["msg"] == "stopped" {
				continue
			}
			lines++
			if rec["request_id"] == id {
				withID++
			} else if sample == nil {
				sample = rec
			}
		}
		if withID == 0 {
			t.Errorf("%s logged %d line(s) for this order, none with request_id=%q (for example %v).\nLook at %s",
				service, lines, id, sample, hints.service(service))
		}
	}
}

// checkNotCarriedOver checks that no log line names two request IDs: a handler that
// reassigns the logger the service shares (logger = logger.With(...)) adds each
// request's ID to every later line.
func checkNotCarriedOver(t *testing.T, hints CorrelationHints, logs, first string) {
	t.Helper()
	reported := map[string]bool{}
	for _, line := range strings.Split(logs, "\n") {
		if strings.Count(line, `"request_id"`) < 2 {
			continue
		}
		var service string
		for _, rec := range LogRecords(line) {
			service, _ = rec["service"].(string)
		}
		if reported[service] {
			continue
		}
		reported[service] = true
		t.Errorf("a %s log line carries more than one request_id (the earlier order's %q among them):\n%s\n"+
			"A handler assigned a request's logger to the logger the service shares (logger = logger.With(...)), "+
			"so every later request logs the IDs of those before it: keep the request's logger in a variable of its own. Look at %s",
			service, first, line, hints.service(service))
	}
}

func checkoutPutsID(t *testing.T, s Step) {
	b := Broker(t)
	var logs bytes.Buffer
	srv := httptest.NewServer(s.NewCheckout(b, slog.New(slog.NewJSONHandler(&logs, nil))))
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/orders", strings.NewReader(string(DemoOrder().Encode())))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Request-ID", "req-from-gateway")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /orders: %s, want 202", resp.Status)
	}
	hint := s.Hints.or(s.Hints.Message, "putting the ID in the AMQP headers")
	msg := ReceiveOne(t, b)
	switch got := msg.Headers["x-request-id"].(type) {
	case string:
		if got != "req-from-gateway" {
			t.Errorf("the published message's x-request-id header = %q, want %q.\nLook at %s", got, "req-from-gateway", hint)
		}
	case []byte:
		t.Errorf("the published message's x-request-id header is a []byte (%q), want the string %q: "+
			"AMQP sends a []byte as a byte array, which the services read as text only by luck of the client, "+
			"and a string is what stock and other consumers expect. Write string(id), not []byte(id).\nLook at %s", got, "req-from-gateway", hint)
	default:
		t.Errorf("the published message's x-request-id header = %#v, want %q.\nLook at %s", got, "req-from-gateway", hint)
	}
	if !HasRecord(LogRecords(logs.String()), "request_id", "req-from-gateway") {
		t.Errorf("checkout logged no line with request_id=req-from-gateway:\n%s\nLook at %s", logs.String(), s.Hints.service("checkout"))
	}
}

func stockReadsID(t *testing.T, s Step) {
	hint := s.Hints.or(s.Hints.Header, "reading the ID from the AMQP headers (string or []byte)")
	// Our publisher sends a string; other AMQP clients send the same header as bytes.
	for name, value := range map[string]any{"string": "req-42", "bytes": []byte("req-42")} {
		t.Run(name, func(t *testing.T) {
			var logs bytes.Buffer
			handle := s.NewReserve(shop.NewLedger(shop.DemoCatalogue()).Stock(), slog.New(slog.NewJSONHandler(&logs, nil)))
			msg := broker.Message{
				MessageID: "ord_1", Headers: amqp.Table{"x-request-id": value},
				Body: shop.NewOrderPlaced("ord_1", DemoOrder()).Encode(),
			}
			if err := handle(context.Background(), msg); err != nil {
				t.Fatal(err)
			}
			if !HasRecord(LogRecords(logs.String()), "request_id", "req-42") {
				t.Errorf("stock logged no line with request_id=req-42 for a message whose x-request-id header is %T:\n%s"+
					"Look at %s", value, logs.String(), hint)
			}
		})
	}
	t.Run("missing or mistyped", func(t *testing.T) {
		for _, headers := range []amqp.Table{nil, {"x-request-id": int32(7)}} {
			handle := s.NewReserve(shop.NewLedger(shop.DemoCatalogue()).Stock(), DiscardLogger())
			msg := broker.Message{MessageID: "ord_2", Headers: headers, Body: shop.NewOrderPlaced("ord_2", DemoOrder()).Encode()}
			if err := handle(context.Background(), msg); err != nil {
				t.Errorf("headers %v: %v; a missing or odd correlation ID must not stop the order", headers, err)
			}
		}
	})
}

// checkLedgerInRedis checks, when Redis answers, that the fleet's stock keeps its
// ledger there (app.OpenLedger), where a restart does not lose it.
func checkLedgerInRedis(t *testing.T, f *fleet.Fleet, sku string, reserved int) {
	t.Helper()
	if CheckRedis(t) != nil {
		return // said once: the services fall back to an in-memory ledger
	}
	cfg := f.Config()
	opts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	defer c.Close()
	item, ok, err := redisledger.New(c, app.LedgerPrefix(cfg)).Get(context.Background(), sku)
	if err != nil || !ok || item.Reserved != reserved {
		t.Errorf("Redis has %+v (found %v, %v) under %s, want %d of %s reserved: stock does not keep its ledger in Redis "+
			"(main.go opens it with app.OpenLedger)", item, ok, err, app.LedgerPrefix(cfg), reserved, sku)
	}
}

// ErrorsAreJSON checks that every service of f answers an unknown path (404) and a
// wrong method (405) with a JSON error, as it answers every other error: gorilla/mux's
// own are a text/plain 404 and a 405 with no body, and the gateway's router sits behind
// edge.Guard (app.ErrorsInJSON reaches it there).
func ErrorsAreJSON(t *testing.T, f *Fleet) {
	t.Helper()
	for _, tc := range []struct {
		service, method, url string
		want                 int
	}{
		{"gateway", http.MethodPost, f.GatewayURL + "/admin", http.StatusNotFound},
		{"gateway", http.MethodGet, f.GatewayURL + "/checkout", http.StatusMethodNotAllowed},
		{"gateway", http.MethodPut, f.GatewayURL + "/checkout", http.StatusMethodNotAllowed},
		{"checkout", http.MethodGet, f.CheckoutURL + "/nope", http.StatusNotFound},
		{"checkout", http.MethodGet, f.CheckoutURL + "/orders", http.StatusMethodNotAllowed},
		{"stock", http.MethodGet, f.StockURL + "/nope/deeper", http.StatusNotFound},
		{"stock", http.MethodPost, f.StockURL + "/stock", http.StatusMethodNotAllowed},
		{"stock", http.MethodDelete, f.StockURL + "/stock/" + DemoSKU, http.StatusMethodNotAllowed},
	} {
		req, err := http.NewRequest(tc.method, tc.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Errorf("%s: %s %s: %v", tc.service, tc.method, tc.url, err)
			continue
		}
		var body app.ErrorBody
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		decodeErr := json.Unmarshal(raw, &body)
		if ct := resp.Header.Get("Content-Type"); resp.StatusCode != tc.want || ct != "application/json" || decodeErr != nil || body.Error == "" {
			t.Errorf("%s: %s %s: %d, Content-Type %q, body %q; want %d with a JSON {\"error\": ...} "+
				"like every other error (app.Serve's app.ErrorsInJSON gives the service's *mux.Router JSON 404 and 405 handlers; "+
				"a handler wrapped around the router must have an Unwrap() http.Handler method, as edge.Guard has)",
				tc.service, tc.method, tc.url, resp.StatusCode, ct, raw, tc.want)
		}
	}
}
