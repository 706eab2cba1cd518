// Package otelspans converts OpenTelemetry spans into tracecheck spans: the spans an OTel
// SDK recorded in the test's own process, and the spans services export over OTLP/HTTP to
// the Collector this package provides.
package otelspans

import (
	"encoding/hex"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/ot2otel/workshop/shared/tracecheck"
)

// source is the tracecheck.Span Source of every span this package makes.
const source = "otel"

// serviceName is the resource attribute that names a service. It is spelled out rather
// than taken from a semconv package so that the SDK's semconv version does not matter.
const serviceName = attribute.Key("service.name")

// FromReadOnly converts spans recorded by an OTel SDK, such as the Ended spans of a
// tracetest.SpanRecorder. The service is the resource's service.name, an unspecified kind
// counts as internal, attribute values are formatted by attribute.Value.Emit, and a span
// is an error when its status code is codes.Error. Times are in UTC.
func FromReadOnly(spans []sdktrace.ReadOnlySpan) []tracecheck.Span {
	out := make([]tracecheck.Span, 0, len(spans))
	for _, s := range spans {
		sc := s.SpanContext()
		span := tracecheck.Span{
			TraceID: sc.TraceID().String(),
			SpanID:  sc.SpanID().String(),
			Service: resourceService(s.Resource()),
			Name:    s.Name(),
			Kind:    sdkKind(s.SpanKind()),
			Start:   utc(s.StartTime()),
			Attrs:   attrs(s.Attributes()),
			Error:   s.Status().Code == codes.Error,
			Source:  source,
		}
		if p := s.Parent(); p.SpanID().IsValid() {
			span.ParentID = p.SpanID().String()
		}
		// A span that has not ended has no duration yet, rather than a negative one.
		if end := s.EndTime(); end.After(s.StartTime()) {
			span.Duration = end.Sub(s.StartTime())
		}
		for _, e := range s.Events() {
			a := attrs(e.Attributes)
			span.Events = append(span.Events, tracecheck.Event{Name: eventName(e.Name, a), Attrs: a})
		}
		for _, l := range s.Links() {
			span.Links = append(span.Links, tracecheck.Link{
				TraceID: l.SpanContext.TraceID().String(),
				SpanID:  l.SpanContext.SpanID().String(),
			})
		}
		out = append(out, span)
	}
	return out
}

func resourceService(r *resource.Resource) string {
	if v, ok := r.Set().Value(serviceName); ok {
		return v.Emit()
	}
	return ""
}

func sdkKind(k trace.SpanKind) string {
	switch k {
	case trace.SpanKindServer:
		return tracecheck.KindServer
	case trace.SpanKindClient:
		return tracecheck.KindClient
	case trace.SpanKindProducer:
		return tracecheck.KindProducer
	case trace.SpanKindConsumer:
		return tracecheck.KindConsumer
	default:
		return tracecheck.KindInternal
	}
}

func attrs(kvs []attribute.KeyValue) map[string]string {
	if len(kvs) == 0 {
		return nil
	}
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		m[string(kv.Key)] = kv.Value.Emit()
	}
	return m
}

// utc drops the monotonic clock reading and the location, so that a span recorded in
// process and the same span received over OTLP compare equal.
func utc(t time.Time) time.Time {
	return t.Round(0).UTC()
}

// FromOTLP converts the spans of an OTLP export request, the same way FromReadOnly does.
// Attribute values are rebuilt as attribute.Values before formatting, so both functions
// format them alike; an array that is all strings (or all ints, bools or doubles) counts
// as the typed slice the SDK would have sent.
func FromOTLP(req *coltracepb.ExportTraceServiceRequest) []tracecheck.Span {
	var out []tracecheck.Span
	for _, rs := range req.GetResourceSpans() {
		var service string
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == string(serviceName) {
				service = anyValue(kv.GetValue()).Emit()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				out = append(out, fromProto(service, s))
			}
		}
	}
	return out
}

func fromProto(service string, s *tracepb.Span) tracecheck.Span {
	span := tracecheck.Span{
		TraceID:  hex.EncodeToString(s.GetTraceId()),
		SpanID:   hex.EncodeToString(s.GetSpanId()),
		ParentID: parentID(s.GetParentSpanId()),
		Service:  service,
		Name:     s.GetName(),
		Kind:     protoKind(s.GetKind()),
		Start:    unixNano(s.GetStartTimeUnixNano()),
		Attrs:    protoAttrs(s.GetAttributes()),
		Error:    s.GetStatus().GetCode() == tracepb.Status_STATUS_CODE_ERROR,
		Source:   source,
	}
	if start, end := s.GetStartTimeUnixNano(), s.GetEndTimeUnixNano(); end > start {
		span.Duration = time.Duration(end - start)
	}
	for _, e := range s.GetEvents() {
		a := protoAttrs(e.GetAttributes())
		span.Events = append(span.Events, tracecheck.Event{Name: eventName(e.GetName(), a), Attrs: a})
	}
	for _, l := range s.GetLinks() {
		span.Links = append(span.Links, tracecheck.Link{
			TraceID: hex.EncodeToString(l.GetTraceId()),
			SpanID:  hex.EncodeToString(l.GetSpanId()),
		})
	}
	return span
}

// parentID treats an all-zero parent the way OTLP treats an absent one: some exporters
// send eight zero bytes for a root span.
func parentID(id []byte) string {
	for _, b := range id {
		if b != 0 {
			return hex.EncodeToString(id)
		}
	}
	return ""
}

func unixNano(ns uint64) time.Time {
	// Nanoseconds since 1970 fit in an int64 until 2262.
	return time.Unix(0, int64(ns)).UTC()
}

func protoKind(k tracepb.Span_SpanKind) string {
	switch k {
	case tracepb.Span_SPAN_KIND_SERVER:
		return tracecheck.KindServer
	case tracepb.Span_SPAN_KIND_CLIENT:
		return tracecheck.KindClient
	case tracepb.Span_SPAN_KIND_PRODUCER:
		return tracecheck.KindProducer
	case tracepb.Span_SPAN_KIND_CONSUMER:
		return tracecheck.KindConsumer
	default:
		return tracecheck.KindInternal
	}
}

func protoAttrs(kvs []*commonpb.KeyValue) map[string]string {
	if len(kvs) == 0 {
		return nil
	}
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		m[kv.GetKey()] = anyValue(kv.GetValue()).Emit()
	}
	return m
}

// anyValue rebuilds the attribute.Value the SDK exported. The wire does not say whether
// an array was a typed slice or a []attribute.Value, so a homogeneous array is taken to
// be the typed slice, which is what the SDK's own attribute.StringSlice and friends send.
func anyValue(v *commonpb.AnyValue) attribute.Value {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return attribute.StringValue(x.StringValue)
	case *commonpb.AnyValue_BoolValue:
		return attribute.BoolValue(x.BoolValue)
	case *commonpb.AnyValue_IntValue:
		return attribute.Int64Value(x.IntValue)
	case *commonpb.AnyValue_DoubleValue:
		return attribute.Float64Value(x.DoubleValue)
	case *commonpb.AnyValue_BytesValue:
		return attribute.ByteSliceValue(x.BytesValue)
	case *commonpb.AnyValue_ArrayValue:
		return arrayValue(x.ArrayValue.GetValues())
	case *commonpb.AnyValue_KvlistValue:
		var kvs []attribute.KeyValue
		for _, kv := range x.KvlistValue.GetValues() {
			kvs = append(kvs, attribute.KeyValue{Key: attribute.Key(kv.GetKey()), Value: anyValue(kv.GetValue())})
		}
		return attribute.MapValue(kvs...)
	default:
		return attribute.Value{}
	}
}

func arrayValue(vals []*commonpb.AnyValue) attribute.Value {
	if len(vals) == 0 {
		return attribute.StringSliceValue(nil)
	}
	conv := make([]attribute.Value, len(vals))
	for i, v := range vals {
		conv[i] = anyValue(v)
	}
	typ := conv[0].Type()
	for _, v := range conv[1:] {
		if v.Type() != typ {
			return attribute.SliceValue(conv...)
		}
	}
	switch typ {
	case attribute.STRING:
		s := make([]string, len(conv))
		for i, v := range conv {
			s[i] = v.AsString()
		}
		return attribute.StringSliceValue(s)
	case attribute.BOOL:
		s := make([]bool, len(conv))
		for i, v := range conv {
			s[i] = v.AsBool()
		}
		return attribute.BoolSliceValue(s)
	case attribute.INT64:
		s := make([]int64, len(conv))
		for i, v := range conv {
			s[i] = v.AsInt64()
		}
		return attribute.Int64SliceValue(s)
	case attribute.FLOAT64:
		s := make([]float64, len(conv))
		for i, v := range conv {
			s[i] = v.AsFloat64()
		}
		return attribute.Float64SliceValue(s)
	default:
		return attribute.SliceValue(conv...)
	}
}

// eventName names an event as jaegerspans does an OpenTracing log: the OpenTracing
// bridge (v1.47.0 on) names the event after the record's "event" field, and bridges
// before it left the name empty with the field among the attributes; a check for an
// "error" event should hold either way, whichever bridge recorded it.
func eventName(name string, attrs map[string]string) string {
	if name == "" {
		return attrs["event"]
	}
	return name
}
