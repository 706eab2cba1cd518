// Package otelsuite is what the tests of every step with an OpenTelemetry SDK share
// (04 to 07): a recorder of SDK providers, and a collector the providers built from
// the environment export to. It uses the OpenTelemetry API and SDK alone, so that step
// 06, which must not build OpenTracing, can use it; bridgesuite adds the bridge.
package otelsuite

import (
	"context"
	"net/http"
	"os"
	"testing"

	"go.opentelemetry.io/otel/propagation"

	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/ot2otel/workshop/shared/tracecheck"
	"github.com/ot2otel/workshop/shared/tracecheck/otelspans"
	"github.com/ot2otel/workshop/shared/workshoptest"
)

// Recorder keeps the finished spans of the providers it makes in memory, for the tests
// of one or two services at a time.
type Recorder struct {
	t   testing.TB
	rec *tracetest.SpanRecorder
}

// NewRecorder returns a recorder whose providers are shut down when t ends.
func NewRecorder(t testing.TB) *Recorder {
	return &Recorder{t: t, rec: tracetest.NewSpanRecorder()}
}

// Provider returns an SDK tracer provider for service that records every span it
// samples; opts add to its options (a sampler, say).
func (r *Recorder) Provider(service string, opts ...sdktrace.TracerProviderOption) *sdktrace.TracerProvider {
	tp := sdktrace.NewTracerProvider(append([]sdktrace.TracerProviderOption{
		sdktrace.WithSpanProcessor(r.rec),
		sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName(service))),
	}, opts...)...)
	r.t.Cleanup(func() { tp.Shutdown(context.Background()) })
	return tp
}

// Spans returns the spans recorded so far.
func (r *Recorder) Spans() []tracecheck.Span {
	return otelspans.FromReadOnly(r.rec.Ended())
}

// Scope returns the instrumentation scope that recorded s.
func (r *Recorder) Scope(s tracecheck.Span) string {
	for _, ro := range r.rec.Ended() {
		if ro.SpanContext().SpanID().String() == s.SpanID {
			return ro.InstrumentationScope().Name
		}
	}
	return ""
}

// Traces is a step's OrderTraces.Collect: a collector of the test's own, as Collect
// starts it; hint names what to look at when no span reaches it.
func Traces(hint string) func(t *testing.T) (map[string]string, func() []tracecheck.Span) {
	return workshoptest.ReceiverTraces(Collect, hint)
}

// Spans points the services' tracers at a collector of t's own, as Collect does, and
// returns what it received: a step's EdgeStep.Collect.
func Spans(t *testing.T) func() []tracecheck.Span { return Collect(t).Spans }

// Collect starts an OTLP/HTTP collector and points every exporter made from the
// environment during the test at it, through OTEL_EXPORTER_OTLP_ENDPOINT as in
// production. It pins the exporter to OTLP over HTTP and clears the variables that
// would send the spans elsewhere, drop them, or rename the service, whatever the
// developer's shell exports. It sets them with t.Setenv, so the test cannot run in
// parallel.
func Collect(t testing.TB) *otelspans.Collector {
	t.Helper()
	c := workshoptest.StartReceiver(t, otelspans.NewCollector)
	for k, v := range c.Env() {
		t.Setenv(k, v)
	}
	workshoptest.PinExporter(t)
	for _, k := range []string{"OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES"} {
		unsetenv(t, k)
	}
	return c
}

// unsetenv unsets key for the test, and restores it afterwards.
func unsetenv(t testing.TB, key string) {
	t.Helper()
	t.Setenv(key, "") // registers the restore
	if err := os.Unsetenv(key); err != nil {
		t.Fatal(err)
	}
}

// ClientContext returns the check of the trace context on the gateway's request to
// checkout, for workshoptest.SpanChecks: read with each of formats, it is the client
// span's. missing is the hint when a format finds no context, other when it finds
// another span's.
func ClientContext(formats []propagation.TextMapPropagator, missing, other string) func(t *testing.T, headers http.Header, client tracecheck.Span) {
	return func(t *testing.T, headers http.Header, client tracecheck.Span) {
		for _, format := range formats {
			field := format.Fields()[0]
			sc := trace.SpanContextFromContext(format.Extract(context.Background(), propagation.HeaderCarrier(headers)))
			switch {
			case !sc.IsValid():
				t.Errorf("checkout's request carries no trace context in %s (%q), want the client span's (span %s).\nLook at %s",
					field, headers.Get(field), client.SpanID, missing)
			case sc.SpanID().String() != client.SpanID:
				t.Errorf("checkout's request carries, in %s, the context of span %s, not of the client span %s.\nLook at %s",
					field, sc.SpanID(), client.SpanID, other)
			}
		}
	}
}
