package workshoptest

import (
	"os"
	"testing"
)

// TestPinTestExporter: a fleet's spans go to the test binary's own sink unless the test
// chose a collector itself; never to the SDKs' defaults or to the shell's collector.
func TestPinTestExporter(t *testing.T) {
	pinTestExporter()
	if got := os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT"); got != Sink() {
		t.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT = %q, want the sink %q", got, Sink())
	}
	if got := os.Getenv("JAEGER_ENDPOINT"); got != Sink()+"/api/traces" {
		t.Errorf("JAEGER_ENDPOINT = %q, want the sink's %q", got, Sink()+"/api/traces")
	}
	t.Run("chosen by the test", func(t *testing.T) {
		t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
		pinTestExporter()
		if got := os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT"); got != "http://127.0.0.1:1" {
			t.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT = %q, want the test's own, left alone", got)
		}
	})
}
