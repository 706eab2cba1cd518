package main

import (
	"log/slog"
	"net/http"
	"testing"

	metricnoop "go.opentelemetry.io/otel/metric/noop"
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
		return newCheckout(b, noop.NewTracerProvider(), metricnoop.NewMeterProvider(), newPropagator(), logger)
	},
	NewReserve: func(ledger shop.Stock, logger *slog.Logger) broker.Handler {
		return reserveStock(ledger, noop.NewTracerProvider().Tracer(""), metricnoop.Meter{}, logger)
	},
	Demo: []string{"202 Accepted", "stock reserved 2 gopher-plush", "Log lines with request_id="},
	Trace: workshoptest.OrderTraces{Collect: otelsuite.Traces("TODO(06.3): newTracerProvider exports with autoexport.NewSpanExporter, and each service's Close shuts its provider down"), Want: orderTrace,
		StockAPI: workshoptest.StockAPIHop("serverSpans (middleware.go), unchanged since step 06; newStockAPI (stock.go) uses it like the other services")},
	Globals: workshoptest.Globals{Sentinels: []workshoptest.Sentinel{otelglobal.Sentinel()}, Todo: "TODO(06.1): otelmux and otelhttp get the service's provider and propagator (WithTracerProvider, WithPropagators); never otel.Set*"},
	// W3C on both wires, from otelhttp and the hand-written AMQP carrier.
	Edge: workshoptest.EdgeStep{Collect: otelsuite.Spans, HTTPFormat: "traceparent", AMQPFormat: "traceparent", OTel: true, BaggageToAMQP: true,
		Todo: "TODO(06.1) and TODO(06.2): otelmux and otelhttp with the service's propagator, and the AMQP carrier"},
	// OTEL_PROPAGATORS, honoured on both wires, and refused when it names what no
	// service can speak, as in step 06.
	Propagators: workshoptest.PropagatorsStep{Todo: "main: otelenv.PropagatorsFromEnv, handed to every service's instrumentation, as in step 06"},
	// OpenTelemetry's errors are structured records in the service's log, as since
	// step 04, now from native instrumentation.
	TracerLogs: []workshoptest.LogCheck{workshoptest.OTelErrorLogs("TODO(06.1): otelmux (middleware.go) and otelhttp (gateway.go) record into the service's own provider (WithTracerProvider), whose exporter reads OTEL_*")},
}

// TestContract: the HTTP API, the order flow, bad input, redelivery, correlation, the
// command line and the demo, as every step keeps them; the order's trace, the public
// edge and OpenTelemetry's own logs, as every traced step does.
func TestContract(t *testing.T) { workshoptest.Contract(t, step) }

// TestMain runs the tests; in a process that TestContract/SeparateProcesses starts as one
// of the services, it runs this step's main instead, as the deployed command does;
// and it places TestContract/CheckoutTimesOut's order before the first test.
func TestMain(m *testing.M) { workshoptest.Main(m, main, run) }
