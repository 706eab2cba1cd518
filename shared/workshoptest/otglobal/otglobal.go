// Package otglobal stands in for OpenTracing's global tracer in the contract suite's
// check that services never reach for a global (workshoptest.Globals).
package otglobal

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/opentracing/opentracing-go"
)

// Tracer returns a sentinel for OpenTracing's global tracer, which jaeger-client's
// InitGlobalTracer also sets.
func Tracer() *Sentinel { return &Sentinel{} }

// Sentinel is a global OpenTracing tracer that counts its use, and traces nothing.
type Sentinel struct {
	opentracing.NoopTracer
	used atomic.Int32
}

// Install sets OpenTracing's global tracer to s, and restores it when t ends.
func (s *Sentinel) Install(t *testing.T) {
	prev := opentracing.GlobalTracer()
	opentracing.SetGlobalTracer(s)
	t.Cleanup(func() { opentracing.SetGlobalTracer(prev) })
}

// Problems says whether the services replaced or used the global tracer.
func (s *Sentinel) Problems() []string {
	var out []string
	if opentracing.GlobalTracer() != opentracing.Tracer(s) {
		out = append(out, "replaced OpenTracing's global tracer (opentracing.SetGlobalTracer, or jaeger's InitGlobalTracer)")
	}
	if n := s.used.Load(); n > 0 {
		out = append(out, fmt.Sprintf("used OpenTracing's global tracer %d time(s) (opentracing.GlobalTracer, "+
			"opentracing.StartSpanFromContext)", n))
	}
	return out
}

func (s *Sentinel) StartSpan(op string, opts ...opentracing.StartSpanOption) opentracing.Span {
	s.used.Add(1)
	return s.NoopTracer.StartSpan(op, opts...)
}

func (s *Sentinel) Inject(sc opentracing.SpanContext, format, carrier any) error {
	s.used.Add(1)
	return s.NoopTracer.Inject(sc, format, carrier)
}

func (s *Sentinel) Extract(format, carrier any) (opentracing.SpanContext, error) {
	s.used.Add(1)
	return s.NoopTracer.Extract(format, carrier)
}
