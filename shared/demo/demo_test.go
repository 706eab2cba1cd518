package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"

	"github.com/ot2otel/workshop/shared/telemetry"
	"github.com/ot2otel/workshop/shared/telemetry/jaegerlog"
)

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
		got := Configured(tc.receiver, func(k string) string { return tc.env[k] })
		if got != tc.want {
			t.Errorf("%s: Configured = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestTraceID(t *testing.T) {
	for line, want := range map[string]string{
		"demo: traceresponse: 00-661303a4cb1777165c2341c7b73364ce-122a8316dc9986fe-01": "661303a4cb1777165c2341c7b73364ce",
		"demo: traceresponse: 00-000000000000000048eaa56496041c05-48eaa56496041c05-01": "000000000000000048eaa56496041c05",
		"demo: traceresponse: 00-661303a4-122a8316dc9986fe-01":                         "",
		"demo: stock reserved 2 gopher-plush":                                          "",
		"traceresponse: 00-661303a4cb1777165c2341c7b73364ce-122a8316dc9986fe-01":       "",
	} {
		if got := TraceID(line); got != want {
			t.Errorf("TraceID(%q) = %q, want %q", line, got, want)
		}
	}
}

// TestWhereSpansWent checks what the demo says, run on its own, about the spans: where
// they went and how to see the trace, or that they are lost when nothing listens there.
func TestWhereSpansWent(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone := "http://" + closed.Addr().String()
	closed.Close()

	const id = "661303a4cb1777165c2341c7b73364ce"
	for _, tc := range []struct {
		name    string
		env     map[string]string
		logs    []map[string]any
		want    []string
		wantErr string
	}{
		{"a collector listens", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + l.Addr().String()}, nil,
			[]string{"Spans were sent to OTEL_EXPORTER_OTLP_ENDPOINT=http://" + l.Addr().String(), "go run ./cmd/workshop trace " + id,
				"http://localhost:16686/trace/" + id}, ""},
		{"Jaeger's query elsewhere", map[string]string{"JAEGER_ENDPOINT": "http://" + l.Addr().String() + "/api/traces", "JAEGER_QUERY_URL": "http://jaeger:16686/"}, nil,
			[]string{"Spans were sent to JAEGER_ENDPOINT=", "http://jaeger:16686/trace/" + id}, ""},
		{"nothing listens", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": gone + "/v1/traces"}, nil,
			[]string{"Spans were sent to OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="}, "the order's spans are lost:\n  nothing listens at OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="},
		{"the exporter failed", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + l.Addr().String()},
			[]map[string]any{{"service": "gateway", "msg": "exporting spans failed; repeats are not logged until the exporter recovers",
				"err": "traces export: 501 Not Implemented\n<html>"}},
			nil, "gateway: exporting spans failed; repeats are not logged until the exporter recovers: traces export: 501 Not Implemented …"},
		{"jaeger-client failed", map[string]string{"JAEGER_ENDPOINT": "http://" + l.Addr().String() + "/api/traces"},
			[]map[string]any{{"service": "checkout", "msg": "reporting spans failed; repeats are not logged until the reporter recovers", "err": "x"}},
			nil, "checkout: reporting spans failed"},
	} {
		var out bytes.Buffer
		err := whereSpansWent(context.Background(), &out, id, tc.logs, func(k string) string { return tc.env[k] })
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: error %v, want one saying %q", tc.name, err, tc.wantErr)
		}
		for _, want := range tc.want {
			if !strings.Contains(out.String(), want) {
				t.Errorf("%s: the output lacks %q:\n%s", tc.name, want, out.String())
			}
		}
	}
}

func TestHostPort(t *testing.T) {
	for endpoint, want := range map[string]string{
		"http://localhost:4318":         "localhost:4318",
		"http://collector/v1/traces":    "collector:80",
		"https://collector.example.com": "collector.example.com:443",
		"localhost:4317":                "localhost:4317",
		"http://[::1]:14268/api/traces": "[::1]:14268",
	} {
		if got := hostPort(endpoint); got != want {
			t.Errorf("hostPort(%q) = %q, want %q", endpoint, got, want)
		}
	}
}

// TestNoticesWhatTheTracersCouldNotSend feeds whereSpansWent the records the services'
// own error handlers write when an exporter fails, so a change of their wording cannot
// make the demo miss lost spans.
func TestNoticesWhatTheTracersCouldNotSend(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	env := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + l.Addr().String()}
	for name, fail := range map[string]func(*slog.Logger){
		"OpenTelemetry": func(logger *slog.Logger) {
			telemetry.HandleOTelErrors(logger, "gateway")
			otel.Handle(errors.New("traces export: Post \"http://127.0.0.1:4318/v1/traces\": connection refused"))
		},
		"jaeger-client": func(logger *slog.Logger) {
			jaegerlog.New(logger.With("service", "checkout")).Error("failed to flush Jaeger spans to server: connection refused")
		},
	} {
		var buf bytes.Buffer
		fail(slog.New(slog.NewJSONHandler(&buf, nil)))
		var logs []map[string]any
		for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			var rec map[string]any
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("%s: %v: %q", name, err, line)
			}
			logs = append(logs, rec)
		}
		err := whereSpansWent(context.Background(), io.Discard, "661303a4cb1777165c2341c7b73364ce", logs, func(k string) string { return env[k] })
		if err == nil || !strings.Contains(err.Error(), "connection refused") {
			t.Errorf("%s: the exporter failed (%s), but whereSpansWent said %v", name, buf.String(), err)
		}
	}
}
