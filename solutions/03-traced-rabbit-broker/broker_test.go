package main

import (
	"testing"

	"github.com/opentracing/opentracing-go"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/uber/jaeger-client-go"

	"github.com/ot2otel/workshop/shared/broker"
	"github.com/ot2otel/workshop/shared/tracecheck"
	"github.com/ot2otel/workshop/shared/workshoptest"
	"github.com/ot2otel/workshop/shared/workshoptest/otsuite"
)

// TestBroker checks the TracedRabbitBroker and its header carrier on their own (see
// otsuite.RunBroker), with checkout's and stock's jaeger-client tracers recording in memory.
func TestBroker(t *testing.T) {
	otsuite.RunBroker(t, otsuite.Broker{
		Wrap: func(b broker.Broker, tr opentracing.Tracer) broker.Broker { return NewTracedRabbitBroker(b, tr) },
		Tracers: func(t *testing.T) (opentracing.Tracer, opentracing.Tracer, func() []tracecheck.Span) {
			rec := newRecorder(t)
			return rec.tracer("checkout"), rec.tracer("stock"), rec.spans
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
		BadHeaders: []otsuite.BadHeader{
			{Name: "nil headers", Headers: func(opentracing.Tracer, opentracing.Span) amqp.Table { return nil }},
			{Name: "no trace headers", Headers: func(opentracing.Tracer, opentracing.Span) amqp.Table {
				return amqp.Table{"x-request-id": "req-1"}
			}},
			{Name: "garbage uber-trace-id", Headers: func(opentracing.Tracer, opentracing.Span) amqp.Table {
				return amqp.Table{"uber-trace-id": "not:a:trace:context"}
			}},
			{Name: "uber-trace-id as an integer", Headers: func(opentracing.Tracer, opentracing.Span) amqp.Table {
				return amqp.Table{"uber-trace-id": int64(42)}
			}},
			{Name: "uber-trace-id as []byte", Continues: true, Headers: func(upstream opentracing.Tracer, parent opentracing.Span) amqp.Table {
				// What another AMQP client sends: the same text, as a byte array.
				return amqp.Table{"uber-trace-id": []byte(otsuite.Inject(upstream, parent)["uber-trace-id"])}
			}},
		},
		ContinueTodo: "TODO(03.2)",
		ContinueWhy:  "A []byte uber-trace-id is text too: read it (TODO(03.2): amqpHeadersCarrier.ForeachKey)",
	})
}
