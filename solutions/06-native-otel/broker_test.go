package main

import (
	"log/slog"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.opentelemetry.io/otel/trace"

	"github.com/ot2otel/workshop/shared/broker"
	"github.com/ot2otel/workshop/shared/shop"
	"github.com/ot2otel/workshop/shared/workshoptest/otelsuite"
)

// These tests check the TracedRabbitBroker and its header carrier on their own, against
// RabbitMQ (or the in-memory broker), with checkout's and stock's tracer providers
// recording in memory: what a publish sends, what a consumer makes of every kind of
// header, what a failure looks like, and the two bugs of the talk's decorator, which
// must never come back. The checks are otelsuite's broker suite, which steps 06 and 07
// share; the TODOs they name are this step's. They run in parallel (t.Parallel), with
// each other and the step's other parallel tests: each owns its topology (its exchange
// and quorum queue) and providers that record in memory, and none sets an environment
// variable or an OpenTelemetry global.

// brokerSuite is this step's TracedRabbitBroker, carrier and stock handler as the suite
// sees them.
var brokerSuite = otelsuite.Broker{
	Wrap: func(b broker.Broker, tp trace.TracerProvider) broker.Broker {
		return NewTracedRabbitBroker(b, tp, newPropagator())
	},
	Reserve: func(ledger shop.Stock, tracer trace.Tracer, logger *slog.Logger) broker.Handler {
		return reserveStock(ledger, tracer, logger)
	},
	Carrier:    func(h amqp.Table) any { return amqpHeadersCarrier(h) },
	Propagator: newPropagator(),
	PublishHop: publishHop, ProcessHop: processHop, Attrs: otelsuite.BrokerAttrs, CheckAttrs: otelsuite.CheckAttrs,
	StockReserve: stockReserve,
	Todo:         "TODO(06.2)", ReserveTodo: "TODO(06.3)",
}

func TestCarrier(t *testing.T) {
	t.Parallel()
	otelsuite.Carrier(t, brokerSuite)
}

func TestPublishStartsProducerSpan(t *testing.T) {
	t.Parallel()
	otelsuite.PublishStartsProducerSpan(t, brokerSuite)
}

// TestTalkBugProducerTaggedAsConsumer pins the first bug of the talk's decorator: it
// tagged its producer span as a consumer. With OTel the kind can only be given at the
// start (trace.WithSpanKind), and it must be the right one on each side.
func TestTalkBugProducerTaggedAsConsumer(t *testing.T) {
	t.Parallel()
	otelsuite.TalkBugProducerTaggedAsConsumer(t, brokerSuite)
}

// TestTalkBugExtractSuccessDropsMessage pins the second bug of the talk's decorator:
// after Extract it returned when extraction SUCCEEDED (`if err == nil { return err }`), so
// every traced message was acked without being handled, and only untraced ones got
// through. A traced message must be handled, in a consumer span that is a child of the
// producer's span.
func TestTalkBugExtractSuccessDropsMessage(t *testing.T) {
	t.Parallel()
	otelsuite.TalkBugExtractSuccessDropsMessage(t, brokerSuite)
}

// TestConsumeBadHeaders sends the consumer every kind of header it must survive, each case
// on a topology of its own (they run at once).
func TestConsumeBadHeaders(t *testing.T) {
	t.Parallel()
	otelsuite.ConsumeBadHeaders(t, brokerSuite)
}

func TestHandlerErrorMarksConsumerSpan(t *testing.T) {
	t.Parallel()
	otelsuite.HandlerErrorMarksConsumerSpan(t, brokerSuite)
}

// TestHandlerPanicMarksConsumerSpan checks that a handler's panic, which the broker
// turns into a failed delivery, leaves a consumer span that says so.
func TestHandlerPanicMarksConsumerSpan(t *testing.T) {
	t.Parallel()
	otelsuite.HandlerPanicMarksConsumerSpan(t, brokerSuite)
}

// TestProducerSpanEndsAfterConfirm checks that the producer span is still open when the
// wrapped Publish returns, which it does once RabbitMQ confirmed the message (or did
// not): the span's duration is the publish's, and a failed confirm can still mark it.
func TestProducerSpanEndsAfterConfirm(t *testing.T) {
	t.Parallel()
	otelsuite.ProducerSpanEndsAfterConfirm(t, brokerSuite)
}

// TestFailedReservationIsAnError gives stock an order for a SKU it does not sell: the
// ledger refuses it, and both the consumer span and stock's business span under it say
// why.
func TestFailedReservationIsAnError(t *testing.T) {
	t.Parallel()
	otelsuite.FailedReservationIsAnError(t, brokerSuite)
}

func TestRejectedPublishIsAnError(t *testing.T) {
	t.Parallel()
	otelsuite.RejectedPublishIsAnError(t, brokerSuite)
}

// TestDestinations pins messaging.destination.name, and the span names made of it, in
// the RabbitMQ conventions' edge cases: a delivery names its own exchange, which need
// not be the one the consumer declared; the default exchange is "amq.default" when
// nothing else names the destination; a queue equal to the routing key (a message sent
// to a queue by name) is named once.
func TestDestinations(t *testing.T) {
	t.Parallel()
	otelsuite.Destinations(t, brokerSuite)
}
