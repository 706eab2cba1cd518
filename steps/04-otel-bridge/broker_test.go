package main

import (
	"context"
	"testing"

	"github.com/opentracing/opentracing-go"
	amqp "github.com/rabbitmq/amqp091-go"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/ot2otel/workshop/shared/broker"
	"github.com/ot2otel/workshop/shared/tracecheck"
	"github.com/ot2otel/workshop/shared/workshoptest"
	"github.com/ot2otel/workshop/shared/workshoptest/otsuite"
)

// TestBroker checks step 03's TracedRabbitBroker and its header carrier on their own
// (see otsuite.RunBroker), with checkout's and stock's bridges recording in memory. The
// decorator is step 03's, unchanged; under the bridge, what it carries is W3C traceparent,
// and a trace context it cannot read never stops a message, it only starts a new trace.
func TestBroker(t *testing.T) {
	// Parallel: the decorator against topologies of its own, with tracers that record in
	// memory (otsuite.RunBroker); no environment variable, no global tracer.
	t.Parallel()
	otsuite.RunBroker(t, otsuite.Broker{
		Wrap: func(b broker.Broker, tr opentracing.Tracer) broker.Broker { return NewTracedRabbitBroker(b, tr) },
		Tracers: func(t *testing.T) (opentracing.Tracer, opentracing.Tracer, func() []tracecheck.Span) {
			rec := newRecorder(t)
			return rec.Tracing("checkout", w3c).Tracer, rec.Tracing("stock", w3c).Tracer, rec.Spans
		},
		Carrier:       func(h amqp.Table) otsuite.TextMapCarrier { return amqpHeadersCarrier(h) },
		CarrierHeader: "traceparent",
		CarrierHints:  workshoptest.CarrierHints{Read: "step 03's carrier (broker.go)", Write: "step 03's carrier (broker.go)"},
		Publish:       publishHop, Process: processHop, Reserve: stockReserve, Tags: workshoptest.BrokerTags,
		TraceHeader: "traceparent",
		SpanID: func(raw string) (string, bool) {
			sc := trace.SpanContextFromContext(w3c.Extract(context.Background(), propagation.MapCarrier{"traceparent": raw}))
			return sc.SpanID().String(), sc.IsValid()
		},
		Hints: otsuite.Hints{Publish: "step 03's exercise 03.1", Consume: "step 03's exercise 03.2",
			Wrapper: "step 03's consume wrapper (broker.go)"},
		BadHeaders: append(otsuite.CommonBadHeaders("traceparent"),
			otsuite.BadHeader{Name: "garbage traceparent", Headers: func(opentracing.Tracer, opentracing.Span) amqp.Table {
				return amqp.Table{"traceparent": "not-a-trace-context"}
			}},
			otsuite.BadHeader{Name: "all-zero trace ID", Headers: func(opentracing.Tracer, opentracing.Span) amqp.Table {
				return amqp.Table{"traceparent": "00-00000000000000000000000000000000-00f067aa0ba902b7-01"}
			}},
			otsuite.BadHeader{Name: "traceparent as nil", Headers: func(opentracing.Tracer, opentracing.Span) amqp.Table {
				return amqp.Table{"traceparent": nil}
			}},
			otsuite.BadHeader{Name: "garbage tracestate and baggage", Continues: true, Headers: func(upstream opentracing.Tracer, parent opentracing.Span) amqp.Table {
				// W3C: a tracestate or baggage that cannot be parsed is dropped, the traceparent kept.
				return amqp.Table{"traceparent": otsuite.Inject(upstream, parent)["traceparent"], "tracestate": "=,=", "baggage": ";;;"}
			}},
			otsuite.BadHeader{Name: "uber-trace-id only", Headers: func(opentracing.Tracer, opentracing.Span) amqp.Table {
				// What a service still on jaeger-client sends. The bridge speaks W3C only, so
				// this is a new trace; step 05 makes the fleet read both formats.
				return amqp.Table{"uber-trace-id": "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1"}
			}},
		),
		ContinueTodo: "step 03's consume wrapper (broker.go)",
		ContinueWhy:  "A []byte traceparent is text too, and a bad tracestate or baggage does not spoil a good traceparent",
	})
}
