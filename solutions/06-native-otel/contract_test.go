package main

import (
	"log/slog"
	"net/http"
	"testing"

	"go.opentelemetry.io/otel/trace/noop"

	"github.com/ot2otel/workshop/shared/broker"
	"github.com/ot2otel/workshop/shared/shop"
	"github.com/ot2otel/workshop/shared/workshoptest"
	"github.com/ot2otel/workshop/shared/workshoptest/otelglobal"
	"github.com/ot2otel/workshop/shared/workshoptest/otelsuite"
)

// step is step 06 as the suites every step runs see it: its handlers on OpenTelemetry's
// no-op provider, and a demo whose output is checked.
var step = workshoptest.Step{
	Run: run,
	NewCheckout: func(b broker.Broker, logger *slog.Logger) http.Handler {
		return newCheckout(b, noop.NewTracerProvider(), newPropagator(), logger)
	},
	NewReserve: func(ledger shop.Stock, logger *slog.Logger) broker.Handler {
		return reserveStock(ledger, noop.NewTracerProvider().Tracer(""), logger)
	},
	Demo:    []string{"202 Accepted", "stock reserved 2 gopher-plush", "Log lines with request_id="},
	Globals: workshoptest.Globals{Sentinels: []workshoptest.Sentinel{otelglobal.Sentinel()}, Todo: "TODO(06.1): otelmux and otelhttp get the service's provider and propagator (WithTracerProvider, WithPropagators); never otel.Set*"},
}

// TestContract: the HTTP API, the order flow, bad input, redelivery, the command line
// and the demo, as every step keeps them.
func TestContract(t *testing.T)    { workshoptest.Contract(t, step) }
func TestCorrelation(t *testing.T) { workshoptest.Correlation(t, step) }

// TestPublicEdge: W3C on both wires, from otelhttp and the hand-written AMQP carrier.
func TestPublicEdge(t *testing.T) {
	workshoptest.CheckEdge(t, workshoptest.EdgeStep{
		Run: run, Spans: otelsuite.Collect(t).Spans, HTTPFormat: "traceparent", AMQPFormat: "traceparent", OTel: true,
		BaggageToCheckout: true, BaggageToAMQP: true,
		Todo: "TODO(06.1) and TODO(06.2): otelmux and otelhttp with the service's propagator, and the AMQP carrier"})
}

// TestOTelErrorsAreLogged: OpenTelemetry's errors are structured records in the
// service's log, as since step 04, now from native instrumentation.
func TestOTelErrorsAreLogged(t *testing.T) {
	workshoptest.CheckOTelErrorLogs(t, run, "TODO(06.1): the services trace with otelmux and otelhttp on their own providers; main hands OpenTelemetry's errors to the log")
}
