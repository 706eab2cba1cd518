// Package otelglobal stands in for OpenTelemetry's global tracer provider and
// propagator in the contract suite's check that services never reach for a global
// (workshoptest.Globals).
package otelglobal

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Sentinel returns sentinels for OpenTelemetry's global tracer provider and propagator.
func Sentinel() *Sentinels { return &Sentinels{} }

// Sentinels are a global tracer provider and propagator that count their use.
type Sentinels struct {
	tp   countingProvider
	prop countingPropagator
}

// Install sets OpenTelemetry's global tracer provider and propagator to s's, and
// restores them when t ends.
func (s *Sentinels) Install(t *testing.T) {
	prevTP, prevProp := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	otel.SetTracerProvider(&s.tp)
	otel.SetTextMapPropagator(&s.prop)
	t.Cleanup(func() { otel.SetTracerProvider(prevTP); otel.SetTextMapPropagator(prevProp) })
}

// Problems says whether the services replaced or used the globals.
func (s *Sentinels) Problems() []string {
	var problems []string
	if otel.GetTracerProvider() != trace.TracerProvider(&s.tp) {
		problems = append(problems, "replaced OpenTelemetry's global tracer provider (otel.SetTracerProvider)")
	}
	if otel.GetTextMapPropagator() != propagation.TextMapPropagator(&s.prop) {
		problems = append(problems, "replaced OpenTelemetry's global propagator (otel.SetTextMapPropagator): "+
			"hand each service, and the bridge (bridge.SetTextMapPropagator), its propagator instead")
	}
	if n := s.tp.used.Load(); n > 0 {
		problems = append(problems, fmt.Sprintf("asked OpenTelemetry's global tracer provider for a tracer %d time(s) "+
			"(otel.Tracer or otel.GetTracerProvider, or an instrumentation given no provider)", n))
	}
	if n := s.prop.used.Load(); n > 0 {
		problems = append(problems, fmt.Sprintf("used OpenTelemetry's global propagator %d time(s) "+
			"(otel.GetTextMapPropagator, a bridge without SetTextMapPropagator, or otelhttp/otelmux without WithPropagators)", n))
	}
	return problems
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
