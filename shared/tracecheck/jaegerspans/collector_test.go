package jaegerspans

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opentracing/opentracing-go"
	"github.com/opentracing/opentracing-go/ext"
	"github.com/uber/jaeger-client-go"
	"github.com/uber/jaeger-client-go/config"
	"github.com/uber/jaeger-client-go/thrift"
	j "github.com/uber/jaeger-client-go/thrift-gen/jaeger"
	"github.com/uber/jaeger-client-go/transport"

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

// TestCollectorMatchesInMemory reports the same spans to an InMemoryReporter and, through
// jaeger-client's HTTP transport, to the collector, and checks both conversions agree.
func TestCollectorMatchesInMemory(t *testing.T) {
	c := newCollector(t)
	mem := jaeger.NewInMemoryReporter()
	remote := jaeger.NewRemoteReporter(transport.NewHTTPTransport(c.Endpoint()))
	tracer, closer := jaeger.NewTracer("gateway", jaeger.NewConstSampler(true), jaeger.NewCompositeReporter(mem, remote))

	root, _ := gatewaySpans(tracer)
	follower := tracer.StartSpan("audit", opentracing.FollowsFrom(root.Context()))
	follower.Finish()

	// Closing the tracer resets the InMemoryReporter, so convert its spans first.
	want := FromOpenTracing(mem.GetSpans())
	if err := closer.Close(); err != nil {
		t.Fatal(err)
	}
	got := c.Spans()
	if len(got) != 3 || c.Requests() != 1 {
		t.Fatalf("the collector got %d spans in %d requests, want 3 in 1", len(got), c.Requests())
	}
	// The wire has microseconds.
	for i := range want {
		want[i].Start = want[i].Start.Truncate(time.Microsecond)
		want[i].Duration = want[i].Duration.Truncate(time.Microsecond)
	}
	sortSpans(got)
	sortSpans(want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("the collector got\n%+v\nthe InMemoryReporter has\n%+v", got, want)
	}
}

func sortSpans(spans []tracecheck.Span) {
	slices.SortFunc(spans, func(a, b tracecheck.Span) int { return strings.Compare(a.SpanID, b.SpanID) })
}

// TestCollectorConfig points a tracer built the way the workshop's services build theirs
// at the collector: the spans arrive when the tracer is closed.
func TestCollectorConfig(t *testing.T) {
	for _, gen128 := range []bool{false, true} {
		t.Run(fmt.Sprintf("Gen128Bit=%v", gen128), func(t *testing.T) {
			c := newCollector(t)
			cfg := config.Configuration{
				ServiceName: "checkout",
				Sampler:     &config.SamplerConfig{Type: jaeger.SamplerTypeConst, Param: 1},
				Reporter:    &config.ReporterConfig{CollectorEndpoint: c.Endpoint()},
				Gen128Bit:   gen128,
			}
			tracer, closer, err := cfg.NewTracer()
			if err != nil {
				t.Fatal(err)
			}
			server := tracer.StartSpan("POST /checkout", ext.SpanKindRPCServer)
			producer := tracer.StartSpan("publish shop", opentracing.ChildOf(server.Context()), ext.SpanKindProducer)
			producer.Finish()
			server.Finish()
			if err := closer.Close(); err != nil {
				t.Fatal(err)
			}

			spans := c.Spans()
			if len(spans) != 2 {
				t.Fatalf("got %d spans, want 2", len(spans))
			}
			id := server.Context().(jaeger.SpanContext).TraceID()
			if (id.High != 0) != gen128 {
				t.Fatalf("jaeger made trace ID %s", id)
			}
			for _, s := range spans {
				if s.Service != "checkout" || s.Source != "jaeger" || s.TraceID != tracecheck.PadTraceID(id.High, id.Low) {
					t.Errorf("span %+v, want service checkout and trace %s", s, id)
				}
			}
			if err := tracecheck.CheckChain(spans,
				tracecheck.Hop{Service: "checkout", Kind: tracecheck.KindServer, Name: "POST /checkout"},
				tracecheck.Hop{Service: "checkout", Kind: tracecheck.KindProducer, Name: "publish shop"}); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestCollectorEnv configures the tracer from the environment, as a service started by a
// test with c.Env() does.
func TestCollectorEnv(t *testing.T) {
	c := newCollector(t)
	if env := c.Env(); len(env) != 1 || env["JAEGER_ENDPOINT"] != c.Endpoint() ||
		!strings.HasPrefix(c.Endpoint(), "http://127.0.0.1:") || !strings.HasSuffix(c.Endpoint(), "/api/traces") {
		t.Fatalf("Endpoint() = %q, Env() = %v", c.Endpoint(), env)
	}
	for k, v := range c.Env() {
		t.Setenv(k, v)
	}
	t.Setenv("JAEGER_SERVICE_NAME", "stock")
	t.Setenv("JAEGER_SAMPLER_TYPE", "const")
	t.Setenv("JAEGER_SAMPLER_PARAM", "1")
	cfg, err := config.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	tracer, closer, err := cfg.NewTracer()
	if err != nil {
		t.Fatal(err)
	}
	tracer.StartSpan("process stock", ext.SpanKindConsumer).Finish()
	if err := closer.Close(); err != nil {
		t.Fatal(err)
	}
	spans := c.Spans()
	if len(spans) != 1 || spans[0].Service != "stock" || spans[0].Kind != tracecheck.KindConsumer {
		t.Errorf("spans = %+v", spans)
	}
}

// encode writes a batch the way jaeger-client's HTTP transport does.
func encode(t *testing.T, b *j.Batch) []byte {
	t.Helper()
	buf := thrift.NewTMemoryBuffer()
	if err := b.Write(context.Background(), thrift.NewTBinaryProtocolConf(buf, &thrift.TConfiguration{})); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func oneSpan(t *testing.T, id int64) []byte {
	return encode(t, &j.Batch{
		Process: &j.Process{ServiceName: "svc"},
		Spans:   []*j.Span{{TraceIdLow: 1, SpanId: id, OperationName: "s"}},
	})
}

func TestCollectorRequests(t *testing.T) {
	// A Batch whose span list claims two billion spans in a body of a few bytes.
	var liar bytes.Buffer
	liar.Write([]byte{byte(thrift.STRUCT), 0, 1})             // field 1, Process
	liar.Write([]byte{byte(thrift.STRING), 0, 1, 0, 0, 0, 3}) // its ServiceName
	liar.WriteString("svc")
	liar.Write([]byte{byte(thrift.STOP)})       // the end of the Process
	liar.Write([]byte{byte(thrift.LIST), 0, 2}) // field 2, Spans
	liar.Write([]byte{byte(thrift.STRUCT)})     // of structs
	_ = binary.Write(&liar, binary.BigEndian, int32(0x7fffffff))
	// Unknown field 9: a list of two billion i64s, which Skip would loop over.
	var skipLiar bytes.Buffer
	skipLiar.Write([]byte{byte(thrift.LIST), 0, 9, byte(thrift.I64)})
	_ = binary.Write(&skipLiar, binary.BigEndian, int32(0x7fffffff))
	// A string claiming to be 2 GB long.
	var longString bytes.Buffer
	longString.Write([]byte{byte(thrift.STRUCT), 0, 1, byte(thrift.STRING), 0, 1})
	_ = binary.Write(&longString, binary.BigEndian, int32(0x7fffffff))

	tests := []struct {
		name        string
		method      string
		path        string
		contentType string
		body        []byte
		status      int
		spans       int
		msg         string // in the response
	}{
		{name: "batch", body: oneSpan(t, 1), status: 202, spans: 1},
		{name: "vnd content type", contentType: "application/vnd.apache.thrift.binary", body: oneSpan(t, 2), status: 202, spans: 1},
		{name: "format query", path: "/api/traces?format=jaeger.thrift", body: oneSpan(t, 3), status: 202, spans: 1},
		{name: "no spans", body: encode(t, &j.Batch{Process: &j.Process{ServiceName: "svc"}, Spans: []*j.Span{}}), status: 202},
		{name: "GET", method: http.MethodGet, status: 405},
		{name: "wrong path", path: "/api/spans", body: oneSpan(t, 4), status: 404},
		{name: "json", contentType: "application/json", body: []byte("{}"), status: 400},
		{name: "no content type", contentType: "-", body: oneSpan(t, 5), status: 400},
		{name: "empty body", body: nil, status: 400},
		{name: "garbage", body: []byte("not thrift at all"), status: 400},
		{name: "truncated", body: oneSpan(t, 6)[:12], status: 400},
		{name: "no process", body: []byte{byte(thrift.STOP)}, status: 400, msg: "Process is not set"},
		{name: "lying list length", body: liar.Bytes(), status: 400, msg: "claims 2147483647 elements"},
		{name: "lying skipped list", body: skipLiar.Bytes(), status: 400, msg: "claims 2147483647 elements"},
		{name: "lying string length", body: longString.Bytes(), status: 400, msg: "size exceeded"},
	}
	c := newCollector(t)
	wantSpans, wantRequests := 0, 0
	base := strings.TrimSuffix(c.Endpoint(), "/api/traces")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := http.MethodPost
			if tt.method != "" {
				method = tt.method
			}
			path := "/api/traces"
			if tt.path != "" {
				path = tt.path
			}
			req, err := http.NewRequest(method, base+path, bytes.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			switch tt.contentType {
			case "":
				req.Header.Set("Content-Type", "application/x-thrift")
			case "-":
			default:
				req.Header.Set("Content-Type", tt.contentType)
			}
			start := time.Now()
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d (%s), want %d", resp.StatusCode, body, tt.status)
			}
			if !strings.Contains(string(body), tt.msg) {
				t.Errorf("response %q does not mention %q", body, tt.msg)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("the request took %v", d)
			}
			if tt.status == 202 {
				wantRequests++
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
}

func TestCollectorConcurrent(t *testing.T) {
	c := newCollector(t)
	const senders, each = 8, 20
	var wg sync.WaitGroup
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
				_ = c.Spans()
				_ = c.Requests()
			}
		}
	}()
	for i := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range each {
				resp, err := http.Post(c.Endpoint(), "application/x-thrift", bytes.NewReader(oneSpan(t, int64(i*each+k+1))))
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
	if got, spans := c.Requests(), len(c.Spans()); got != senders*each || spans != senders*each {
		t.Errorf("Requests() = %d, %d spans; want %d of each", got, spans, senders*each)
	}
}

func TestCollectorClose(t *testing.T) {
	c, err := NewCollector()
	if err != nil {
		t.Fatal(err)
	}
	var r tracecheck.Receiver = c
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := http.Post(c.Endpoint(), "application/x-thrift", bytes.NewReader(oneSpan(t, 1))); err == nil {
		t.Error("the collector still answers after Close")
	}
}
