package app

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ot2otel/workshop/shared/broker"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadConfigDefaults(t *testing.T) {
	cfg, err := LoadConfig(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		GatewayAddr: "localhost:8080", CheckoutAddr: "localhost:8081", StockAddr: "localhost:8082",
		CheckoutURL: "http://localhost:8081",
		Broker: broker.Config{URL: "amqp://guest:guest@localhost:5672/", Exchange: "shop", Queue: "stock",
			BindingKey: "checkout.processed"},
		RedisURL:  "redis://localhost:6379/0",
		LogFormat: "text",
	}
	if cfg != want {
		t.Errorf("defaults:\n got %+v\nwant %+v", cfg, want)
	}
}

func TestLoadConfigFromEnv(t *testing.T) {
	cfg, err := LoadConfig(env(map[string]string{
		"GATEWAY_ADDR": ":9000", "CHECKOUT_URL": "http://checkout:8081/", "AMQP_URL": "amqp://u:p@rabbit:5672/",
		"AMQP_EXCHANGE": "x", "AMQP_QUEUE": "q", "WORKSHOP_REQUIRE_RABBITMQ": "1", "LOG_FORMAT": "json",
		"AMQP_CONSUMER_WORKERS": "3", "AMQP_PREFETCH": "7", "STOCK_QUANTITY": "5000",
		"REDIS_URL": "redis://redis:6379/2", "WORKSHOP_REQUIRE_REDIS": "1",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.GatewayAddr != ":9000" || cfg.CheckoutURL != "http://checkout:8081" || cfg.Broker.Exchange != "x" ||
		cfg.Broker.Queue != "q" || !cfg.RequireRabbitMQ || cfg.LogFormat != "json" ||
		cfg.Broker.Workers != 3 || cfg.Broker.Prefetch != 7 || cfg.Catalogue()[0].Available != 5000 ||
		cfg.RedisURL != "redis://redis:6379/2" || !cfg.RequireRedis {
		t.Errorf("from env: %+v", cfg)
	}
	if c, _ := LoadConfig(env(nil)); c.Catalogue()[0].Available != 100 {
		t.Errorf("without STOCK_QUANTITY the catalogue is %+v, want the demo's", c.Catalogue())
	}
	for k, v := range map[string]string{"CHECKOUT_URL": "localhost:8081", "AMQP_URL": "http://rabbit", "LOG_FORMAT": "xml",
		"AMQP_CONSUMER_WORKERS": "0", "AMQP_PREFETCH": "lots", "STOCK_QUANTITY": "-1", "REDIS_URL": "localhost:6379"} {
		if _, err := LoadConfig(env(map[string]string{k: v})); err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: err = %v, want an error naming %s", k, v, err, k)
		}
	}
}

func TestParseArgs(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		services []string
		broker   bool
	}{
		{[]string{"shop", "gateway"}, []string{"gateway"}, false},
		{[]string{"shop", "checkout"}, []string{"checkout"}, true},
		{[]string{"shop", "stock"}, []string{"stock"}, true},
		{[]string{"shop", "all"}, []string{"stock", "checkout", "gateway"}, true},
	} {
		cmd, err := ParseArgs(tc.args)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if strings.Join(cmd.Services, ",") != strings.Join(tc.services, ",") || cmd.NeedsBroker() != tc.broker || cmd.Demo() {
			t.Errorf("%v: %+v", tc.args, cmd)
		}
	}
	if cmd, _ := ParseArgs([]string{"shop", "demo"}); !cmd.Demo() {
		t.Error("demo is not Demo()")
	}
	for _, args := range [][]string{nil, {"shop"}, {"shop", "bogus"}, {"shop", "all", "more"}} {
		if _, err := ParseArgs(args); err == nil || !strings.Contains(err.Error(), "usage:") {
			t.Errorf("%v: err = %v, want usage", args, err)
		}
	}
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestServeShutsDownInOrder checks a graceful shutdown: the request in flight finishes,
// the consumer stops after the HTTP servers, and Close (where spans are flushed) runs
// last, once nothing can make new spans.
func TestServeShutsDownInOrder(t *testing.T) {
	var mu sync.Mutex
	var events []string
	record := func(e string) { mu.Lock(); events = append(events, e); mu.Unlock() }

	inFlight := make(chan struct{})
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(inFlight)
		time.Sleep(200 * time.Millisecond)
		record("request finished")
		w.WriteHeader(http.StatusAccepted)
	})
	ctx, cancel := context.WithCancel(context.Background())
	running, done := serveFree(t, ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), broker.NewMemory(broker.Config{}),
		Service{Name: "consumer", Handler: http.NotFoundHandler(),
			Consume: func(ctx context.Context) error { <-ctx.Done(); record("consumer stopped"); return nil },
			Close:   func(context.Context) error { record("consumer closed"); return nil }},
		Service{Name: "web", Handler: slow,
			Close: func(context.Context) error { record("web closed"); return nil }},
	)
	addr := running[1].Addr
	var resp *http.Response
	var err error
	got := make(chan struct{})
	go func() {
		resp, err = http.Get("http://" + addr) // web listens: serveFree saw it say so
		close(got)
	}()
	<-inFlight
	cancel()
	<-got
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("the request in flight at shutdown: %v %v", resp, err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	// The Closes run in parallel (a hung collector costs the budget once): their order
	// is not promised, only that they come after everything that can make spans.
	if len(events) != 4 || strings.Join(events[:2], ",") != "request finished,consumer stopped" ||
		!slices.Contains(events[2:], "consumer closed") || !slices.Contains(events[2:], "web closed") {
		t.Errorf("shutdown order: %v, want request finished, consumer stopped, then both Closes", events)
	}
}

func TestServeReportsAPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	closed := false
	err = Serve(context.Background(), slog.New(slog.NewTextHandler(io.Discard, nil)), nil,
		Service{Name: "gateway", Addr: ln.Addr().String(), Handler: http.NotFoundHandler()},
		Service{Name: "never", Addr: freeAddr(t), Handler: http.NotFoundHandler(), Close: func(context.Context) error { closed = true; return nil }})
	if err == nil || !strings.Contains(err.Error(), "gateway: listen on") {
		t.Errorf("err = %v, want gateway: listen on ...", err)
	}
	if closed {
		t.Error("a service that never started was closed")
	}
}

func TestOpenBrokerFallsBackOnlyInProcess(t *testing.T) {
	// A port nothing listens on: RabbitMQ is unreachable.
	cfg, err := LoadConfig(env(map[string]string{"AMQP_URL": "amqp://guest:guest@" + freeAddr(t) + "/"}))
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	all, _ := ParseArgs([]string{"shop", "all"})
	b, err := OpenBroker(context.Background(), cfg, all, logger)
	if err != nil {
		t.Fatalf("all without RabbitMQ: %v", err)
	}
	if b.Info().System != "in-memory" || !strings.Contains(logs.String(), "in-memory broker") {
		t.Errorf("all without RabbitMQ: %s broker, logs %q; want the in-memory broker, said out loud", b.Info().System, logs.String())
	}
	b.Close()

	gateway, _ := ParseArgs([]string{"shop", "gateway"})
	if b, err := OpenBroker(context.Background(), cfg, gateway, logger); b != nil || err != nil {
		t.Errorf("gateway alone: %v, %v; want no broker", b, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	stock, _ := ParseArgs([]string{"shop", "stock"})
	if _, err := OpenBroker(ctx, cfg, stock, logger); err == nil || !strings.Contains(err.Error(), "is RabbitMQ running?") {
		t.Errorf("stock alone without RabbitMQ: err = %v, want a hint to start RabbitMQ", err)
	}

	cfg.RequireRabbitMQ = true
	ctx2, cancel2 := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel2()
	if _, err := OpenBroker(ctx2, cfg, all, logger); err == nil {
		t.Error("all with WORKSHOP_REQUIRE_RABBITMQ=1 and no RabbitMQ: no error")
	}
}

func TestRelayCheckout(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   string
		want   int
	}{
		{202, `{"order_id":"ord_1"}`, 202},
		{400, `{"error":"invalid order"}`, 400},
		{503, `{"error":"broker down"}`, 503},
		{431, `{"error":"headers too large"}`, 431},
		{500, `oops`, 502},
		{202, `not json`, 502},
	} {
		rec := &recorder{header: http.Header{}}
		RelayCheckout(rec, slog.New(slog.NewTextHandler(io.Discard, nil)),
			&http.Response{StatusCode: tc.status, Status: http.StatusText(tc.status), Body: io.NopCloser(strings.NewReader(tc.body))})
		if rec.status != tc.want || rec.header.Get("Content-Type") != "application/json" {
			t.Errorf("checkout %d %q: relayed %d (%s)", tc.status, tc.body, rec.status, rec.header.Get("Content-Type"))
		}
	}
	rec := &recorder{header: http.Header{}}
	CheckoutUnreachable(rec, slog.New(slog.NewTextHandler(io.Discard, nil)), errors.New("connection refused"))
	if rec.status != http.StatusBadGateway {
		t.Errorf("unreachable: %d", rec.status)
	}
}

type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(p []byte) (int, error) { return r.body.Write(p) }
func (r *recorder) WriteHeader(s int)           { r.status = s }

// TestWithRequestTimeout checks that a Serve whose context carries WithRequestTimeout
// gives each handler that deadline, not RequestTimeout, and refuses at start, naming
// the option, a deadline it cannot honour.
func TestWithRequestTimeout(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	left := make(chan time.Duration, 1)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		deadline, _ := r.Context().Deadline()
		left <- time.Until(deadline)
	})
	for _, tc := range []struct {
		name     string
		ctx      context.Context
		max, min time.Duration
	}{
		{"default", context.Background(), RequestTimeout, RequestTimeout - time.Second},
		{"2s", WithRequestTimeout(context.Background(), 2*time.Second), 2 * time.Second, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(tc.ctx)
			running, done := serveFree(t, ctx, logger, nil, Service{Name: "web", Handler: handler})
			resp, err := http.Get("http://" + running[0].Addr)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			// What is left of the deadline when the handler looks: the deadline is set
			// just before the handler runs, so all of it less scheduling delays, a
			// second at most on a loaded machine.
			if got := <-left; got > tc.max || got < tc.min {
				t.Errorf("the handler's deadline is %s away, want at most %s and at least %s", got, tc.max, tc.min)
			}
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Serve: %v", err)
			}
		})
	}
	for _, d := range []time.Duration{0, -time.Second, RequestTimeout + time.Nanosecond} {
		err := Serve(WithRequestTimeout(context.Background(), d), logger, nil,
			Service{Name: "web", Addr: "127.0.0.1:0", Handler: handler})
		if err == nil || !strings.Contains(err.Error(), "app.WithRequestTimeout") {
			t.Errorf("Serve with WithRequestTimeout(%s) = %v, want an error at start naming app.WithRequestTimeout", d, err)
		}
	}
}
