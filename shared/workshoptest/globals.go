package workshoptest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/opentracing/opentracing-go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Globals says which tracing globals a step's services must leave alone, and what to
// look at when they do not. main may set OpenTelemetry's error handler and logger
// (telemetry.HandleOTelErrors); tracer providers, propagators and tracers are the
// services' own.
type Globals struct {
	OTel        bool // OpenTelemetry's global tracer provider and propagator
	OpenTracing bool // OpenTracing's global tracer (jaeger-client's InitGlobalTracer sets it)
	Todo        string
}

// checkNoGlobals starts the step's system with every global s.Globals names set to a
// sentinel that counts its use, places an order, and fails unless the services neither
// replaced a sentinel nor used one: in one process a global lets a service's context
// reach another without crossing the wire, so in-process tests pass where the real
// deployment breaks.
func checkNoGlobals(t *testing.T, s Step) {
	g := s.Globals
	tp, prop, ot := &countingProvider{}, &countingPropagator{}, &countingTracer{}
	if g.OTel {
		prevTP, prevProp := otel.GetTracerProvider(), otel.GetTextMapPropagator()
		otel.SetTracerProvider(tp)
		otel.SetTextMapPropagator(prop)
		t.Cleanup(func() { otel.SetTracerProvider(prevTP); otel.SetTextMapPropagator(prevProp) })
	}
	if g.OpenTracing {
		prev := opentracing.GlobalTracer()
		opentracing.SetGlobalTracer(ot)
		t.Cleanup(func() { opentracing.SetGlobalTracer(prev) })
	}
	f := Start(t, s.Run, nil)
	f.PlaceDemoOrder(nil)
	f.WaitReserved(DemoSKU, 2)
	f.Stop()
	var problems []string
	if g.OTel {
		if otel.GetTracerProvider() != trace.TracerProvider(tp) {
			problems = append(problems, "replaced OpenTelemetry's global tracer provider (otel.SetTracerProvider)")
		}
		if otel.GetTextMapPropagator() != propagation.TextMapPropagator(prop) {
			problems = append(problems, "replaced OpenTelemetry's global propagator (otel.SetTextMapPropagator): "+
				"hand each service, and the bridge (bridge.SetTextMapPropagator), its propagator instead")
		}
		if n := tp.used.Load(); n > 0 {
			problems = append(problems, fmt.Sprintf("asked OpenTelemetry's global tracer provider for a tracer %d time(s) "+
				"(otel.Tracer or otel.GetTracerProvider, or an instrumentation given no provider)", n))
		}
		if n := prop.used.Load(); n > 0 {
			problems = append(problems, fmt.Sprintf("used OpenTelemetry's global propagator %d time(s) "+
				"(otel.GetTextMapPropagator, a bridge without SetTextMapPropagator, or otelhttp/otelmux without WithPropagators)", n))
		}
	}
	if g.OpenTracing {
		if opentracing.GlobalTracer() != opentracing.Tracer(ot) {
			problems = append(problems, "replaced OpenTracing's global tracer (opentracing.SetGlobalTracer, or jaeger's InitGlobalTracer)")
		}
		if n := ot.used.Load(); n > 0 {
			problems = append(problems, fmt.Sprintf("used OpenTracing's global tracer %d time(s) (opentracing.GlobalTracer, "+
				"opentracing.StartSpanFromContext)", n))
		}
	}
	for _, p := range problems {
		t.Errorf("the services %s. Each service is built with its own tracer or provider and propagator, "+
			"and never reaches for a global: in one process a global lets one service's context reach another "+
			"without crossing the wire.\nLook at %s", p, g.Todo)
	}
}

// countingProvider is a global tracer provider that counts the tracers asked of it.
type countingProvider struct {
	noop.TracerProvider
	used atomic.Int32
}

func (p *countingProvider) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	p.used.Add(1)
	return p.TracerProvider.Tracer(name, opts...)
}

// countingPropagator is a global propagator that counts its use, and propagates nothing.
type countingPropagator struct{ used atomic.Int32 }

func (p *countingPropagator) Inject(context.Context, propagation.TextMapCarrier) { p.used.Add(1) }
func (p *countingPropagator) Extract(ctx context.Context, _ propagation.TextMapCarrier) context.Context {
	p.used.Add(1)
	return ctx
}
func (p *countingPropagator) Fields() []string { p.used.Add(1); return nil }

// countingTracer is a global OpenTracing tracer that counts its use.
type countingTracer struct {
	opentracing.NoopTracer
	used atomic.Int32
}

func (t *countingTracer) StartSpan(op string, opts ...opentracing.StartSpanOption) opentracing.Span {
	t.used.Add(1)
	return t.NoopTracer.StartSpan(op, opts...)
}

func (t *countingTracer) Inject(sc opentracing.SpanContext, format, carrier any) error {
	t.used.Add(1)
	return t.NoopTracer.Inject(sc, format, carrier)
}

func (t *countingTracer) Extract(format, carrier any) (opentracing.SpanContext, error) {
	t.used.Add(1)
	return t.NoopTracer.Extract(format, carrier)
}
