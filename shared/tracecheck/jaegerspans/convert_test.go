package jaegerspans

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/opentracing/opentracing-go"
	"github.com/opentracing/opentracing-go/ext"
	otlog "github.com/opentracing/opentracing-go/log"
	"github.com/opentracing/opentracing-go/mocktracer"
	"github.com/uber/jaeger-client-go"
	j "github.com/uber/jaeger-client-go/thrift-gen/jaeger"

	"github.com/ot2otel/workshop/shared/tracecheck"
)

func newTracer(t *testing.T, service string, opts ...jaeger.TracerOption) (opentracing.Tracer, *jaeger.InMemoryReporter) {
	t.Helper()
	rep := jaeger.NewInMemoryReporter()
	tracer, closer := jaeger.NewTracer(service, jaeger.NewConstSampler(true), rep, opts...)
	t.Cleanup(func() { _ = closer.Close() })
	return tracer, rep
}

// gatewaySpans records what the gateway does for one request, the OpenTracing way.
func gatewaySpans(tracer opentracing.Tracer) (root, client opentracing.Span) {
	root = tracer.StartSpan("GET /buy", ext.SpanKindRPCServer)
	root.SetTag("http.method", "GET")
	root.SetTag("http.status_code", 502)
	client = tracer.StartSpan("HTTP POST", opentracing.ChildOf(root.Context()), ext.SpanKindRPCClient)
	ext.Error.Set(client, true)
	client.LogFields(otlog.String("event", "error"), otlog.Error(errors.New("connection refused")))
	client.LogKV("retry.attempt", 2)
	time.Sleep(time.Millisecond)
	client.Finish()
	root.Finish()
	return root, client
}

func TestFromOpenTracing(t *testing.T) {
	tracer, rep := newTracer(t, "gateway")
	root, client := gatewaySpans(tracer)
	spans := FromOpenTracing(rep.GetSpans())
	if len(spans) != 2 {
		t.Fatalf("got %d spans, want 2", len(spans))
	}
	rc := root.Context().(jaeger.SpanContext)
	cc := client.Context().(jaeger.SpanContext)
	traceID := tracecheck.PadTraceID(0, rc.TraceID().Low)
	if !strings.HasPrefix(traceID, strings.Repeat("0", 16)) || len(traceID) != 32 {
		t.Fatalf("a 64-bit trace ID padded to %q", traceID)
	}

	c := spans[0] // the client finished first
	want := tracecheck.Span{
		TraceID:  traceID,
		SpanID:   tracecheck.SpanIDHex(uint64(cc.SpanID())),
		ParentID: tracecheck.SpanIDHex(uint64(rc.SpanID())),
		Service:  "gateway",
		Name:     "HTTP POST",
		Kind:     tracecheck.KindClient,
		Start:    c.Start,
		Duration: c.Duration,
		Attrs:    map[string]string{"span.kind": "client", "error": "true"},
		Error:    true,
		Events: []tracecheck.Event{
			{Name: "error", Attrs: map[string]string{"event": "error", "error.object": "connection refused"}},
			{Name: "log", Attrs: map[string]string{"retry.attempt": "2"}},
		},
		Source: "jaeger",
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("client span =\n%+v\nwant\n%+v", c, want)
	}
	if c.Duration < time.Millisecond || c.Start.Location() != time.UTC {
		t.Errorf("client span Start, Duration = %v, %v", c.Start, c.Duration)
	}

	r := spans[1]
	if r.ParentID != "" || r.Kind != tracecheck.KindServer || r.Error || r.TraceID != traceID {
		t.Errorf("root span = %+v", r)
	}
	// jaeger-client tags the first span of a trace with its sampler.
	for k, v := range map[string]string{"http.method": "GET", "http.status_code": "502", "span.kind": "server", "sampler.type": "const"} {
		if r.Attrs[k] != v {
			t.Errorf("root span tag %s = %q, want %q (tags %v)", k, r.Attrs[k], v, r.Attrs)
		}
	}

	if err := tracecheck.CheckChain(spans,
		tracecheck.Hop{Service: "gateway", Kind: tracecheck.KindServer, Name: "GET /buy"},
		tracecheck.Hop{Service: "gateway", Kind: tracecheck.KindClient, Name: "HTTP POST"}); err != nil {
		t.Error(err)
	}
}

// TestFollowsFromIsALink shows what the workshop teaches about FollowsFrom. jaeger-client
// keeps the trace ID and records the followed span as the parent, so jaeger's UI draws
// the consumer under the producer; OpenTelemetry has no FollowsFrom, and its OpenTracing
// bridge makes it a link. The checks follow OpenTelemetry: a second root with a link.
func TestFollowsFromIsALink(t *testing.T) {
	tracer, rep := newTracer(t, "stock")
	producer := tracer.StartSpan("publish shop", ext.SpanKindProducer)
	consumer := tracer.StartSpan("process stock", opentracing.FollowsFrom(producer.Context()), ext.SpanKindConsumer)
	consumer.Finish()
	producer.Finish()

	if jc := consumer.Context().(jaeger.SpanContext); jc.ParentID() != producer.Context().(jaeger.SpanContext).SpanID() {
		t.Fatalf("jaeger-client no longer records a FollowsFrom span's parent; this test's premise changed")
	}
	spans := FromOpenTracing(rep.GetSpans())
	p, c := spans[1], spans[0]
	if c.TraceID != p.TraceID || c.ParentID != "" {
		t.Errorf("consumer TraceID, ParentID = %q, %q; want %q, none", c.TraceID, c.ParentID, p.TraceID)
	}
	if want := []tracecheck.Link{{TraceID: p.TraceID, SpanID: p.SpanID}}; !reflect.DeepEqual(c.Links, want) {
		t.Errorf("consumer links = %v, want %v", c.Links, want)
	}

	err := tracecheck.CheckChain(spans,
		tracecheck.Hop{Service: "stock", Kind: tracecheck.KindProducer},
		tracecheck.Hop{Service: "stock", Kind: tracecheck.KindConsumer, Todo: "TODO(03.2): use ChildOf"})
	if err == nil || !strings.Contains(err.Error(), "a link (an OpenTracing FollowsFrom) is not a parent") {
		t.Errorf("CheckChain = %v", err)
	}
}

func TestFromOpenTracing128Bit(t *testing.T) {
	tracer, rep := newTracer(t, "gateway", jaeger.TracerOptions.Gen128Bit(true))
	span := tracer.StartSpan("GET /buy")
	span.Finish()
	id := span.Context().(jaeger.SpanContext).TraceID()
	if id.High == 0 {
		t.Fatal("Gen128Bit made a 64-bit trace ID")
	}
	spans := FromOpenTracing(rep.GetSpans())
	got := spans[0].TraceID
	// jaeger prints a 128-bit ID as the same 32 digits; a 64-bit one as 16.
	if got != tracecheck.PadTraceID(id.High, id.Low) || got != id.String() {
		t.Errorf("TraceID = %q, jaeger says %s", got, id)
	}
}

func TestFromOpenTracingOtherTracer(t *testing.T) {
	defer func() {
		if p := recover(); p == nil || !strings.Contains(p.(string), "*mocktracer.MockSpan") {
			t.Errorf("panic = %v, want one naming the span type", p)
		}
	}()
	FromOpenTracing([]opentracing.Span{mocktracer.New().StartSpan("x")})
}

func TestFromThrift(t *testing.T) {
	str := func(k, v string) *j.Tag { return &j.Tag{Key: k, VType: j.TagType_STRING, VStr: &v} }
	long := func(k string, v int64) *j.Tag { return &j.Tag{Key: k, VType: j.TagType_LONG, VLong: &v} }
	dbl, yes := 0.5, true
	batch := &j.Batch{
		Process: &j.Process{ServiceName: "stock"},
		Spans: []*j.Span{
			nil,
			{
				TraceIdHigh: 0x4bf92f3577b34da6, TraceIdLow: -0x5c316d62f1f1b8ca, // a3ce929d0e0e4736 as int64
				SpanId: 0xc1, ParentSpanId: 0xb3,
				OperationName: "process stock",
				StartTime:     1_700_000_000_000_000, Duration: 2500,
				References: []*j.SpanRef{
					{RefType: j.SpanRefType_FOLLOWS_FROM, TraceIdLow: 7, SpanId: 8},
					{RefType: j.SpanRefType_CHILD_OF, TraceIdHigh: 0x4bf92f3577b34da6, TraceIdLow: -0x5c316d62f1f1b8ca, SpanId: 0xb3},
					nil,
				},
				Tags: []*j.Tag{
					str("span.kind", "consumer"),
					{Key: "error", VType: j.TagType_BOOL, VBool: &yes},
					long("retries", 3),
					{Key: "ratio", VType: j.TagType_DOUBLE, VDouble: &dbl},
					{Key: "raw", VType: j.TagType_BINARY, VBinary: []byte{1, 2}},
					nil,
				},
				Logs: []*j.Log{
					{Timestamp: 1, Fields: []*j.Tag{str("event", "retry"), long("attempt", 2)}},
					{Timestamp: 2, Fields: []*j.Tag{str("message", "hi")}},
					nil,
				},
			},
		},
	}
	got := FromThrift(batch)
	want := []tracecheck.Span{{
		TraceID:  "4bf92f3577b34da6a3ce929d0e0e4736",
		SpanID:   "00000000000000c1",
		ParentID: "00000000000000b3",
		Service:  "stock",
		Name:     "process stock",
		Kind:     tracecheck.KindConsumer,
		Start:    time.Unix(1_700_000_000, 0).UTC(),
		Duration: 2500 * time.Microsecond,
		Attrs:    map[string]string{"span.kind": "consumer", "error": "true", "retries": "3", "ratio": "0.5", "raw": "[1 2]"},
		Error:    true,
		Events: []tracecheck.Event{
			{Name: "retry", Attrs: map[string]string{"event": "retry", "attempt": "2"}},
			{Name: "log", Attrs: map[string]string{"message": "hi"}},
		},
		Links:  []tracecheck.Link{{TraceID: "00000000000000000000000000000007", SpanID: "0000000000000008"}},
		Source: "jaeger",
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("FromThrift =\n%+v\nwant\n%+v", got, want)
	}
	if got := FromThrift(nil); got != nil {
		t.Errorf("FromThrift(nil) = %v", got)
	}
}

func TestParentAndLinks(t *testing.T) {
	a := tracecheck.Link{TraceID: "t", SpanID: "000000000000000a"}
	b := tracecheck.Link{TraceID: "t", SpanID: "000000000000000b"}
	tests := []struct {
		name       string
		parentID   uint64
		refs       []ref
		wantParent string
		wantLinks  []tracecheck.Link
	}{
		{name: "root", wantParent: ""},
		{name: "ChildOf", parentID: 0xa, refs: []ref{{childOf: true, link: a}}, wantParent: "000000000000000a"},
		{name: "FollowsFrom only", parentID: 0xa, refs: []ref{{link: a}}, wantParent: "", wantLinks: []tracecheck.Link{a}},
		{name: "FollowsFrom then ChildOf", parentID: 0xb, refs: []ref{{link: a}, {childOf: true, link: b}},
			wantParent: "000000000000000b", wantLinks: []tracecheck.Link{a}},
		{name: "two ChildOf", parentID: 0xa, refs: []ref{{childOf: true, link: a}, {childOf: true, link: b}},
			wantParent: "000000000000000a", wantLinks: []tracecheck.Link{b}},
		{name: "parent without references", parentID: 0xa, wantParent: "000000000000000a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent, links := parentAndLinks(tt.parentID, tt.refs)
			if parent != tt.wantParent || !reflect.DeepEqual(links, tt.wantLinks) {
				t.Errorf("parentAndLinks = %q, %v; want %q, %v", parent, links, tt.wantParent, tt.wantLinks)
			}
		})
	}
}
