package main

import (
	"context"

	"github.com/opentracing/opentracing-go"
	"github.com/opentracing/opentracing-go/ext"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/ot2otel/workshop/shared/broker"
)

// TracedRabbitBroker is a broker.Broker that traces what goes through it: the decorator
// from the talk, done right. Publish sends each message inside a producer span and
// carries the span's context in the message's AMQP headers; Consume continues that trace
// with a consumer span around the handler, which finds the span in its context.
type TracedRabbitBroker struct {
	b      broker.Broker
	tracer opentracing.Tracer
}

var _ broker.Broker = (*TracedRabbitBroker)(nil)

// NewTracedRabbitBroker returns b traced with tracer, the tracer of the service that
// publishes or consumes through it.
func NewTracedRabbitBroker(b broker.Broker, tracer opentracing.Tracer) *TracedRabbitBroker {
	return &TracedRabbitBroker{b: b, tracer: tracer}
}

// Publish publishes msg inside a producer span, a child of the span in ctx, with the
// span's context in msg's headers. The span is an error when the broker did not confirm
// the message.
func (t *TracedRabbitBroker) Publish(ctx context.Context, msg broker.Message) error {
	// TODO(03.1): publish inside a producer span, "publish " + the exchange (t.b.Info()), a
	// child of the span in ctx, with the messaging tags (messageTags), and carry its context
	// to the consumer in a copy of the message's headers (they may be nil), through
	// amqpHeadersCarrier. A publish that fails or is not confirmed marks the span as an
	// error; a message without an ID gets one (broker.NewMessageID) before the span starts,
	// so that the span names it. Look up opentracing.StartSpanFromContextWithTracer,
	// ext.SpanKindProducer, Tracer.Inject with opentracing.TextMap, ext.LogError. Pitfalls:
	// the tracer is t.tracer, never the global one; the kind is a start option (the talk's
	// code tagged its producer as a consumer); the span ends once the wrapped Publish
	// returned (RabbitMQ confirmed), and a tag set after Finish is lost.
	return t.b.Publish(ctx, msg)
}

// Consume consumes through the wrapped broker and handles each message inside a
// consumer span, a child of the producer span whose context the message carries. A
// message without a readable trace context is handled all the same, in a new trace.
func (t *TracedRabbitBroker) Consume(ctx context.Context, h broker.Handler) error {
	// TODO(03.2): handle each message inside a consumer span, "process " + the queue, with
	// the messaging tags, that continues the trace the message's headers carry, so that it is
	// the producer span's child; the handler gets the span in its context. A message with no
	// trace context, or an unreadable one, is handled all the same, in a new trace. A
	// handler's error marks the span and is returned, so the message is delivered again; so
	// does a panic, which the broker turns into a failed delivery (recover, mark, panic on).
	// Look up Tracer.Extract, ext.SpanKindConsumer, opentracing.ChildOf,
	// opentracing.ContextWithSpan. Pitfalls: the talk's wrapper returned early when Extract
	// SUCCEEDED; FollowsFrom is a link, not a parent, under step 04's bridge; the span must
	// be finished on every path, the error's too.
	return t.b.Consume(ctx, h)
}

// messageTags are the tags of a span about msg: the destination it is published to or
// consumed from, and the broker.
func messageTags(info broker.Info, msg broker.Message, destination string) opentracing.Tags {
	tags := opentracing.Tags{
		string(ext.MessageBusDestination):            destination,
		"messaging.system":                           info.System,
		"messaging.rabbitmq.destination.routing_key": msg.RoutingKey,
		"messaging.message.id":                       msg.MessageID,
	}
	if info.Host != "" { // the in-memory broker has none
		tags[string(ext.PeerHostname)] = info.Host
		tags[string(ext.PeerPort)] = uint16(info.Port)
	}
	return tags
}

// Ready reports whether the wrapped broker is connected.
func (t *TracedRabbitBroker) Ready() error { return t.b.Ready() }

// Info describes the wrapped broker.
func (t *TracedRabbitBroker) Info() broker.Info { return t.b.Info() }

// Close closes the wrapped broker.
func (t *TracedRabbitBroker) Close() error { return t.b.Close() }

// amqpHeadersCarrier lets a tracer write a trace context into AMQP headers and read it
// back: it is an opentracing.TextMapWriter and TextMapReader, for opentracing.TextMap.
// Keys are case-sensitive. Values are read as text when they are a string, or a []byte
// (other AMQP clients send strings as byte arrays); values of other types are skipped.
type amqpHeadersCarrier amqp.Table

// Set sets a header. On nil headers it does nothing rather than panic: Publish makes
// the table before it injects.
func (c amqpHeadersCarrier) Set(key, val string) {
	// TODO(03.1): store val under key (when c is not nil).
}

// ForeachKey calls handler with each header whose value is text, and stops at the first
// error handler returns.
func (c amqpHeadersCarrier) ForeachKey(handler func(key, val string) error) error {
	// TODO(03.2): call handler with each header whose value is a string or a []byte, as
	// text; skip the other types; return the first error handler returns.
	return nil
}

// Get returns the header key as text, or "" when it is missing or not text.
func (c amqpHeadersCarrier) Get(key string) string {
	// TODO(03.2): return the header as text when it is a string or a []byte, else "".
	return ""
}
