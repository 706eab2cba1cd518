package otelspans

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/ot2otel/workshop/shared/tracecheck"
)

func newCollector(t *testing.T) *Collector {
	t.Helper()
	c, err := NewCollector()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	})
	return c
}

// TestCollectorReceivesExport sends spans through the real OTLP/HTTP exporter and checks
// that the collector ends up with exactly what the SDK recorded in process.
func TestCollectorReceivesExport(t *testing.T) {
	tests := []struct {
		name string
		// exporter builds the exporter's options; the env case sets none and relies on Env.
		exporter func(t *testing.T, c *Collector) []otlptracehttp.Option
	}{
		{
			name: "env",
			exporter: func(t *testing.T, c *Collector) []otlptracehttp.Option {
				for k, v := range c.Env() {
					t.Setenv(k, v)
				}
				return nil
			},
		},
		{
			name: "gzip",
			exporter: func(t *testing.T, c *Collector) []otlptracehttp.Option {
				return []otlptracehttp.Option{
					otlptracehttp.WithEndpointURL(c.Endpoint() + "/v1/traces"),
					otlptracehttp.WithCompression(otlptracehttp.GzipCompression),
				}
			},
		},
		{
			name: "json",
			exporter: func(t *testing.T, c *Collector) []otlptracehttp.Option {
				return []otlptracehttp.Option{
					otlptracehttp.WithEndpointURL(c.Endpoint() + "/v1/traces"),
					otlptracehttp.WithEncoding(otlptracehttp.EncodingJSON),
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			c := newCollector(t)
			exp, err := otlptracehttp.New(ctx, tt.exporter(t, c)...)
			if err != nil {
				t.Fatal(err)
			}
			tp, rec := newProvider(t, "checkout", sdktrace.WithBatcher(exp))
			checkoutSpans(tp)
			if err := tp.Shutdown(ctx); err != nil {
				t.Fatalf("Shutdown (which flushes the exporter): %v", err)
			}

			got, want := c.Spans(), FromReadOnly(rec.Ended())
			sortSpans(got)
			sortSpans(want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("collector received\n%+v\nthe SDK recorded\n%+v", got, want)
			}
			if c.Requests() < 1 {
				t.Errorf("Requests() = %d", c.Requests())
			}
			for _, s := range got {
				if s.Service != "checkout" {
					t.Errorf("%s: Service = %q", s.Name, s.Service)
				}
			}
			if err := tracecheck.CheckParent(got,
				tracecheck.Hop{Service: "checkout", Kind: tracecheck.KindProducer, Name: "publish shop"},
				tracecheck.Hop{Service: "checkout", Kind: tracecheck.KindServer, Name: "POST /checkout"}); err != nil {
				t.Error(err)
			}
		})
	}
}

func sortSpans(spans []tracecheck.Span) {
	slices.SortFunc(spans, func(a, b tracecheck.Span) int { return strings.Compare(a.SpanID, b.SpanID) })
}

func TestCollectorEnv(t *testing.T) {
	c := newCollector(t)
	env := c.Env()
	if !strings.HasPrefix(c.Endpoint(), "http://127.0.0.1:") || env["OTEL_EXPORTER_OTLP_ENDPOINT"] != c.Endpoint() ||
		env["OTEL_EXPORTER_OTLP_PROTOCOL"] != "http/protobuf" || len(env) != 2 {
		t.Errorf("Endpoint() = %q, Env() = %v", c.Endpoint(), env)
	}
}

// oneSpan is an export request with a single span, as protobuf.
func oneSpan(t *testing.T, id byte) []byte {
	t.Helper()
	req := &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource: &resourcepb.Resource{},
		ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{{
			TraceId: bytes.Repeat([]byte{1}, 16),
			SpanId:  []byte{0, 0, 0, 0, 0, 0, 0, id},
			Name:    "s",
		}}}},
	}}}
	b, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

func TestCollectorRequests(t *testing.T) {
	const hexJSON = `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"stock"}}]},
		"scopeSpans":[{"spans":[{"traceId":"4BF92F3577B34DA6A3CE929D0E0E4736","spanId":"00f067aa0ba902b7",
		"parentSpanId":"b7ad6b7169203331","name":"process stock","kind":5,"startTimeUnixNano":"1700000000000000000",
		"endTimeUnixNano":"1700000000001000000","futureField":{"x":1},
		"attributes":[{"key":"n","value":{"intValue":"9007199254740993"}}]}]}]}]}`
	tests := []struct {
		name        string
		method      string
		path        string
		contentType string
		encoding    string
		body        []byte
		status      int
		spans       int // spans the request adds
		respType    string
	}{
		{name: "protobuf", body: oneSpan(t, 1), status: 200, spans: 1, respType: "application/x-protobuf"},
		{name: "protobuf with charset", contentType: "application/x-protobuf; charset=utf-8", body: oneSpan(t, 2), status: 200, spans: 1},
		{name: "gzip", encoding: "gzip", body: gzipped(oneSpan(t, 3)), status: 200, spans: 1},
		{name: "empty request", body: nil, status: 200},
		{name: "json with hex ids", contentType: "application/json", body: []byte(hexJSON), status: 200, spans: 1, respType: "application/json"},
		{name: "GET", method: http.MethodGet, status: 405},
		{name: "wrong path", path: "/v1/metrics", body: oneSpan(t, 4), status: 404},
		{name: "no content type", contentType: "-", body: oneSpan(t, 5), status: 415},
		{name: "text", contentType: "text/plain", body: []byte("hello"), status: 415},
		{name: "brotli", encoding: "br", body: oneSpan(t, 6), status: 415},
		{name: "garbage protobuf", body: []byte{0xff, 0xff, 0xff, 0xff}, status: 400},
		{name: "truncated protobuf", body: oneSpan(t, 7)[:10], status: 400},
		{name: "garbage json", contentType: "application/json", body: []byte("{"), status: 400},
		{name: "json of the wrong shape", contentType: "application/json", body: []byte(`{"resourceSpans":5}`), status: 400},
		{name: "not gzip", encoding: "gzip", body: oneSpan(t, 8), status: 400},
		{name: "gzip of garbage", encoding: "gzip", body: gzipped([]byte{0xff, 0xff, 0xff}), status: 400},
		{name: "truncated gzip", encoding: "gzip", body: gzipped(oneSpan(t, 9))[:20], status: 400},
	}
	c := newCollector(t)
	wantSpans, wantRequests := 0, 0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := cmpOr(tt.method, http.MethodPost)
			req, err := http.NewRequest(method, c.Endpoint()+cmpOr(tt.path, "/v1/traces"), bytes.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if ct := cmpOr(tt.contentType, "application/x-protobuf"); ct != "-" {
				req.Header.Set("Content-Type", ct)
			}
			if tt.encoding != "" {
				req.Header.Set("Content-Encoding", tt.encoding)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d (%s), want %d", resp.StatusCode, body, tt.status)
			}
			if tt.status == 200 {
				wantRequests++
				if tt.respType != "" && resp.Header.Get("Content-Type") != tt.respType {
					t.Errorf("response Content-Type = %q, want %q", resp.Header.Get("Content-Type"), tt.respType)
				}
				var r coltracepb.ExportTraceServiceResponse
				if tt.respType == "application/x-protobuf" {
					if err := proto.Unmarshal(body, &r); err != nil {
						t.Errorf("response is not an ExportTraceServiceResponse: %v", err)
					}
				}
			}
			wantSpans += tt.spans
			if got := len(c.Spans()); got != wantSpans {
				t.Errorf("collector holds %d spans, want %d", got, wantSpans)
			}
			if got := c.Requests(); got != wantRequests {
				t.Errorf("Requests() = %d, want %d", got, wantRequests)
			}
		})
	}

	// The JSON span: hex IDs in either case, kind as a number, unknown fields ignored, and
	// a 64-bit integer that does not survive a float64 kept exact.
	var fromJSON tracecheck.Span
	for _, s := range c.Spans() {
		if s.Name == "process stock" {
			fromJSON = s
		}
	}
	want := tracecheck.Span{
		TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7", ParentID: "b7ad6b7169203331",
		Service: "stock", Name: "process stock", Kind: tracecheck.KindConsumer,
		Start: fromJSON.Start, Duration: 1_000_000,
		Attrs:  map[string]string{"n": "9007199254740993"},
		Source: "otel",
	}
	if !reflect.DeepEqual(fromJSON, want) || fromJSON.Start.UnixNano() != 1_700_000_000_000_000_000 {
		t.Errorf("JSON span =\n%+v\nwant\n%+v", fromJSON, want)
	}
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func TestCollectorConcurrent(t *testing.T) {
	c := newCollector(t)
	const senders, each = 8, 20
	var wg sync.WaitGroup
	stop := make(chan struct{})
	go func() {
		// Read while the senders write, for the race detector.
		for {
			select {
			case <-stop:
				return
			default:
				spans := c.Spans()
				if len(spans) > 0 {
					spans[0].Name = "scribbled" // a copy: must not reach the collector
				}
				_ = c.Requests()
			}
		}
	}()
	for i := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range each {
				resp, err := http.Post(c.Endpoint()+"/v1/traces", "application/x-protobuf",
					bytes.NewReader(oneSpan(t, byte(i*each+j))))
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	close(stop)
	if got := c.Requests(); got != senders*each {
		t.Errorf("Requests() = %d, want %d", got, senders*each)
	}
	spans := c.Spans()
	if len(spans) != senders*each {
		t.Errorf("got %d spans, want %d", len(spans), senders*each)
	}
	for _, s := range spans {
		if s.Name != "s" {
			t.Fatalf("a caller's change reached the collector: %+v", s)
		}
	}
}

func TestCollectorClose(t *testing.T) {
	c, err := NewCollector()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(c.Endpoint()+"/v1/traces", "application/x-protobuf", bytes.NewReader(oneSpan(t, 1)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := http.Post(c.Endpoint()+"/v1/traces", "application/x-protobuf", nil); err == nil {
		t.Error("the collector still answers after Close")
	}
	if len(c.Spans()) != 1 {
		t.Errorf("the spans are gone after Close: %v", c.Spans())
	}
}

func ExampleCollector() {
	c, err := NewCollector()
	if err != nil {
		panic(err)
	}
	defer c.Close()
	// Start a service with c.Env() in its environment, send it a request, stop it so
	// its exporter flushes, then check what arrived.
	fmt.Println(len(c.Spans()), c.Env()["OTEL_EXPORTER_OTLP_PROTOCOL"])
	// Output: 0 http/protobuf
}
