package main

import (
	"testing"

	"github.com/opentracing/opentracing-go"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/uber/jaeger-client-go"

	"github.com/ot2otel/workshop/shared/broker"
	"github.com/ot2otel/workshop/shared/tracecheck"
	"github.com/ot2otel/workshop/shared/workshoptest"
	"github.com/ot2otel/workshop/shared/workshoptest/jaegersuite"
	"github.com/ot2otel/workshop/shared/workshoptest/otsuite"
)

// TestBroker checks the TracedRabbitBroker and its header carrier on their own (see
// otsuite.RunBroker), with checkout's and stock's jaeger-client tracers recording in memory.
func TestBroker(t *testing.T) {
	// Parallel: the decorator against topologies of its own, with tracers that record in
	// memory (otsuite.RunBroker); no environment variable, no global tracer.
	t.Parallel()
	otsuite.RunBroker(t, otsuite.Broker{
		Wrap: func(b broker.Broker, tr opentracing.Tracer) broker.Broker { return NewTracedRabbitBroker(b, tr) },
		Tracers: func(t *testing.T) (opentracing.Tracer, opentracing.Tracer, func() []tracecheck.Span) {
			rec := jaegersuite.NewRecorder(t)
			return rec.Tracer("checkout"), rec.Tracer("stock"), rec.Spans
		},
		Carrier:       func(h amqp.Table) otsuite.TextMapCarrier { return amqpHeadersCarrier(h) },
		CarrierHeader: "uber-trace-id",
		CarrierHints:  workshoptest.CarrierHints{Read: "TODO(03.2)", Write: "TODO(03.1)"},
		Publish:       publishHop, Process: processHop, Reserve: stockReserve, Tags: workshoptest.BrokerTags,
		TraceHeader: "uber-trace-id",
		SpanID: func(raw string) (string, bool) {
			sc, err := jaeger.ContextFromString(raw)
			return tracecheck.SpanIDHex(uint64(sc.SpanID())), err == nil
		},
		InjectHint: "TODO(03.1): t.tracer.Inject(span.Context(), opentracing.TextMap, " +
			"amqpHeadersCarrier(headers)), making the headers when the message has none",
		Hints:     otsuite.Hints{Publish: "TODO(03.1)", Consume: "TODO(03.2)", Wrapper: "TODO(03.2)"},
		MessageID: true,
		BadHeaders: append(otsuite.CommonBadHeaders("uber-trace-id"),
			otsuite.BadHeader{Name: "garbage uber-trace-id", Headers: func(opentracing.Tracer, opentracing.Span) amqp.Table {
				return amqp.Table{"uber-trace-id": "not:a:trace:context"}
			}},
		),
		ContinueTodo: "TODO(03.2)",
		ContinueWhy:  "A []byte uber-trace-id is text too: read it (TODO(03.2): amqpHeadersCarrier.ForeachKey)",
	})
}
