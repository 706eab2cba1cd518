// Package bridgesuite is what the tests of the steps that trace through the
// OpenTracing bridge share (04 and 05): services traced by an SDK provider with the
// bridge on top, and the checks of the tracing a step builds, that it comes from the
// environment, flushes, and nests OpenTelemetry spans between OpenTracing ones.
//
// The shared module does not depend on the bridge: each step hands in its own
// otelbridge.NewTracerPair, the one its go.mod pins.
package bridgesuite

import (
	"context"
	"log/slog"
	"net/http"
	"testing"

	"github.com/opentracing/opentracing-go"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/ot2otel/workshop/shared/broker"
	"github.com/ot2otel/workshop/shared/tracecheck"
	"github.com/ot2otel/workshop/shared/workshoptest"
	"github.com/ot2otel/workshop/shared/workshoptest/otelsuite"
)

// Tracing is what one service of a bridge step traces with, as the step's own tracing
// type has it (a step converts one into the other).
type Tracing struct {
	Tracer   opentracing.Tracer
	Provider trace.TracerProvider
	Shutdown func(context.Context) error
}

// Bridge is the OpenTracing half of otelbridge.NewTracerPair.
type Bridge interface {
	opentracing.Tracer
	SetTextMapPropagator(propagation.TextMapPropagator)
}

// pairFunc puts the bridge on an SDK tracer: the bridge and the wrapped provider.
type pairFunc func(trace.Tracer) (Bridge, trace.TracerProvider)

// pairOf turns a step's otelbridge.NewTracerPair into a pairFunc.
func pairOf[B Bridge, P trace.TracerProvider](newPair func(trace.Tracer) (B, P)) pairFunc {
	return func(tr trace.Tracer) (Bridge, trace.TracerProvider) { return newPair(tr) }
}

// Recorder keeps the finished spans of the services it sets up in memory: each with an
// SDK tracer provider of its own and the bridge on top, for the tests of one or two
// services at a time.
type Recorder struct {
	*otelsuite.Recorder
	tracerName string
	pair       pairFunc
}

// NewRecorder returns a recorder that puts the bridge on its providers with newPair
// (the step's otelbridge.NewTracerPair), on a tracer named tracerName, as the step's
// newTracing does.
func NewRecorder[B Bridge, P trace.TracerProvider](t testing.TB, tracerName string, newPair func(trace.Tracer) (B, P)) *Recorder {
	return &Recorder{Recorder: otelsuite.NewRecorder(t), tracerName: tracerName, pair: pairOf(newPair)}
}

// Tracing returns the tracing of service, speaking prop, recording every span.
func (r *Recorder) Tracing(service string, prop propagation.TextMapPropagator) Tracing {
	tp := r.Provider(service)
	bridge, wrapped := r.pair(tp.Tracer(r.tracerName))
	bridge.SetTextMapPropagator(prop)
	return Tracing{Tracer: bridge, Provider: wrapped, Shutdown: tp.Shutdown}
}

// NewTracing turns the step's newTracing, whose tracing type has Tracing's fields, into
// FromEnv's New: the tracing as main builds it, speaking prop.
func NewTracing[T ~struct {
	Tracer   opentracing.Tracer
	Provider trace.TracerProvider
	Shutdown func(context.Context) error
}](newTracing func(string, propagation.TextMapPropagator, *slog.Logger) (T, error), prop propagation.TextMapPropagator) func(string) (Tracing, error) {
	return func(service string) (Tracing, error) {
		tr, err := newTracing(service, prop, workshoptest.DiscardLogger())
		return Tracing(tr), err
	}
}

// FromEnv is a step's tracing built from the OTEL_* variables, what the spans it
// exported are, and the hints its checks give.
type FromEnv struct {
	// New is the step's newTracing for service.
	New func(service string) (Tracing, error)
	// Spans returns the spans the test's collector received.
	Spans func() []tracecheck.Span
	// Built follows the spans when the shut-down tracing did not deliver its span as the
	// service's; Sampler when the environment's sampler was overridden; Nesting when
	// OpenTelemetry and OpenTracing spans do not nest.
	Built, Sampler, Nesting string
}

// CheckTracingFromEnv checks the tracing the step builds from the environment: named
// after its service whatever OTEL_SERVICE_NAME says, sampling as OTEL_TRACES_SAMPLER
// says, and flushing its batch at Shutdown. The caller has pointed the exporter at the
// collector Spans reads.
func CheckTracingFromEnv(t *testing.T, s FromEnv) {
	t.Setenv("OTEL_SERVICE_NAME", "someone-else")
	// The batch would wait an hour: only Shutdown can deliver the span in time.
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "3600000")
	tr, err := s.New("checkout")
	if err != nil {
		t.Fatalf("newTracing: %v", err)
	}
	tr.Tracer.StartSpan("hello").Finish()
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatalf("shutting the tracing down: %v", err)
	}
	if spans := s.Spans(); len(spans) != 1 || spans[0].Service != "checkout" {
		t.Fatalf("once the tracing was shut down, OTEL_EXPORTER_OTLP_ENDPOINT had received %d span(s), want 1 from "+
			"service \"checkout\":\n%sLook at %s", len(spans), tracecheck.String(spans), s.Built)
	}

	t.Run("the environment decides the sampler", func(t *testing.T) {
		t.Setenv("OTEL_TRACES_SAMPLER", "always_off")
		tr, err := s.New("checkout")
		if err != nil {
			t.Fatalf("newTracing: %v", err)
		}
		tr.Tracer.StartSpan("not sampled").Finish()
		tr.Shutdown(context.Background())
		if spans := s.Spans(); len(spans) != 1 {
			t.Errorf("with OTEL_TRACES_SAMPLER=always_off the tracer provider still sampled a span.\nLook at %s", s.Sampler)
		}
	})
}

// CheckNesting checks the provider the step's tracing hands to OpenTelemetry code:
// spans it starts nest between the spans of the OpenTracing tracer, in both directions.
func CheckNesting(t *testing.T, s FromEnv) {
	tr, err := s.New("stock")
	if err != nil {
		t.Fatalf("newTracing: %v", err)
	}
	outer, ctx := opentracing.StartSpanFromContextWithTracer(context.Background(), tr.Tracer, "opentracing outer")
	ctx, native := tr.Provider.Tracer("test").Start(ctx, "opentelemetry middle")
	inner, _ := opentracing.StartSpanFromContextWithTracer(ctx, tr.Tracer, "opentracing inner")
	inner.Finish()
	native.End()
	outer.Finish()
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatalf("shutting the tracing down: %v", err)
	}

	spans := s.Spans()
	hop := func(name string) tracecheck.Hop {
		return tracecheck.Hop{Service: "stock", Kind: tracecheck.KindInternal, Name: name, Todo: s.Nesting}
	}
	if err := tracecheck.CheckParent(spans, hop("opentelemetry middle"), hop("opentracing outer")); err != nil {
		t.Error(err)
	}
	if err := tracecheck.CheckParent(spans, hop("opentracing inner"), hop("opentelemetry middle")); err != nil {
		t.Error(err)
	}
}

// RawProviderBreaksNesting shows pitfall 2 of the bridge: OpenTelemetry code given the
// SDK's own provider instead of the bridge's wrapped one. Its span still finds its
// OpenTracing parent, but the OpenTracing spans started under it skip it. newPair is the
// step's otelbridge.NewTracerPair.
func RawProviderBreaksNesting[B Bridge, P trace.TracerProvider](t *testing.T, tracerName string, newPair func(trace.Tracer) (B, P)) {
	rec := otelsuite.NewRecorder(t)
	tp := rec.Provider("gateway")
	bridge, _ := newPair(tp.Tracer(tracerName))

	outer, ctx := opentracing.StartSpanFromContextWithTracer(context.Background(), bridge, "opentracing outer")
	ctx, native := tp.Tracer("raw").Start(ctx, "opentelemetry middle") // the mistake: tp, not the wrapped provider
	inner, _ := opentracing.StartSpanFromContextWithTracer(ctx, bridge, "opentracing inner")
	inner.Finish()
	native.End()
	outer.Finish()

	spans := rec.Spans()
	hop := func(name string) tracecheck.Hop {
		return tracecheck.Hop{Service: "gateway", Kind: tracecheck.KindInternal, Name: name}
	}
	if err := tracecheck.CheckParent(spans, hop("opentelemetry middle"), hop("opentracing outer")); err != nil {
		t.Fatalf("with the SDK's provider, the OpenTelemetry span still finds its OpenTracing parent: %v", err)
	}
	err := tracecheck.CheckParent(spans, hop("opentracing inner"), hop("opentelemetry middle"))
	if err == nil {
		t.Fatalf("with the SDK's provider the OpenTracing span under the OpenTelemetry span should skip it; it did not:\n%s",
			tracecheck.String(spans))
	}
	t.Logf("As expected, with the SDK's provider instead of the bridge's wrapped one:\n%v", err)
}

// SpanChecks completes c, the hints of a bridge step, with the services the checks
// record and OpenTracing's HTTP tags: newGateway on the gateway's tracing, newCheckout on
// checkout's tracer, both from record, which also says what was recorded.
func SpanChecks(c workshoptest.SpanChecks,
	newGateway func(string, opentracing.Tracer, trace.TracerProvider, *slog.Logger) http.Handler,
	newCheckout func(broker.Broker, opentracing.Tracer, *slog.Logger) http.Handler,
	record func(t *testing.T) (gateway Tracing, checkout opentracing.Tracer, spans func() []tracecheck.Span)) workshoptest.SpanChecks {
	c.Record = func(t *testing.T) workshoptest.Spans {
		gateway, checkout, spans := record(t)
		return workshoptest.Spans{
			Gateway: func(url string) http.Handler {
				return newGateway(url, gateway.Tracer, gateway.Provider, workshoptest.DiscardLogger())
			},
			Checkout: func(b broker.Broker) http.Handler { return newCheckout(b, checkout, workshoptest.DiscardLogger()) },
			Spans:    spans,
		}
	}
	c.ClientTags, c.ServerTags = workshoptest.OpenTracingClientTags, workshoptest.OpenTracingServerTags
	return c
}
