// Package legacyremote makes jaeger-client's remote sampler (JAEGER_SAMPLER_TYPE=remote)
// work against Jaeger v2's sampling endpoint, and say so when it cannot.
//
// The trap: Jaeger v2's remote_sampling extension (v2.13 here) answers on port 5778, at
// every path (/sampling as well as /), with the legacy JSON jaeger-agent served only at
// /, whose strategyType is a number: {"strategyType":0,"probabilisticSampling":{...},...}.
// (jaeger-agent's /sampling, jaeger-client's default URL, gave the name instead.)
// jaeger-client-go v2.30.0 decodes the answer with encoding/json into its thrift enum,
// which implements encoding.TextUnmarshaler and so takes only a string ("PROBABILISTIC").
// Every poll then fails to parse, and the sampler keeps its initial rate
// (JAEGER_SAMPLER_PARAM, 0.001 unless set) for good; it says nothing, because
// jaeger-client's config gives the remote sampler no logger (jaeger's NullLogger), even
// when the tracer has one. A fleet that replaced jaeger-agent with Jaeger v2 keeps one
// trace in a thousand from every legacy service, whatever the strategies file says.
//
// The remedy is jaeger-client's own extension points, SamplerOptions:
//
//	cfg.Sampler.Options = append(cfg.Sampler.Options,
//		legacyremote.SamplerOptions(cfg.Sampler.SamplingServerURL, logger)...)
//
// which give the remote sampler Parser (both encodings of the strategy type), a fetcher
// whose poll cannot hang, and the tracer's logger. The workshop's steps pass Option to
// cfg.NewTracer instead, from main, so that the tracer set-up each step's exercise
// writes stays as jaeger-client's documentation shows it.
package legacyremote

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/uber/jaeger-client-go"
	"github.com/uber/jaeger-client-go/config"
	"github.com/uber/jaeger-client-go/thrift-gen/sampling"

	workshopsampling "github.com/ot2otel/workshop/shared/sampling"
)

// Parser reads a sampling endpoint's answer into what jaeger-client's sampler updaters
// take, a *sampling.SamplingStrategyResponse. The strategy type may be a number (Jaeger
// v2; jaeger-agent at /: {"strategyType":0}) or a name (jaeger-client's own encoding:
// {"strategyType":"PROBABILISTIC"}). An answer that does not parse, names a strategy
// type Jaeger does not define, or lacks the strategy its type names is an error: the
// sampler then keeps the strategy it has, and says so in its log.
type Parser struct{}

// Parse implements jaeger.SamplingStrategyParser.
func (Parser) Parse(body []byte) (any, error) {
	var answer struct {
		StrategyType json.RawMessage `json:"strategyType"`
		sampling.SamplingStrategyResponse
	}
	// The embedded response has its own strategyType field, which would reject a
	// number: the outer one, a raw message, shadows it.
	if err := json.Unmarshal(body, &answer); err != nil {
		return nil, fmt.Errorf("not a sampling strategy: %w", err)
	}
	n, err := workshopsampling.StrategyType(answer.StrategyType)
	if err != nil {
		return nil, err
	}
	typ := sampling.SamplingStrategyType(n)
	r := answer.SamplingStrategyResponse
	r.StrategyType = typ
	switch {
	case r.OperationSampling != nil: // per operation, whatever the type says of the default
	case typ == sampling.SamplingStrategyType_PROBABILISTIC && r.ProbabilisticSampling == nil:
		return nil, errors.New("strategyType PROBABILISTIC without probabilisticSampling")
	case typ == sampling.SamplingStrategyType_RATE_LIMITING && r.RateLimitingSampling == nil:
		return nil, errors.New("strategyType RATE_LIMITING without rateLimitingSampling")
	}
	return &r, nil
}

// SamplerOptions are the options that make jaeger-client's remote sampler, asking
// endpoint ("" for jaeger-client's default, http://localhost:5778/sampling), read both
// encodings of the answer (Parser), give up a poll after FetchTimeout, and report its
// failures to logger (pass the tracer's: jaeger-client's config gives the sampler none).
// The remote sampler logs a failure at each poll; the workshop's logger
// (telemetry/jaegerlog) says an outage once.
func SamplerOptions(endpoint string, logger jaeger.Logger) []jaeger.SamplerOption {
	if endpoint == "" {
		endpoint = jaeger.DefaultSamplingServerURL
	}
	return []jaeger.SamplerOption{
		jaeger.SamplerOptions.SamplingStrategyParser(Parser{}),
		jaeger.SamplerOptions.SamplingStrategyFetcher(fetcher{endpoint: endpoint, client: &http.Client{Timeout: FetchTimeout}}),
		jaeger.SamplerOptions.Logger(logger),
	}
}

// FetchTimeout bounds one poll of the sampling endpoint, the answer read included.
// jaeger-client's own fetcher bounds only the wait for the answer's headers, and closing
// the tracer waits for a poll under way.
const FetchTimeout = 10 * time.Second

type fetcher struct {
	endpoint string
	client   *http.Client
}

// Fetch implements jaeger.SamplingStrategyFetcher, as jaeger-client's own fetcher does,
// with a timeout.
func (f fetcher) Fetch(service string) ([]byte, error) {
	return workshopsampling.FetchStrategies(f.client, f.endpoint, service)
}

// Option is a config.Option for cfg.NewTracer that, when the JAEGER_* environment asks
// for the remote sampler (JAEGER_SAMPLER_TYPE=remote), gives the tracer the remote
// sampler jaeger-client would build from it (endpoint, initial rate, refresh interval,
// maximum operations), with SamplerOptions. Under any other sampler it does nothing.
//
// The sampler is built when cfg.NewTracer applies the option, so a tracer that is never
// made starts no polling; the tracer's Close stops it.
func Option(service string, logger jaeger.Logger) config.Option {
	return func(o *config.Options) {
		cfg, err := config.FromEnv()
		if err != nil || cfg.Sampler == nil || !strings.EqualFold(cfg.Sampler.Type, jaeger.SamplerTypeRemote) {
			return // the tracer's own set-up reads the environment too, and reports its error
		}
		sc := *cfg.Sampler
		sc.Options = append(sc.Options, SamplerOptions(sc.SamplingServerURL, logger)...)
		s, err := sc.NewSampler(service, jaeger.NewNullMetrics())
		if err != nil {
			return // an initial rate out of range: cfg.NewTracer's own sampler reports it
		}
		config.Sampler(s)(o)
	}
}
