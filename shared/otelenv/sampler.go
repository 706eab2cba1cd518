package otelenv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"go.opentelemetry.io/contrib/samplers/jaegerremote"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/ot2otel/workshop/shared/sampling"
)

// Sampler is the sampler of one service, as OTEL_TRACES_SAMPLER and
// OTEL_TRACES_SAMPLER_ARG ask (package sampling reads and checks them). Pass it to sdktrace.WithSampler, and the provider to Bind,
// so that shutting the provider down also stops a remote sampler's polling.
type Sampler struct {
	sdktrace.Sampler
	// Config is what the variables asked for.
	Config sampling.OTelConfig
	remote *jaegerremote.Sampler
}

// SamplerFromEnv returns the sampler OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG, read through
// getenv, ask for service. A value it cannot honour is an error that names the variable
// and the values it takes: never the SDK's silent fallback to sampling everything.
//
// jaeger_remote asks the endpoint for service's strategies at once and then every
// polling interval, in the background: a request never waits for it. Until the first
// answer, and whenever the endpoint is down, slow or answers what it cannot use, the
// sampler keeps its last strategy (at first initialSamplingRate), and says so through
// OpenTelemetry's error handler, which the services log once per outage.
func SamplerFromEnv(service string, getenv func(string) string) (*Sampler, error) {
	c, err := sampling.ParseOTel(getenv)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", service, err)
	}
	return NewSampler(service, c), nil
}

// NewSampler returns the sampler c describes for service; opts go to a remote sampler.
func NewSampler(service string, c sampling.OTelConfig, opts ...jaegerremote.Option) *Sampler {
	s := &Sampler{Config: c}
	var root sdktrace.Sampler
	switch c.Name {
	case "always_on", "parentbased_always_on":
		root = sdktrace.AlwaysSample()
	case "always_off", "parentbased_always_off":
		root = sdktrace.NeverSample()
	case "traceidratio", "parentbased_traceidratio":
		root = sdktrace.TraceIDRatioBased(c.Ratio)
	case "jaeger_remote", "parentbased_jaeger_remote":
		l := &remoteLog{service: service, endpoint: c.Endpoint, client: &http.Client{Timeout: fetchTimeout}}
		s.remote = jaegerremote.New(service, append([]jaegerremote.Option{
			jaegerremote.WithSamplingServerURL(c.Endpoint),
			jaegerremote.WithSamplingRefreshInterval(c.PollingInterval),
			jaegerremote.WithInitialSampler(sdktrace.TraceIDRatioBased(c.InitialRate)),
			jaegerremote.WithLogger(logr.New(l)),
			jaegerremote.WithSamplingStrategyFetcher(l),
		}, opts...)...)
		root = s.remote
	default:
		panic("otelenv: NewSampler with an unchecked config: " + c.Name)
	}
	if c.ParentBased() {
		s.Sampler = sdktrace.ParentBased(root)
	} else {
		s.Sampler = root
	}
	return s
}

// Close stops a remote sampler's polling; other samplers have nothing to stop.
func (s *Sampler) Close() {
	if s.remote != nil {
		s.remote.Close()
	}
}

// Bind returns tp, whose Shutdown also stops s's polling when s is remote. tp must be
// the provider s was passed to.
func (s *Sampler) Bind(tp *sdktrace.TracerProvider) Provider {
	if s.remote == nil {
		return tp
	}
	return &boundProvider{TracerProvider: tp, sampler: s}
}

type boundProvider struct {
	*sdktrace.TracerProvider
	sampler *Sampler
	once    sync.Once
}

func (p *boundProvider) Shutdown(ctx context.Context) error {
	err := p.TracerProvider.Shutdown(ctx)
	p.once.Do(p.sampler.Close)
	return err
}

// remoteLog is jaegerremote's logger, and its fetcher: it knows when a poll fails and
// when the next one succeeds. Its errors (an endpoint down, slow, or answering what the
// sampler cannot use) go to OpenTelemetry's error handler, which the services log: the
// first of an outage only, with what the sampler does meanwhile. A poll that succeeds
// ends the outage, so the next one is said again. Info and debug lines are dropped.
type remoteLog struct {
	service, endpoint string
	client            *http.Client

	mu      sync.Mutex
	failing bool // an outage is under way, and was said
	errored bool // the current poll reported an error
}

// Fetch asks the endpoint for the service's strategies, as jaegerremote's own fetcher
// does, with a timeout: a poll never lasts longer than fetchTimeout.
func (l *remoteLog) Fetch(service string) ([]byte, error) {
	l.mu.Lock()
	if !l.errored {
		l.failing = false // the previous poll went through: the outage, if any, is over
	}
	l.errored = false
	l.mu.Unlock()
	body, err := sampling.FetchStrategies(l.client, l.endpoint, service)
	if err != nil {
		return nil, err
	}
	// jaegerremote's parser (jsonpb) takes any number for the strategy type, and then
	// applies whatever rates the answer holds: refuse a type the protocol does not
	// define, so the sampler keeps its strategy, and says why. What does not parse at
	// all is left to the parser, which says so itself.
	var answer struct {
		StrategyType json.RawMessage `json:"strategyType"`
	}
	if json.Unmarshal(body, &answer) == nil && answer.StrategyType != nil {
		if _, err := sampling.StrategyType(answer.StrategyType); err != nil {
			return nil, fmt.Errorf("an answer this sampler cannot use: %w", err)
		}
	}
	return body, nil
}

// fetchTimeout bounds one poll.
const fetchTimeout = 10 * time.Second

func (*remoteLog) Init(logr.RuntimeInfo)    {}
func (*remoteLog) Enabled(int) bool         { return false }
func (*remoteLog) Info(int, string, ...any) {}
func (l *remoteLog) Error(err error, msg string, _ ...any) {
	l.mu.Lock()
	l.errored = true
	say := !l.failing
	l.failing = true
	l.mu.Unlock()
	if !say {
		return
	}
	if err == nil {
		err = errors.New("no detail")
	}
	otel.Handle(fmt.Errorf("%s: jaeger_remote sampler: %s from %s; sampling as before (at first the initial rate) until it answers, said once per outage: %w",
		l.service, msg, l.endpoint, err))
}
func (l *remoteLog) WithValues(...any) logr.LogSink { return l }
func (l *remoteLog) WithName(string) logr.LogSink   { return l }
