// Package talk keeps, compiled and tested, the broker decorator as the well-known
// OpenTracing talk showed it, with its two bugs, so that the slides can put it next to
// step 03's TracedRabbitBroker without copying either. Do not use it: broker_test.go
// shows what goes wrong.
package talk

import (
	"context"

	"github.com/opentracing/opentracing-go"
	"github.com/opentracing/opentracing-go/ext"
	amqp "github.com/rabbitmq/amqp091-go"
)

// Message is what goes through the broker.
type Message struct {
	Headers amqp.Table
	Body    []byte
}

// Handler handles one consumed message.
type Handler func(ctx context.Context, msg Message) error

// Broker publishes messages.
type Broker interface {
	Publish(ctx context.Context, msg Message) error
}

// TracedRabbitBroker is the talk's decorator.
type TracedRabbitBroker struct {
	b      Broker
	tracer opentracing.Tracer
}

// Publish is the talk's: the kind is set after the start, and set to consumer.
func (t *TracedRabbitBroker) Publish(
	ctx context.Context, msg Message) error {
	span, ctx := opentracing.StartSpanFromContextWithTracer(
		ctx, t.tracer, "publish")
	defer span.Finish()
	ext.SpanKindConsumer.Set(span)
	t.tracer.Inject(span.Context(), opentracing.TextMap,
		amqpHeadersCarrier(msg.Headers))
	return t.b.Publish(ctx, msg)
}

// TraceConsume is the talk's consume wrapper: it returns early when Extract succeeds.
func TraceConsume(tracer opentracing.Tracer, h Handler) Handler {
	return func(ctx context.Context, msg Message) error {
		spanCtx, err := tracer.Extract(opentracing.TextMap,
			amqpHeadersCarrier(msg.Headers))
		if err == nil {
			return err
		}
		span := tracer.StartSpan("consume",
			opentracing.FollowsFrom(spanCtx))
		defer span.Finish()
		return h(opentracing.ContextWithSpan(ctx, span), msg)
	}
}

// amqpHeadersCarrier is the talk's carrier: it panics on a value that is not a string.
type amqpHeadersCarrier amqp.Table

// Set sets a header; on nil headers it panics.
func (c amqpHeadersCarrier) Set(key, val string) { c[key] = val }

// ForeachKey calls handler with each header.
func (c amqpHeadersCarrier) ForeachKey(handler func(key, val string) error) error {
	for k, v := range c {
		if err := handler(k, v.(string)); err != nil {
			return err
		}
	}
	return nil
}
