package workshoptest

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/ot2otel/workshop/shared/broker"
)

// ConsumerWatch sits between a broker and the consume wrapper under test, and around the
// test's handler, so that it sees each delivery go in and come out of the wrapper. It
// notices the two ways a broken wrapper loses a message the moment they happen, instead
// of a test waiting out its timeout for a delivery that will never come: the wrapper
// settled a delivery without calling the handler, or it returned nil for one whose
// handler failed (the broker acks it, and never delivers it again).
type ConsumerWatch struct {
	broker.Broker
	mu     sync.Mutex
	calls  map[string]*handlerCalls // by message ID, for a wrapper that drops the context
	faults chan string
	// settled is what the wrapper returned to the broker for each message's latest
	// delivery, by message ID: the broker acks on nil, and delivers the message again
	// (or dead-letters it) on an error.
	settled map[string]error
}

// handlerCalls counts the handler's calls for one delivery, and its failures.
type handlerCalls struct{ calls, failed int }

type watchKey struct{}

// WatchConsumer watches the consume wrappers that wrap b. Wrap the test's handler with
// Handler, and wait on Faults beside the messages it expects.
func WatchConsumer(b broker.Broker) *ConsumerWatch {
	return &ConsumerWatch{Broker: b, calls: map[string]*handlerCalls{}, faults: make(chan string, 16), settled: map[string]error{}}
}

// Unacked lists, sorted, the messages whose latest delivery the wrapper settled with an
// error, which the broker does not ack: they are back in the queue. ok is false when
// the watch saw no delivery at all (no consumer over it).
func (w *ConsumerWatch) Unacked() (ids []string, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for id, err := range w.settled {
		if err != nil {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids, len(w.settled) > 0
}

// Faults receives one line for each delivery a wrapper lost, saying how.
func (w *ConsumerWatch) Faults() <-chan string { return w.faults }

// Consume consumes from the watched broker, and checks what the wrapper h did with
// each delivery once it returns.
func (w *ConsumerWatch) Consume(ctx context.Context, h broker.Handler) error {
	return w.Broker.Consume(ctx, func(ctx context.Context, msg broker.Message) error {
		mine := &handlerCalls{}
		before := w.byID(msg.MessageID)
		err := h(context.WithValue(ctx, watchKey{}, mine), msg)
		after := w.byID(msg.MessageID)
		w.mu.Lock()
		w.settled[msg.MessageID] = err
		got := *mine
		if got.calls == 0 {
			// The wrapper may have handed the handler a context not derived from its own.
			got = handlerCalls{after.calls - before.calls, after.failed - before.failed}
		}
		w.mu.Unlock()
		var fault string
		switch {
		case got.calls == 0 && err == nil:
			fault = fmt.Sprintf("the consume wrapper returned nil for message %q without calling the handler: "+
				"the broker acked it unhandled", msg.MessageID)
		case got.calls == 0:
			fault = fmt.Sprintf("the consume wrapper returned an error (%v) for message %q without calling the handler: "+
				"the broker delivers it again, or dead-letters it, and the handler never sees it", err, msg.MessageID)
		case got.failed > 0 && err == nil:
			fault = fmt.Sprintf("the handler failed on message %q and the consume wrapper returned nil: "+
				"the broker acked it, and will not deliver it again", msg.MessageID)
		}
		if fault != "" {
			select {
			case w.faults <- fault:
			default:
			}
		}
		return err
	})
}

// Handler wraps the test's handler h, counting its calls and failures.
func (w *ConsumerWatch) Handler(h broker.Handler) broker.Handler {
	return func(ctx context.Context, msg broker.Message) error {
		err := h(ctx, msg)
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, c := range []*handlerCalls{w.callsOf(msg.MessageID), mark(ctx)} {
			if c == nil {
				continue
			}
			c.calls++
			if err != nil {
				c.failed++
			}
		}
		return err
	}
}

func mark(ctx context.Context) *handlerCalls {
	c, _ := ctx.Value(watchKey{}).(*handlerCalls)
	return c
}

func (w *ConsumerWatch) byID(id string) handlerCalls {
	w.mu.Lock()
	defer w.mu.Unlock()
	return *w.callsOf(id)
}

// callsOf is id's counts; w.mu is held.
func (w *ConsumerWatch) callsOf(id string) *handlerCalls {
	c := w.calls[id]
	if c == nil {
		c = &handlerCalls{}
		w.calls[id] = c
	}
	return c
}

// Notice watches for a lost delivery until ctx is done, and cancels ctx (with cancel)
// when one is. Call the function it returns once consuming stopped: it says what was
// lost, or "" when nothing was.
func (w *ConsumerWatch) Notice(ctx context.Context, cancel context.CancelFunc) (lost func() string) {
	for drained := false; !drained; {
		select {
		case <-w.faults: // from an earlier consumer of this broker
		default:
			drained = true
		}
	}
	var fault string
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case fault = <-w.faults:
			cancel()
		case <-ctx.Done():
		}
	}()
	return func() string {
		cancel()
		<-done
		if fault == "" {
			// Consuming has stopped: a delivery settled after ctx was done said so by now.
			select {
			case fault = <-w.faults:
			default:
			}
		}
		return fault
	}
}
