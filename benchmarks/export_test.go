package benchmarks

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/uber/jaeger-client-go/transport"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

// BenchmarkExportSpan times one span exported the whole way, over loopback to a
// collector in the same process that reads each request and throws it away: OTLP over
// HTTP/protobuf and over gRPC, each plain and gzip-compressed (OTEL_EXPORTER_OTLP_PROTOCOL
// and OTEL_EXPORTER_OTLP_COMPRESSION), in requests of 512 spans (the fleet's batch size),
// and jaeger-client's HTTP transport (step 03's JAEGER_ENDPOINT) in its requests of 100.
// The span is checkout's server span, as otelmux and nethttp record it. An op is one
// span; cpu-ns/op includes the collector's reading (and, for gRPC, its framing), which a
// real collector pays elsewhere, so compare the protocols, not the absolute figures.
func BenchmarkExportSpan(b *testing.B) {
	ctx := context.Background()
	batch := otlpBatch(recordedOTelServerSpan(b))

	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/v1/traces" {
			// An empty ExportTraceServiceResponse: everything accepted.
			w.Header().Set("Content-Type", "application/x-protobuf")
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer collector.Close()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	// Any call is read into an Empty, which keeps the request's bytes without decoding
	// the spans, and answered with an empty message, which is what an empty
	// ExportTraceServiceResponse is on the wire.
	grpcCollector := grpc.NewServer(grpc.UnknownServiceHandler(func(_ any, stream grpc.ServerStream) error {
		var req emptypb.Empty
		if err := stream.RecvMsg(&req); err != nil {
			return err
		}
		return stream.SendMsg(&emptypb.Empty{})
	}))
	go grpcCollector.Serve(lis)
	defer grpcCollector.Stop()

	for _, c := range []struct {
		name string
		new  func() (sdktrace.SpanExporter, error)
	}{
		{"otlp-http", func() (sdktrace.SpanExporter, error) {
			return otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(collector.URL+"/v1/traces"))
		}},
		{"otlp-http-gzip", func() (sdktrace.SpanExporter, error) {
			return otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(collector.URL+"/v1/traces"),
				otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
		}},
		{"otlp-grpc", func() (sdktrace.SpanExporter, error) {
			return otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(lis.Addr().String()), otlptracegrpc.WithInsecure())
		}},
		{"otlp-grpc-gzip", func() (sdktrace.SpanExporter, error) {
			return otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(lis.Addr().String()), otlptracegrpc.WithInsecure(),
				otlptracegrpc.WithCompressor("gzip"))
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			exp, err := c.new()
			if err != nil {
				b.Fatal(err)
			}
			defer exp.Shutdown(ctx)
			// One export before the clock starts: the connection is open.
			if err := exp.ExportSpans(ctx, batch); err != nil {
				b.Fatal(err)
			}
			benchExports(b, exp, batch)
		})
	}
	b.Run("jaeger-http", func(b *testing.B) {
		span := recordedJaegerServerSpan(b)
		// What step 03's reporter sends through: JAEGER_ENDPOINT's transport, which
		// posts every 100 spans.
		t := transport.NewHTTPTransport(collector.URL + "/api/traces")
		defer t.Close()
		for range 100 {
			if _, err := t.Append(span); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			if _, err := t.Append(span); err != nil {
				b.Fatal(err)
			}
		}
	})
}
