package main

import (
	"testing"

	"github.com/ot2otel/workshop/shared/workshoptest"
	"github.com/ot2otel/workshop/shared/workshoptest/jaegersuite"
	"github.com/ot2otel/workshop/shared/workshoptest/otsuite"
)

// step is step 03 as the suites every step runs see it. Its broker hop is traced now:
// the edge suite expects the trace context and baggage on the AMQP message too; and
// jaeger-client's own errors and spans go to the service's log, as in step 02.
var step = otsuite.Step(run, newCheckout, reserveStock, workshoptest.Step{
	Trace: workshoptest.OrderTraces{Collect: jaegersuite.Traces("step 02's exercise 02.1: newTracer builds a jaeger tracer with config.FromEnv and returns the closer that flushes it"), Want: orderTrace,
		StockAPI: workshoptest.StockAPIHop("serverSpans (middleware.go), unchanged since step 02; newStockAPI (stock.go) uses it like the other services")},
	Globals: workshoptest.Globals{Todo: "TODO(03.1) and TODO(03.2): the decorator traces with the tracer it was given (t.tracer), never the global one"},
	Edge: workshoptest.EdgeStep{Collect: jaegersuite.Spans, HTTPFormat: "uber-trace-id", AMQPFormat: "uber-trace-id", BaggageToAMQP: true,
		Todo: "TODO(03.1): inject the producer span's context into the AMQP headers"},
	TracerLogs: []workshoptest.LogCheck{workshoptest.JaegerLogs("gateway", "step 02's exercise 02.1: newTracer passes opts, the logger main gives it, to cfg.NewTracer")},
})

func TestContract(t *testing.T) { workshoptest.Contract(t, step) }

// TestMain runs the tests; in a process that TestContract/SeparateProcesses starts as one
// of the services, it runs this step's main instead, as the deployed command does;
// and it places TestContract/CheckoutTimesOut's order before the first test.
func TestMain(m *testing.M) { workshoptest.Main(m, main, run) }
