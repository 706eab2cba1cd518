package main

import (
	"testing"

	"github.com/ot2otel/workshop/shared/workshoptest"
	"github.com/ot2otel/workshop/shared/workshoptest/otelglobal"
	"github.com/ot2otel/workshop/shared/workshoptest/otsuite"
)

// step is the mixed fleet as the suites every step runs see it.
var step = otsuite.Step(run, newCheckout, reserveStock, workshoptest.Globals{Sentinels: []workshoptest.Sentinel{otelglobal.Sentinel()},
	Todo: "TODO(05.1): each service propagates with newPropagator, handed to it (and to its bridge), never set as a global"})

func TestContract(t *testing.T)    { workshoptest.Contract(t, step) }
func TestCorrelation(t *testing.T) { workshoptest.Correlation(t, step) }

// TestPublicEdge: W3C on the way in, uber-trace-id on the message the legacy checkout
// sends; W3C baggage does not cross the legacy checkout (see "What does not cross").
func TestPublicEdge(t *testing.T) {
	workshoptest.CheckEdge(t, workshoptest.EdgeStep{
		Run: run, Spans: collect(t).spans, HTTPFormat: "traceparent", AMQPFormat: "uber-trace-id", OTel: true,
		BaggageToCheckout: true, BaggageToAMQP: false,
		Todo: propagatorHint("the Jaeger propagator next to the W3C ones")})
}

// TestOTelErrorsAreLogged: gateway's and stock's OpenTelemetry errors go to their logs,
// as in step 04.
func TestOTelErrorsAreLogged(t *testing.T) {
	workshoptest.CheckOTelErrorLogs(t, run, "main: telemetry.HandleOTelErrors")
}

// TestJaegerLogs: the legacy checkout's jaeger-client reports its errors, once per
// outage, and with JAEGER_REPORTER_LOG_SPANS=true its spans, to its log.
func TestJaegerLogs(t *testing.T) {
	workshoptest.CheckJaegerLogs(t, run, "checkout", "newLegacyTracing: it passes opts, the logger main gives it, to cfg.NewTracer")
}
