package otelenv

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

func TestSDKDisabled(t *testing.T) {
	for v, want := range map[string]bool{"": false, "false": false, "true": true, "TRUE": true, " True ": true, "1": false} {
		t.Setenv("OTEL_SDK_DISABLED", v)
		if got := SDKDisabled(); got != want {
			t.Errorf("OTEL_SDK_DISABLED=%q: SDKDisabled() = %v, want %v", v, got, want)
		}
	}
}

func TestNoopPassesTheTraceOn(t *testing.T) {
	tp := Noop()
	parent := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, TraceFlags: trace.FlagsSampled, Remote: true})
	_, span := tp.Tracer("test").Start(trace.ContextWithRemoteSpanContext(context.Background(), parent), "child")
	span.End()
	if span.IsRecording() || span.SpanContext().TraceID() != parent.TraceID() || span.SpanContext().SpanID() != parent.SpanID() {
		t.Errorf("a no-op span should record nothing and carry its parent's context on: recording=%v, context %v", span.IsRecording(), span.SpanContext())
	}
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

func TestReadable(t *testing.T) {
	std, err := stdouttrace.New()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := Readable(std).(*console); !ok {
		t.Errorf("Readable(stdouttrace exporter) = %T, want the one-line console exporter", Readable(std))
	}
	other := tracetest.NewInMemoryExporter()
	if Readable(other) != other {
		t.Errorf("Readable changed an exporter that is not the console's")
	}
}

func TestConsole(t *testing.T) {
	var out bytes.Buffer
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(NewConsole(&out)),
		sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName("stock"))))
	ctx, root := tp.Tracer("test").Start(context.Background(), "process stock", trace.WithSpanKind(trace.SpanKindConsumer))
	_, child := tp.Tracer("test").Start(ctx, "reserve stock")
	child.SetStatus(codes.Error, "unknown SKU")
	child.End()
	root.End()
	tp.Shutdown(context.Background())
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("console wrote %d lines, want one per span:\n%s", len(lines), out.String())
	}
	sc := root.SpanContext()
	for i, want := range []string{
		`span stock internal "reserve stock" `,
		`span stock consumer "process stock" `,
	} {
		if !strings.HasPrefix(lines[i], want) {
			t.Errorf("line %d = %q, want it to start %q", i, lines[i], want)
		}
	}
	if !strings.Contains(lines[0], "parent="+sc.SpanID().String()) || !strings.HasSuffix(lines[0], " ERROR") {
		t.Errorf("the child's line %q lacks its parent %s or its error", lines[0], sc.SpanID())
	}
	if !strings.Contains(lines[1], "trace="+sc.TraceID().String()) || !strings.Contains(lines[1], "parent=none (root)") {
		t.Errorf("the root's line %q lacks its trace ID or that it is a root", lines[1])
	}
}

func TestLogIgnored(t *testing.T) {
	var out bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&out, nil))
	LogIgnored(logger, func(string) string { return "" })
	if out.Len() != 0 {
		t.Errorf("with nothing set, LogIgnored logged %q", out.String())
	}
	env := map[string]string{"OTEL_SERVICE_NAME": "shop", "JAEGER_SERVICE_NAME": "legacy"}
	LogIgnored(logger, func(k string) string { return env[k] })
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "OTEL_SERVICE_NAME=shop") || !strings.Contains(lines[0], "JAEGER_SERVICE_NAME=legacy") ||
		!strings.Contains(lines[0], "level=WARN") {
		t.Errorf("LogIgnored logged %q, want one warning naming both variables", out.String())
	}
}
