package broker

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// behaviourTests hold for every Broker implementation.
var behaviourTests = []struct {
	name      string
	configure func(*Config)
	run       func(t *testing.T, h *harness)
}{
	{"RoundTrip", nil, testRoundTrip},
	{"PublishConfirms", nil, testPublishConfirms},
	{"ConcurrentPublish", nil, testConcurrentPublish},
	{"FailingHandlerDeadLetters", func(c *Config) { c.MaxAttempts = 3 }, testFailingHandlerDeadLetters},
	{"PanickingHandler", func(c *Config) { c.MaxAttempts = 2 }, testPanickingHandler},
	{"UnavailableDependencyWaits", func(c *Config) { c.MaxAttempts = 2 }, testUnavailableDependencyWaits},
	// One worker, so that the message queued behind the one in flight is the
	// consumer's next; ConcurrentWorkers covers several.
	{"CancelFinishesInFlight", func(c *Config) { c.Workers = 1 }, testCancelFinishesInFlight},
	{"ConcurrentWorkers", func(c *Config) { c.Workers = 4 }, testConcurrentWorkers},
	{"HandlerSeesOnlyConsumerContext", nil, testHandlerSeesOnlyConsumerContext},
	{"Info", nil, testInfo},
	{"Close", nil, testClose},
}

func TestBehaviour(t *testing.T) {
	for _, impl := range implementations {
		t.Run(impl.name, func(t *testing.T) {
			t.Parallel()
			for _, tt := range behaviourTests {
				t.Run(tt.name, func(t *testing.T) {
					t.Parallel()
					tt.run(t, impl.open(t, tt.configure))
				})
			}
		})
	}
}

func testRoundTrip(t *testing.T, h *harness) {
	got := make(chan Message, 10)
	startConsumer(t, h.broker, func(_ context.Context, m Message) error {
		got <- m
		return nil
	})

	ctx := context.Background()
	sent := Message{
		RoutingKey:  RoutingKey,
		MessageID:   "order-1",
		ContentType: "application/json",
		Headers:     amqp.Table{"s": "str", "b": []byte("raw"), "i": 42},
		Body:        []byte(`{"order_id":"order-1"}`),
	}
	if err := h.broker.Publish(ctx, sent); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if err := h.broker.Publish(ctx, Message{RoutingKey: RoutingKey, Body: []byte("no headers")}); err != nil {
		t.Fatalf("Publish without headers or ID: %v", err)
	}

	// The consumer's workers promise no order: take both, then tell them apart.
	m, other := receive(t, got), receive(t, got)
	if string(m.Body) == "no headers" {
		m, other = other, m
	}
	if string(m.Body) != string(sent.Body) || m.MessageID != sent.MessageID || m.ContentType != sent.ContentType ||
		m.RoutingKey != RoutingKey || m.Exchange != h.cfg.Exchange || m.Redelivered {
		t.Errorf("delivered %+v, want the fields of %+v, exchange %q, not redelivered", m, sent, h.cfg.Exchange)
	}
	if s, ok := m.Headers["s"].(string); !ok || s != "str" {
		t.Errorf(`header "s" = %#v, want string "str"`, m.Headers["s"])
	}
	if b, ok := m.Headers["b"].([]byte); !ok || string(b) != "raw" {
		t.Errorf(`header "b" = %#v, want []byte("raw")`, m.Headers["b"])
	}
	if i, ok := m.Headers["i"].(int32); !ok || i != 42 {
		t.Errorf(`header "i" = %#v, want int32(42)`, m.Headers["i"])
	}
	if len(m.Headers) != 3 {
		t.Errorf("headers = %#v, want exactly s, b and i", m.Headers)
	}

	m = other
	if string(m.Body) != "no headers" || len(m.Headers) != 0 {
		t.Errorf("delivered %+v, want body %q and no headers", m, "no headers")
	}
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(m.MessageID) {
		t.Errorf("MessageID = %q, want 32 hex digits filled in by Publish", m.MessageID)
	}
}

func testPublishConfirms(t *testing.T, h *harness) {
	ctx := context.Background()
	// Without a consumer, the message must be in the queue when Publish returns.
	publish(t, h.broker, "confirmed")
	if n := h.queued(t); n != 1 {
		t.Errorf("after Publish returned, %d messages queued, want 1", n)
	}

	err := h.broker.Publish(ctx, Message{RoutingKey: "nobody.listens", MessageID: "lost-1", Body: []byte("x")})
	if !errors.Is(err, ErrNotConfirmed) {
		t.Errorf("Publish with an unbound routing key: %v, want an error wrapping ErrNotConfirmed", err)
	}
	if want := "publish lost-1 to " + h.cfg.Exchange; err == nil || !regexp.MustCompile(regexp.QuoteMeta(want)).MatchString(err.Error()) {
		t.Errorf("error %q does not say %q", err, want)
	}

	err = h.broker.Publish(ctx, Message{RoutingKey: RoutingKey, Headers: amqp.Table{"bad": map[string]any{"a": 1}}})
	if !errors.Is(err, amqp.ErrFieldType) {
		t.Errorf("Publish with a map[string]any header: %v, want an error wrapping amqp.ErrFieldType", err)
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := h.broker.Publish(cancelled, Message{RoutingKey: RoutingKey}); !errors.Is(err, context.Canceled) {
		t.Errorf("Publish with a cancelled context: %v, want context.Canceled", err)
	}

	if n := h.queued(t); n != 1 {
		t.Errorf("%d messages queued, want still 1", n)
	}
}

func testConcurrentPublish(t *testing.T, h *harness) {
	const publishers, each = 8, 10
	var mu sync.Mutex
	seen := map[string]int{}
	all := make(chan struct{})
	startConsumer(t, h.broker, func(_ context.Context, m Message) error {
		mu.Lock()
		defer mu.Unlock()
		seen[string(m.Body)]++
		if len(seen) == publishers*each {
			close(all)
		}
		return nil
	})

	var wg sync.WaitGroup
	for p := range publishers {
		wg.Go(func() {
			for i := range each {
				publish(t, h.broker, fmt.Sprintf("%d-%d", p, i))
			}
		})
	}
	wg.Wait()
	select {
	case <-all:
	case <-time.After(10 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("consumed %d distinct messages, want %d", len(seen), publishers*each)
	}
}

func testFailingHandlerDeadLetters(t *testing.T, h *harness) {
	var mu sync.Mutex
	var attempts []Message
	good := make(chan Message, 10)
	startConsumer(t, h.broker, func(_ context.Context, m Message) error {
		if string(m.Body) == "bad" {
			mu.Lock()
			attempts = append(attempts, m)
			mu.Unlock()
			return errors.New("always fails")
		}
		good <- m
		return nil
	})

	publish(t, h.broker, "bad")
	publish(t, h.broker, "good")
	if m := receive(t, good); string(m.Body) != "good" {
		t.Fatalf("got %q, want good", m.Body)
	}
	dead := h.deadLetters(t, 1)
	if len(dead) != 1 || string(dead[0].Body) != "bad" {
		t.Fatalf("dead letters = %+v, want the one bad message", dead)
	}
	t.Logf("dead letter: %#v", dead[0])
	if dead[0].Exchange != h.cfg.Exchange+".dlx" || dead[0].RoutingKey != RoutingKey ||
		dead[0].Headers["x-first-death-reason"] != "rejected" || dead[0].Headers["x-first-death-queue"] != h.cfg.Queue {
		t.Errorf("dead letter %+v, want it routed through %s.dlx with key %s and x-first-death-* headers",
			dead[0], h.cfg.Exchange, RoutingKey)
	}

	// The consumer carries on, and the bad message does not come back.
	publish(t, h.broker, "good again")
	if m := receive(t, good); string(m.Body) != "good again" {
		t.Fatalf("got %q, want good again", m.Body)
	}
	time.Sleep(100 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if len(attempts) != h.cfg.MaxAttempts {
		t.Fatalf("bad message handled %d times, want MaxAttempts = %d", len(attempts), h.cfg.MaxAttempts)
	}
	for i, m := range attempts {
		if m.Redelivered != (i > 0) {
			t.Errorf("attempt %d: Redelivered = %v, want %v", i+1, m.Redelivered, i > 0)
		}
		if got := deliveryCount(m.Headers); got != i {
			t.Errorf("attempt %d: x-delivery-count = %d, want %d", i+1, got, i)
		}
	}
}

// unavailable is the error of a handler whose dependency is down.
type unavailable struct{}

func (unavailable) Error() string     { return "the ledger does not answer" }
func (unavailable) Unavailable() bool { return true }

// testUnavailableDependencyWaits: a handler that fails because its dependency is down
// (IsUnavailable) gets its message again in place, without using up an attempt, so an
// outage longer than MaxAttempts tries holds the message back rather than dead-letter it.
func testUnavailableDependencyWaits(t *testing.T, h *harness) {
	const outage = 4 // tries that fail, twice MaxAttempts
	var tries []Message
	var mu sync.Mutex
	done := make(chan Message, 1)
	startConsumer(t, h.broker, func(_ context.Context, m Message) error {
		mu.Lock()
		defer mu.Unlock()
		tries = append(tries, m)
		if len(tries) <= outage {
			return fmt.Errorf("reserve: %w", unavailable{})
		}
		done <- m
		return nil
	})
	publish(t, h.broker, "order")
	// Were the failed tries counted, the message would be dead-lettered after
	// MaxAttempts and never arrive here.
	m := receive(t, done)
	if m.Redelivered || deliveryCount(m.Headers) != 0 {
		t.Errorf("the try after the outage was a redelivery (Redelivered %v, x-delivery-count %d): "+
			"an unavailable dependency used up the message's attempts", m.Redelivered, deliveryCount(m.Headers))
	}
	mu.Lock()
	n := len(tries)
	mu.Unlock()
	if n != outage+1 {
		t.Errorf("handler called %d times, want %d: every failed try, then the one that worked", n, outage+1)
	}
}

func testPanickingHandler(t *testing.T, h *harness) {
	var panics atomic.Int32
	good := make(chan Message, 10)
	stop := startConsumer(t, h.broker, func(_ context.Context, m Message) error {
		if string(m.Body) == "boom" {
			panics.Add(1)
			panic("handler bug")
		}
		good <- m
		return nil
	})

	publish(t, h.broker, "boom")
	publish(t, h.broker, "fine")
	receive(t, good)
	if dead := h.deadLetters(t, 1); string(dead[0].Body) != "boom" {
		t.Fatalf("dead letter %q, want boom", dead[0].Body)
	}
	publish(t, h.broker, "still fine")
	if m := receive(t, good); string(m.Body) != "still fine" {
		t.Fatalf("got %q after the panics, want still fine", m.Body)
	}
	if n := panics.Load(); int(n) != h.cfg.MaxAttempts {
		t.Errorf("handler panicked %d times, want MaxAttempts = %d", n, h.cfg.MaxAttempts)
	}
	if err := stop(); err != nil {
		t.Errorf("Consume returned %v, want nil", err)
	}
}

func testCancelFinishesInFlight(t *testing.T, h *harness) {
	started := make(chan struct{})
	finished := make(chan struct{})
	others := make(chan Message, 10)
	stop := startConsumer(t, h.broker, func(ctx context.Context, m Message) error {
		if string(m.Body) != "in flight" {
			others <- m
			return nil
		}
		close(started)
		<-ctx.Done() // busy until the consumer is cancelled
		close(finished)
		return nil
	})

	publish(t, h.broker, "in flight")
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("handler not called within 10s")
	}
	// Queued behind the message in flight; a RabbitMQ consumer has prefetched it.
	publish(t, h.broker, "waiting")

	if err := stop(); err != nil {
		t.Fatalf("Consume returned %v after cancel, want nil", err)
	}
	select {
	case <-finished:
	default:
		t.Fatal("Consume returned before the message in flight was handled")
	}
	select {
	case m := <-others:
		t.Fatalf("cancelled consumer handled %q", m.Body)
	default:
	}

	// The next consumer gets the waiting message, and not the acked one again.
	startConsumer(t, h.broker, func(_ context.Context, m Message) error {
		others <- m
		return nil
	})
	if m := receive(t, others); string(m.Body) != "waiting" {
		t.Fatalf("next consumer got %q, want waiting", m.Body)
	}
	select {
	case m := <-others:
		t.Fatalf("next consumer also got %q", m.Body)
	case <-time.After(300 * time.Millisecond):
	}
	if n := h.queued(t); n != 0 {
		t.Errorf("%d messages left in the queue, want 0", n)
	}
}

// testConcurrentWorkers checks that Config.Workers messages are handled at once, each
// acked on its own, and that cancelling waits for all of those in flight.
func testConcurrentWorkers(t *testing.T, h *harness) {
	const workers = 4
	var inside atomic.Int32
	all := make(chan struct{})
	release := make(chan struct{})
	var finished atomic.Int32
	stop := startConsumer(t, h.broker, func(ctx context.Context, m Message) error {
		if inside.Add(1) == workers {
			close(all)
		}
		<-release
		time.Sleep(50 * time.Millisecond) // still busy when the consumer is cancelled
		finished.Add(1)
		return nil
	})
	for i := range workers {
		publish(t, h.broker, fmt.Sprint("m", i))
	}
	select {
	case <-all:
	case <-time.After(10 * time.Second):
		t.Fatalf("%d handlers running at once, want %d", inside.Load(), workers)
	}
	close(release)
	if err := stop(); err != nil {
		t.Fatalf("Consume returned %v after cancel, want nil", err)
	}
	if n := finished.Load(); n != workers {
		t.Fatalf("Consume returned with %d of %d handlers finished", n, workers)
	}
	waitFor(t, 10*time.Second, "the queue to be empty (every message acked)", func() bool { return h.queued(t) == 0 })
}

func testHandlerSeesOnlyConsumerContext(t *testing.T, h *harness) {
	type key struct{}
	got := make(chan any, 1)
	consumerCtx := context.WithValue(context.Background(), key{}, "consumer")
	startConsumerCtx(t, consumerCtx, h.broker, func(ctx context.Context, _ Message) error {
		got <- ctx.Value(key{})
		return nil
	})
	publisherCtx := context.WithValue(context.Background(), key{}, "publisher")
	if err := h.broker.Publish(publisherCtx, Message{RoutingKey: RoutingKey}); err != nil {
		t.Fatal(err)
	}
	select {
	case v := <-got:
		if v != "consumer" {
			t.Errorf("handler context value = %v, want the consumer's", v)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no delivery within 10s")
	}
}

func testInfo(t *testing.T, h *harness) {
	info := h.broker.Info()
	if info.Exchange != h.cfg.Exchange || info.Queue != h.cfg.Queue || info.DeadLetterQueue != h.cfg.Queue+".dlq" {
		t.Errorf("Info() = %+v, want the topology of %+v", info, h.cfg)
	}
	switch h.broker.(type) {
	case *Rabbit:
		uri, _ := amqp.ParseURI(h.cfg.URL)
		if info.System != "rabbitmq" || info.Host != uri.Host || info.Port != uri.Port {
			t.Errorf("Info() = %+v, want system rabbitmq at %s:%d", info, uri.Host, uri.Port)
		}
	case *Memory:
		if info.System != "in-memory" || info.Host != "" || info.Port != 0 {
			t.Errorf("Info() = %+v, want system in-memory and no address", info)
		}
	}
	if err := h.broker.Ready(); err != nil {
		t.Errorf("Ready() = %v, want nil", err)
	}
}

func testClose(t *testing.T, h *harness) {
	if err := h.broker.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := h.broker.Close(); err != nil {
		t.Errorf("second Close: %v, want nil", err)
	}
	ctx := context.Background()
	if err := h.broker.Publish(ctx, Message{RoutingKey: RoutingKey}); !errors.Is(err, ErrClosed) {
		t.Errorf("Publish after Close: %v, want ErrClosed", err)
	}
	if err := h.broker.Consume(ctx, func(context.Context, Message) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Errorf("Consume after Close: %v, want ErrClosed", err)
	}
	if err := h.broker.Ready(); !errors.Is(err, ErrClosed) {
		t.Errorf("Ready after Close: %v, want ErrClosed", err)
	}
}

// TestCloseStopsConsume checks that a running Consume returns ErrClosed on Close.
func TestCloseStopsConsume(t *testing.T) {
	for _, impl := range implementations {
		t.Run(impl.name, func(t *testing.T) {
			t.Parallel()
			h := impl.open(t, nil)
			errc := make(chan error, 1)
			go func() {
				errc <- h.broker.Consume(context.Background(), func(context.Context, Message) error { return nil })
			}()
			time.Sleep(100 * time.Millisecond)
			if err := h.broker.Close(); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-errc:
				if !errors.Is(err, ErrClosed) {
					t.Errorf("Consume returned %v, want ErrClosed", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Consume still running 10s after Close")
			}
		})
	}
}

// TestHeadersMatchTheWire publishes the same headers through RabbitMQ and Memory and
// expects identical deliveries, equal to what NormalizeHeaders predicts.
func TestHeadersMatchTheWire(t *testing.T) {
	t.Parallel()
	headers := func() amqp.Table {
		return amqp.Table{
			"string":      "str",
			"bytes":       []byte("raw"),
			"emptyBytes":  []byte{},
			"nilBytes":    []byte(nil),
			"int":         42,
			"bigInt":      1<<40 + 7,
			"int8":        int8(-8),
			"byte":        byte(8),
			"int16":       int16(-16),
			"uint16":      uint16(16),
			"int32":       int32(-32),
			"uint32":      uint32(32),
			"int64":       int64(-1 << 40),
			"float32":     float32(1.5),
			"float64":     2.25,
			"bool":        true,
			"nil":         nil,
			"decimal":     amqp.Decimal{Scale: 2, Value: 1234},
			"time":        time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC),
			"array":       []any{1, "a", []byte("b"), amqp.Table{"n": 2}, []any{}},
			"emptyArray":  []any{},
			"table":       amqp.Table{"n": 1, "nested": amqp.Table{"deep": []any{int64(3)}}},
			"emptyTable":  amqp.Table{},
			"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
		}
	}
	want, err := NormalizeHeaders(headers())
	if err != nil {
		t.Fatal(err)
	}

	deliver := func(h *harness) amqp.Table {
		got := make(chan Message, 1)
		startConsumer(t, h.broker, func(_ context.Context, m Message) error {
			got <- m
			return nil
		})
		if err := h.broker.Publish(context.Background(), Message{RoutingKey: RoutingKey, Headers: headers()}); err != nil {
			t.Fatal(err)
		}
		return receive(t, got).Headers
	}
	viaRabbit := deliver(openRabbit(t, nil))
	viaMemory := deliver(openMemory(t, nil))

	if !reflect.DeepEqual(viaRabbit, want) {
		for k := range want {
			if !reflect.DeepEqual(viaRabbit[k], want[k]) {
				t.Errorf("header %q: RabbitMQ delivered %#v, NormalizeHeaders says %#v", k, viaRabbit[k], want[k])
			}
		}
		t.Errorf("RabbitMQ delivered %#v\nNormalizeHeaders: %#v", viaRabbit, want)
	}
	if !reflect.DeepEqual(viaMemory, viaRabbit) {
		t.Errorf("Memory delivered %#v\nRabbitMQ delivered %#v", viaMemory, viaRabbit)
	}
}

// TestRabbitInfoDoesNotAllocate: a traced broker asks for Info on every message it
// publishes or consumes, so it is made once, at Dial. (Not in TestBehaviour, whose
// parallel subtests cannot count allocations.)
func TestRabbitInfoDoesNotAllocate(t *testing.T) {
	url := requireRabbit(t)
	logger, _ := testLogger(t)
	r := dialRabbit(t, testConfig(t, url), logger)
	if n := testing.AllocsPerRun(100, func() { _ = r.Info() }); n != 0 {
		t.Errorf("Info() allocates %v times per call, want 0", n)
	}
}
