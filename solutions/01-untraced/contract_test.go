package main

import (
	"log/slog"
	"net/http"
	"testing"

	"github.com/ot2otel/workshop/shared/broker"
	"github.com/ot2otel/workshop/shared/shop"
	"github.com/ot2otel/workshop/shared/workshoptest"
)

// step is what the contract every step keeps needs of this one.
var step = workshoptest.Step{
	Run:         run,
	NewCheckout: func(b broker.Broker, logger *slog.Logger) http.Handler { return newCheckout(b, logger) },
	NewReserve:  func(ledger shop.Stock, logger *slog.Logger) broker.Handler { return reserveStock(ledger, logger) },
	Hints: workshoptest.CorrelationHints{
		Gateway:  "TODO(01.1): take X-Request-ID from the caller (or make one) and log it",
		Checkout: "TODO(01.1) sends X-Request-ID to checkout; TODO(01.2): read it there and log it",
		Stock:    "TODO(01.2) puts the ID in the AMQP header x-request-id; TODO(01.3): read it in stock and log it",
		Message:  "TODO(01.2): put the ID in the AMQP headers",
		Header:   "TODO(01.3): read the ID from the AMQP headers (string or []byte) and log it",
	},
	Demo: []string{"202 Accepted", "stock reserved 2 gopher-plush", "Log lines with request_id="},
}

// TestContract: the HTTP API, the order flow, bad input, redelivery and the command
// line, as every step keeps them; and this step's exercise, TestContract/Correlation:
// one request ID on every log line of one checkout, in all three services.
func TestContract(t *testing.T) { workshoptest.Contract(t, step) }
