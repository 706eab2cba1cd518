package talk

import (
	"context"
	"testing"

	"github.com/opentracing/opentracing-go/ext"
	"github.com/opentracing/opentracing-go/mocktracer"
	amqp "github.com/rabbitmq/amqp091-go"
)

type recordingBroker struct{ sent []Message }

func (b *recordingBroker) Publish(_ context.Context, msg Message) error {
	b.sent = append(b.sent, msg)
	return nil
}

// The slides say the talk's decorator has two bugs. These tests pin that it does, so the
// slide cannot go on claiming it if the file changes.

func TestTalkProducerIsTaggedConsumer(t *testing.T) {
	tracer := mocktracer.New()
	b := &recordingBroker{}
	tb := &TracedRabbitBroker{b: b, tracer: tracer}
	if err := tb.Publish(context.Background(), Message{Headers: amqp.Table{}}); err != nil {
		t.Fatal(err)
	}
	spans := tracer.FinishedSpans()
	if len(spans) != 1 {
		t.Fatalf("%d spans, want 1", len(spans))
	}
	if kind := spans[0].Tag(string(ext.SpanKind)); kind != ext.SpanKindConsumerEnum {
		t.Errorf("the talk's producer span has kind %v; the slides say it is tagged consumer", kind)
	}
	if len(b.sent) != 1 || len(b.sent[0].Headers) == 0 {
		t.Errorf("the talk's Publish did not inject the span context: %v", b.sent)
	}
}

func TestTalkConsumeDropsTracedMessages(t *testing.T) {
	tracer := mocktracer.New()
	b := &recordingBroker{}
	tb := &TracedRabbitBroker{b: b, tracer: tracer}
	if err := tb.Publish(context.Background(), Message{Headers: amqp.Table{}}); err != nil {
		t.Fatal(err)
	}
	handled := 0
	h := TraceConsume(tracer, func(context.Context, Message) error { handled++; return nil })

	// A traced message: Extract succeeds, and the wrapper returns nil without handling it.
	if err := h(context.Background(), b.sent[0]); err != nil || handled != 0 {
		t.Errorf("traced message: err %v, handled %d times; the slides say it is acked unhandled", err, handled)
	}
	// An untraced message is handled, in a span of its own.
	if err := h(context.Background(), Message{Headers: amqp.Table{}}); err != nil || handled != 1 {
		t.Errorf("untraced message: err %v, handled %d times, want once", err, handled)
	}
}
