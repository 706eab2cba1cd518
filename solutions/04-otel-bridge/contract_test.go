package main

import (
	"testing"

	"github.com/ot2otel/workshop/shared/workshoptest"
	"github.com/ot2otel/workshop/shared/workshoptest/otelglobal"
	"github.com/ot2otel/workshop/shared/workshoptest/otelsuite"
	"github.com/ot2otel/workshop/shared/workshoptest/otsuite"
)

// step is step 04 as the suites every step runs see it: on the bridge, neither
// OpenTracing's global tracer nor OpenTelemetry's globals may be touched.
var step = otsuite.Step(run, newCheckout, reserveStock, workshoptest.Step{
	Globals: workshoptest.Globals{Sentinels: []workshoptest.Sentinel{otelglobal.Sentinel()},
		Todo: "TODO(04.2): bridge.SetTextMapPropagator(prop), not otel.SetTextMapPropagator; and TODO(04.1): each service gets the bridge newTracing built for it"},
	Trace: workshoptest.OrderTraces{Collect: otelsuite.Traces(noSpans), Want: orderTrace,
		StockAPI: workshoptest.StockAPIHop("TODO(04.1): every service traces through the bridge newTracing returns; serverSpans itself is unchanged")},
	// W3C on both wires now, and the OpenTelemetry edge's rules for repeated headers
	// and the public endpoint.
	Edge: workshoptest.EdgeStep{Collect: otelsuite.Spans, HTTPFormat: "traceparent", AMQPFormat: "traceparent", OTel: true, BaggageToAMQP: true,
		Todo: "TODO(04.1) and TODO(04.2): the bridge, with the W3C propagators"},
	// OpenTelemetry's errors are structured records in the service's log, one per
	// outage, not plain text on stderr.
	// OTEL_PROPAGATORS, honoured on both wires, and refused when it names what no
	// service can speak.
	Propagators:  workshoptest.PropagatorsStep{Todo: "TODO(04.1) and TODO(04.2): the bridge, speaking the propagator main builds from OTEL_PROPAGATORS"},
	SamplingTodo: "TODO(04.1): newTracerProvider passes the sampler of otelenv.SamplerFromEnv(service, os.Getenv) with sdktrace.WithSampler",
	TracerLogs:   []workshoptest.LogCheck{workshoptest.OTelErrorLogs("TODO(04.1): each service traces with the OpenTelemetry SDK (newTracing, tracing.go), its spans batched to the exporter autoexport.NewSpanExporter makes from OTEL_*")},
})

func TestContract(t *testing.T) { workshoptest.Contract(t, step) }

// TestMain runs the tests; in a process that TestContract/SeparateProcesses starts as one
// of the services, it runs this step's main instead, as the deployed command does;
// and it places TestContract/CheckoutTimesOut's order before the first test.
func TestMain(m *testing.M) { workshoptest.Main(m, main, run) }
