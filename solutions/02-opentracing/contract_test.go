package main

import (
	"testing"

	"github.com/ot2otel/workshop/shared/workshoptest"
	"github.com/ot2otel/workshop/shared/workshoptest/jaegersuite"
	"github.com/ot2otel/workshop/shared/workshoptest/otsuite"
)

// step is what the suites every step runs (the contract, correlation, the public edge,
// the tracer's logs) need of this one: its services, untraced where only the contract
// is checked, and its hints.
var step = otsuite.Step(run, newCheckout, reserveStock, workshoptest.Globals{Todo: "TODO(02.1): each service traces with the tracer newTracer built for it, passed in; never opentracing.SetGlobalTracer or GlobalTracer"})

func TestContract(t *testing.T)    { workshoptest.Contract(t, step) }
func TestCorrelation(t *testing.T) { workshoptest.Correlation(t, step) }

// TestPublicEdge: the broker hop is not traced yet, so no baggage crosses it.
func TestPublicEdge(t *testing.T) {
	workshoptest.CheckEdge(t, workshoptest.EdgeStep{
		Run: run, Spans: jaegersuite.Collect(t).Spans, HTTPFormat: "uber-trace-id",
		BaggageToCheckout: true, BaggageToAMQP: false,
		Todo: "TODO(02.2) and TODO(02.3): the server spans, and the client span injected into the request"})
}

func TestJaegerLogs(t *testing.T) {
	workshoptest.CheckJaegerLogs(t, run, "gateway", "TODO(02.1): newTracer passes opts, the logger main gives it, to cfg.NewTracer")
}
