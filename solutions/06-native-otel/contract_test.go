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
)

// step is what the contract every step keeps needs of this one.
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

// TestContract: the HTTP API, the order flow, bad input, redelivery and the command
// line, as every step keeps them.
func TestContract(t *testing.T) { workshoptest.Contract(t, step) }

// TestCorrelation: one request ID on every log line of one checkout, in all three services.
func TestCorrelation(t *testing.T) { workshoptest.Correlation(t, step) }
