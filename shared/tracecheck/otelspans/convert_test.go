package otelspans

import (
	"context"
	"reflect"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/ot2otel/workshop/shared/tracecheck"
)

// remote is the context a gateway would have sent in a traceparent header.
var remote = trace.NewSpanContext(trace.SpanContextConfig{
	TraceID:    trace.TraceID{0x0a, 0xf7, 0x65, 0x19, 0x16, 0xcd, 0x43, 0xdd, 0x84, 0x48, 0xeb, 0x21, 0x1c, 0x80, 0x31, 0x9c},
	SpanID:     trace.SpanID{0xb7, 0xad, 0x6b, 0x71, 0x69, 0x20, 0x33, 0x31},
	TraceFlags: trace.FlagsSampled,
	Remote:     true,
})

func newProvider(t *testing.T, service string, opts ...sdktrace.TracerProviderOption) (*sdktrace.TracerProvider, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	opts = append(opts,
		sdktrace.WithSpanProcessor(rec),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", service))))
	tp := sdktrace.NewTracerProvider(opts...)
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp, rec
}

// checkoutSpans records what the checkout service does for one request: a server span
// continuing the gateway's remote context, a producer span with an event and a link, and
// an internal span. It returns the server and producer span contexts.
func checkoutSpans(tp trace.TracerProvider) (server, producer trace.SpanContext) {
	tr := tp.Tracer("checkout")
	ctx := trace.ContextWithRemoteSpanContext(context.Background(), remote)
	ctx, srv := tr.Start(ctx, "POST /checkout",
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(
			attribute.String("http.request.method", "POST"),
			attribute.Int("http.response.status_code", 500),
			attribute.Bool("retried", true),
			attribute.Float64("ratio", 0.25),
			attribute.StringSlice("skus", []string{"sku-1", "sku-2"}),
			attribute.Int64Slice("quantities", []int64{1, 2}),
			attribute.BoolSlice("flags", []bool{true, false}),
			attribute.Float64Slice("prices", []float64{9.99, 1}),
		))
	_, pub := tr.Start(ctx, "publish shop",
		trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithLinks(trace.Link{SpanContext: remote}))
	pub.AddEvent("published", trace.WithAttributes(attribute.String("messaging.message.id", "m-1"), attribute.Int("size", 42)))
	time.Sleep(time.Millisecond)
	pub.End()
	_, validate := tr.Start(ctx, "validate")
	validate.End()
	srv.SetStatus(codes.Error, "out of stock")
	srv.End()
	return srv.SpanContext(), pub.SpanContext()
}

func TestFromReadOnly(t *testing.T) {
	tp, rec := newProvider(t, "checkout")
	server, producer := checkoutSpans(tp)

	spans := FromReadOnly(rec.Ended())
	if len(spans) != 3 {
		t.Fatalf("got %d spans, want 3", len(spans))
	}
	byName := make(map[string]tracecheck.Span)
	for _, s := range spans {
		byName[s.Name] = s
		if s.TraceID != "0af7651916cd43dd8448eb211c80319c" {
			t.Errorf("%s: TraceID = %q, want the remote parent's", s.Name, s.TraceID)
		}
		if s.Service != "checkout" || s.Source != "otel" {
			t.Errorf("%s: Service, Source = %q, %q", s.Name, s.Service, s.Source)
		}
		if s.Start.Location() != time.UTC || s.Duration <= 0 {
			t.Errorf("%s: Start = %v, Duration = %v", s.Name, s.Start, s.Duration)
		}
	}

	srv := byName["POST /checkout"]
	want := tracecheck.Span{
		TraceID:  "0af7651916cd43dd8448eb211c80319c",
		SpanID:   server.SpanID().String(),
		ParentID: "b7ad6b7169203331",
		Service:  "checkout",
		Name:     "POST /checkout",
		Kind:     tracecheck.KindServer,
		Start:    srv.Start,
		Duration: srv.Duration,
		Attrs: map[string]string{
			"http.request.method":       "POST",
			"http.response.status_code": "500",
			"retried":                   "true",
			"ratio":                     "0.25",
			"skus":                      `["sku-1","sku-2"]`,
			"quantities":                "[1,2]",
			"flags":                     "[true false]",
			"prices":                    "[9.99,1]",
		},
		Error:  true,
		Source: "otel",
	}
	if !reflect.DeepEqual(srv, want) {
		t.Errorf("server span =\n%+v\nwant\n%+v", srv, want)
	}

	pub := byName["publish shop"]
	if pub.SpanID != producer.SpanID().String() || pub.ParentID != server.SpanID().String() || pub.Kind != tracecheck.KindProducer {
		t.Errorf("producer span = %+v", pub)
	}
	wantEvents := []tracecheck.Event{{Name: "published", Attrs: map[string]string{"messaging.message.id": "m-1", "size": "42"}}}
	if !reflect.DeepEqual(pub.Events, wantEvents) {
		t.Errorf("producer events = %+v, want %+v", pub.Events, wantEvents)
	}
	wantLinks := []tracecheck.Link{{TraceID: "0af7651916cd43dd8448eb211c80319c", SpanID: "b7ad6b7169203331"}}
	if !reflect.DeepEqual(pub.Links, wantLinks) {
		t.Errorf("producer links = %+v, want %+v", pub.Links, wantLinks)
	}
	if pub.Error || pub.Attrs != nil {
		t.Errorf("producer Error, Attrs = %v, %v", pub.Error, pub.Attrs)
	}

	if v := byName["validate"]; v.Kind != tracecheck.KindInternal || v.ParentID != server.SpanID().String() {
		t.Errorf("internal span = %+v", v)
	}

	if err := tracecheck.CheckParent(spans,
		tracecheck.Hop{Service: "checkout", Kind: tracecheck.KindProducer},
		tracecheck.Hop{Service: "checkout", Kind: tracecheck.KindServer}); err != nil {
		t.Error(err)
	}
}

func TestFromReadOnlyRoot(t *testing.T) {
	tp, rec := newProvider(t, "gateway")
	_, s := tp.Tracer("t").Start(context.Background(), "GET /buy", trace.WithSpanKind(trace.SpanKindServer))
	s.End()
	spans := FromReadOnly(rec.Ended())
	if len(spans) != 1 || spans[0].ParentID != "" || len(spans[0].TraceID) != 32 || len(spans[0].SpanID) != 16 {
		t.Errorf("root span = %+v", spans)
	}
	if err := tracecheck.CheckContinuous(spans); err != nil {
		t.Error(err)
	}
}

func TestFromOTLP(t *testing.T) {
	str := func(s string) *commonpb.AnyValue {
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: s}}
	}
	integer := func(i int64) *commonpb.AnyValue {
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: i}}
	}
	req := &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{
			{Key: "host.name", Value: str("box")},
			{Key: "service.name", Value: str("stock")},
		}},
		ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{{
			TraceId:           []byte{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
			SpanId:            []byte{0, 0, 0, 0, 0, 0, 0, 0xc1},
			ParentSpanId:      make([]byte, 8), // all zero: a root
			Name:              "process stock",
			Kind:              tracepb.Span_SPAN_KIND_UNSPECIFIED,
			StartTimeUnixNano: 1_700_000_000_000_000_000,
			EndTimeUnixNano:   1_700_000_000_002_500_000,
			Attributes: []*commonpb.KeyValue{
				{Key: "mixed", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{
					Values: []*commonpb.AnyValue{str("a"), integer(1)}}}}},
				{Key: "map", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{
					Values: []*commonpb.KeyValue{{Key: "k", Value: str("v")}}}}}},
				{Key: "empty", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{}}}},
				{Key: "nothing", Value: nil},
			},
			Status: &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR},
			Events: []*tracepb.Span_Event{{Name: "retry", Attributes: []*commonpb.KeyValue{{Key: "attempt", Value: integer(2)}}}},
			Links:  []*tracepb.Span_Link{{TraceId: make([]byte, 16), SpanId: []byte{1, 2, 3, 4, 5, 6, 7, 8}}},
		}}}},
	}}}
	got := FromOTLP(req)
	want := []tracecheck.Span{{
		TraceID:  "4bf92f3577b34da6a3ce929d0e0e4736",
		SpanID:   "00000000000000c1",
		Service:  "stock",
		Name:     "process stock",
		Kind:     tracecheck.KindInternal,
		Start:    time.Unix(1_700_000_000, 0).UTC(),
		Duration: 2500 * time.Microsecond,
		Attrs: map[string]string{
			"mixed":   `["a",1]`,
			"map":     `{"k":"v"}`,
			"empty":   "[]",
			"nothing": "",
		},
		Error:  true,
		Events: []tracecheck.Event{{Name: "retry", Attrs: map[string]string{"attempt": "2"}}},
		Links:  []tracecheck.Link{{TraceID: "00000000000000000000000000000000", SpanID: "0102030405060708"}},
		Source: "otel",
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("FromOTLP =\n%+v\nwant\n%+v", got, want)
	}
	if got := FromOTLP(nil); got != nil {
		t.Errorf("FromOTLP(nil) = %v", got)
	}
}

func TestBridgeLogBecomesNamedEvent(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	_, span := tp.Tracer("t").Start(context.Background(), "s")
	// What the OpenTracing bridge records for span.LogFields(log.String("event", "error"), ...).
	span.AddEvent("", trace.WithAttributes(attribute.String("event", "error"), attribute.String("message", "boom")))
	span.AddEvent("named", trace.WithAttributes(attribute.String("event", "ignored")))
	span.End()
	got := FromReadOnly(rec.Ended())[0].Events
	if len(got) != 2 || got[0].Name != "error" || got[0].Attrs["message"] != "boom" || got[1].Name != "named" {
		t.Errorf("events = %+v, want \"error\" (from its event field) and \"named\"", got)
	}
}
