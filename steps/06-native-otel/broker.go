package main

import (
	"context"
	"errors"
	"maps"

	"github.com/opentracing/opentracing-go"
	"github.com/opentracing/opentracing-go/ext"
	"github.com/opentracing/opentracing-go/log"
	amqp "github.com/rabbitmq/amqp091-go"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/ot2otel/workshop/shared/broker"
)

// TracedRabbitBroker is a broker.Broker that traces what goes through it: the decorator
// from the talk, done right, still written against OpenTracing and running on the OTel
// SDK through the bridge. Publish sends each message inside a producer span and carries
// the span's context in the message's AMQP headers; Consume continues that trace with a
// consumer span around the handler, which finds the span in its context.
//
// TODO(06.2): rewrite it with the OTel API, following the messaging semantic
// conventions (see the README): tracer trace.Tracer and propagator
// propagation.TextMapPropagator instead of an OpenTracing tracer.
type TracedRabbitBroker struct {
	b      broker.Broker
	tracer opentracing.Tracer
}

var _ broker.Broker = (*TracedRabbitBroker)(nil)

// brokerTracerName is the instrumentation scope of the broker's spans: the import path
// of the package it decorates.
const brokerTracerName = "github.com/ot2otel/workshop/shared/broker"

// NewTracedRabbitBroker returns b traced into tp, the tracer provider of the service that
// publishes or consumes through it, with the trace context carried in the headers in
// prop's formats.
//
// TODO(06.2): keep the OpenTelemetry tracer and the propagator themselves: no bridge.
func NewTracedRabbitBroker(b broker.Broker, tp trace.TracerProvider, prop propagation.TextMapPropagator) *TracedRabbitBroker {
	return &TracedRabbitBroker{b: b, tracer: openTracer(tp.Tracer(brokerTracerName), prop)}
}

// Publish publishes msg inside a producer span, a child of the span in ctx, with the
// span's context in msg's headers. The span is an error when the broker did not confirm
// the message.
//
// TODO(06.2): the producer span on the OpenTelemetry API, as the messaging conventions
// describe it (the README's table): a PRODUCER span, a child of the span in ctx, named
// "publish {destination}", its kind given at the start, its attributes only once
// span.IsRecording() says the span records (an unsampled message then costs no
// attribute work), and its context injected with t.propagator into the copy of the
// headers. The destination is "{exchange}:{routing key}", leaving out a part that is
// empty, and "amq.default" when both are. A publish that fails or is not confirmed: the
// status Error, an exception event and error.type. Look up trace.Tracer.Start,
// trace.WithSpanKind, trace.Span.IsRecording, propagation.TextMapPropagator.Inject and
// semconv.ErrorType.
// Pitfall: the span covers the wrapped Publish, confirm included: end it after
// t.b.Publish returns, never before.
func (t *TracedRabbitBroker) Publish(ctx context.Context, msg broker.Message) error {
	info := t.b.Info()
	if msg.MessageID == "" {
		msg.MessageID = broker.NewMessageID() // to tag the span with it
	}
	// The kind is a start option: OpenTelemetry's bridge (step 04) ignores a kind set
	// after the start. The talk's code tagged its producer as a consumer.
	span, ctx := opentracing.StartSpanFromContextWithTracer(ctx, t.tracer, "publish "+info.Exchange,
		ext.SpanKindProducer, messageTags(info, msg, info.Exchange))
	defer span.Finish()

	// Inject into a copy: the caller's table stays as it was, and may be nil.
	headers := make(amqp.Table, len(msg.Headers)+1)
	maps.Copy(headers, msg.Headers)
	if err := t.tracer.Inject(span.Context(), opentracing.TextMap, amqpHeadersCarrier(headers)); err != nil {
		// The message goes out untraced: tracing must never lose an order.
		span.LogFields(log.String("event", "inject failed"), log.Error(err))
	}
	msg.Headers = headers

	if err := t.b.Publish(ctx, msg); err != nil {
		ext.LogError(span, err)
		return err
	}
	return nil
}

// Consume consumes through the wrapped broker and handles each message inside a
// consumer span, a child of the producer span whose context the message carries. A
// message without a readable trace context is handled all the same, in a new trace.
//
// TODO(06.2): the consumer span on the OpenTelemetry API: a CONSUMER span that continues
// the trace the message's headers carry (extract with t.propagator), so that it is the
// producer span's child, named "process {destination}". The destination is
// "{exchange}:{routing key}:{queue}", leaving out a part that is empty, and the queue
// when it equals the routing key (a message sent to a queue by name); the exchange is
// the delivery's own (msg.Exchange: a queue may be bound to another exchange than ours),
// the configured one only when the delivery names none. The handler gets the context
// the span's start returns. A handler's error: the status Error, an exception event,
// error.type, and the error returned. Pitfall: span.End, deferred, already records a
// panic that goes through it as an exception event: recover only to set the status,
// then panic on (recording the panic yourself makes two events).
func (t *TracedRabbitBroker) Consume(ctx context.Context, h broker.Handler) error {
	info := t.b.Info()
	return t.b.Consume(ctx, func(ctx context.Context, msg broker.Message) error {
		opts := []opentracing.StartSpanOption{ext.SpanKindConsumer, messageTags(info, msg, info.Queue)}
		// The talk's wrapper returned here when Extract succeeded (`if err == nil {
		// return err }`), acking every traced message unhandled. An error is no reason
		// to drop a message either: without a parent, the span starts a new trace.
		parent, err := t.tracer.Extract(opentracing.TextMap, amqpHeadersCarrier(msg.Headers))
		if err == nil {
			// ChildOf, not FollowsFrom: under OpenTelemetry's bridge, FollowsFrom starts
			// a new trace with a link to this one.
			opts = append(opts, opentracing.ChildOf(parent))
		}
		span := t.tracer.StartSpan("process "+info.Queue, opts...)
		defer span.Finish()
		if err != nil && !errors.Is(err, opentracing.ErrSpanContextNotFound) {
			span.LogFields(log.String("event", "unreadable trace context"), log.Error(err))
		}

		if err := h(opentracing.ContextWithSpan(ctx, span), msg); err != nil {
			ext.LogError(span, err)
			return err
		}
		return nil
	})
}

// messageTags are the tags of a span about msg: the destination it is published to or
// consumed from, and the broker.
//
// TODO(06.2): the messaging conventions' attributes instead of OpenTracing's tags (the
// README's table): the system, the operation's type and name, the destination, the
// routing key, the message's ID, and where RabbitMQ is. Look up the semconv package's
// constants and functions (semconv.MessagingSystemRabbitMQ, ...): a typo in a string
// key is a dashboard that stays empty.
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
//
// TODO(06.2): make it a propagation.TextMapCarrier: Get (as it is), Set (which must not
// panic on nil headers), and Keys (the string and []byte headers) instead of ForeachKey.
// Keys are case-sensitive. Values are read as text when they are a string, or a []byte
// (other AMQP clients send strings as byte arrays); values of other types are skipped.
type amqpHeadersCarrier amqp.Table

// Set sets a header. The table must not be nil: Publish makes one.
func (c amqpHeadersCarrier) Set(key, val string) {
	c[key] = val
}

// ForeachKey calls handler with each header whose value is text, and stops at the first
// error handler returns.
func (c amqpHeadersCarrier) ForeachKey(handler func(key, val string) error) error {
	for k, v := range c {
		switch v.(type) {
		case string, []byte:
			if err := handler(k, c.Get(k)); err != nil {
				return err
			}
		}
	}
	return nil
}

// Get returns the header key as text, or "" when it is missing or not text.
func (c amqpHeadersCarrier) Get(key string) string {
	switch v := c[key].(type) {
	case string:
		return v
	case []byte:
		return string(v)
	}
	return ""
}
