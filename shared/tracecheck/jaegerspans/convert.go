// Package jaegerspans converts jaeger-client-go spans into tracecheck spans: the spans a
// jaeger tracer reported to an InMemoryReporter in the test's own process, and the spans
// services send to the jaeger collector endpoint this package provides.
//
// Jaeger's 64-bit trace IDs are padded to 128 bits, so a trace that jaeger-client starts
// and an OTel SDK continues keeps one trace ID across both.
package jaegerspans

import (
	"fmt"
	"time"

	"github.com/opentracing/opentracing-go"
	"github.com/opentracing/opentracing-go/ext"
	"github.com/uber/jaeger-client-go"
	j "github.com/uber/jaeger-client-go/thrift-gen/jaeger"

	"github.com/ot2otel/workshop/shared/tracecheck"
)

// source is the tracecheck.Span Source of every span this package makes.
const source = "jaeger"

// FromOpenTracing converts the spans of a jaeger.InMemoryReporter (GetSpans). Every span
// must be a *jaeger.Span; anything else is a mistake in the test, and FromOpenTracing
// panics saying so.
//
// Tags become attributes (values formatted with %v); span.kind sets Kind (internal when
// absent) and error=true sets Error. Log records become events named by their "event"
// field, or "log". The first ChildOf reference is the parent. FollowsFrom references
// become links and are not parents, as in OpenTelemetry, although jaeger-client records
// a FollowsFrom-only span with that span as its parent: see the package tests.
// Times are in UTC.
func FromOpenTracing(spans []opentracing.Span) []tracecheck.Span {
	out := make([]tracecheck.Span, 0, len(spans))
	for _, os := range spans {
		s, ok := os.(*jaeger.Span)
		if !ok {
			panic(fmt.Sprintf("jaegerspans: FromOpenTracing converts the spans of a jaeger tracer, not a %T", os))
		}
		out = append(out, fromJaeger(s))
	}
	return out
}

// fromJaeger reads the span through its exported methods only, each of which takes the
// span's lock: a span can still be written to (a late tag) while a test reads it.
func fromJaeger(s *jaeger.Span) tracecheck.Span {
	ctx := s.SpanContext()
	attrs := make(map[string]string)
	for k, v := range s.Tags() {
		attrs[k] = fmt.Sprint(v)
	}
	span := tracecheck.Span{
		TraceID:  traceID(ctx.TraceID()),
		SpanID:   tracecheck.SpanIDHex(uint64(ctx.SpanID())),
		Service:  jaeger.BuildJaegerProcessThrift(s).ServiceName,
		Name:     s.OperationName(),
		Start:    s.StartTime().Round(0).UTC(),
		Duration: s.Duration(),
		Attrs:    nilIfEmpty(attrs),
		Source:   source,
	}
	span.Kind, span.Error = kindAndError(attrs)

	var refs []ref
	for _, r := range s.References() {
		rc, ok := r.ReferencedContext.(jaeger.SpanContext)
		if !ok {
			continue
		}
		refs = append(refs, ref{
			childOf: r.Type == opentracing.ChildOfRef,
			link:    tracecheck.Link{TraceID: traceID(rc.TraceID()), SpanID: tracecheck.SpanIDHex(uint64(rc.SpanID()))},
		})
	}
	span.ParentID, span.Links = parentAndLinks(uint64(ctx.ParentID()), refs)

	for _, l := range s.Logs() {
		fields := make(map[string]string, len(l.Fields))
		for _, f := range l.Fields {
			fields[f.Key()] = fmt.Sprint(f.Value())
		}
		span.Events = append(span.Events, event(fields))
	}
	return span
}

func traceID(id jaeger.TraceID) string {
	return tracecheck.PadTraceID(id.High, id.Low)
}

// FromThrift converts the spans of a batch as jaeger-client sends it to a collector, the
// same way FromOpenTracing does. The wire has microseconds, so times are rounded to them.
func FromThrift(batch *j.Batch) []tracecheck.Span {
	// Unlike protobuf's, thrift's getters dereference nil.
	if batch == nil {
		return nil
	}
	var service string
	if batch.Process != nil {
		service = batch.Process.ServiceName
	}
	var out []tracecheck.Span
	for _, s := range batch.GetSpans() {
		if s == nil {
			continue
		}
		attrs := thriftTags(s.GetTags())
		span := tracecheck.Span{
			TraceID:  tracecheck.PadTraceID(uint64(s.GetTraceIdHigh()), uint64(s.GetTraceIdLow())),
			SpanID:   tracecheck.SpanIDHex(uint64(s.GetSpanId())),
			Service:  service,
			Name:     s.GetOperationName(),
			Start:    time.UnixMicro(s.GetStartTime()).UTC(),
			Duration: time.Duration(s.GetDuration()) * time.Microsecond,
			Attrs:    nilIfEmpty(attrs),
			Source:   source,
		}
		span.Kind, span.Error = kindAndError(attrs)

		var refs []ref
		for _, r := range s.GetReferences() {
			if r == nil {
				continue
			}
			refs = append(refs, ref{
				childOf: r.GetRefType() == j.SpanRefType_CHILD_OF,
				link: tracecheck.Link{
					TraceID: tracecheck.PadTraceID(uint64(r.GetTraceIdHigh()), uint64(r.GetTraceIdLow())),
					SpanID:  tracecheck.SpanIDHex(uint64(r.GetSpanId())),
				},
			})
		}
		span.ParentID, span.Links = parentAndLinks(uint64(s.GetParentSpanId()), refs)

		for _, l := range s.GetLogs() {
			if l != nil {
				span.Events = append(span.Events, event(thriftTags(l.GetFields())))
			}
		}
		out = append(out, span)
	}
	return out
}

// thriftTags formats tag values as %v formats the Go values they were made from.
func thriftTags(tags []*j.Tag) map[string]string {
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		if t == nil {
			continue
		}
		var v string
		switch t.GetVType() {
		case j.TagType_STRING:
			v = t.GetVStr()
		case j.TagType_DOUBLE:
			v = fmt.Sprint(t.GetVDouble())
		case j.TagType_BOOL:
			v = fmt.Sprint(t.GetVBool())
		case j.TagType_LONG:
			v = fmt.Sprint(t.GetVLong())
		case j.TagType_BINARY:
			v = fmt.Sprint(t.GetVBinary())
		}
		m[t.GetKey()] = v
	}
	return m
}

// kindAndError reads the OpenTracing span.kind and error tags.
func kindAndError(attrs map[string]string) (string, bool) {
	kind := tracecheck.KindInternal
	switch k := attrs[string(ext.SpanKind)]; k {
	case tracecheck.KindServer, tracecheck.KindClient, tracecheck.KindProducer, tracecheck.KindConsumer:
		kind = k
	}
	return kind, attrs[string(ext.Error)] == "true"
}

// event makes an event of a log record's fields. The "event" field names it, as the
// OpenTracing log conventions have it, and stays among the fields.
func event(fields map[string]string) tracecheck.Event {
	name, ok := fields["event"]
	if !ok {
		name = "log"
	}
	return tracecheck.Event{Name: name, Attrs: nilIfEmpty(fields)}
}

type ref struct {
	childOf bool
	link    tracecheck.Link
}

// parentAndLinks decides a span's parent and links from jaeger's parent ID and the
// span's references.
//
// jaeger-client takes the first ChildOf reference as the parent and, when there is none,
// the first FollowsFrom reference: the span then continues that trace and carries the
// FollowsFrom span as its parent ID, on the wire as well. The workshop follows
// OpenTelemetry instead, whose OpenTracing bridge turns FollowsFrom into a link: so a span
// with only FollowsFrom references has no parent here, and every reference other than
// the parent is a link.
func parentAndLinks(parentID uint64, refs []ref) (string, []tracecheck.Link) {
	parent := ""
	if parentID != 0 {
		parent = tracecheck.SpanIDHex(parentID)
	}
	childOf := -1
	for i, r := range refs {
		if r.childOf {
			childOf = i
			break
		}
	}
	if childOf < 0 && len(refs) > 0 {
		parent = ""
	}
	var links []tracecheck.Link
	for i, r := range refs {
		if i != childOf {
			links = append(links, r.link)
		}
	}
	return parent, links
}

func nilIfEmpty(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}
