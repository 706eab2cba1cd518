package main

import (
	"context"
	"log/slog"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
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
		return NewTracedRabbitBroker(b, tp, metricnoop.NewMeterProvider(), newPropagator())
	},
	Reserve: func(ledger shop.Stock, tracer trace.Tracer, logger *slog.Logger) broker.Handler {
		return reserveStock(ledger, tracer, metricnoop.Meter{}, logger)
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

// TestMessagingDurations checks the broker's own metrics, on meter providers of the test's
// own (so it does not wait on the services' readers, TODO(07.2)): one publish and one
// delivery leave a publish duration in checkout's messaging.client.operation.duration and
// a process duration in stock's messaging.process.duration, each with the messaging
// conventions' attributes and never the message's ID.
func TestMessagingDurations(t *testing.T) {
	t.Parallel()
	f := otelsuite.NewBrokerFixture(t, brokerSuite)
	checkoutReader, stockReader := sdkmetric.NewManualReader(), sdkmetric.NewManualReader()
	f.Checkout = NewTracedRabbitBroker(f.Base, f.CheckoutProvider, sdkmetric.NewMeterProvider(sdkmetric.WithReader(checkoutReader)), newPropagator())
	f.Stock = NewTracedRabbitBroker(f.Base, f.StockProvider, sdkmetric.NewMeterProvider(sdkmetric.WithReader(stockReader)), newPropagator())
	if err := f.Checkout.Publish(context.Background(), f.Message("ord_1", nil)); err != nil {
		t.Fatal(err)
	}
	f.Consume(t, f.Stock, 1, func(context.Context, broker.Message) error { return nil })

	for _, c := range []struct {
		service, name, operation string
		reader                   sdkmetric.Reader
	}{
		{"checkout", "messaging.client.operation.duration", "publish", checkoutReader},
		{"stock", "messaging.process.duration", "process", stockReader},
	} {
		var rm metricdata.ResourceMetrics
		if err := c.reader.Collect(context.Background(), &rm); err != nil {
			t.Fatal(err)
		}
		var points []metricdata.HistogramDataPoint[float64]
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				if h, ok := m.Data.(metricdata.Histogram[float64]); ok && m.Name == c.name {
					points = append(points, h.DataPoints...)
				}
			}
		}
		if len(points) == 0 || points[0].Count == 0 {
			t.Errorf("%s's broker recorded no %s after one %s. Look at %s", c.service, c.name, c.operation, todoMessaging)
			continue
		}
		attrs := points[0].Attributes
		if v, _ := attrs.Value("messaging.operation.name"); v.AsString() != c.operation {
			t.Errorf("%s's %s has messaging.operation.name=%q, want %q. Look at %s", c.service, c.name, v.AsString(), c.operation, todoMessaging)
		}
		if v, _ := attrs.Value("messaging.system"); v.AsString() != "rabbitmq" {
			t.Errorf("%s's %s has messaging.system=%q, want rabbitmq. Look at %s", c.service, c.name, v.AsString(), todoMessaging)
		}
		if attrs.HasValue("messaging.message.id") {
			t.Errorf("%s's %s has the attribute messaging.message.id: a time series per message. Look at %s", c.service, c.name, todoMessaging)
		}
	}
}
