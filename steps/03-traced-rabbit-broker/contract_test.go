package main

import (
	"testing"

	"github.com/ot2otel/workshop/shared/workshoptest"
	"github.com/ot2otel/workshop/shared/workshoptest/jaegersuite"
	"github.com/ot2otel/workshop/shared/workshoptest/otsuite"
)

// step is step 03 as the suites every step runs see it. Its broker hop is traced now:
// the edge suite expects the trace context and baggage on the AMQP message too.
var step = otsuite.Step(run, newCheckout, reserveStock, workshoptest.Globals{Todo: "TODO(03.1) and TODO(03.2): the decorator traces with the tracer it was given (t.tracer), never the global one"})

func TestContract(t *testing.T)    { workshoptest.Contract(t, step) }
func TestCorrelation(t *testing.T) { workshoptest.Correlation(t, step) }

func TestPublicEdge(t *testing.T) {
	workshoptest.CheckEdge(t, workshoptest.EdgeStep{
		Run: run, Spans: jaegersuite.Collect(t).Spans, HTTPFormat: "uber-trace-id", AMQPFormat: "uber-trace-id",
		BaggageToCheckout: true, BaggageToAMQP: true,
		Todo: "TODO(03.1): inject the producer span's context into the AMQP headers"})
}

// TestJaegerLogs: jaeger-client's own errors and spans go to the service's log, as in step 02.
func TestJaegerLogs(t *testing.T) {
	workshoptest.CheckJaegerLogs(t, run, "gateway", "step 02's exercise 02.1: newTracer passes opts, the logger main gives it, to cfg.NewTracer")
}
