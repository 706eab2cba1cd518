// Package otelenvtest checks that a step's tracer provider honours the standard OTEL_*
// variables, against collectors of its own for OTLP over HTTP and over gRPC.
package otelenvtest

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"

	"github.com/ot2otel/workshop/shared/otelenv"
	"github.com/ot2otel/workshop/shared/tracecheck"
	"github.com/ot2otel/workshop/shared/tracecheck/otelspans"
)

// CheckStandardVariables checks that newProvider, a step's newTracerProvider, honours
// the standard variables that choose the exporter and turn the SDK off:
// OTEL_TRACES_EXPORTER (otlp, console, none), OTEL_EXPORTER_OTLP_PROTOCOL (http/protobuf,
// grpc) and OTEL_SDK_DISABLED. Each failure names todo. It sets the variables with
// t.Setenv, so the test must not run in parallel.
func CheckStandardVariables(t *testing.T, newProvider func(service string) (otelenv.Provider, error), todo string) {
	t.Helper()
	for _, k := range []string{"OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
		"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_SDK_DISABLED", "OTEL_TRACES_SAMPLER"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	httpc, err := otelspans.NewCollector()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { httpc.Close() })
	grpcc := newGRPCCollector(t)

	// oneSpan builds a provider with the environment as it is, ends one span and shuts
	// the provider down, which exports it; it returns whether the span was recording.
	oneSpan := func(t *testing.T) bool {
		t.Helper()
		tp, err := newProvider("checkout")
		if err != nil {
			t.Fatalf("newTracerProvider: %v\nLook at %s", err, todo)
		}
		_, span := tp.Tracer("test").Start(context.Background(), "hello")
		recording := span.IsRecording()
		span.End()
		if err := tp.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		return recording
	}
	received := func(t *testing.T, want int, where string, spans []tracecheck.Span) {
		t.Helper()
		if len(spans) != want {
			t.Errorf("%s received %d span(s), want %d:\n%sLook at %s", where, len(spans), want, tracecheck.String(spans), todo)
		}
	}

	t.Run("OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf", func(t *testing.T) {
		t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", httpc.Endpoint())
		t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
		before := len(httpc.Spans())
		oneSpan(t)
		received(t, 1, "the OTLP/HTTP collector", httpc.Spans()[before:])
	})
	t.Run("OTEL_EXPORTER_OTLP_PROTOCOL=grpc", func(t *testing.T) {
		t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+grpcc.addr)
		t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
		oneSpan(t)
		received(t, 1, "the OTLP/gRPC collector", grpcc.Spans())
	})
	t.Run("OTEL_EXPORTER_OTLP_PROTOCOL=bogus", func(t *testing.T) {
		t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "bogus")
		if tp, err := newProvider("checkout"); err == nil {
			tp.Shutdown(context.Background())
			t.Errorf("newTracerProvider with OTEL_EXPORTER_OTLP_PROTOCOL=bogus returned no error.\nLook at %s", todo)
		}
	})
	t.Run("OTEL_TRACES_EXPORTER=none", func(t *testing.T) {
		t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", httpc.Endpoint())
		t.Setenv("OTEL_TRACES_EXPORTER", "none")
		before := len(httpc.Spans())
		oneSpan(t)
		received(t, 0, "with OTEL_TRACES_EXPORTER=none, the OTLP collector", httpc.Spans()[before:])
	})
	t.Run("OTEL_TRACES_EXPORTER=console", func(t *testing.T) {
		t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", httpc.Endpoint())
		t.Setenv("OTEL_TRACES_EXPORTER", "console")
		before := len(httpc.Spans())
		out := captureStdout(t, func() { oneSpan(t) })
		received(t, 0, "with OTEL_TRACES_EXPORTER=console, the OTLP collector", httpc.Spans()[before:])
		if !strings.Contains(out, `span checkout internal "hello"`) {
			t.Errorf("with OTEL_TRACES_EXPORTER=console, stdout shows no line for the span:\n%s\nLook at %s", out, todo)
		}
	})
	t.Run("OTEL_SDK_DISABLED=true", func(t *testing.T) {
		t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", httpc.Endpoint())
		t.Setenv("OTEL_SDK_DISABLED", "true")
		before := len(httpc.Spans())
		if oneSpan(t) {
			t.Errorf("with OTEL_SDK_DISABLED=true the span was recording: want a no-op provider.\nLook at %s", todo)
		}
		received(t, 0, "with OTEL_SDK_DISABLED=true, the OTLP collector", httpc.Spans()[before:])
	})
}

// captureStdout returns what f writes to os.Stdout.
func captureStdout(t *testing.T, f func()) (out string) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	var buf bytes.Buffer
	done := make(chan struct{})
	go func() {
		io.Copy(&buf, r)
		close(done)
	}()
	// Deferred, so that stdout comes back even when f fails the test.
	defer func() {
		os.Stdout = old
		w.Close()
		<-done
		r.Close()
		out = buf.String()
	}()
	f()
	return ""
}

// grpcCollector is an OTLP/gRPC trace receiver on a free port of 127.0.0.1.
type grpcCollector struct {
	coltracepb.UnimplementedTraceServiceServer
	addr  string
	mu    sync.Mutex
	spans []tracecheck.Span
}

func newGRPCCollector(t *testing.T) *grpcCollector {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &grpcCollector{addr: ln.Addr().String()}
	srv := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(srv, c)
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	return c
}

func (c *grpcCollector) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.spans = append(c.spans, otelspans.FromOTLP(req)...)
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

func (c *grpcCollector) Spans() []tracecheck.Span {
	c.mu.Lock()
	defer c.mu.Unlock()
	return tracecheck.Clone(c.spans)
}
