// Package tracecheck is the workshop's span model and the checks the steps' tests run on it.
//
// Spans from every tracer the workshop uses (the OTel SDK, jaeger-client-go, and what
// arrives over the wire at an OTLP or jaeger collector) convert into one Span type, so the
// same assertions hold in every step, including a mixed fleet where one trace is recorded
// by two different tracers. Jaeger's 64-bit trace IDs are padded to 128 bits.
package tracecheck

import "time"

// Kinds of span, the same words in OpenTracing's span.kind tag and OTel's SpanKind.
const (
	KindServer   = "server"
	KindClient   = "client"
	KindProducer = "producer"
	KindConsumer = "consumer"
	KindInternal = "internal"
)

// Span is one finished span, whatever recorded it.
type Span struct {
	TraceID  string // 32 lowercase hex digits
	SpanID   string // 16 lowercase hex digits
	ParentID string // 16 lowercase hex digits, "" for a root span
	Service  string // service.name (OTel) or the tracer's service name (jaeger)
	Name     string // operation name
	Kind     string // one of the Kind constants; "internal" when none was set
	Start    time.Time
	Duration time.Duration
	// Attrs holds attributes (OTel) or tags (OpenTracing), values formatted with fmt's %v.
	// The span.kind and error tags stay here as well as in Kind and Error.
	Attrs map[string]string
	// Error is true for an OTel span with status Error or an OpenTracing span tagged error=true.
	Error bool
	// Events are OTel events or OpenTracing log records.
	Events []Event
	// Links are OTel links, or OpenTracing FollowsFrom references (which are not parents).
	Links []Link
	// Source names what recorded the span: "otel" or "jaeger".
	Source string
}

// Event is a timed annotation on a span.
type Event struct {
	Name  string            // the OTel event name, or the "event" field of an OpenTracing log
	Attrs map[string]string // fields
}

// Link points at another span.
type Link struct {
	TraceID string
	SpanID  string
}
