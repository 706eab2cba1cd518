package main

import (
	"testing"

	"github.com/ot2otel/workshop/shared/workshoptest"
	"github.com/ot2otel/workshop/shared/workshoptest/jaegersuite"
	"github.com/ot2otel/workshop/shared/workshoptest/otsuite"
)

// step is what the contract suite every step runs (with correlation, the public edge
// and the tracer's logs) needs of this one: its services, untraced where only the
// contract is checked, and its hints.
var step = otsuite.Step(run, newCheckout, reserveStock, workshoptest.Step{
	Globals: workshoptest.Globals{Todo: "TODO(02.1): each service traces with the tracer newTracer built for it, passed in; never opentracing.SetGlobalTracer or GlobalTracer"},
	// The broker hop is not traced yet, so no trace context or baggage crosses it.
	Edge: workshoptest.EdgeStep{Collect: jaegersuite.Spans, HTTPFormat: "uber-trace-id",
		Todo: "TODO(02.2) and TODO(02.3): the server spans, and the client span injected into the request"},
	TracerLogs: []workshoptest.LogCheck{workshoptest.JaegerLogs("gateway", "TODO(02.1): newTracer passes opts, the logger main gives it, to cfg.NewTracer")},
})

func TestContract(t *testing.T) { workshoptest.Contract(t, step) }

// TestMain runs the tests; in a process that TestContract/SeparateProcesses starts as one
// of the services, it runs this step's main instead, as the deployed command does;
// and it places TestContract/CheckoutTimesOut's order before the first test.
func TestMain(m *testing.M) { workshoptest.Main(m, main, run) }
