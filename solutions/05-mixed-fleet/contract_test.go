package main

import (
	"testing"

	"github.com/ot2otel/workshop/shared/tracecheck"
	"github.com/ot2otel/workshop/shared/workshoptest"
	"github.com/ot2otel/workshop/shared/workshoptest/otelglobal"
	"github.com/ot2otel/workshop/shared/workshoptest/otsuite"
)

// step is the mixed fleet as the suites every step runs see it.
var step = otsuite.Step(run, newCheckout, reserveStock, workshoptest.Step{
	Globals: workshoptest.Globals{Sentinels: []workshoptest.Sentinel{otelglobal.Sentinel()},
		Todo: "TODO(05.1): each service propagates with newPropagator, handed to it (and to its bridge), never set as a global"},
	Trace: workshoptest.OrderTraces{Want: orderTrace, Collect: func(t *testing.T) (map[string]string, func() []tracecheck.Span) {
		c := collect(t)
		return c.env(), func() []tracecheck.Span { return c.received(t) }
	}, StockAPI: workshoptest.StockAPIHop("serverSpans (middleware.go), unchanged since step 02, with stock's own tracer")},
	// W3C on the way in, uber-trace-id on the message the legacy checkout sends; an
	// allowed baggage key crosses the legacy checkout as uberctx-* (jaegerBaggage).
	Edge: workshoptest.EdgeStep{
		Collect:    func(t *testing.T) func() []tracecheck.Span { return collect(t).spans },
		HTTPFormat: "traceparent", AMQPFormat: "uber-trace-id", OTel: true, BaggageToAMQP: true,
		Todo: propagatorHint("the Jaeger propagator next to the W3C ones")},
	// OTEL_PROPAGATORS, with every service on OpenTelemetry: honoured on both wires,
	// and refused when it names what no service can speak.
	Propagators: workshoptest.PropagatorsStep{Env: map[string]string{"SHOP_TRACER": "otel"},
		Todo: "newPropagator (tracing.go), which main hands to every OpenTelemetry service and its bridge"},
	// Gateway's and stock's OpenTelemetry errors go to their logs, as in step 04; the
	// legacy checkout's jaeger-client reports its errors, once per outage, and with
	// JAEGER_REPORTER_LOG_SPANS=true its spans, to its log.
	TracerLogs: []workshoptest.LogCheck{
		workshoptest.OTelErrorLogs("main: telemetry.HandleOTelErrors"),
		workshoptest.JaegerLogs("checkout", "newLegacyTracing: it passes opts, the logger main gives it, to cfg.NewTracer"),
	},
})

func TestContract(t *testing.T) { workshoptest.Contract(t, step) }

// TestMain runs the tests; in a process that TestContract/SeparateProcesses starts as one
// of the services, it runs this step's main instead, as the deployed command does;
// and it places TestContract/CheckoutTimesOut's order before the first test.
func TestMain(m *testing.M) { workshoptest.Main(m, main, run) }
