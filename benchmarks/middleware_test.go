package benchmarks

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"go.opentelemetry.io/contrib/instrumentation/github.com/gorilla/mux/otelmux"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// unsampledParent is a request's traceparent whose sampled flag is off: what nine
// orders in ten carry at 10 % sampling, past the gateway.
const unsampledParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"

// BenchmarkServerMiddleware times one request of an unsampled trace through checkout's
// server instrumentation, handler excluded (it answers 202 at once): no middleware
// (what step 01 pays), otelmux with the no-op meter the steps 02-06 give it, and otelmux
// with a meter that has a reader (step 07's). Profile it (-cpuprofile) and focus on
// RecordMetrics to see what the metric attributes cost: otelmux v0.71.0 computes them
// for every request, whatever the meter, and has no option to skip them.
func BenchmarkServerMiddleware(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(0.1))))
	defer tp.Shutdown(context.Background())
	prop := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	reader := sdkmetric.NewManualReader()
	withReader := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer withReader.Shutdown(context.Background())
	routerWith := func(tp trace.TracerProvider, mp metric.MeterProvider) http.Handler {
		r := mux.NewRouter()
		r.HandleFunc("/orders", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusAccepted)
		}).Methods(http.MethodPost)
		if mp != nil {
			r.Use(otelmux.Middleware("checkout", otelmux.WithTracerProvider(tp), otelmux.WithPropagators(prop),
				otelmux.WithMeterProvider(mp)))
		}
		return r
	}
	router := func(mp metric.MeterProvider) http.Handler { return routerWith(tp, mp) }
	body := []byte(`{"customer_id":"load","items":[{"sku":"span-sticker","quantity":1}]}`)
	for _, c := range []struct {
		name string
		h    http.Handler
	}{
		{"bare", router(nil)},
		// OTEL_SDK_DISABLED=true: what otelmux costs by itself, before any span.
		{"otelmux-sdk-disabled", routerWith(tracenoop.NewTracerProvider(), metricnoop.NewMeterProvider())},
		{"otelmux-noop-meter", router(metricnoop.NewMeterProvider())},
		{"otelmux-meter-with-reader", router(withReader)},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			defer reportCPU(b)()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:8081/orders", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("traceparent", unsampledParent)
				w := httptest.NewRecorder()
				c.h.ServeHTTP(w, req)
				if w.Code != http.StatusAccepted {
					b.Fatalf("status %d", w.Code)
				}
			}
		})
	}
}

// BenchmarkClientTransport times one call of an unsampled trace through the gateway's
// client instrumentation, the round trip excluded (a transport that answers 202 at
// once): none, otelhttp with the no-op meter, otelhttp with a meter that has a reader.
// otelhttp v0.72.0 builds the metric attributes (MetricOptions) for every call,
// whatever the meter.
func BenchmarkClientTransport(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(0.1))))
	defer tp.Shutdown(context.Background())
	prop := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	withReader := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer withReader.Shutdown(context.Background())
	answer := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.Body != nil {
			_, _ = io.Copy(io.Discard, r.Body)
			r.Body.Close()
		}
		return &http.Response{StatusCode: http.StatusAccepted, Body: http.NoBody, Header: http.Header{}, Request: r}, nil
	})
	// The parent: an unsampled span context, as the gateway's server span has in nine
	// orders in ten.
	ctx := prop.Extract(context.Background(), propagation.MapCarrier{"traceparent": unsampledParent})
	body := []byte(`{"customer_id":"load","items":[{"sku":"span-sticker","quantity":1}]}`)
	for _, c := range []struct {
		name string
		rt   http.RoundTripper
	}{
		{"bare", answer},
		{"otelhttp-sdk-disabled", otelhttp.NewTransport(answer, otelhttp.WithTracerProvider(tracenoop.NewTracerProvider()),
			otelhttp.WithPropagators(prop), otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()))},
		{"otelhttp-noop-meter", otelhttp.NewTransport(answer, otelhttp.WithTracerProvider(tp), otelhttp.WithPropagators(prop),
			otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()))},
		{"otelhttp-meter-with-reader", otelhttp.NewTransport(answer, otelhttp.WithTracerProvider(tp), otelhttp.WithPropagators(prop),
			otelhttp.WithMeterProvider(withReader))},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			defer reportCPU(b)()
			for b.Loop() {
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://127.0.0.1:8081/orders", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				resp, err := c.rt.RoundTrip(req)
				if err != nil || resp.StatusCode != http.StatusAccepted {
					b.Fatalf("%v %v", resp, err)
				}
				resp.Body.Close()
			}
		})
	}
}

// BenchmarkTraceResponse times the traceresponse header the OTel steps (04-07) put on
// every answer, written the two ways: fmt.Sprintf boxes the IDs, concatenation does not.
func BenchmarkTraceResponse(b *testing.B) {
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{0x4b, 0xf9, 0x2f}, SpanID: trace.SpanID{0xf0, 0x67}})
	for _, c := range []struct {
		name  string
		value func() string
	}{
		{"sprintf", func() string { return fmt.Sprintf("00-%s-%s-%s", sc.TraceID(), sc.SpanID(), sc.TraceFlags()) }},
		{"concatenated", func() string {
			return "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-" + sc.TraceFlags().String()
		}},
	} {
		benchHeaderValue(b, c.name, c.value, "00-4bf92f00000000000000000000000000-f067000000000000-00")
	}
}

// reportCPU, deferred with its result, reports the process's CPU time per operation
// (cpu-ns/op) beside the wall time: on a machine that other work shares, ns/op counts
// the waits for a core, CPU time only what the benchmark used (its own goroutines
// and the garbage collector's).
func reportCPU(b *testing.B) func() {
	start := processCPU()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64((processCPU()-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
		}
	}
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// benchHeaderValue times setting the traceresponse header to what value makes, after
// checking that it makes want.
func benchHeaderValue(b *testing.B, name string, value func() string, want string) {
	b.Helper()
	if got := value(); got != want {
		b.Fatalf("%s: %q, want %q", name, got, want)
	}
	b.Run(name, func(b *testing.B) {
		b.ReportAllocs()
		h := http.Header{}
		for b.Loop() {
			h.Set("traceresponse", value())
		}
	})
}
