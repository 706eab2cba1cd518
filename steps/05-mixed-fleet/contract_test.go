package main

import (
	"log/slog"
	"net/http"
	"testing"

	"github.com/opentracing/opentracing-go"

	"github.com/ot2otel/workshop/shared/broker"
	"github.com/ot2otel/workshop/shared/shop"
	"github.com/ot2otel/workshop/shared/workshoptest"
	"github.com/ot2otel/workshop/shared/workshoptest/otelglobal"
	"github.com/ot2otel/workshop/shared/workshoptest/otglobal"
)

// step is what the contract every step keeps needs of this one.
var step = workshoptest.Step{
	Run: run,
	NewCheckout: func(b broker.Broker, logger *slog.Logger) http.Handler {
		return newCheckout(b, opentracing.NoopTracer{}, logger)
	},
	NewReserve: func(ledger shop.Stock, logger *slog.Logger) broker.Handler {
		return reserveStock(ledger, opentracing.NoopTracer{}, logger)
	},
	Globals: workshoptest.Globals{Sentinels: []workshoptest.Sentinel{otelglobal.Sentinel(), otglobal.Tracer()}, Todo: "TODO(05.1): each service propagates with newPropagator, handed to it (and to its bridge), never set as a global"},
}

// TestContract: the HTTP API, the order flow, bad input, redelivery and the command
// line, as every step keeps them.
func TestContract(t *testing.T) { workshoptest.Contract(t, step) }

// TestCorrelation: one request ID on every log line of one checkout, in all three services.
func TestCorrelation(t *testing.T) { workshoptest.Correlation(t, step) }
