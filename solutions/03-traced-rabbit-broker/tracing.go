package main

import (
	"fmt"
	"io"

	"github.com/opentracing/opentracing-go"
	"github.com/uber/jaeger-client-go"
	"github.com/uber/jaeger-client-go/config"
)

// newTracer returns the tracer of one service, configured from the standard JAEGER_*
// environment (JAEGER_ENDPOINT, JAEGER_AGENT_HOST, JAEGER_SAMPLER_TYPE, ...), and the
// closer that flushes its spans: main closes it once the service has stopped. opts go to
// cfg.NewTracer: main passes the logger jaeger-client reports its errors to.
func newTracer(service string, opts ...config.Option) (opentracing.Tracer, io.Closer, error) {
	cfg, err := config.FromEnv()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: read the JAEGER_* environment: %w", service, err)
	}
	// One process may run all three services (`all`), each under its own name, whatever
	// JAEGER_SERVICE_NAME says.
	cfg.ServiceName = service
	// jaeger-client's default sampler asks an agent what to sample and, until it has
	// an answer, keeps almost nothing: the first orders of a demo would be lost.
	if cfg.Sampler.Type == "" {
		cfg.Sampler.Type = jaeger.SamplerTypeConst
		cfg.Sampler.Param = 1
	}
	tracer, closer, err := cfg.NewTracer(opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: start the tracer: %w", service, err)
	}
	return tracer, closer, nil
}
