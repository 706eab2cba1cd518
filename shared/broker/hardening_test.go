package broker

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// hardeningTests hold for every Broker implementation: what a failing handler, a
// publisher's headers and an oversized message can and cannot do.
var hardeningTests = []struct {
	name      string
	configure func(*Config)
	run       func(t *testing.T, h *harness)
}{
	{"PermanentFailureDeadLettersAtOnce", func(c *Config) { c.MaxAttempts = 3 }, testPermanentFailure},
	{"PublisherCannotSetDeliveryCount", func(c *Config) { c.MaxAttempts = 3 }, testPublisherDeliveryCount},
	{"OversizedHeadersRefused", nil, testOversizedHeaders},
}

// They run with the behaviour tests, against each implementation (TestBehaviour).
func init() { behaviourTests = append(behaviourTests, hardeningTests...) }

// outOfStock is a domain error that knows it is permanent without importing broker,
// like shop's.
type outOfStock struct{}

func (outOfStock) Error() string   { return "not enough stock for trace-mug" }
func (outOfStock) Permanent() bool { return true }

func testPermanentFailure(t *testing.T, h *harness) {
	var mu sync.Mutex
	handled := map[string]int{}
	good := make(chan Message, 10)
	startConsumer(t, h.broker, func(_ context.Context, m Message) error {
		mu.Lock()
		handled[string(m.Body)]++
		mu.Unlock()
		switch string(m.Body) {
		case "undecodable":
			return Permanent(errors.New("decode order event: invalid character"))
		case "out of stock":
			return fmtWrap(outOfStock{})
		}
		good <- m
		return nil
	})
	publish(t, h.broker, "undecodable")
	publish(t, h.broker, "out of stock")
	publish(t, h.broker, "fine")
	receive(t, good)

	dead := h.deadLetters(t, 2)
	reasons := map[string]any{}
	for _, d := range dead {
		reasons[string(d.Body)] = d.Headers[FailureReasonHeader]
		if d.Exchange != h.cfg.Exchange+".dlx" || d.RoutingKey != RoutingKey {
			t.Errorf("dead letter %q came via %q with key %q, want %s.dlx and %s", d.Body, d.Exchange, d.RoutingKey, h.cfg.Exchange, RoutingKey)
		}
	}
	if reasons["undecodable"] != "decode order event: invalid character" ||
		reasons["out of stock"] != "reserve: not enough stock for trace-mug" {
		t.Errorf("%s headers of the dead letters = %v, want each handler's error", FailureReasonHeader, reasons)
	}
	time.Sleep(100 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if handled["undecodable"] != 1 || handled["out of stock"] != 1 {
		t.Errorf("handled %v, want each permanently failing message handled once, not retried", handled)
	}
}

func fmtWrap(err error) error { return &wrapped{"reserve: ", err} }

type wrapped struct {
	prefix string
	err    error
}

func (w *wrapped) Error() string { return w.prefix + w.err.Error() }
func (w *wrapped) Unwrap() error { return w.err }

func testPublisherDeliveryCount(t *testing.T, h *harness) {
	var attempts atomic.Int32
	startConsumer(t, h.broker, func(_ context.Context, m Message) error {
		attempts.Add(1)
		return errors.New("the ledger store is away")
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, v := range []any{int64(5), int32(2)} {
		if err := h.broker.Publish(ctx, Message{RoutingKey: RoutingKey, Body: []byte("forged"),
			Headers: amqp.Table{deliveryCountHeader: v}}); err != nil {
			t.Fatal(err)
		}
	}
	h.deadLetters(t, 2)
	time.Sleep(100 * time.Millisecond)
	if n := attempts.Load(); int(n) != 2*h.cfg.MaxAttempts {
		t.Errorf("two messages published with a forged x-delivery-count were handled %d times, want MaxAttempts = %d each", n, h.cfg.MaxAttempts)
	}
}

func testOversizedHeaders(t *testing.T, h *harness) {
	got := make(chan Message, 10)
	startConsumer(t, h.broker, func(_ context.Context, m Message) error {
		got <- m
		return nil
	})
	var conn *amqp.Connection
	r, isRabbit := h.broker.(*Rabbit)
	if isRabbit {
		r.mu.Lock()
		conn = r.conn
		r.mu.Unlock()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, headers := range []amqp.Table{
		{"x-request-id": strings.Repeat("r", 200<<10)},
		{"a": strings.Repeat("a", MaxHeaderBytes/2), "b": []byte(strings.Repeat("b", MaxHeaderBytes/2))},
	} {
		err := h.broker.Publish(ctx, Message{RoutingKey: RoutingKey, Body: []byte("big"), Headers: headers})
		if !errors.Is(err, ErrHeadersTooLarge) {
			t.Errorf("Publish with %d bytes of headers: %v, want ErrHeadersTooLarge", tableSize(headers), err)
		}
	}
	// Just under the limit still goes through.
	fits := amqp.Table{"x-request-id": strings.Repeat("r", MaxHeaderBytes-100)}
	if err := h.broker.Publish(ctx, Message{RoutingKey: RoutingKey, Body: []byte("fits"), Headers: fits}); err != nil {
		t.Fatalf("Publish with headers just under the limit: %v", err)
	}
	publish(t, h.broker, "next")
	// The consumer's workers promise no order.
	bodies := map[string]bool{}
	for range 2 {
		bodies[string(receive(t, got).Body)] = true
	}
	if !bodies["fits"] || !bodies["next"] {
		t.Errorf("received %v, want the message just under the limit and the next one", bodies)
	}
	if isRabbit {
		r.mu.Lock()
		same := r.conn == conn
		r.mu.Unlock()
		if !same {
			t.Error("the connection to RabbitMQ was replaced: the oversized headers reached the broker")
		}
	}
}
