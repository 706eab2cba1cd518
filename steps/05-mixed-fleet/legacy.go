package main

import (
	"context"
	"fmt"

	jaegerclient "github.com/uber/jaeger-client-go"
	"github.com/uber/jaeger-client-go/config"
	"go.opentelemetry.io/otel/trace/noop"
)

// newLegacyTracing returns the tracing of a service that has not migrated yet: step 03's
// jaeger-client tracer, configured from the standard JAEGER_* environment, and the closer
// that flushes its spans. jaeger-client has no OpenTelemetry side: Provider is a no-op.
// opts go to cfg.NewTracer: main passes the logger jaeger-client reports its errors to.
//
// In a mixed fleet it speaks only uber-trace-id. The OpenTelemetry services read and
// write that too (newPropagator); what the legacy side must do is make trace IDs as
// wide as theirs.
func newLegacyTracing(service string, opts ...config.Option) (tracing, error) {
	cfg, err := config.FromEnv()
	if err != nil {
		return tracing{}, fmt.Errorf("%s: read the JAEGER_* environment: %w", service, err)
	}
	// One process may run all three services (`all`), each under its own name, whatever
	// JAEGER_SERVICE_NAME says.
	cfg.ServiceName = service
	// jaeger-client's default sampler asks an agent what to sample and, until it has
	// an answer, keeps almost nothing: the first orders of a demo would be lost.
	if cfg.Sampler.Type == "" {
		cfg.Sampler.Type = jaegerclient.SamplerTypeConst
		cfg.Sampler.Param = 1
	}
	// TODO(05.2): jaeger-client makes 64-bit trace IDs unless told otherwise, so a trace
	// that starts here reaches the OpenTelemetry services as a W3C trace ID with sixteen
	// leading zeros, which W3C Trace Context asks systems with shorter IDs not to send.
	// Make the IDs as wide as OpenTelemetry's; look up config.Configuration's fields.
	// Pitfall: the operator's JAEGER_TRACEID_128BIT, when set, still decides (an unset
	// variable and "false" are not the same thing).
	tracer, closer, err := cfg.NewTracer(opts...)
	if err != nil {
		return tracing{}, fmt.Errorf("%s: start the tracer: %w", service, err)
	}
	return tracing{
		Tracer:   tracer,
		Provider: noop.NewTracerProvider(),
		Shutdown: func(context.Context) error { return closer.Close() },
	}, nil
}
