package otelsuite

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync/atomic"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/ot2otel/workshop/shared/broker"
	"github.com/ot2otel/workshop/shared/shop"
	"github.com/ot2otel/workshop/shared/tracecheck"
	"github.com/ot2otel/workshop/shared/workshoptest"
)

// Broker is what the OpenTelemetry broker suite needs of a step (06 and 07 share it):
// its TracedRabbitBroker and header carrier, stock's handler, the hops and attributes
// its spans must have, and the TODOs its messages name, which stay the step's own. Each
// of the suite's functions is one of the step's tests, called from a test of the same
// name (TestCarrier calls Carrier), so a failure names the step's test.
//
// These tests check the TracedRabbitBroker and its header carrier on their own, against
// RabbitMQ (or the in-memory broker), with checkout's and stock's tracer providers
// recording in memory: what a publish sends, what a consumer makes of every kind of
// header, what a failure looks like, and the two bugs of the talk's decorator, which
// must never come back.
type Broker struct {
	// Wrap is NewTracedRabbitBroker over b, tracing with tp and the step's propagator
	// (and, in step 07, a meter provider that records nothing).
	Wrap func(b broker.Broker, tp trace.TracerProvider) broker.Broker
	// Reserve is stock's message handler (reserveStock) with tracer.
	Reserve func(ledger shop.Stock, tracer trace.Tracer, logger *slog.Logger) broker.Handler
	// Carrier is the step's amqpHeadersCarrier over h, as any: in the step's starting
	// code it is still OpenTracing's, which compiles, and fails Carrier.
	Carrier func(h amqp.Table) any
	// Propagator is the services' propagator (newPropagator).
	Propagator propagation.TextMapPropagator
	// PublishHop and ProcessHop are the producer and consumer spans of a queue; Attrs
	// the attributes hop's span must have, CheckAttrs the step's check of them.
	PublishHop   func(exchange string) tracecheck.Hop
	ProcessHop   func(exchange, queue string) tracecheck.Hop
	Attrs        func(hop tracecheck.Hop, exchange, queue, messageID string) map[string]string
	CheckAttrs   func(t *testing.T, span tracecheck.Span, want map[string]string, todo string)
	StockReserve tracecheck.Hop
	// Todo names the decorator's exercise (TODO(06.2)); ReserveTodo stock's business span's.
	Todo, ReserveTodo string
}

// extract reads the trace context in AMQP headers as a W3C consumer would: the string
// values, with the service's propagator.
func (s Broker) extract(headers amqp.Table) trace.SpanContext {
	carrier := propagation.MapCarrier{}
	for k, v := range headers {
		if s, ok := v.(string); ok {
			carrier[k] = s
		}
	}
	return trace.SpanContextFromContext(s.Propagator.Extract(context.Background(), carrier))
}

// BrokerFixture is one test's broker, wrapped as the services wrap theirs: checkout
// publishes through a TracedRabbitBroker with its tracer provider, stock consumes through
// one with its own. Both providers record into Rec, and sample every span.
type BrokerFixture struct {
	*workshoptest.Queue[trace.SpanContext]
	Rec                             *Recorder
	CheckoutProvider, StockProvider trace.TracerProvider
	Checkout, Stock                 broker.Broker
}

// NewBrokerFixture is a fixture on a topology of the test's own.
func NewBrokerFixture(t *testing.T, s Broker) *BrokerFixture {
	rec := NewRecorder(t)
	f := &BrokerFixture{Queue: workshoptest.NewQueue(t, rec.Spans, trace.SpanContextFromContext, s.Todo, s.Todo), Rec: rec}
	f.CheckoutProvider = rec.Provider("checkout", sdktrace.WithSampler(sdktrace.AlwaysSample()))
	f.StockProvider = rec.Provider("stock", sdktrace.WithSampler(sdktrace.AlwaysSample()))
	f.Checkout = s.Wrap(f.Base, f.CheckoutProvider)
	f.Stock = s.Wrap(f.Base, f.StockProvider)
	return f
}

func Carrier(t *testing.T, s Broker) {
	// Asserted when the test runs, not when it compiles, so that the step's starting
	// code, whose carrier is still OpenTracing's, compiles and fails here.
	if _, ok := any(s.Carrier(nil)).(propagation.TextMapCarrier); !ok {
		t.Fatal("amqpHeadersCarrier is not a propagation.TextMapCarrier.\n" +
			"Look at " + s.Todo + ": give the carrier Get, Set and Keys, the methods OTel's propagators use")
	}
	workshoptest.CheckCarrier(t, func(h amqp.Table) workshoptest.Carrier {
		c := any(s.Carrier(h)).(propagation.TextMapCarrier)
		return workshoptest.Carrier{Get: c.Get, Set: c.Set, Keys: c.Keys}
	}, "traceparent", workshoptest.CarrierHints{Read: s.Todo, Write: s.Todo})
	none := any(s.Carrier(nil)).(propagation.TextMapCarrier) // a message without headers
	if err := workshoptest.CarrierCall("Set", nil, s.Todo, func() { none.Set("traceparent", "00-…") }); err != nil {
		t.Errorf("%v\nSet on nil headers must not panic: Publish makes the table before it injects", err)
	}
}

func PublishStartsProducerSpan(t *testing.T, s Broker) {
	for _, tc := range []struct {
		name    string
		headers amqp.Table
	}{
		{"with headers", amqp.Table{"x-request-id": "req-1"}},
		{"without headers", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := NewBrokerFixture(t, s)
			callers := maps.Clone(tc.headers)
			ctx, parent := f.CheckoutProvider.Tracer("test").Start(context.Background(), "place order")
			if err := f.Checkout.Publish(ctx, f.Message("ord_1", callers)); err != nil {
				t.Fatal(err)
			}
			parent.End()
			if !maps.Equal(callers, tc.headers) {
				t.Errorf("Publish changed the caller's headers from %v to %v.\nLook at "+s.Todo+": inject into a copy of the headers", tc.headers, callers)
			}

			spans := f.Rec.Spans()
			producer := s.PublishHop(f.Info.Exchange)
			if err := tracecheck.CheckParent(spans, producer, tracecheck.Hop{Service: "checkout", Kind: tracecheck.KindInternal, Name: "place order"}); err != nil {
				t.Fatal(err)
			}
			span, _ := tracecheck.Find(spans, producer)
			s.CheckAttrs(t, span, s.Attrs(producer, f.Info.Exchange, f.Info.Queue, "ord_1"), producer.Todo)

			msg := f.Consume(t, f.Base, 1, nil)[0].Msg
			for k, v := range tc.headers {
				if msg.Headers[k] != v {
					t.Errorf("the published message's header %s = %#v, want %#v: keep the caller's headers", k, msg.Headers[k], v)
				}
			}
			sc := s.extract(msg.Headers)
			if !sc.IsValid() || sc.TraceID().String() != span.TraceID || sc.SpanID().String() != span.SpanID {
				t.Errorf("the published message's headers %v carry the context %s/%s, want the producer span's %s/%s in traceparent.\n"+
					"Look at "+s.Todo+": t.propagator.Inject(ctx, amqpHeadersCarrier(headers)) with the producer span's ctx, "+
					"making the headers when the message has none", msg.Headers, sc.TraceID(), sc.SpanID(), span.TraceID, span.SpanID)
			}
		})
	}
	t.Run("without a message ID", func(t *testing.T) {
		f := NewBrokerFixture(t, s)
		if err := f.Checkout.Publish(context.Background(), f.Message("", nil)); err != nil {
			t.Fatal(err)
		}
		msg := f.Consume(t, f.Base, 1, nil)[0].Msg
		span := workshoptest.MustFind(t, f.Rec.Spans(), s.PublishHop(f.Info.Exchange))
		if msg.MessageID == "" || span.Attrs["messaging.message.id"] != msg.MessageID {
			t.Errorf("the message went out as %q and its producer span says messaging.message.id=%q.\n"+
				"Look at "+s.Todo+": give a message without an ID one (broker.NewMessageID) before the span starts",
				msg.MessageID, span.Attrs["messaging.message.id"])
		}
	})
}

// TalkBugProducerTaggedAsConsumer pins the first bug of the talk's decorator: it
// tagged its producer span as a consumer. With OTel the kind can only be given at the
// start (trace.WithSpanKind), and it must be the right one on each side.
func TalkBugProducerTaggedAsConsumer(t *testing.T, s Broker) {
	f := NewBrokerFixture(t, s)
	if err := f.Checkout.Publish(context.Background(), f.Message("ord_1", nil)); err != nil {
		t.Fatal(err)
	}
	f.Consume(t, f.Stock, 1, nil)

	spans := f.Rec.Spans()
	for _, hop := range []tracecheck.Hop{s.PublishHop(f.Info.Exchange), s.ProcessHop(f.Info.Exchange, f.Info.Queue)} {
		if err := tracecheck.CheckChain(spans, hop); err != nil {
			t.Errorf("%v\n(trace.WithSpanKind(trace.SpanKindProducer) when publishing, SpanKindConsumer when consuming)", err)
		}
	}
}

// TalkBugExtractSuccessDropsMessage pins the second bug of the talk's decorator:
// after Extract it returned when extraction SUCCEEDED (`if err == nil { return err }`), so
// every traced message was acked without being handled, and only untraced ones got
// through. A traced message must be handled, in a consumer span that is a child of the
// producer's span.
func TalkBugExtractSuccessDropsMessage(t *testing.T, s Broker) {
	f := NewBrokerFixture(t, s)
	if err := f.Checkout.Publish(context.Background(), f.Message("ord_1", nil)); err != nil {
		t.Fatal(err)
	}
	got := f.Consume(t, f.Stock, 1, nil)
	if !got[0].Span.IsValid() {
		t.Fatalf("the handler's context holds no span.\nLook at %s\nand at %s",
			s.ProcessHop(f.Info.Exchange, f.Info.Queue).Todo, s.StockReserve.Todo)
	}
	f.RequireEmpty(t)
	if err := tracecheck.CheckParent(f.Rec.Spans(), s.ProcessHop(f.Info.Exchange, f.Info.Queue), s.PublishHop(f.Info.Exchange)); err != nil {
		t.Error(err)
	}
}

func ConsumeBadHeaders(t *testing.T, s Broker) {
	const traceID, spanID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	valid := "00-" + traceID + "-" + spanID + "-01"
	for _, tc := range []struct {
		name    string
		headers amqp.Table
		// continues is whether the consumer span continues the trace in the headers.
		continues bool
	}{
		{name: "nil headers", headers: nil},
		{name: "no trace headers", headers: amqp.Table{"x-request-id": "req-1"}},
		{name: "garbage traceparent", headers: amqp.Table{"traceparent": "00-not-a-trace-context"}},
		{name: "traceparent as an integer", headers: amqp.Table{"traceparent": int64(42)}},
		{name: "Traceparent in another case", headers: amqp.Table{"Traceparent": valid}},
		{name: "every trace header mistyped", headers: amqp.Table{"traceparent": true, "tracestate": 1.5, "baggage": amqp.Table{"k": "v"}}},
		// What another AMQP client sends: the same text, as a byte array.
		{name: "traceparent as []byte", headers: amqp.Table{"traceparent": []byte(valid)}, continues: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A topology per case: the cases run at once.
			t.Parallel()
			f := NewBrokerFixture(t, s)
			spans := f.ConsumeHeaders(t, f.Stock, tc.headers, tc.continues, trace.SpanContext.IsValid,
				fmt.Sprintf("headers %v", tc.headers), s.ProcessHop(f.Info.Exchange, f.Info.Queue).Todo)
			consumer := workshoptest.MustFind(t, spans, s.ProcessHop(f.Info.Exchange, f.Info.Queue))
			switch {
			case tc.continues && (consumer.TraceID != traceID || consumer.ParentID != spanID):
				t.Errorf("the consumer span of a message with headers %v is in trace %s under %q, want trace %s under span %s.\n"+
					"A []byte traceparent is text too: read it ("+s.Todo+": amqpHeadersCarrier.Get)",
					tc.headers, consumer.TraceID, consumer.ParentID, traceID, spanID)
			case !tc.continues && consumer.ParentID != "":
				t.Errorf("the consumer span of a message with headers %v has a parent %s: it should start a new trace.\nLook at %s",
					tc.headers, consumer.ParentID, s.ProcessHop(f.Info.Exchange, f.Info.Queue).Todo)
			case consumer.Error:
				t.Errorf("the consumer span of a message with headers %v is an error: odd headers are no failure.\nLook at %s",
					tc.headers, s.ProcessHop(f.Info.Exchange, f.Info.Queue).Todo)
			}
		})
	}
}

func HandlerErrorMarksConsumerSpan(t *testing.T, s Broker) {
	f := NewBrokerFixture(t, s)
	if err := f.Checkout.Publish(context.Background(), f.Message("ord_1", nil)); err != nil {
		t.Fatal(err)
	}
	locked := errors.New("the ledger is locked")
	var calls atomic.Int32
	f.Missed = workshoptest.MissedRedelivery
	f.Consume(t, f.Stock, 2, func(context.Context, broker.Message) error {
		if calls.Add(1) == 1 {
			return locked
		}
		return nil
	})

	spans := f.Rec.Spans()
	producer := workshoptest.MustFind(t, spans, s.PublishHop(f.Info.Exchange))
	var consumers []tracecheck.Span
	for _, s := range spans {
		if s.Kind == tracecheck.KindConsumer {
			consumers = append(consumers, s)
		}
	}
	slices.SortFunc(consumers, func(a, b tracecheck.Span) int { return a.Start.Compare(b.Start) })
	if len(consumers) != 2 || !failedWith(consumers[0], locked) || consumers[1].Error {
		t.Fatalf("a message whose handler failed once, then succeeded: want two consumer spans, the first with "+
			"the status Error, an \"exception\" event with the handler's error and error.type, the second no error:\n%s\n"+
			"Look at "+s.Todo+": span.RecordError(err), span.SetStatus(codes.Error, err.Error()) and semconv.ErrorType(err) "+
			"with the handler's error, and return the error so the message is delivered again", tracecheck.String(spans))
	}
	for _, c := range consumers {
		if c.TraceID != producer.TraceID || c.ParentID != producer.SpanID {
			t.Errorf("the delivery of a message continues the producer's trace, the second delivery too:\n%s\nLook at %s",
				tracecheck.String(spans), s.ProcessHop(f.Info.Exchange, f.Info.Queue).Todo)
		}
	}
}

// HandlerPanicMarksConsumerSpan checks that a handler's panic, which the broker
// turns into a failed delivery, leaves a consumer span that says so.
func HandlerPanicMarksConsumerSpan(t *testing.T, s Broker) {
	f := NewBrokerFixture(t, s)
	if err := f.Checkout.Publish(context.Background(), f.Message("ord_1", nil)); err != nil {
		t.Fatal(err)
	}
	f.Consume(t, f.Stock, 1, func(context.Context, broker.Message) error { panic("out of coffee") })
	span := workshoptest.MustFind(t, f.Rec.Spans(), s.ProcessHop(f.Info.Exchange, f.Info.Queue))
	if !span.Error || !workshoptest.HasEvent(span, semconv.ExceptionEventName) {
		t.Errorf("the consumer span of a handler that panicked must have the status Error and an \"exception\" event:\n%s"+
			"Look at "+s.Todo+": span.End, deferred, records the panic; recover to set the status, then panic on",
			tracecheck.String(f.Rec.Spans()))
	}
	exceptions := 0
	for _, e := range span.Events {
		if e.Name == semconv.ExceptionEventName {
			exceptions++
		}
	}
	if exceptions > 1 {
		t.Errorf("the consumer span of a handler that panicked once has %d \"exception\" events, want one: span.End, "+
			"deferred, already records the panic that goes through it, so a span.RecordError of the recovered value "+
			"before panicking on records it twice.\n%s"+
			"Look at "+s.Todo+", TracedRabbitBroker.Consume (broker.go): on a panic only set the status (span.SetStatus), "+
			"then panic on", exceptions, tracecheck.String(f.Rec.Spans()))
	}
}

// ProducerSpanEndsAfterConfirm checks that the producer span is still open when the
// wrapped Publish returns, which it does once RabbitMQ confirmed the message (or did
// not): the span's duration is the publish's, and a failed confirm can still mark it.
func ProducerSpanEndsAfterConfirm(t *testing.T, s Broker) {
	f := NewBrokerFixture(t, s)
	var early []tracecheck.Span
	returned := false
	probe := &workshoptest.PublishProbe{Broker: f.Base, Returned: func() {
		returned = true
		early = f.Rec.Spans()
	}}
	traced := s.Wrap(probe, f.CheckoutProvider)
	if err := traced.Publish(context.Background(), f.Message("ord_1", nil)); err != nil {
		t.Fatal(err)
	}
	if !returned {
		t.Fatal("TracedRabbitBroker.Publish did not call the wrapped broker's Publish.\nLook at " + s.Todo + ", TracedRabbitBroker.Publish (broker.go)")
	}
	producer := s.PublishHop(f.Info.Exchange)
	if span, ok := tracecheck.Find(early, producer); ok {
		t.Errorf("the producer span %q had already ended when the wrapped Publish returned, that is before RabbitMQ "+
			"confirmed the message: it must cover the publish, confirm included, so that its duration is the publish's and "+
			"a publish the broker did not confirm can still mark it. End it after t.b.Publish returns: defer span.End() "+
			"right after starting it.\nLook at "+s.Todo+", TracedRabbitBroker.Publish (broker.go)", span.Name)
	}
	workshoptest.MustFind(t, f.Rec.Spans(), producer)
}

// FailedReservationIsAnError gives stock an order for a SKU it does not sell: the
// ledger refuses it, and both the consumer span and stock's business span under it say
// why.
func FailedReservationIsAnError(t *testing.T, s Broker) {
	f := NewBrokerFixture(t, s)
	order := shop.Order{CustomerID: "c1", Items: []shop.Item{{SKU: "unicorn", Quantity: 1}}}
	msg := f.Message("ord_unicorn", nil)
	msg.Body = shop.NewOrderPlaced("ord_unicorn", order).Encode()
	if err := f.Checkout.Publish(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	var failure error
	reserve := s.Reserve(shop.NewLedger(shop.DemoCatalogue()).Stock(), f.StockProvider.Tracer("test"), workshoptest.DiscardLogger())
	f.Consume(t, f.Stock, 1, func(ctx context.Context, msg broker.Message) error {
		failure = reserve(ctx, msg)
		return failure
	})
	if !errors.Is(failure, shop.ErrUnknownSKU) {
		t.Fatalf("reserveStock returned %v for an unknown SKU, want an error wrapping shop.ErrUnknownSKU", failure)
	}

	spans := f.Rec.Spans()
	process := s.ProcessHop(f.Info.Exchange, f.Info.Queue)
	if err := tracecheck.CheckParent(spans, s.StockReserve, process); err != nil {
		t.Fatal(err)
	}
	if consumer := workshoptest.MustFind(t, spans, process); !failedWith(consumer, failure) {
		t.Errorf("the consumer span of a message its handler failed on must have the status Error, an \"exception\" event "+
			"with the error and error.type:\n%s\nLook at %s: span.RecordError(err), span.SetStatus(codes.Error, err.Error())",
			tracecheck.String(spans), process.Todo)
	}
	if span := workshoptest.MustFind(t, spans, s.StockReserve); !span.Error || !workshoptest.HasEvent(span, semconv.ExceptionEventName) {
		t.Errorf("the \"reserve stock\" span of an order stock cannot reserve must have the status Error and an \"exception\" event:\n%s"+
			"Look at "+s.ReserveTodo+": span.RecordError(err) and span.SetStatus(codes.Error, ...) where reserveStock fails",
			tracecheck.String(spans))
	}
}

func RejectedPublishIsAnError(t *testing.T, s Broker) {
	f := NewBrokerFixture(t, s)
	msg := f.Message("ord_1", nil)
	msg.RoutingKey = "nobody.listens" // no queue is bound for it: the broker returns it
	err := f.Checkout.Publish(context.Background(), msg)
	if !errors.Is(err, broker.ErrNotConfirmed) {
		t.Fatalf("Publish with an unroutable routing key: %v, want an error wrapping broker.ErrNotConfirmed, unchanged", err)
	}
	spans := f.Rec.Spans()
	hop := s.PublishHop(f.Info.Exchange)
	hop.Name = "publish " + f.Info.Exchange + ":nobody.listens"
	span, ok := tracecheck.Find(spans, hop)
	if !ok || !failedWith(span, err) {
		t.Errorf("the producer span of a publish the broker rejected must have the status Error, an \"exception\" event "+
			"with the error, and error.type:\n%s\nLook at "+s.Todo+": span.RecordError(err), span.SetStatus(codes.Error, err.Error()) "+
			"and semconv.ErrorType(err) when the wrapped Publish fails", tracecheck.String(spans))
	}
}

// failedWith reports whether span failed because of err, as the conventions have it:
// status Error, an "exception" event with err's message, and error.type.
func failedWith(span tracecheck.Span, err error) bool {
	for _, e := range span.Events {
		if e.Name == semconv.ExceptionEventName && e.Attrs["exception.message"] == err.Error() {
			return span.Error && span.Attrs["error.type"] != ""
		}
	}
	return false
}

// Destinations pins messaging.destination.name, and the span names made of it, in
// the RabbitMQ conventions' edge cases: a delivery names its own exchange, which need
// not be the one the consumer declared; the default exchange is "amq.default" when
// nothing else names the destination; a queue equal to the routing key (a message sent
// to a queue by name) is named once.
func Destinations(t *testing.T, s Broker) {
	todo := s.Todo + `, TracedRabbitBroker.Publish and Consume (broker.go; the README lists the rules): ` +
		`the span names and messaging.destination.name follow the RabbitMQ conventions: ` +
		`"{exchange}:{routing key}" on publish, "{exchange}:{routing key}:{queue}" on process, leaving out what is empty, ` +
		`the queue when it is the routing key, and "amq.default" when nothing is left`
	for _, tc := range []struct {
		name    string
		info    broker.Info
		msg     broker.Message
		publish string // the producer span's destination
		process string // the consumer span's destination
	}{
		{"a topic exchange", broker.Info{Exchange: "shop", Queue: "stock"},
			broker.Message{RoutingKey: "checkout.processed"}, "shop:checkout.processed", "shop:checkout.processed:stock"},
		{"delivered from another exchange", broker.Info{Exchange: "shop", Queue: "stock"},
			broker.Message{Exchange: "returns", RoutingKey: "checkout.processed"}, "shop:checkout.processed", "returns:checkout.processed:stock"},
		{"the default exchange, to a queue by name", broker.Info{Queue: "stock"},
			broker.Message{RoutingKey: "stock"}, "stock", "stock"},
		{"the default exchange, no routing key", broker.Info{Queue: "stock"},
			broker.Message{}, "amq.default", "stock"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := NewRecorder(t)
			fake := &fakeBroker{info: tc.info, deliveries: []broker.Message{tc.msg}}
			traced := s.Wrap(fake, rec.Provider("stock", sdktrace.WithSampler(sdktrace.AlwaysSample())))
			out := tc.msg
			out.Exchange = ""
			if err := traced.Publish(context.Background(), out); err != nil {
				t.Fatal(err)
			}
			if err := traced.Consume(context.Background(), func(context.Context, broker.Message) error { return nil }); err != nil {
				t.Fatal(err)
			}
			spans := rec.Spans()
			for _, want := range []struct{ kind, name, dest string }{
				{tracecheck.KindProducer, "publish " + tc.publish, tc.publish},
				{tracecheck.KindConsumer, "process " + tc.process, tc.process},
			} {
				s, ok := tracecheck.Find(spans, tracecheck.Hop{Service: "stock", Kind: want.kind, Name: want.name})
				if !ok {
					t.Errorf("no %s span %q for %s.\n%s\nLook at %s", want.kind, want.name, tc.name, tracecheck.String(spans), todo)
					continue
				}
				if got := s.Attrs["messaging.destination.name"]; got != want.dest {
					t.Errorf("the %s span %q has messaging.destination.name %q, want %q.\nLook at %s", want.kind, s.Name, got, want.dest, todo)
				}
			}
		})
	}
}

// fakeBroker publishes nowhere and delivers its deliveries once each: a broker whose
// exchange, queue and deliveries a test chooses outright.
type fakeBroker struct {
	info       broker.Info
	deliveries []broker.Message
}

func (f *fakeBroker) Publish(context.Context, broker.Message) error { return nil }
func (f *fakeBroker) Consume(ctx context.Context, h broker.Handler) error {
	for _, m := range f.deliveries {
		if err := h(ctx, m); err != nil {
			return err
		}
	}
	return nil
}
func (f *fakeBroker) Ready() error      { return nil }
func (f *fakeBroker) Info() broker.Info { return f.info }
func (f *fakeBroker) Close() error      { return nil }
