// Package otsuite is the contract suite's part for OpenTracing broker decorators: the
// tests of a TracedRabbitBroker and its header carrier on their own, against RabbitMQ (or
// the in-memory broker), driven by each step's fixture (how to wrap a broker with the
// step's tracer, how to read recorded spans, the step's hints). It lives apart from
// workshoptest so that steps without OpenTracing need none of its modules.
package otsuite

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/opentracing/opentracing-go"
	"github.com/opentracing/opentracing-go/ext"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/ot2otel/workshop/shared/broker"
	"github.com/ot2otel/workshop/shared/tracecheck"
	"github.com/ot2otel/workshop/shared/workshoptest"
	"github.com/ot2otel/workshop/shared/workshoptest/otglobal"
)

// Broker is one step's broker decorator and what its tests need to know about it.
type Broker struct {
	// Wrap wraps base as the step's services do, tracing with tracer.
	Wrap func(base broker.Broker, tracer opentracing.Tracer) broker.Broker
	// Tracers returns checkout's and stock's tracers, recording, and their spans.
	Tracers func(t *testing.T) (checkout, stock opentracing.Tracer, spans func() []tracecheck.Span)
	// Carrier is the step's AMQP header carrier of a table; CarrierHeader is the trace
	// header it is checked with, CarrierHints the TODOs its checks name.
	Carrier       func(amqp.Table) TextMapCarrier
	CarrierHeader string
	CarrierHints  workshoptest.CarrierHints
	// Publish and Process are the broker's spans, named after the exchange and queue;
	// Reserve is stock's business span, which the handler's context must hold.
	Publish, Process func(name string) tracecheck.Hop
	Reserve          tracecheck.Hop
	// Tags are the tags a broker span must have.
	Tags func(hop tracecheck.Hop, exchange, queue, system string) map[string]string
	// TraceHeader is the header a publish carries its span's context in, and SpanID
	// reads the span ID (16 hex digits) from its value.
	TraceHeader string
	SpanID      func(raw string) (string, bool)
	// InjectHint is the hint when the published header is wrong; "" means the producer
	// span's Todo.
	InjectHint string
	Hints      Hints
	// MessageID: the step's exercise gives a message without an ID one before tagging.
	MessageID bool
	// BadHeaders are the headers TestBroker/ConsumeBadHeaders sends the consumer; none
	// leaves that test to the step. ContinueTodo and ContinueWhy are ContinueHint's
	// arguments when a consumer span does not continue the trace it should.
	BadHeaders                []BadHeader
	ContinueTodo, ContinueWhy string
}

// Hints name where the decorator's tasks are: the publish wrapper, the consume wrapper
// (its exercise), and the consume wrapper as a place (when the handler missed a message).
type Hints struct{ Publish, Consume, Wrapper string }

// BadHeader is one kind of header a consumer must survive.
type BadHeader struct {
	Name    string
	Headers func(upstream opentracing.Tracer, parent opentracing.Span) amqp.Table
	// Continues is whether the consumer span continues the upstream span's trace.
	Continues bool
}

// CommonBadHeaders are the headers every OpenTracing consumer must survive, whatever
// its format, header: none at all, none of the trace's, header as an integer (ignored:
// a new trace), and header as []byte, what another AMQP client sends for the same text
// (read: the trace continues).
func CommonBadHeaders(header string) []BadHeader {
	return []BadHeader{
		{Name: "nil headers", Headers: func(opentracing.Tracer, opentracing.Span) amqp.Table { return nil }},
		{Name: "no trace headers", Headers: func(opentracing.Tracer, opentracing.Span) amqp.Table {
			return amqp.Table{"x-request-id": "req-1"}
		}},
		{Name: header + " as an integer", Headers: func(opentracing.Tracer, opentracing.Span) amqp.Table {
			return amqp.Table{header: int64(42)}
		}},
		{Name: header + " as []byte", Continues: true, Headers: func(upstream opentracing.Tracer, parent opentracing.Span) amqp.Table {
			return amqp.Table{header: []byte(Inject(upstream, parent)[header])}
		}},
	}
}

// TextMapCarrier is what a step's AMQP header carrier provides.
type TextMapCarrier interface {
	Get(key string) string
	Set(key, value string)
	ForeachKey(handler func(key, val string) error) error
}

// Inject returns the upstream span's context as its tracer writes it into headers.
func Inject(upstream opentracing.Tracer, parent opentracing.Span) opentracing.TextMapCarrier {
	carrier := opentracing.TextMapCarrier{}
	if err := upstream.Inject(parent.Context(), opentracing.TextMap, carrier); err != nil {
		panic(err)
	}
	return carrier
}

// RunBroker runs the decorator's tests as subtests of t: what a publish sends, what a
// consumer makes of every kind of header, and the two bugs of the talk's decorator, which
// must never come back.
func RunBroker(t *testing.T, s Broker) {
	t.Run("Carrier", func(t *testing.T) { testCarrier(t, s) })
	t.Run("PublishStartsProducerSpan", func(t *testing.T) { testPublishStartsProducerSpan(t, s) })
	t.Run("TalkBugProducerTaggedAsConsumer", func(t *testing.T) { testTalkBugProducerTaggedAsConsumer(t, s) })
	t.Run("TalkBugExtractSuccessDropsMessage", func(t *testing.T) { testTalkBugExtractSuccessDropsMessage(t, s) })
	if len(s.BadHeaders) > 0 {
		t.Run("ConsumeBadHeaders", func(t *testing.T) { testConsumeBadHeaders(t, s) })
	}
	t.Run("HandlerErrorMarksConsumerSpan", func(t *testing.T) { testHandlerErrorMarksConsumerSpan(t, s) })
	t.Run("RejectedPublishIsAnError", func(t *testing.T) { testRejectedPublishIsAnError(t, s) })
	t.Run("ProducerSpanEndsAfterConfirm", func(t *testing.T) { testProducerSpanEndsAfterConfirm(t, s) })
}

// testProducerSpanEndsAfterConfirm checks that the producer span is still open when the
// wrapped Publish returns, which it does once RabbitMQ confirmed the message (or did
// not): the span's duration is the publish's, and a failed confirm can still mark it.
// A span finished before (span.Finish() after Inject, not deferred) passes every other
// check, and says the message was sent when it may not have been.
func testProducerSpanEndsAfterConfirm(t *testing.T, s Broker) {
	f := NewFixture(t, s)
	var early []tracecheck.Span
	confirmed := false
	probe := &workshoptest.PublishProbe{Broker: f.Base, Returned: func() {
		confirmed = true
		early = f.Spans()
	}}
	if err := s.Wrap(probe, f.CheckoutTracer).Publish(context.Background(), f.Message("ord_1", nil)); err != nil {
		t.Fatal(err)
	}
	producer := s.Publish(f.Info.Exchange)
	if !confirmed {
		t.Fatalf("TracedRabbitBroker.Publish did not call the wrapped broker's Publish.\nLook at %s, TracedRabbitBroker.Publish (broker.go)", s.Hints.Publish)
	}
	if span, ok := tracecheck.Find(early, producer); ok {
		t.Errorf("the producer span %q had already finished when the wrapped Publish returned, that is before RabbitMQ "+
			"confirmed the message: it must cover the publish, confirm included, so that its duration is the publish's and "+
			"a publish the broker did not confirm can still mark it. Finish it after t.b.Publish returns: defer span.Finish() "+
			"right after starting it.\nLook at %s, TracedRabbitBroker.Publish (broker.go)", span.Name, s.Hints.Publish)
	}
	workshoptest.MustFind(t, f.Spans(), producer)
}

func testCarrier(t *testing.T, s Broker) {
	workshoptest.CheckCarrier(t, func(h amqp.Table) workshoptest.Carrier {
		c := s.Carrier(h)
		return workshoptest.Carrier{Get: c.Get, Set: c.Set, Foreach: c.ForeachKey, Keys: func() []string {
			var keys []string
			_ = c.ForeachKey(func(k, _ string) error { keys = append(keys, k); return nil })
			return keys
		}}
	}, s.CarrierHeader, s.CarrierHints)
}

func testPublishStartsProducerSpan(t *testing.T, s Broker) {
	for _, tc := range []struct {
		name    string
		headers amqp.Table
	}{
		{"with headers", amqp.Table{"x-request-id": "req-1"}},
		{"without headers", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := NewFixture(t, s)
			global := otglobal.Tracer()
			global.Install(t)
			callers := maps.Clone(tc.headers)
			parent := f.CheckoutTracer.StartSpan("place order")
			ctx := opentracing.ContextWithSpan(context.Background(), parent)
			if err := f.Checkout.Publish(ctx, f.Message("ord_1", callers)); err != nil {
				t.Fatal(err)
			}
			parent.Finish()
			checkNoGlobalTracer(t, global, "Publish", s.Hints.Publish)
			if !maps.Equal(callers, tc.headers) {
				t.Errorf("Publish changed the caller's headers from %v to %v.\nLook at %s: inject into a copy of the headers", tc.headers, callers, s.Hints.Publish)
			}

			spans := f.Spans()
			producer := s.Publish(f.Info.Exchange)
			if err := tracecheck.CheckParent(spans, producer, tracecheck.Hop{Service: "checkout", Kind: tracecheck.KindInternal, Name: "place order"}); err != nil {
				t.Fatal(err)
			}
			span, _ := tracecheck.Find(spans, producer)
			workshoptest.CheckTags(t, span, s.Tags(producer, f.Info.Exchange, f.Info.Queue, f.Info.System), producer.Todo)

			msg := f.Consume(t, f.Base, 1, nil)[0].Msg
			for k, v := range tc.headers {
				if msg.Headers[k] != v {
					t.Errorf("the published message's header %s = %#v, want %#v: keep the caller's headers", k, msg.Headers[k], v)
				}
			}
			raw, _ := msg.Headers[s.TraceHeader].(string)
			if id, ok := s.SpanID(raw); !ok || id != span.SpanID {
				t.Errorf("the published message's %s header is %q, want the producer span's context (span %s) "+
					"in the headers %v.\nLook at %s", s.TraceHeader, raw, span.SpanID, msg.Headers, cmpOr(s.InjectHint, producer.Todo))
			}
		})
	}
	if !s.MessageID {
		return
	}
	t.Run("without a message ID", func(t *testing.T) {
		f := NewFixture(t, s)
		if err := f.Checkout.Publish(context.Background(), f.Message("", nil)); err != nil {
			t.Fatal(err)
		}
		msg := f.Consume(t, f.Base, 1, nil)[0].Msg
		span := workshoptest.MustFind(t, f.Spans(), s.Publish(f.Info.Exchange))
		if msg.MessageID == "" || span.Attrs["messaging.message.id"] != msg.MessageID {
			t.Errorf("the message went out as %q and its producer span says messaging.message.id=%q.\n"+
				"Look at %s: give a message without an ID one (broker.NewMessageID) before the span starts",
				msg.MessageID, span.Attrs["messaging.message.id"], s.Hints.Publish)
		}
	})
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// testTalkBugProducerTaggedAsConsumer pins the first bug of the talk's decorator: it
// tagged its producer span as a consumer. And the kind must be a start option, because
// OpenTelemetry's bridge (step 04) ignores a span.kind set after the start.
func testTalkBugProducerTaggedAsConsumer(t *testing.T, s Broker) {
	f := NewFixture(t, s)
	checkout := &startRecorder{Tracer: f.CheckoutTracer}
	stock := &startRecorder{Tracer: f.StockTracer}
	if err := s.Wrap(f.Base, checkout).Publish(context.Background(), f.Message("ord_1", nil)); err != nil {
		t.Fatal(err)
	}
	f.Consume(t, s.Wrap(f.Base, stock), 1, nil)

	spans := f.Spans()
	for _, tc := range []struct {
		tracer *startRecorder
		hop    tracecheck.Hop
		want   ext.SpanKindEnum
	}{
		{checkout, s.Publish(f.Info.Exchange), ext.SpanKindProducerEnum},
		{stock, s.Process(f.Info.Queue), ext.SpanKindConsumerEnum},
	} {
		started, ok := tc.tracer.started(tc.hop.Name)
		if !ok {
			t.Errorf("no %s span was started.\n%s\nLook at %s", tc.hop, tracecheck.String(spans), tc.hop.Todo)
			continue
		}
		if got := started[string(ext.SpanKind)]; got != tc.want {
			t.Errorf("the span %q was started with span.kind %v, want %s: pass the kind to StartSpan, "+
				"not to SetTag afterwards (the bridge of step 04 ignores a kind set late; the talk's code even "+
				"tagged its producer as a consumer).\nLook at %s", tc.hop.Name, got, tc.want, tc.hop.Todo)
		}
		if err := tracecheck.CheckChain(spans, tc.hop); err != nil {
			t.Error(err)
		}
	}
}

// testTalkBugExtractSuccessDropsMessage pins the second bug of the talk's decorator:
// after Extract it returned when extraction SUCCEEDED (`if err == nil { return err }`), so
// every traced message was acked without being handled, and only untraced ones got
// through. A traced message must be handled, in a consumer span that is a ChildOf the
// producer's span.
func testTalkBugExtractSuccessDropsMessage(t *testing.T, s Broker) {
	f := NewFixture(t, s)
	if err := f.Checkout.Publish(context.Background(), f.Message("ord_1", nil)); err != nil {
		t.Fatal(err)
	}
	global := otglobal.Tracer()
	global.Install(t)
	got := f.Consume(t, f.Stock, 1, nil)
	checkNoGlobalTracer(t, global, "Consume", s.Hints.Consume)
	if got[0].Span == nil {
		t.Fatalf("the handler's context holds no span.\nLook at %s\nand at %s", s.Process(f.Info.Queue).Todo, s.Reserve.Todo)
	}
	f.RequireEmpty(t)
	if err := tracecheck.CheckParent(f.Spans(), s.Process(f.Info.Queue), s.Publish(f.Info.Exchange)); err != nil {
		t.Error(err)
	}
}

func testConsumeBadHeaders(t *testing.T, s Broker) {
	for _, tc := range s.BadHeaders {
		t.Run(tc.Name, func(t *testing.T) {
			// Each case has a topology of its own: they can run at once.
			t.Parallel()
			f := NewFixture(t, s)
			upstream := f.CheckoutTracer.StartSpan("upstream")
			upstream.Finish()
			spans := f.ConsumeHeaders(t, f.Stock, tc.Headers(f.CheckoutTracer, upstream), tc.Continues, HasSpan,
				tc.Name, s.Process(f.Info.Queue).Todo)
			consumer, ok := tracecheck.Find(spans, s.Process(f.Info.Queue))
			if !ok {
				t.Fatalf("no consumer span for a message with %s.\n%s\nLook at %s",
					tc.Name, tracecheck.String(spans), s.Process(f.Info.Queue).Todo)
			}
			if tc.Continues {
				if err := tracecheck.CheckParent(spans, s.Process(f.Info.Queue),
					tracecheck.Hop{Service: "checkout", Kind: tracecheck.KindInternal, Name: "upstream"}); err != nil {
					t.Errorf("%v\n%s", err, workshoptest.ContinueHint(consumer, s.ContinueTodo, s.ContinueWhy))
				}
			} else if consumer.ParentID != "" {
				t.Errorf("the consumer span of a message with %s has a parent %s: it should start a new trace.\nLook at %s",
					tc.Name, consumer.ParentID, s.Process(f.Info.Queue).Todo)
			}
		})
	}
}

func testHandlerErrorMarksConsumerSpan(t *testing.T, s Broker) {
	f := NewFixture(t, s)
	if err := f.Checkout.Publish(context.Background(), f.Message("ord_1", nil)); err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	f.Missed = workshoptest.MissedRedelivery
	f.Consume(t, f.Stock, 2, func(context.Context, broker.Message) error {
		if calls.Add(1) == 1 {
			return errors.New("the ledger is locked")
		}
		return nil
	})

	spans := f.Spans()
	producer := workshoptest.MustFind(t, spans, s.Publish(f.Info.Exchange))
	var consumers []tracecheck.Span
	for _, s := range spans {
		if s.Kind == tracecheck.KindConsumer {
			consumers = append(consumers, s)
		}
	}
	slices.SortFunc(consumers, func(a, b tracecheck.Span) int { return a.Start.Compare(b.Start) })
	if n := int(calls.Load()); len(consumers) < n {
		// A span is reported when it finishes: the missing one is the failed delivery's,
		// whose path returned before Finish.
		t.Fatalf("the handler ran %d times (it failed, then succeeded), but only %d consumer span(s) were recorded: "+
			"a span is recorded when it finishes, and the consumer span of the failed delivery was never finished. "+
			"Finish it on every path, the error's and a panic's too: defer span.Finish() right after starting it.\n%s\n"+
			"Look at %s, TracedRabbitBroker.Consume (broker.go)", n, len(consumers), tracecheck.String(spans), s.Hints.Consume)
	}
	if len(consumers) != 2 || !consumers[0].Error || !workshoptest.HasEvent(consumers[0], "error") || consumers[1].Error {
		t.Fatalf("a message whose handler failed once, then succeeded: want two consumer spans, the first an error "+
			"(error=true and a log record, event=error), the second not:\n%s\nLook at %s: ext.LogError(span, err) "+
			"with the handler's error, and return the error so the message is delivered again", tracecheck.String(spans), s.Hints.Consume)
	}
	for _, c := range consumers {
		if c.TraceID != producer.TraceID || c.ParentID != producer.SpanID {
			t.Errorf("the delivery of a message continues the producer's trace, the second delivery too:\n%s\nLook at %s",
				tracecheck.String(spans), s.Process(f.Info.Queue).Todo)
		}
	}
}

func testRejectedPublishIsAnError(t *testing.T, s Broker) {
	f := NewFixture(t, s)
	msg := f.Message("ord_1", nil)
	msg.RoutingKey = "nobody.listens" // no queue is bound for it: the broker returns it
	err := f.Checkout.Publish(context.Background(), msg)
	if !errors.Is(err, broker.ErrNotConfirmed) {
		t.Fatalf("Publish with an unroutable routing key: %v, want an error wrapping broker.ErrNotConfirmed, unchanged", err)
	}
	spans := f.Spans()
	span, ok := tracecheck.Find(spans, s.Publish(f.Info.Exchange))
	if !ok || !span.Error || !workshoptest.HasEvent(span, "error") {
		t.Errorf("the producer span of a publish the broker rejected must be an error (error=true, and a log record "+
			"event=error):\n%s\nLook at %s: ext.LogError(span, err) when the wrapped Publish fails, before the span finishes "+
			"(a tag or log set after Finish is not exported)", tracecheck.String(spans), s.Hints.Publish)
	}
}

// Fixture is one test's broker, wrapped as the services wrap theirs: checkout publishes
// through the decorator with its tracer, stock consumes through one with its own. Both
// tracers record into Spans.
type Fixture struct {
	*workshoptest.Queue[opentracing.Span]
	CheckoutTracer, StockTracer opentracing.Tracer
	Checkout, Stock             broker.Broker
}

// NewFixture is a fixture with s's tracers.
func NewFixture(t *testing.T, s Broker) *Fixture {
	checkout, stock, spans := s.Tracers(t)
	return NewFixtureWith(t, s, checkout, stock, spans)
}

// NewFixtureWith is a fixture with the given tracers, recording into spans.
func NewFixtureWith(t *testing.T, s Broker, checkout, stock opentracing.Tracer, spans func() []tracecheck.Span) *Fixture {
	q := workshoptest.NewQueue(t, spans, opentracing.SpanFromContext, s.Hints.Wrapper, s.Hints.Consume)
	return &Fixture{Queue: q, CheckoutTracer: checkout, StockTracer: stock,
		Checkout: s.Wrap(q.Base, checkout), Stock: s.Wrap(q.Base, stock)}
}

// HasSpan reports whether a handler's context held a span, for Queue.ConsumeHeaders.
func HasSpan(s opentracing.Span) bool { return s != nil }

// Delivery is a message a test's handler got, and the span in the handler's context.
type Delivery = workshoptest.Delivery[opentracing.Span]

// startRecorder is a tracer that remembers the tags each span was started with.
type startRecorder struct {
	opentracing.Tracer
	mu   sync.Mutex
	tags map[string]opentracing.Tags // by operation name
}

func (r *startRecorder) StartSpan(name string, opts ...opentracing.StartSpanOption) opentracing.Span {
	var o opentracing.StartSpanOptions
	for _, opt := range opts {
		opt.Apply(&o)
	}
	r.mu.Lock()
	if r.tags == nil {
		r.tags = map[string]opentracing.Tags{}
	}
	r.tags[name] = o.Tags
	r.mu.Unlock()
	return r.Tracer.StartSpan(name, opts...)
}

// started returns the tags the span called name was started with.
func (r *startRecorder) started(name string) (opentracing.Tags, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	tags, ok := r.tags[name]
	return tags, ok
}

// checkNoGlobalTracer fails the test when the decorator's method used OpenTracing's
// global tracer (opentracing.StartSpanFromContext, opentracing.StartSpan,
// opentracing.GlobalTracer()), which is a no-op: its spans are recorded nowhere, so
// without this check the failure would only say that a span is missing. todo names the
// method's task.
func checkNoGlobalTracer(t *testing.T, global *otglobal.Sentinel, method, todo string) {
	t.Helper()
	if len(global.Problems()) == 0 {
		return
	}
	t.Fatalf("TracedRabbitBroker.%s used the global tracer (opentracing.StartSpanFromContext, opentracing.StartSpan or "+
		"opentracing.GlobalTracer()), a no-op that records nothing: the span it started is not in the trace. Start it with "+
		"the decorator's own tracer, t.tracer (opentracing.StartSpanFromContextWithTracer(ctx, t.tracer, ...), "+
		"t.tracer.StartSpan).\nLook at %s, TracedRabbitBroker.%s (broker.go)", method, todo, method)
}
