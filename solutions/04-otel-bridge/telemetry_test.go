package main

import (
	"testing"

	"github.com/ot2otel/workshop/shared/workshoptest"
)

// TestOTelErrorsAreLogged: with the collector down, or a baggage header that does not
// parse, OpenTelemetry's errors are structured records in the service's log, one per
// outage, not plain text on stderr.
func TestOTelErrorsAreLogged(t *testing.T) {
	workshoptest.CheckOTelErrorLogs(t, run, "TODO(04.1): each service traces with the OpenTelemetry SDK (newTracing); main hands its errors to the log")
}
