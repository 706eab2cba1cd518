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
	// Each hint names the one TODO whose code is at fault, and its file: the tasks it
	// builds on are named without a marker, so that "Next:" in workshop check's summary
	// points at the right one.
	Hints: workshoptest.CorrelationHints{
		Gateway:  "TODO(01.1): in placeOrder (gateway.go), take X-Request-ID from the caller (or make one) and log it",
		Checkout: "TODO(01.2): in createOrder (checkout.go), read X-Request-ID (the gateway sends it since task 01.1) and log it",
		Stock:    "TODO(01.3): in reserveStock (stock.go), read the ID from the AMQP header x-request-id (checkout puts it there since task 01.2) and log it",
		Message:  "TODO(01.2): in createOrder (checkout.go), put the ID in the message's AMQP headers",
		Header:   "TODO(01.3): in reserveStock (stock.go), read the ID from the AMQP headers (string or []byte) and log it",
	},
	Demo: []string{"202 Accepted", "stock reserved 2 gopher-plush", "Log lines with request_id="},
}

// TestContract: the HTTP API, the order flow, bad input, redelivery and the command
// line, as every step keeps them; and this step's exercise, TestContract/Correlation:
// one request ID on every log line of one checkout, in all three services.
func TestContract(t *testing.T) { workshoptest.Contract(t, step) }

// TestMain runs the tests; in a process that TestContract/SeparateProcesses starts as one
// of the services, it runs this step's main instead, as the deployed command does;
// and it places TestContract/CheckoutTimesOut's order before the first test.
func TestMain(m *testing.M) { workshoptest.Main(m, main, run) }
