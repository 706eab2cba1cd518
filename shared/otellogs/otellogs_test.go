package otellogs

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

func newProvider(t *testing.T, w *bytes.Buffer, getenv func(string) string) *Provider {
	t.Helper()
	p, err := New(context.Background(), resource.NewSchemaless(semconv.ServiceName("stock")), w, "json", getenv,
		func(context.Context) (sdklog.Exporter, error) { t.Fatal("no exporter was asked for"); return nil, nil })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Shutdown(context.Background()) })
	return p
}

// TestConsoleLines: a record becomes a JSON line with the service, its level, its
// attributes and the trace context of the emitting call; Debug is not written.
func TestConsoleLines(t *testing.T) {
	var out bytes.Buffer
	p := newProvider(t, &out, func(string) string { return "" })
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, TraceFlags: trace.FlagsSampled})
	ctx := trace.ContextWithSpanContext(context.Background(), sc)
	logger := p.Logger("test")
	var rec log.Record
	rec.SetSeverity(log.SeverityWarn)
	rec.SetBody(attribute.StringValue("hello"))
	rec.AddAttributes(attribute.String("order_id", "ord_1"), attribute.Int("n", 2))
	logger.Emit(ctx, rec)
	var debug log.Record
	debug.SetSeverity(log.SeverityDebug)
	debug.SetBody(attribute.StringValue("quiet"))
	logger.Emit(ctx, debug)

	var line map[string]any
	if err := json.Unmarshal(out.Bytes(), &line); err != nil {
		t.Fatalf("want one JSON line, got %q: %v", out.String(), err)
	}
	for k, want := range map[string]any{"level": "WARN", "msg": "hello", "service": "stock", "order_id": "ord_1", "n": 2.0,
		TraceIDKey: sc.TraceID().String(), SpanIDKey: sc.SpanID().String()} {
		if line[k] != want {
			t.Errorf("%s = %v, want %v (line %s)", k, line[k], want, out.String())
		}
	}
	if strings.Contains(out.String(), "quiet") {
		t.Errorf("a Debug record was written: %s", out.String())
	}
	if p.Unbridged().Info("plain"); !strings.Contains(out.String(), `"msg":"plain","service":"stock"`) {
		t.Errorf("the unbridged logger's line lacks the service: %s", out.String())
	}
}

// TestSpanErrors: an exception event becomes an ERROR record on the span's trace.
func TestSpanErrors(t *testing.T) {
	var out bytes.Buffer
	p := newProvider(t, &out, func(string) string { return "" })
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(SpanErrors(p)))
	_, span := tp.Tracer("test").Start(context.Background(), "reserve stock")
	span.RecordError(errTest{})
	span.End()
	var line map[string]any
	if err := json.Unmarshal(out.Bytes(), &line); err != nil {
		t.Fatalf("want one JSON line, got %q: %v", out.String(), err)
	}
	if line["level"] != "ERROR" || line[TraceIDKey] != span.SpanContext().TraceID().String() || line["exception.message"] != "out of stock" {
		t.Errorf("the exception's record: %s", out.String())
	}
}

type errTest struct{}

func (errTest) Error() string { return "out of stock" }

func TestExportOTLP(t *testing.T) {
	for v, want := range map[string]bool{"": false, "none": false, "console": false, "otlp": true, "console, otlp": true} {
		got, err := ExportOTLP(func(string) string { return v })
		if err != nil || got != want {
			t.Errorf("OTEL_LOGS_EXPORTER=%q: %v, %v; want %v", v, got, err, want)
		}
	}
	if _, err := ExportOTLP(func(string) string { return "syslog" }); err == nil || !strings.Contains(err.Error(), "OTEL_LOGS_EXPORTER") {
		t.Errorf("OTEL_LOGS_EXPORTER=syslog: %v, want an error naming the variable", err)
	}
}

// TestSDKDisabled: with OTEL_SDK_DISABLED=true the lines are written without the trace
// context, and no exporter is made even when OTEL_LOGS_EXPORTER=otlp asks for one.
func TestSDKDisabled(t *testing.T) {
	t.Setenv("OTEL_SDK_DISABLED", "true")
	var out bytes.Buffer
	p := newProvider(t, &out, func(k string) string {
		if k == ExporterVar {
			return "otlp"
		}
		return ""
	})
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, TraceFlags: trace.FlagsSampled})
	var rec log.Record
	rec.SetSeverity(log.SeverityInfo)
	rec.SetBody(attribute.StringValue("hello"))
	p.Logger("test").Emit(trace.ContextWithSpanContext(context.Background(), sc), rec)
	var line map[string]any
	if err := json.Unmarshal(out.Bytes(), &line); err != nil {
		t.Fatalf("want one JSON line, got %q: %v", out.String(), err)
	}
	if line["msg"] != "hello" || line[TraceIDKey] != nil || line[SpanIDKey] != nil {
		t.Errorf("with the SDK disabled, the line is %s, want msg=hello and no trace_id or span_id", out.String())
	}
	t.Setenv("OTEL_SDK_DISABLED", "true")
	if _, err := New(context.Background(), resource.Empty(), &out, "json", func(string) string { return "syslog" }, nil); err == nil {
		t.Error("OTEL_LOGS_EXPORTER=syslog with the SDK disabled: no error, want one naming the variable (a typo is a typo)")
	}
}
