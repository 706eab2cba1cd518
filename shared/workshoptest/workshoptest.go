// Package workshoptest holds the helpers every step's tests use: start the step's system
// in the test process over real loopback HTTP and a real broker, place orders, wait for
// the stock service, and stop it so every span is flushed before the checks run.
package workshoptest

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/ot2otel/workshop/shared/app"
	"github.com/ot2otel/workshop/shared/broker"
	"github.com/ot2otel/workshop/shared/fleet"
	"github.com/ot2otel/workshop/shared/shop"
	"github.com/ot2otel/workshop/shared/tracecheck"
)

// DemoSKU is the SKU of DemoOrder: shop.DemoSKU.
const DemoSKU = shop.DemoSKU

// DemoOrder is a valid order for the demo catalogue: shop.DemoOrder, the demo's own.
func DemoOrder() shop.Order { return shop.DemoOrder() }

// Fleet is a step's system started for one test.
type Fleet struct {
	*fleet.Fleet
	t        testing.TB
	stopOnce sync.Once
}

// Start starts run's system with env on top of the test's environment, and stops it when
// the test ends. It says once per test binary which broker the tests use.
func Start(t testing.TB, run fleet.RunFunc, env map[string]string) *Fleet {
	t.Helper()
	CheckBroker(t)
	CheckRedis(t)
	pinTestExporter()
	f, err := fleet.Start(context.Background(), run, env)
	if err != nil {
		t.Fatalf("start the services: %v", err)
	}
	tf := &Fleet{Fleet: f, t: t}
	t.Cleanup(tf.Stop)
	return tf
}

// Stop shuts the system down as SIGTERM would, so every tracer flushes its spans, and
// fails the test if the shutdown was not clean. Calling it again does nothing.
func (f *Fleet) Stop() {
	f.t.Helper()
	f.stopOnce.Do(func() {
		if err := f.Fleet.Stop(); err != nil {
			f.t.Errorf("stop the services: %v", err)
		}
	})
}

// PlaceOrder posts an order (or raw JSON as []byte or string) to the gateway.
func (f *Fleet) PlaceOrder(body any, header http.Header) fleet.Response {
	f.t.Helper()
	resp, err := f.Fleet.PlaceOrder(context.Background(), body, header)
	if err != nil {
		f.t.Fatalf("place order: %v", err)
	}
	return resp
}

// PlaceDemoOrder places DemoOrder, requires a 202, and returns the response.
func (f *Fleet) PlaceDemoOrder(header http.Header) fleet.Response {
	f.t.Helper()
	resp := f.PlaceOrder(DemoOrder(), header)
	if resp.Status != http.StatusAccepted || resp.OrderID() == "" {
		f.t.Fatalf("POST /checkout: got %d %s, want 202 with an order_id\nlogs:\n%s", resp.Status, resp.Body, f.LogText())
	}
	return resp
}

// WaitReserved waits until stock has reserved at least n of sku.
// Once one order has never reached stock, the consumer is broken, and every later test
// that waits for one fails too: those wait a short while only, so that a broken
// consumer fails the suite in seconds, not minutes of timeouts.
func (f *Fleet) WaitReserved(sku string, n int) {
	f.t.Helper()
	ctx := context.Background()
	short := consumerBroken.Load()
	if short {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
	}
	if err := f.Fleet.WaitReserved(ctx, sku, n); err != nil {
		consumerBroken.Store(true)
		if short {
			f.t.Fatalf("(waited 2s only: an earlier test's order never reached stock either)\n%v", err)
		}
		f.t.Fatal(err)
	}
}

// OrderAndStop places the demo order, waits until stock has reserved it, and stops
// the fleet, which flushes every service's spans: what a test of one order's trace
// does before it looks at the spans.
func (f *Fleet) OrderAndStop() fleet.Response {
	f.t.Helper()
	resp := f.PlaceDemoOrder(nil)
	f.WaitReserved(DemoSKU, 2)
	f.Stop()
	return resp
}

// ShutdownFlushes is a step's fleet stopped right after stock reserved an order, with
// batches that would wait an hour, and what its check needs and says.
type ShutdownFlushes struct {
	Run fleet.RunFunc
	// Spans returns what the collectors received so far; Received, after the stop, the
	// same, failing the test when nothing arrived at all.
	Spans    func() []tracecheck.Span
	Received func(t *testing.T) []tracecheck.Span
	// Batched is the hint when spans arrived before the stop ("": not checked); Flush the
	// hint when one of Hops is missing after it.
	Batched, Flush string
	Hops           []tracecheck.Hop
	// Trace is what the order's trace must be in the fleet started with env, given
	// the order's ID.
	Trace func(env map[string]string, orderID string) OrderTrace
}

// CheckShutdownFlushes stops the services right after stock reserved the order: every
// span, stock's last one too, arrives only because each service flushes its spans as it
// stops. The caller sets the variables that hold the spans back (OTEL_BSP_SCHEDULE_DELAY).
func CheckShutdownFlushes(t *testing.T, s ShutdownFlushes) {
	f := Start(t, s.Run, nil)
	resp := f.PlaceDemoOrder(nil)
	f.WaitReserved(DemoSKU, 2)
	if s.Batched != "" {
		CheckBatched(t, len(s.Spans()), s.Batched)
	}
	start := time.Now()
	f.Stop()
	spans := s.Received(t)
	CheckFlushed(t, spans, s.Hops, s.Flush)
	if t.Failed() {
		return
	}
	CheckOrderTrace(t, spans, resp, s.Trace(f.Env, resp.OrderID()))
	t.Logf("the shutdown, flush included, took %s", time.Since(start).Round(time.Millisecond))
}

// consumerBroken is set once an order of this test binary never reached stock.
var consumerBroken atomic.Bool

var (
	brokerOnce, brokerSaid sync.Once
	brokerErr              error
	// brokerFallback: RabbitMQ is unreachable and the tests use the in-memory broker.
	brokerFallback bool
)

// RabbitMQURL is the broker the tests use: AMQP_URL, or RabbitMQ on localhost.
func RabbitMQURL() string {
	if u := os.Getenv("AMQP_URL"); u != "" {
		return u
	}
	return app.DefaultAMQPURL
}

// probeBroker decides, once per test binary, between RabbitMQ and the in-memory broker.
func probeBroker() {
	brokerOnce.Do(func() {
		var requiredErr error
		brokerErr, requiredErr = broker.Fallback(context.Background(), RabbitMQURL(), requireRabbitMQ())
		if requiredErr != nil {
			brokerErr = requiredErr
		} else {
			brokerFallback = brokerErr != nil
		}
	})
}

// CheckBroker fails the test when RabbitMQ is unreachable and WORKSHOP_REQUIRE_RABBITMQ=1;
// otherwise it says, once, that the tests fall back to the in-memory broker.
func CheckBroker(t testing.TB) {
	t.Helper()
	probeBroker()
	if brokerFallback {
		brokerSaid.Do(func() {
			t.Logf("RabbitMQ is not reachable (%v): these tests use the in-memory broker. "+
				"Start RabbitMQ (docker compose up -d rabbitmq) to test against the real one.", brokerErr)
		})
	}
	if brokerErr != nil && requireRabbitMQ() {
		t.Fatal(brokerErr)
	}
}

var (
	redisOnce, redisSaid sync.Once
	redisErr             error
	redisURL             string
)

// probeRedis checks, once per test binary, whether Redis answers.
func probeRedis() {
	redisOnce.Do(func() {
		cfg, err := app.LoadConfig(os.Getenv)
		if err != nil {
			redisErr = err
			return
		}
		redisURL = cfg.RedisURL
		redisErr = app.RedisReachable(context.Background(), cfg)
	})
}

// CheckRedis fails the test when Redis does not answer and WORKSHOP_REQUIRE_REDIS=1;
// otherwise it says, once, that the services fall back to an in-memory ledger. It
// returns why Redis cannot be used, or nil.
func CheckRedis(t testing.TB) error {
	t.Helper()
	probeRedis()
	if redisErr != nil && os.Getenv("WORKSHOP_REQUIRE_REDIS") != "1" && redisURL != "" {
		redisSaid.Do(func() {
			t.Logf("Redis does not answer at %s (%v): stock keeps its ledger in memory in these tests, "+
				"and the checks of its Redis calls cannot pass. Start Redis (docker compose up -d redis) to test against it.",
				redisURL, redisErr)
		})
	}
	if redisErr != nil && os.Getenv("WORKSHOP_REQUIRE_REDIS") == "1" {
		t.Fatalf("WORKSHOP_REQUIRE_REDIS=1 but Redis does not answer: %v", redisErr)
	}
	return redisErr
}

// requireRabbitMQ reports whether WORKSHOP_REQUIRE_RABBITMQ=1 turns the in-memory
// fallback off.
func requireRabbitMQ() bool { return os.Getenv("WORKSHOP_REQUIRE_RABBITMQ") == "1" }

// Broker returns a broker with its own exchange and queue for one test: RabbitMQ when
// reachable (the topology is deleted when the test ends), else the in-memory broker.
func Broker(t testing.TB) broker.Broker {
	t.Helper()
	CheckBroker(t)
	suffix := strings.ToLower(rand.Text()[:12])
	cfg := broker.Config{
		URL:        RabbitMQURL(),
		Exchange:   "ws-test-" + suffix,
		Queue:      "ws-test-stock-" + suffix,
		BindingKey: broker.RoutingKey,
	}
	if brokerErr != nil {
		b := broker.NewMemory(cfg)
		t.Cleanup(func() { b.Close() })
		return b
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := broker.Dial(ctx, cfg, nil)
	if err != nil {
		t.Fatalf("connect to RabbitMQ: %v", err)
	}
	t.Cleanup(func() {
		b.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := broker.DeleteTopology(ctx, cfg); err != nil {
			t.Logf("delete test topology: %v", err)
		}
	})
	return b
}

// StartProcesses runs the step's main package in the test's directory its gateway, checkout
// and stock as three processes, as they are deployed, with env on top of the test's
// environment; it stops them with SIGTERM when the test ends (or at Stop) and fails the
// test unless each exits 0. Three processes can only meet through RabbitMQ, so without
// it the test is skipped, or fails when WORKSHOP_REQUIRE_RABBITMQ=1.
func StartProcesses(t testing.TB, env map[string]string) *Fleet {
	t.Helper()
	CheckBroker(t)
	if brokerErr != nil {
		t.Skipf("separate processes need RabbitMQ, which is not reachable: %v", brokerErr)
	}
	// A stock process of its own keeps its ledger in Redis, never in memory.
	if CheckRedis(t) != nil {
		t.Skipf("a stock process of its own needs Redis, which does not answer: %v", redisErr)
	}
	pinTestExporter()
	// The processes inherit the test's environment: pin the exporter the test means.
	pinned := maps.Clone(exporterDefaults)
	maps.Copy(pinned, env)
	binary := selfMain()
	if binary != "" {
		pinned[mainEnv] = "1"
	} else {
		binary = Binary(t, ".")
	}
	f, err := fleet.StartProcesses(context.Background(), binary, pinned)
	if err != nil {
		t.Fatalf("start the services as processes: %v", err)
	}
	tf := &Fleet{Fleet: f, t: t}
	t.Cleanup(tf.Stop)
	return tf
}

// mainEnv, set to 1 in a process StartProcesses starts from the test binary, makes
// Main run the step's main instead of the tests.
const mainEnv = "WORKSHOPTEST_RUN_MAIN"

// mainExecutable is the test binary when its TestMain is Main, which can run the step's
// own main; "" otherwise.
var mainExecutable string

// selfMain returns the test binary when it can run the step's main (Main), or "".
func selfMain() string { return mainExecutable }

// Main is a step's TestMain: TestMain(m *testing.M) { workshoptest.Main(m, main) }.
// Started by StartProcesses as one of the services, the test binary runs the step's
// own main (os.Args as the deployed command gets them: the program, then the service),
// signal handling and exit status included, and never the tests. Otherwise it runs the
// tests, and StartProcesses starts the services from the test binary itself: the same
// package main, already compiled and linked, where building the command on its own
// linked a second binary of the same code on every edit, which took longer than all
// the rest of a step's tests.
//
// run, when not nil, is the step's run: Main places TestContract/CheckoutTimesOut's order
// before the first test, so that the gateway's wait for a checkout that never answers
// overlaps every test of the package, whichever runs first.
func Main(m *testing.M, main func(), run fleet.RunFunc) {
	if os.Getenv(mainEnv) == "1" {
		os.Unsetenv(mainEnv)
		os.Args = append([]string{"shop"}, os.Args[1:]...)
		main()
		os.Exit(0)
	}
	if exe, err := os.Executable(); err == nil {
		mainExecutable = exe
	}
	// Not in a copy of the test binary that runs one test in its own process
	// (InOwnProcess): that test is not CheckoutTimesOut, and it owns the process's
	// globals (OpenTelemetry's error handler), which a fleet of the order's would set.
	if run != nil && os.Getenv(ownProcessEnv) == "" {
		early = startCheckoutTimesOut(run)
	}
	code := m.Run()
	if early != nil {
		// Contract checked it, or the tests run left it out (-run): either way the
		// silent checkout lets go of the call now, and the services stop.
		early.finish()
	}
	os.Exit(code)
}

// early is the order Main placed for CheckoutTimesOut, which the first Contract takes
// (takeEarly) and checks; nil when TestMain is not Main.
var (
	early      *PendingTimeout
	earlyTaken atomic.Bool
)

// checkoutTimesOut returns the order Main placed, to the first caller, or places one.
func checkoutTimesOut(t *testing.T, run fleet.RunFunc) *PendingTimeout {
	t.Helper()
	if os.Getenv(ownProcessEnv) != "" {
		return nil // one test in its own process (InOwnProcess), which is not CheckoutTimesOut
	}
	if early != nil && earlyTaken.CompareAndSwap(false, true) {
		CheckBroker(t)
		CheckRedis(t)
		return early
	}
	return StartCheckoutTimesOut(t, run)
}

// Binary builds the main package pkg (as the go command names it, from the test's
// directory) and returns its executable. It asks `go run -exec echo` for it, which keeps
// the executable in Go's build cache: a package unchanged since the last run costs no
// link at all, where `go build -o` links it again for every test that starts processes.
// When the go command does not keep it there, Binary builds one into t.TempDir().
func Binary(t testing.TB, pkg string) string {
	t.Helper()
	if out, err := exec.Command("go", "run", "-exec", "echo", pkg).Output(); err == nil {
		path := strings.TrimSpace(string(out))
		if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() && filepath.IsAbs(path) {
			return path
		}
	}
	binary := filepath.Join(t.TempDir(), "shop")
	if out, err := exec.Command("go", "build", "-o", binary, pkg).CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	return binary
}

// ReceiveOne consumes one message from b, and fails the test if none arrives in 10s.
func ReceiveOne(t testing.TB, b broker.Broker) broker.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got := make(chan broker.Message, 1)
	go b.Consume(ctx, func(_ context.Context, m broker.Message) error {
		select {
		case got <- m:
		default:
		}
		cancel()
		return nil
	})
	select {
	case m := <-got:
		return m
	case <-ctx.Done():
		t.Fatal("no message arrived on the broker")
		return broker.Message{}
	}
}

// LogRecords decodes JSON log lines, skipping lines that are not JSON objects.
func LogRecords(text string) []map[string]any { return fleet.DecodeLogs(text) }

// HasRecord reports whether one of the log records has key set to value.
func HasRecord(records []map[string]any, key, value string) bool {
	for _, rec := range records {
		if rec[key] == value {
			return true
		}
	}
	return false
}

// DiscardLogger is a logger for code under test whose logs the test does not read.
func DiscardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// AMQPHeaderValue makes, for the carriers' fuzz targets, a header value of one of the
// types an AMQP client can send, chosen by kind, from val.
func AMQPHeaderValue(kind byte, val string) any {
	switch kind % 8 {
	case 0:
		return val
	case 1:
		return []byte(val)
	case 2:
		return int64(len(val))
	case 3:
		return nil
	case 4:
		return amqp.Table{"nested": val}
	case 5:
		return []any{val}
	case 6:
		return true
	default:
		return float64(len(val))
	}
}

// AMQPText returns a header value as a carrier reads it: the text of a string or a
// []byte, and false for any other type, which a carrier skips.
func AMQPText(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case []byte:
		return string(v), true
	}
	return "", false
}

// AMQPTextKeys lists, sorted, the headers of t whose value is text.
func AMQPTextKeys(t amqp.Table) []string {
	var keys []string
	for k, v := range t {
		if _, ok := AMQPText(v); ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// CheckoutTimesOut gives the gateway of run's system a checkout that takes the call and
// never answers, and fails t unless the caller hears, in a 504, that checkout did not
// answer in time.
func CheckoutTimesOut(t *testing.T, run fleet.RunFunc) {
	t.Helper()
	StartCheckoutTimesOut(t, run).Check(t)
}

// checkoutTimeout is the handlers' deadline in CheckoutTimesOut's fleet
// (app.WithRequestTimeout), in place of app.RequestTimeout's 8 s. The check waits it out,
// as every step's floor, so it is short; the gateway answers 504 when it runs out
// whatever the machine's load, since checkout never answers.
const checkoutTimeout = 2 * time.Second

// PendingTimeout is CheckoutTimesOut's order, placed and not yet answered: the gateway
// gives checkout checkoutTimeout before it answers 504, a wait that overlaps the other
// checks when the order is placed first and checked last.
type PendingTimeout struct {
	done    chan struct{}
	f       *fleet.Fleet
	resp    fleet.Response
	err     error
	release func() // closes the silent checkout's listener and the calls it holds
	stop    sync.Once
}

// StartCheckoutTimesOut starts run's system with a checkout that takes the call and
// never answers, and places an order with it in the background; Check waits for the
// answer. When the test that called it ends first (a -run that leaves the check out),
// the silent checkout lets go of the call, which ends the order at once.
func StartCheckoutTimesOut(t testing.TB, run fleet.RunFunc) *PendingTimeout {
	t.Helper()
	CheckBroker(t)
	CheckRedis(t)
	p := startCheckoutTimesOut(run)
	t.Cleanup(func() {
		if err := p.finish(); err != nil {
			t.Errorf("stop the services: %v", err)
		}
	})
	return p
}

// startCheckoutTimesOut is StartCheckoutTimesOut without a test: the caller calls finish.
func startCheckoutTimesOut(run fleet.RunFunc) *PendingTimeout {
	probeBroker()
	probeRedis()
	pinTestExporter()
	p := &PendingTimeout{done: make(chan struct{})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		p.err = err
		close(p.done)
		return p
	}
	var mu sync.Mutex
	var held []net.Conn
	p.release = func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
		held = nil
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c) // held open, unanswered, until released
			mu.Unlock()
		}
	}()
	go func() {
		defer close(p.done)
		// A gateway that gives up after checkoutTimeout, not app.RequestTimeout: the
		// same path to the same 504, in a quarter of the wait.
		ctx := app.WithRequestTimeout(context.Background(), checkoutTimeout)
		f, err := fleet.Start(ctx, run, map[string]string{"CHECKOUT_URL": "http://" + ln.Addr().String()})
		if err != nil {
			p.err = fmt.Errorf("start the services: %w", err)
			return
		}
		p.f = f
		p.resp, p.err = f.PlaceOrder(context.Background(), DemoOrder(), nil)
		if p.err != nil {
			p.err = fmt.Errorf("place order: %w", p.err)
		}
	}()
	return p
}

// finish releases the silent checkout, waits for the order's answer and stops the
// services, once; it returns the stop's error.
func (p *PendingTimeout) finish() (err error) {
	p.stop.Do(func() {
		if p.release != nil {
			p.release()
		}
		<-p.done
		if p.f != nil {
			err = p.f.Stop()
		}
	})
	return err
}

// Check waits for the order's answer, fails t unless it is a 504 saying that checkout
// did not answer in time, and stops the services, failing t unless they stop cleanly.
func (p *PendingTimeout) Check(t testing.TB) {
	t.Helper()
	<-p.done
	if p.err != nil {
		p.finish()
		t.Fatal(p.err)
	}

	resp := p.resp
	if resp.Status != http.StatusGatewayTimeout || !strings.Contains(resp.Error(), "did not answer in time") {
		t.Errorf("with a checkout that never answers: got %d %s, want 504 saying checkout did not answer in time", resp.Status, resp.Body)
	}
	if err := p.finish(); err != nil {
		t.Errorf("stop the services: %v", err)
	}
}

// OversizedRequestID sends the checkout of run's system a 200 KB X-Request-ID, more
// than fits in an AMQP header frame, and fails t unless checkout replaces it, as the
// gateway does, and its connection to the broker, which a frame that large would close,
// stays up for the next order.
func OversizedRequestID(t *testing.T, run fleet.RunFunc) {
	t.Helper()
	f := Start(t, run, nil)
	huge := http.Header{"X-Request-Id": {strings.Repeat("r", 200<<10)}}
	resp, err := f.Post(context.Background(), f.CheckoutURL+"/orders", DemoOrder(), huge)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != http.StatusAccepted {
		t.Errorf("POST /orders with a 200 KB X-Request-ID: %d %s, want 202 under a request ID of checkout's", resp.Status, resp.Body)
	}
	f.PlaceDemoOrder(nil)
	if resp.Status == http.StatusAccepted {
		f.WaitReserved(DemoSKU, 4)
	} else {
		f.WaitReserved(DemoSKU, 2)
	}
	if logs := f.LogText(); strings.Contains(logs, "connection lost") {
		t.Errorf("the broker connection was lost:\n%s", logs)
	}
}
