package benchmarks

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"github.com/opentracing-contrib/go-stdlib/nethttp"
	"github.com/opentracing/opentracing-go"
	"github.com/opentracing/opentracing-go/ext"
	"github.com/uber/jaeger-client-go"
	jaegercfg "github.com/uber/jaeger-client-go/config"
	jthrift "github.com/uber/jaeger-client-go/thrift"
	jaegerthrift "github.com/uber/jaeger-client-go/thrift-gen/jaeger"
	"go.opentelemetry.io/contrib/instrumentation/github.com/gorilla/mux/otelmux"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// The parents of the sampled benchmarks: a request of a trace that is sampled, in each
// world's format, as every request is at full sampling past the gateway.
const (
	sampledParent       = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	sampledJaegerParent = "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1"
)

// BenchmarkSampledServer times one request of a sampled trace through checkout's server
// instrumentation in step 03 and in step 06, handler excluded: the span recorded, ended
// and handed to the batching that exports it, but not exported (each world's exporter
// discards the batch: BenchmarkEncodeSpan times the export's encoding). otelmux with the
// SDK's batch span processor and the no-op meter, as step 06 sets it up; jaeger-client's
// nethttp middleware with 03's options and its remote reporter. cpu-ns/op counts the
// batching goroutines and the garbage collector too.
func BenchmarkSampledServer(b *testing.B) {
	tp, _ := sampledProvider()
	defer tp.Shutdown(context.Background())
	tracer, closer := sampledJaegerTracer(b, jaeger.NewRemoteReporter(discardTransport{}))
	defer closer.Close()
	for _, c := range []struct {
		name   string
		h      http.Handler
		header string
		value  string
	}{
		{"bare", checkoutRouter(nil), "traceparent", sampledParent},
		{"otelmux-sdk", checkoutRouter(otelmuxMiddleware(tp)), "traceparent", sampledParent},
		{"nethttp-jaeger", checkoutRouter(nethttpMiddleware(tracer)), "uber-trace-id", sampledJaegerParent},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			defer reportCPU(b)()
			for b.Loop() {
				serveOrder(b, c.h, c.header, c.value)
			}
		})
	}
}

// BenchmarkSampledClient times one call of a sampled trace through the gateway's client
// instrumentation, the round trip excluded (a transport that answers 202 at once): step
// 06's otelhttp transport, and step 03's hand-made client span (callCheckout: a span, three
// tags, the context injected into the headers, the status tag), each into the same
// discarding batching as BenchmarkSampledServer.
func BenchmarkSampledClient(b *testing.B) {
	tp, prop := sampledProvider()
	defer tp.Shutdown(context.Background())
	tracer, closer := sampledJaegerTracer(b, jaeger.NewRemoteReporter(discardTransport{}))
	defer closer.Close()
	answer := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.Body != nil {
			_, _ = io.Copy(io.Discard, r.Body)
			r.Body.Close()
		}
		return &http.Response{StatusCode: http.StatusAccepted, Body: http.NoBody, Header: http.Header{}, Request: r}, nil
	})
	// A served request's context has a deadline (app.Serve gives each one RequestTimeout).
	otelCtx, cancel := context.WithTimeout(prop.Extract(context.Background(), propagation.MapCarrier{"traceparent": sampledParent}), time.Hour)
	defer cancel()
	parent, err := tracer.Extract(opentracing.HTTPHeaders, opentracing.HTTPHeadersCarrier(http.Header{"Uber-Trace-Id": {sampledJaegerParent}}))
	if err != nil {
		b.Fatal(err)
	}
	// The gateway's server span, the client span's parent; never finished, so never reported.
	jaegerCtx := opentracing.ContextWithSpan(context.Background(), tracer.StartSpan("POST /checkout", ext.RPCServerOption(parent)))
	otelRT := otelhttp.NewTransport(answer, otelhttp.WithTracerProvider(tp), otelhttp.WithPropagators(prop),
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method + " " + r.URL.Path }))
	body := []byte(`{"customer_id":"load","items":[{"sku":"span-sticker","quantity":1}]}`)
	for _, c := range []struct {
		name string
		ctx  context.Context
		call func(*http.Request) (*http.Response, error)
	}{
		{"bare", otelCtx, answer.RoundTrip},
		{"otelhttp-sdk", otelCtx, otelRT.RoundTrip},
		// Through an http.Client, as the gateway calls: with a Timeout, net/http cancels a
		// call over a transport it does not know (otelhttp's) the pre-Go-1.5 way, with a
		// goroutine and a timer per call, even when the context's deadline comes first.
		{"otelhttp-sdk-client", otelCtx, (&http.Client{Transport: otelRT}).Do},
		{"otelhttp-sdk-client-timeout", otelCtx, (&http.Client{Transport: otelRT, Timeout: 10 * time.Second}).Do},
		{"jaeger-span", jaegerCtx, func(req *http.Request) (*http.Response, error) { return jaegerClientSpan(tracer, answer, req) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			defer reportCPU(b)()
			for b.Loop() {
				req, _ := http.NewRequestWithContext(c.ctx, http.MethodPost, "http://127.0.0.1:8081/orders", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				resp, err := c.call(req)
				if err != nil || resp.StatusCode != http.StatusAccepted {
					b.Fatalf("%v %v", resp, err)
				}
				resp.Body.Close()
			}
		})
	}
}

// BenchmarkEncodeSpan times what each exporter does to a span before the HTTP request:
// OTLP converts the SDK's span into its protobuf structs (otlptrace's transform) and
// marshals them, one request per 512 spans (the batch size the fleet settings give);
// jaeger-client's HTTP transport converts it into thrift structs (BuildJaegerThrift)
// and serializes them, one request per 100 spans (its transport's default). The span is
// checkout's server span, as otelmux and nethttp record it in BenchmarkSampledServer.
// An op is one span; wire-B/span is the size of the request body per span.
func BenchmarkEncodeSpan(b *testing.B) {
	b.Run("otlp", func(b *testing.B) {
		batch := otlpBatch(recordedOTelServerSpan(b))
		client := &marshalClient{}
		exp, err := otlptrace.New(context.Background(), client)
		if err != nil {
			b.Fatal(err)
		}
		benchExports(b, exp, batch)
		if spans := client.spans.Load(); spans > 0 {
			b.ReportMetric(float64(client.bytes.Load())/float64(spans), "wire-B/span")
		}
	})
	b.Run("thrift", func(b *testing.B) {
		span := recordedJaegerServerSpan(b)
		const batchSize = 100
		process := jaeger.BuildJaegerProcessThrift(span)
		batch := make([]*jaegerthrift.Span, 0, batchSize)
		var wire, sent int
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			// What transport.HTTPTransport's Append and Flush do, the POST excluded.
			batch = append(batch, jaeger.BuildJaegerThrift(span))
			if len(batch) == batchSize {
				buf := jthrift.NewTMemoryBuffer()
				if err := (&jaegerthrift.Batch{Spans: batch, Process: process}).Write(context.Background(), jthrift.NewTBinaryProtocolTransport(buf)); err != nil {
					b.Fatal(err)
				}
				wire += buf.Len()
				sent += len(batch)
				batch = batch[:0]
			}
		}
		if sent > 0 {
			b.ReportMetric(float64(wire)/float64(sent), "wire-B/span")
		}
	})
}

// sampledProvider is step 06's tracer provider with everything sampled and a batch span
// processor whose exporter discards, and its propagator.
func sampledProvider() (*sdktrace.TracerProvider, propagation.TextMapPropagator) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample())),
		sdktrace.WithBatcher(discardExporter{}))
	return tp, propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
}

// sampledJaegerTracer is step 03's tracer (jaeger-client's config, everything sampled)
// reporting to rep.
func sampledJaegerTracer(b *testing.B, rep jaeger.Reporter) (opentracing.Tracer, io.Closer) {
	cfg := jaegercfg.Configuration{ServiceName: "checkout",
		Sampler: &jaegercfg.SamplerConfig{Type: jaeger.SamplerTypeConst, Param: 1}}
	tracer, closer, err := cfg.NewTracer(jaegercfg.Reporter(rep))
	if err != nil {
		b.Fatal(err)
	}
	return tracer, closer
}

// otelmuxMiddleware is step 06's serverSpans.
func otelmuxMiddleware(tp *sdktrace.TracerProvider) mux.MiddlewareFunc {
	return otelmux.Middleware("checkout", otelmux.WithTracerProvider(tp),
		otelmux.WithPropagators(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})),
		otelmux.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelmux.WithFilter(func(r *http.Request) bool { return r.URL.Path != "/healthz" }))
}

// nethttpMiddleware is step 03's serverSpans.
func nethttpMiddleware(tracer opentracing.Tracer) mux.MiddlewareFunc {
	route := func(r *http.Request) string {
		if rt := mux.CurrentRoute(r); rt != nil {
			if tmpl, err := rt.GetPathTemplate(); err == nil {
				return tmpl
			}
		}
		return r.URL.Path
	}
	return func(next http.Handler) http.Handler {
		return nethttp.Middleware(tracer, next,
			nethttp.OperationNameFunc(func(r *http.Request) string { return r.Method + " " + route(r) }),
			nethttp.MWSpanObserver(func(span opentracing.Span, r *http.Request) { span.SetTag("http.route", route(r)) }),
			nethttp.MWSpanFilter(func(r *http.Request) bool { return route(r) != "/healthz" }))
	}
}

// checkoutRouter is checkout's POST /orders behind mw (none when nil), with a handler
// that reads the body and answers 202.
func checkoutRouter(mw mux.MiddlewareFunc) http.Handler {
	r := mux.NewRouter()
	r.HandleFunc("/orders", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusAccepted)
	}).Methods(http.MethodPost)
	if mw != nil {
		r.Use(mw)
	}
	return r
}

// serveOrder serves one order to h, its trace context in header.
func serveOrder(b *testing.B, h http.Handler, header, value string) {
	req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:8081/orders",
		bytes.NewReader([]byte(`{"customer_id":"load","items":[{"sku":"span-sticker","quantity":1}]}`)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(header, value)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusAccepted {
		b.Fatalf("status %d", w.Code)
	}
}

// jaegerClientSpan is step 03's callCheckout over rt.
func jaegerClientSpan(tracer opentracing.Tracer, rt http.RoundTripper, req *http.Request) (*http.Response, error) {
	span, _ := opentracing.StartSpanFromContextWithTracer(req.Context(), tracer,
		req.Method+" "+req.URL.Path, ext.SpanKindRPCClient)
	defer span.Finish()
	ext.HTTPMethod.Set(span, req.Method)
	ext.HTTPUrl.Set(span, req.URL.String())
	ext.PeerService.Set(span, "checkout")
	_ = tracer.Inject(span.Context(), opentracing.HTTPHeaders, opentracing.HTTPHeadersCarrier(req.Header))
	resp, err := rt.RoundTrip(req)
	if err != nil {
		ext.LogError(span, err)
		return nil, err
	}
	ext.HTTPStatusCode.Set(span, uint16(resp.StatusCode))
	return resp, nil
}

// discardExporter is an OpenTelemetry span exporter that drops every batch.
type discardExporter struct{}

func (discardExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardExporter) Shutdown(context.Context) error                             { return nil }

// discardTransport is a jaeger-client transport that drops every span.
type discardTransport struct{}

func (discardTransport) Append(*jaeger.Span) (int, error) { return 0, nil }
func (discardTransport) Flush() (int, error)              { return 0, nil }
func (discardTransport) Close() error                     { return nil }

// marshalClient is an OTLP client that marshals each export request, as otlptracehttp
// does before its POST, and counts the bytes.
type marshalClient struct{ bytes, spans atomic.Int64 }

func (c *marshalClient) Start(context.Context) error { return nil }
func (c *marshalClient) Stop(context.Context) error  { return nil }
func (c *marshalClient) UploadTraces(_ context.Context, rs []*tracepb.ResourceSpans) error {
	body, err := proto.Marshal(&coltracepb.ExportTraceServiceRequest{ResourceSpans: rs})
	if err != nil {
		return err
	}
	c.bytes.Add(int64(len(body)))
	for _, r := range rs {
		for _, s := range r.ScopeSpans {
			c.spans.Add(int64(len(s.Spans)))
		}
	}
	return nil
}

// recordedJaegerServerSpan is checkout's server span as step 03 records it: one sampled
// request through nethttp's middleware and jaeger-client.
func recordedJaegerServerSpan(b *testing.B) *jaeger.Span {
	b.Helper()
	rep := jaeger.NewInMemoryReporter()
	tracer, closer := sampledJaegerTracer(b, rep)
	serveOrder(b, checkoutRouter(nethttpMiddleware(tracer)), "uber-trace-id", sampledJaegerParent)
	spans := rep.GetSpans() // before the close, which empties rep
	_ = closer.Close()
	if len(spans) != 1 {
		b.Fatalf("recorded %d spans, want 1", len(spans))
	}
	return spans[0].(*jaeger.Span)
}

// recordedOTelServerSpan is checkout's server span as step 06 records it: one sampled
// request through otelmux and the SDK.
func recordedOTelServerSpan(b *testing.B) sdktrace.ReadOnlySpan {
	b.Helper()
	rec := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithSyncer(rec))
	serveOrder(b, checkoutRouter(otelmuxMiddleware(tp)), "traceparent", sampledParent)
	stubs := rec.GetSpans() // before the shutdown, which empties rec
	_ = tp.Shutdown(context.Background())
	if len(stubs) != 1 {
		b.Fatalf("recorded %d spans, want 1", len(stubs))
	}
	return stubs.Snapshots()[0]
}

// otlpBatchSize is the SDK batch processor's default OTEL_BSP_MAX_EXPORT_BATCH_SIZE.
const otlpBatchSize = 512

// otlpBatch is span otlpBatchSize times: one batch as the processor would export it.
func otlpBatch(span sdktrace.ReadOnlySpan) []sdktrace.ReadOnlySpan {
	batch := make([]sdktrace.ReadOnlySpan, otlpBatchSize)
	for i := range batch {
		batch[i] = span
	}
	return batch
}

// benchExports counts one span per iteration and exports batch through exp every
// len(batch) iterations, so that ns/op and allocs/op are per span.
func benchExports(b *testing.B, exp sdktrace.SpanExporter, batch []sdktrace.ReadOnlySpan) {
	b.Helper()
	b.ReportAllocs()
	defer reportCPU(b)()
	n := 0
	for b.Loop() {
		if n++; n == len(batch) {
			if err := exp.ExportSpans(context.Background(), batch); err != nil {
				b.Fatal(err)
			}
			n = 0
		}
	}
}
