package workshoptest

import "testing"

// exporterDefaults are the standard variables that choose where an OTel service's spans
// go, at the values that send them over OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT: what a
// test that points that variable at its collector means, whatever the shell exported.
var exporterDefaults = map[string]string{
	"OTEL_TRACES_EXPORTER":               "otlp",
	"OTEL_EXPORTER_OTLP_PROTOCOL":        "http/protobuf",
	"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "",
	"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "",
	"OTEL_SDK_DISABLED":                  "false",
}

// PinExporter sets the standard variables that choose the exporter to OTLP over HTTP
// for the rest of the test, so that the spans go to OTEL_EXPORTER_OTLP_ENDPOINT, the
// test's collector, even when the developer's shell exports OTEL_TRACES_EXPORTER=console.
func PinExporter(t testing.TB) {
	for k, v := range exporterDefaults {
		t.Setenv(k, v)
	}
}
