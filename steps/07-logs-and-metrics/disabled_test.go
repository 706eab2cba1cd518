package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ot2otel/workshop/shared/app"
	"github.com/ot2otel/workshop/shared/workshoptest"
)

// TestSDKDisabled: OTEL_SDK_DISABLED=true disables the SDK for every signal, as the
// specification says, not for traces alone: no span, metric or log record reaches the
// collector, even with every exporter variable set to otlp; no /metrics is served; the
// services still work and still log their lines on stdout, with no trace_id (nothing
// correlates them), even for an order that came with a caller's traceparent; and the
// log says so once.
func TestSDKDisabled(t *testing.T) {
	var mu sync.Mutex
	received := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		received[r.URL.Path]++
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	for k, v := range map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": srv.URL,
		"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_TRACES_EXPORTER": "otlp", "OTEL_LOGS_EXPORTER": "otlp",
		"OTEL_METRICS_EXPORTER": "otlp", "OTEL_METRIC_EXPORT_INTERVAL": "50", "OTEL_BLRP_SCHEDULE_DELAY": "50",
		"OTEL_BSP_SCHEDULE_DELAY": "50"} {
		t.Setenv(k, v)
	}
	f := workshoptest.Start(t, run, nil)
	requestID := fmt.Sprintf("disabled-%d", time.Now().UnixNano())
	const callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	resp := f.PlaceDemoOrder(http.Header{"X-Request-ID": {requestID}, "Traceparent": {"00-" + callerTrace + "-00f067aa0ba902b7-01"}})
	f.WaitReserved(workshoptest.DemoSKU, 2)

	for _, service := range []string{app.Gateway, app.Checkout, app.Stock} {
		if r, err := http.Get(f.MetricsURLs[service] + "/metrics"); err == nil {
			r.Body.Close()
			t.Errorf("with OTEL_SDK_DISABLED=true, %s serves /metrics (%s): a no-op meter provider has nothing to serve, "+
				"and an empty /metrics would look to Prometheus like a healthy target", service, r.Status)
		}
	}
	// The stop flushes every provider: an exporter, had one been made, sends what it
	// holds then, so no wait for its interval is needed.
	f.Stop()

	mu.Lock()
	if len(received) != 0 {
		t.Errorf("with OTEL_SDK_DISABLED=true, the collector received %v: the SDK is disabled for every signal", received)
	}
	mu.Unlock()
	records := f.Logs()
	said := 0
	for _, rec := range records {
		if msg, _ := rec["msg"].(string); strings.HasPrefix(msg, "OTEL_SDK_DISABLED=true") {
			said++
		}
	}
	if said != 1 {
		t.Errorf("the log says %d times that OTEL_SDK_DISABLED=true turned the signals off, want once", said)
	}
	for _, service := range []string{app.Gateway, app.Checkout, app.Stock} {
		lines := 0
		for _, rec := range records {
			if rec["service"] != service || (rec["request_id"] != requestID && rec["order_id"] != resp.OrderID()) {
				continue
			}
			lines++
			if id, ok := rec["trace_id"]; ok {
				t.Errorf("with OTEL_SDK_DISABLED=true, %s logged a line with trace_id=%v: %v; with no SDK nothing correlates the lines", service, id, rec)
			}
		}
		if lines == 0 {
			t.Errorf("with OTEL_SDK_DISABLED=true, %s logged no line of the order: the lines on stdout are the service's log, not telemetry, and stay:\n%s",
				service, f.LogText())
		}
	}
}
