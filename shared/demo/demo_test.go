package demo

import "testing"

func TestConfigured(t *testing.T) {
	otlp := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}
	jaeger := map[string]string{"JAEGER_ENDPOINT": "http://127.0.0.1:2/api/traces"}
	for _, tc := range []struct {
		name     string
		receiver map[string]string
		env      map[string]string
		want     string
	}{
		{"nothing set", otlp, nil, ""},
		{"the endpoint", otlp, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost:4318"}, "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{"the traces endpoint, which wins", otlp, map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://localhost:4318/v1/traces"}, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"},
		{"only the protocol", otlp, map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, ""},
		{"the other tracer's endpoint", jaeger, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost:4318"}, ""},
		{"jaeger's agent", jaeger, map[string]string{"JAEGER_AGENT_HOST": "localhost"}, "JAEGER_AGENT_HOST"},
	} {
		got := configured(tc.receiver, func(k string) string { return tc.env[k] })
		if got != tc.want {
			t.Errorf("%s: configured = %q, want %q", tc.name, got, tc.want)
		}
	}
}
