package main

import (
	"testing"

	"github.com/ot2otel/workshop/shared/workshoptest"
)

// TestOTelErrorsAreLogged: with the collector down, or a baggage header that does not
// parse, OpenTelemetry's errors are structured records in the service's log, one per
// outage, not plain text on stderr.
func TestOTelErrorsAreLogged(t *testing.T) {
	workshoptest.CheckOTelErrorLogs(t, run, "main: telemetry.HandleOTelErrors")
}

// TestJaegerLogs: the legacy checkout's jaeger-client reports its errors, once per
// outage, and with JAEGER_REPORTER_LOG_SPANS=true its spans, to its log.
func TestJaegerLogs(t *testing.T) {
	workshoptest.CheckJaegerLogs(t, run, "checkout", "newLegacyTracing: it passes opts, the logger main gives it, to cfg.NewTracer")
}
