package workshoptest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/ot2otel/workshop/shared/broker"
	"github.com/ot2otel/workshop/shared/tracecheck"
)

// Queue is one test's broker, for the tests of a step's broker decorator: the order
// events they publish, and what a consumer got and settled. S is what the decorator
// puts in a handler's context: an OpenTracing span (otsuite) or an OpenTelemetry span
// context (step 06), so that both kinds of step share one fixture.
type Queue[S any] struct {
	// Missed says why the handler may have missed a message; "" for a traced one.
	Missed string
	// Base is the test's broker, watched: a consume wrapper over it that loses a
	// delivery fails Consume at once, rather than after its timeout.
	Base broker.Broker
	Info broker.Info
	// Spans returns what the test's tracers recorded.
	Spans func() []tracecheck.Span
	// spanOf reads S from a handler's context; wrapper is the hint when a message never
	// reached the handler, ack when one was not acked.
	spanOf       func(context.Context) S
	wrapper, ack string
	watch        *ConsumerWatch
}

// NewQueue returns a queue on a broker of the test's own (Broker), reading handlers'
// spans with spanOf and blaming wrapper and ack.
func NewQueue[S any](t testing.TB, spans func() []tracecheck.Span, spanOf func(context.Context) S, wrapper, ack string) *Queue[S] {
	q := &Queue[S]{watch: WatchConsumer(Broker(t)), Spans: spans, spanOf: spanOf, wrapper: wrapper, ack: ack}
	q.Base, q.Info = q.watch, q.watch.Info()
	return q
}

// Message is an order event with the given headers.
func (q *Queue[S]) Message(id string, headers amqp.Table) broker.Message {
	return broker.Message{RoutingKey: broker.RoutingKey, MessageID: id, ContentType: "application/json",
		Body: []byte(`{"order_id": "` + id + `"}`), Headers: headers}
}

// Delivery is a message a test's handler got, and the span in the handler's context.
type Delivery[S any] struct {
	Msg  broker.Message
	Span S
}

// Consume consumes from b until n messages were handled by h (nil accepts them all), and
// returns them. It fails the test if fewer arrive within five seconds, or as soon as a
// consume wrapper over Base loses one.
func (q *Queue[S]) Consume(t *testing.T, b broker.Broker, n int, h broker.Handler) []Delivery[S] {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	lost := q.watch.Notice(ctx, cancel)
	var mu sync.Mutex
	var got []Delivery[S]
	err := b.Consume(ctx, q.watch.Handler(func(hctx context.Context, msg broker.Message) error {
		mu.Lock()
		got = append(got, Delivery[S]{Msg: msg, Span: q.spanOf(hctx)})
		if len(got) == n {
			cancel() // Consume returns once this message is settled
		}
		mu.Unlock()
		if h != nil {
			return h(hctx, msg)
		}
		return nil
	}))
	if err != nil {
		t.Fatalf("consume: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) < n {
		why := q.Missed
		if why == "" {
			why = MissedTraced
		}
		missed := fmt.Sprintf("the handler got %d message(s) in 5s, want %d", len(got), n)
		if l := lost(); l != "" {
			missed = fmt.Sprintf("the handler got %d message(s), want %d: %s", len(got), n, l)
		}
		t.Fatalf("%s. %s\nLook at %s\n\nrecorded spans:\n%s", missed, why, q.wrapper, tracecheck.String(q.Spans()))
	}
	return got
}

// ConsumeHeaders is one case of a consumer's bad-headers test: it publishes a message
// with headers straight to the queue, past any decorator, and has consumer handle it.
// It fails the test unless the handler got the message with a span in its context
// (hasSpan), and acked it, and returns the recorded spans. continues says whether the
// headers carry a trace context the consumer continues, for the hint when the message
// is lost; what names the headers in a failure, and hint what to look at.
func (q *Queue[S]) ConsumeHeaders(t *testing.T, consumer broker.Broker, headers amqp.Table, continues bool, hasSpan func(S) bool, what, hint string) []tracecheck.Span {
	t.Helper()
	if err := q.Base.Publish(context.Background(), q.Message("ord_1", headers)); err != nil {
		t.Fatal(err)
	}
	q.Missed = MissedUntraced
	if continues {
		q.Missed = MissedTraced
	}
	got := q.Consume(t, consumer, 1, nil)
	if !hasSpan(got[0].Span) {
		t.Fatalf("a message with %s was handled without a span in its context.\nLook at %s", what, hint)
	}
	q.RequireEmpty(t)
	return q.Spans()
}

// RequireEmpty fails the test if the queue still holds a message: the ones consumed
// were acked. What the wrapper returned to the broker for each delivery decides it, with
// no clock: the broker (shared/broker) acks on nil and nothing else. Only when no
// delivery went through the watch does it look in the queue, for 300 ms.
func (q *Queue[S]) RequireEmpty(t *testing.T) {
	t.Helper()
	if ids, ok := q.watch.Unacked(); ok {
		if len(ids) > 0 {
			t.Errorf("the consume wrapper settled message(s) %v with an error after they were handled: the broker does not "+
				"ack them, and delivers them again.\nLook at %s: return the handler's result, nil when it succeeded, so the "+
				"broker acks the message", ids, q.ack)
		}
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var left atomic.Int32
	_ = q.watch.Broker.Consume(ctx, func(context.Context, broker.Message) error { left.Add(1); return nil })
	if left.Load() > 0 {
		t.Errorf("the message was delivered again after it was handled: it was not acked.\nLook at %s: "+
			"return the handler's result, nil when it succeeded, so the broker acks the message", q.ack)
	}
}

// PublishProbe is a broker.Broker that calls Returned each time its Publish has
// returned, before it returns to the decorator that wraps it: what a test sees then is
// what the decorator had done before the broker confirmed the message.
type PublishProbe struct {
	broker.Broker
	Returned func()
}

// Publish publishes through the probed broker, then calls Returned.
func (p *PublishProbe) Publish(ctx context.Context, msg broker.Message) error {
	err := p.Broker.Publish(ctx, msg)
	p.Returned()
	return err
}
