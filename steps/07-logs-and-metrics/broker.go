package main

import (
	"context"
	"fmt"
	"maps"
	"strings"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/ot2otel/workshop/shared/broker"
)

// TracedRabbitBroker is a broker.Broker that traces what goes through it, following
// OpenTelemetry's semantic conventions for messaging. Publish sends each message inside a
// PRODUCER span and carries the span's context in the message's AMQP headers; Consume
// continues that trace with a CONSUMER span around the handler, which finds the span in
// its context.
//
// TODO(07.3): measure each publish and each message handled, in the messaging semantic
// conventions' histograms (look up the messagingconv package of semconv: the client
// operation duration for publish, the process duration for consume). Record in the
// span's context, or no exemplar names the trace. The attributes are the span's that
// many messages share, never messaging.message.id: each value of an attribute is a time
// series of its own, kept by Prometheus for every order.
type TracedRabbitBroker struct {
	b          broker.Broker
	tracer     trace.Tracer
	propagator propagation.TextMapPropagator
}

var _ broker.Broker = (*TracedRabbitBroker)(nil)

// brokerTracerName is the instrumentation scope of the broker's spans: the import path
// of the package it decorates.
const brokerTracerName = "github.com/ot2otel/workshop/shared/broker"

// NewTracedRabbitBroker returns b traced into tp and measured into mp, the tracer and
// meter providers of the service that publishes or consumes through it, with the trace
// context carried in the headers in prop's formats.
//
// TODO(07.3): make the two histograms from mp's meter (named brokerTracerName).
func NewTracedRabbitBroker(b broker.Broker, tp trace.TracerProvider, mp metric.MeterProvider, prop propagation.TextMapPropagator) *TracedRabbitBroker {
	return &TracedRabbitBroker{b: b, tracer: tp.Tracer(brokerTracerName), propagator: prop}
}

// Publish publishes msg inside a PRODUCER span named "publish {destination}", a child of
// the span in ctx, with the span's context in msg's headers. The span is an error when
// the broker did not confirm the message.
func (t *TracedRabbitBroker) Publish(ctx context.Context, msg broker.Message) error {
	info := t.b.Info()
	if msg.MessageID == "" {
		msg.MessageID = broker.NewMessageID() // to put it on the span
	}
	destination := publishDestination(info.Exchange, msg.RoutingKey)
	// The kind is a start option. The attributes are set once the span is known to
	// record: no sampler of the fleet reads them (parent-based, by ratio, or Jaeger's
	// remote strategies by span name), and a message of an unsampled trace then costs
	// no attribute work.
	ctx, span := t.tracer.Start(ctx, "publish "+destination,
		trace.WithSpanKind(trace.SpanKindProducer),
	)
	if span.IsRecording() {
		span.SetAttributes(messageAttributes(info, msg, destination, semconv.MessagingOperationTypeSend, "publish")...)
	}
	defer span.End()

	// Inject into a copy: the caller's table stays as it was, and may be nil. Inject
	// cannot fail; at worst the message goes out untraced.
	headers := make(amqp.Table, len(msg.Headers)+2)
	maps.Copy(headers, msg.Headers)
	t.propagator.Inject(ctx, amqpHeadersCarrier(headers))
	msg.Headers = headers

	// TODO(07.3): record how long the publish took, the broker's confirm included.
	if err := t.b.Publish(ctx, msg); err != nil {
		recordError(span, err)
		span.SetAttributes(semconv.ErrorType(err))
		return err
	}
	return nil
}

// Consume consumes through the wrapped broker and handles each message inside a CONSUMER
// span named "process {destination}", a child of the producer span whose context the
// message carries. A message without a readable trace context is handled all the same,
// in a new trace.
//
// The consumer span is the producer's child rather than the root of a new trace with a
// link to it: one message carries one order, and stock reserving it is a step of that
// order like checkout's, so one trace shows the whole checkout. Links are for what a
// parent cannot say, such as one span processing a batch of messages from many traces.
func (t *TracedRabbitBroker) Consume(ctx context.Context, h broker.Handler) error {
	info := t.b.Info()
	return t.b.Consume(ctx, func(ctx context.Context, msg broker.Message) error {
		// Extract never fails: without a context it can read, it returns ctx unchanged
		// and the span starts a new trace.
		ctx = t.propagator.Extract(ctx, amqpHeadersCarrier(msg.Headers))
		exchange := msg.Exchange
		if exchange == "" {
			exchange = info.Exchange
		}
		destination := consumeDestination(exchange, msg.RoutingKey, info.Queue)
		ctx, span := t.tracer.Start(ctx, "process "+destination,
			trace.WithSpanKind(trace.SpanKindConsumer),
		)
		if span.IsRecording() {
			span.SetAttributes(messageAttributes(info, msg, destination, semconv.MessagingOperationTypeProcess, "process")...)
		}
		defer span.End()
		defer func() {
			// The broker turns a panic into a failed delivery, and span.End records it
			// as an exception event; the status is ours to set.
			if p := recover(); p != nil {
				span.SetStatus(codes.Error, fmt.Sprint("handler panicked: ", p))
				panic(p)
			}
		}()

		// ctx carries the span: the handler's spans go under it.
		// TODO(07.3): record how long handling the message took, failed or not.
		if err := h(ctx, msg); err != nil {
			recordError(span, err)
			span.SetAttributes(semconv.ErrorType(err))
			return err
		}
		return nil
	})
}

// messageAttributes are the attributes the messaging conventions ask of a span about msg:
// the operation, the destination it is published to or consumed from, and the broker.
func messageAttributes(info broker.Info, msg broker.Message, destination string, operation attribute.KeyValue, name string) []attribute.KeyValue {
	// Sized once for all of them, so no append grows it; the SDK copies them into the span.
	// Only for a span that records: see Publish.
	attrs := make([]attribute.KeyValue, 0, 8)
	attrs = append(attrs,
		// The in-memory broker stands in for RabbitMQ, with RabbitMQ's semantics.
		semconv.MessagingSystemRabbitMQ,
		operation,
		semconv.MessagingOperationName(name),
		semconv.MessagingDestinationName(destination),
		semconv.MessagingMessageID(msg.MessageID),
	)
	if msg.RoutingKey != "" {
		attrs = append(attrs, semconv.MessagingRabbitMQDestinationRoutingKey(msg.RoutingKey))
	}
	if info.Host != "" { // the in-memory broker has none
		attrs = append(attrs, semconv.ServerAddress(info.Host), semconv.ServerPort(info.Port))
	}
	return attrs
}

// publishDestination is messaging.destination.name on the producer side, as the RabbitMQ
// conventions define it: "{exchange}:{routing key}", only the one that is not empty when
// the other is, and "amq.default" when both are.
func publishDestination(exchange, routingKey string) string {
	if name := joinNonEmpty(exchange, routingKey); name != "" {
		return name
	}
	return "amq.default"
}

// consumeDestination is messaging.destination.name on the consumer side:
// "{exchange}:{routing key}:{queue}", leaving out what is empty, and the queue when it is
// the routing key (a message sent to a queue by name through the default exchange).
func consumeDestination(exchange, routingKey, queue string) string {
	if queue == routingKey {
		queue = ""
	}
	return joinNonEmpty(exchange, routingKey, queue)
}

func joinNonEmpty(parts ...string) string {
	var kept []string
	for _, p := range parts {
		if p != "" {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, ":")
}

// Ready reports whether the wrapped broker is connected.
func (t *TracedRabbitBroker) Ready() error { return t.b.Ready() }

// Info describes the wrapped broker.
func (t *TracedRabbitBroker) Info() broker.Info { return t.b.Info() }

// Close closes the wrapped broker.
func (t *TracedRabbitBroker) Close() error { return t.b.Close() }

// amqpHeadersCarrier lets a propagator write a trace context into AMQP headers and read
// it back: it is a propagation.TextMapCarrier. Keys are case-sensitive. Values are read
// as text when they are a string, or a []byte (other AMQP clients send strings as byte
// arrays); values of other types are skipped.
type amqpHeadersCarrier amqp.Table

var _ propagation.TextMapCarrier = amqpHeadersCarrier(nil)

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

// Set sets a header. On nil headers it does nothing rather than panic: Publish makes
// the table before it injects.
func (c amqpHeadersCarrier) Set(key, val string) {
	if c != nil {
		c[key] = val
	}
}

// Keys lists the headers whose value is text.
func (c amqpHeadersCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k, v := range c {
		switch v.(type) {
		case string, []byte:
			keys = append(keys, k)
		}
	}
	return keys
}
