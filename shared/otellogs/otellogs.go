// Package otellogs gives an OpenTelemetry service (step 07) a logger provider whose
// records are also the service's log lines: each record a service logs through the
// otelslog bridge is written to stdout as before, text or JSON (LOG_FORMAT), with the
// trace_id and span_id of the span in the logging call's context, and goes out over OTLP
// as well when OTEL_LOGS_EXPORTER=otlp asks for it.
//
// The log lines on stdout are a processor of the provider, not a second handler beside
// the bridge: a line carries exactly the trace context the exported record carries, so
// what a person reads in the terminal is what the backend correlates.
package otellogs

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/ot2otel/workshop/shared/otelenv"
)

// Keys of the trace context on a log line, as OpenTelemetry's log data model names them.
const (
	TraceIDKey = "trace_id"
	SpanIDKey  = "span_id"
)

// ExporterVar is the standard variable that says where log records go besides stdout.
const ExporterVar = "OTEL_LOGS_EXPORTER"

// ExportOTLP reads OTEL_LOGS_EXPORTER, a comma-separated list as the specification has
// it: true when it names otlp; false when it is unset or names only none or console (the
// service's own lines on stdout are the console); an error naming the variable and the
// values it takes for anything else.
func ExportOTLP(getenv func(string) string) (bool, error) {
	otlp := false
	for _, v := range strings.Split(strings.ToLower(getenv(ExporterVar)), ",") {
		switch v = strings.TrimSpace(v); v {
		case "otlp":
			otlp = true
		case "", "none", "console":
		default:
			return false, fmt.Errorf("%s %q: want otlp, console or none (every service logs to stdout; otlp also exports the records)", ExporterVar, v)
		}
	}
	return otlp, nil
}

// Provider is one service's logger provider, and what it writes to stdout.
type Provider struct {
	*sdklog.LoggerProvider
	unbridged *slog.Logger
}

// New returns the logger provider of one service, with resource res (its service.name
// names the service on every line). Its records are written to w in format ("text" or
// "json") as they are emitted; when OTEL_LOGS_EXPORTER=otlp, newExporter (autoexport's
// NewLogExporter) is called and its exporter gets them too, in batches, in the
// background: a collector that cannot be reached never holds up a request.
//
// With OTEL_SDK_DISABLED=true the lines are still written, but without trace_id and
// span_id, and nothing is exported whatever OTEL_LOGS_EXPORTER says (a value it does
// not know is still an error).
//
// The caller must Shutdown the provider when the service stops: that flushes the batch.
// Records emitted after that are dropped, stdout's included.
func New(ctx context.Context, res *resource.Resource, w io.Writer, format string, getenv func(string) string,
	newExporter func(context.Context) (sdklog.Exporter, error)) (*Provider, error) {
	service := serviceName(res)
	otlp, err := ExportOTLP(getenv)
	if err != nil {
		return nil, err
	}
	// OTEL_SDK_DISABLED=true disables the SDK for every signal: nothing is exported and
	// nothing correlated. The lines on stdout are the service's own log, not telemetry:
	// they stay, as step 06 wrote them.
	disabled := otelenv.SDKDisabled()
	console := newConsole(w, format, service)
	console.correlate = !disabled
	if disabled {
		otlp = false
	}
	opts := []sdklog.LoggerProviderOption{sdklog.WithResource(res), sdklog.WithProcessor(console)}
	if otlp {
		exp, err := newExporter(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: create the exporter %s asks for: %w", service, ExporterVar, err)
		}
		opts = append(opts, sdklog.WithProcessor(sdklog.NewBatchProcessor(exp)))
	}
	return &Provider{LoggerProvider: sdklog.NewLoggerProvider(opts...), unbridged: slog.New(console.handler)}, nil
}

// Unbridged returns the service's logger without the bridge: lines on stdout exactly as
// step 06 wrote them, naming the service but no trace, and nothing exported. It is what
// a service logs with before its logger goes through otelslog.
func (p *Provider) Unbridged() *slog.Logger { return p.unbridged }

func serviceName(res *resource.Resource) string {
	if v, ok := res.Set().Value(semconv.ServiceNameKey); ok {
		return v.AsString()
	}
	return ""
}

// console is a processor that writes each record as a log line, with the handler that
// formats the service's lines. Records below Info are not written, as slog's handlers
// do by default.
type console struct {
	mu        sync.Mutex // one line at a time: the handler's writer is shared
	handler   slog.Handler
	correlate bool // write the record's trace_id and span_id
}

func newConsole(w io.Writer, format, service string) *console {
	var h slog.Handler = slog.NewTextHandler(w, nil)
	if format == "json" {
		h = slog.NewJSONHandler(w, nil)
	}
	return &console{handler: h.WithAttrs([]slog.Attr{slog.String("service", service)}), correlate: true}
}

// severityOffset maps OpenTelemetry's severities onto slog's levels: the bridge's own
// mapping (SeverityInfo is 9, slog.LevelInfo 0), reversed.
const severityOffset = slog.Level(log.SeverityDebug) - slog.LevelDebug

func (c *console) Enabled(_ context.Context, p sdklog.EnabledParameters) bool {
	return p.Severity == 0 || p.Severity >= log.SeverityInfo
}

func (c *console) OnEmit(ctx context.Context, r *sdklog.Record) error {
	level := slog.Level(r.Severity()) - severityOffset
	if r.Severity() == 0 {
		level = slog.LevelInfo
	}
	if level < slog.LevelInfo {
		return nil
	}
	rec := slog.NewRecord(r.Timestamp(), level, r.Body().Emit(), 0)
	r.WalkAttributes(func(kv attribute.KeyValue) bool {
		if kv.Value.Type() != attribute.EMPTY {
			rec.AddAttrs(slog.Attr{Key: string(kv.Key), Value: slogValue(kv.Value)})
		}
		return true
	})
	if id := r.TraceID(); c.correlate && id.IsValid() {
		rec.AddAttrs(slog.String(TraceIDKey, id.String()))
	}
	if id := r.SpanID(); c.correlate && id.IsValid() {
		rec.AddAttrs(slog.String(SpanIDKey, id.String()))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.handler.Handle(ctx, rec)
}

func (c *console) Shutdown(context.Context) error   { return nil }
func (c *console) ForceFlush(context.Context) error { return nil }

// slogValue is v as slog writes it: maps as groups, the rest as what they hold.
func slogValue(v attribute.Value) slog.Value {
	switch v.Type() {
	case attribute.BOOL:
		return slog.BoolValue(v.AsBool())
	case attribute.INT64:
		return slog.Int64Value(v.AsInt64())
	case attribute.FLOAT64:
		return slog.Float64Value(v.AsFloat64())
	case attribute.STRING:
		return slog.StringValue(v.AsString())
	case attribute.MAP:
		var attrs []slog.Attr
		for _, kv := range v.AsMap() {
			attrs = append(attrs, slog.Attr{Key: string(kv.Key), Value: slogValue(kv.Value)})
		}
		return slog.GroupValue(attrs...)
	}
	return slog.AnyValue(v.AsInterface())
}

// SpanErrors returns a span processor that makes each error recorded on a span (its
// "exception" events, from span.RecordError, otelhttp, redisotel...) a log record of
// lp as well, at level Error, correlated with the span: OpenTelemetry deprecates span
// events in favour of log records, and a person reading the log sees the error there.
func SpanErrors(lp log.LoggerProvider) sdktrace.SpanProcessor {
	return spanErrors{logger: lp.Logger("github.com/ot2otel/workshop/shared/otellogs")}
}

type spanErrors struct{ logger log.Logger }

func (spanErrors) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

func (s spanErrors) OnEnd(span sdktrace.ReadOnlySpan) {
	for _, ev := range span.Events() {
		if ev.Name != semconv.ExceptionEventName {
			continue
		}
		var rec log.Record
		rec.SetTimestamp(ev.Time)
		rec.SetSeverity(log.SeverityError)
		rec.SetSeverityText(slog.LevelError.String())
		rec.SetEventName(semconv.ExceptionEventName)
		rec.SetBody(attribute.StringValue("error recorded on span " + span.Name()))
		rec.AddAttributes(ev.Attributes...)
		s.logger.Emit(trace.ContextWithSpanContext(context.Background(), span.SpanContext()), rec)
	}
}

func (spanErrors) Shutdown(context.Context) error   { return nil }
func (spanErrors) ForceFlush(context.Context) error { return nil }
