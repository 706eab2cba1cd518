package main

import (
	"testing"

	"github.com/ot2otel/workshop/shared/workshoptest"
)

// TestJaegerLogs: jaeger-client reports its errors, once per outage, and with
// JAEGER_REPORTER_LOG_SPANS=true its spans, to the service's log.
func TestJaegerLogs(t *testing.T) {
	workshoptest.CheckJaegerLogs(t, run, "gateway", "step 02's exercise 02.1: newTracer passes opts, the logger main gives it, to cfg.NewTracer")
}
