// Package otelenv does what the standard OTEL_* variables ask of an OpenTelemetry
// service that neither the SDK nor autoexport does for the workshop's services: a no-op
// provider when OTEL_SDK_DISABLED=true, the console exporter's spans in a form a person
// reads, and one start-up line about the variables the services deliberately ignore.
//
// It is the same in every OpenTelemetry step, so it lives here and the steps' diffs show
// only the migration.
package otelenv

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Provider is what a service traces with: an SDK tracer provider, or Noop.
type Provider interface {
	trace.TracerProvider
	// Shutdown flushes the spans still batched and stops exporting.
	Shutdown(context.Context) error
}

var _ Provider = (*sdktrace.TracerProvider)(nil)

// serviceName is the resource attribute that names a span's service.
const serviceName attribute.Key = "service.name"

// SDKDisabled reports whether OTEL_SDK_DISABLED=true (in any case) asks for no SDK.
func SDKDisabled() bool {
	return strings.EqualFold(strings.TrimSpace(os.Getenv("OTEL_SDK_DISABLED")), "true")
}

// Noop returns the provider of a service whose SDK is disabled: its spans record and
// export nothing, and carry the caller's span context on unchanged, so a trace that
// passes through the service is not cut.
func Noop() Provider { return noopProvider{noop.NewTracerProvider()} }

type noopProvider struct{ noop.TracerProvider }

func (noopProvider) Shutdown(context.Context) error { return nil }

// Readable returns exp, unless it is the console exporter (OTEL_TRACES_EXPORTER=console),
// which writes one JSON object per span: then it returns an exporter that writes one
// line per span to stdout instead, service, kind, name, duration and IDs.
func Readable(exp sdktrace.SpanExporter) sdktrace.SpanExporter {
	if _, ok := exp.(*stdouttrace.Exporter); ok {
		return NewConsole(os.Stdout)
	}
	return exp
}

// NewConsole returns a span exporter that writes one line per span to w.
func NewConsole(w io.Writer) sdktrace.SpanExporter { return &console{w: w} }

type console struct {
	mu sync.Mutex
	w  io.Writer
}

func (c *console) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	var b strings.Builder
	for _, s := range spans {
		// Straight from the SDK's span, not through tracecheck's span model: this is a
		// service's exporter, and a service's binary links no trace-checking code.
		parent := "none (root)"
		if p := s.Parent(); p.SpanID().IsValid() {
			parent = p.SpanID().String()
		}
		kind := s.SpanKind()
		if kind == trace.SpanKindUnspecified {
			kind = trace.SpanKindInternal
		}
		var took time.Duration
		if end := s.EndTime(); end.After(s.StartTime()) {
			took = end.Sub(s.StartTime())
		}
		service, _ := s.Resource().Set().Value(serviceName)
		fmt.Fprintf(&b, "span %s %s %q %s trace=%s span=%s parent=%s", service.Emit(), kind, s.Name(),
			took.Round(time.Microsecond), s.SpanContext().TraceID(), s.SpanContext().SpanID(), parent)
		if s.Status().Code == codes.Error {
			b.WriteString(" ERROR")
		}
		b.WriteByte('\n')
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	_, err := io.WriteString(c.w, b.String())
	return err
}

func (c *console) Shutdown(context.Context) error { return nil }

// ignored are the variables the services deliberately do not honour: one process may
// run all three services (`all`), and each names itself whatever these say.
var ignored = []string{"OTEL_SERVICE_NAME", "JAEGER_SERVICE_NAME"}

// LogIgnored logs, in one line, which of the deliberately ignored variables are set, so
// that a setting that has no effect does not go unnoticed. It logs nothing when none is.
func LogIgnored(logger *slog.Logger, getenv func(string) string) {
	var args []any
	for _, k := range ignored {
		if v := getenv(k); v != "" {
			args = append(args, k, v)
		}
	}
	if len(args) > 0 {
		logger.Warn("not honoured: each service names itself gateway, checkout or stock", args...)
	}
}

// Resource returns the resource of one service's telemetry: the SDK's own attributes,
// OTEL_RESOURCE_ATTRIBUTES, then the service's name, which wins over OTEL_SERVICE_NAME
// (three services in one process, the all command, cannot share one). A resource that
// does not parse is an error.
func Resource(ctx context.Context, service string) (*resource.Resource, error) {
	// Later detectors win.
	res, err := resource.New(ctx,
		resource.WithSchemaURL(semconv.SchemaURL),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(),
		resource.WithAttributes(semconv.ServiceName(service)),
	)
	if err != nil {
		return nil, fmt.Errorf("%s: resource from OTEL_RESOURCE_ATTRIBUTES: %w", service, err)
	}
	return res, nil
}
