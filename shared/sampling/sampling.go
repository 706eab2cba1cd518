// Package sampling reads the standard sampling variables of both tracing worlds, refuses
// any value a service cannot honour, and says once which sampler a service runs. The
// OpenTelemetry sampler they ask for is built by otelenv.SamplerFromEnv; this package
// has no dependency, so the jaeger-client steps link nothing of OpenTelemetry's for it.
//
// OpenTelemetry: OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG, with every value the
// specification lists. The Go SDK reads them itself, but it does not know jaeger_remote
// or parentbased_jaeger_remote: it reports an error nobody reads and samples everything
// (parentbased_always_on). So a service builds its sampler with otelenv.SamplerFromEnv,
// with contrib's samplers/jaegerremote for those two, and passes it to the SDK explicitly.
//
// jaeger-client: JAEGER_SAMPLER_TYPE, JAEGER_SAMPLER_PARAM, JAEGER_SAMPLING_ENDPOINT and
// JAEGER_SAMPLER_REFRESH_INTERVAL, which jaeger-client reads itself (config.FromEnv) but
// checks only in part: a const sampler with param 2 or -1 samples everything, a
// sampling endpoint that is not a URL fails every poll, quietly.
//
// In both worlds the workshop's default, when no variable is set, is to sample every
// trace (parentbased_always_on; const 1), and each service logs once which sampler it
// runs.
//
// It is the same in every traced step, so it lives here and the steps' diffs show only
// the migration.
package sampling

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The standard variables.
const (
	EnvOTelSampler    = "OTEL_TRACES_SAMPLER"
	EnvOTelSamplerArg = "OTEL_TRACES_SAMPLER_ARG"

	EnvJaegerType            = "JAEGER_SAMPLER_TYPE"
	EnvJaegerParam           = "JAEGER_SAMPLER_PARAM"
	EnvJaegerEndpoint        = "JAEGER_SAMPLING_ENDPOINT"
	EnvJaegerRefreshInterval = "JAEGER_SAMPLER_REFRESH_INTERVAL"

	envJaegerAgentHost = "JAEGER_AGENT_HOST"
)

// OTelSamplers are the values of OTEL_TRACES_SAMPLER these services honour: all the
// specification lists but xray, AWS's, whose sampler the services do not link.
var OTelSamplers = []string{
	"always_on", "always_off", "traceidratio",
	"parentbased_always_on", "parentbased_always_off", "parentbased_traceidratio",
	"jaeger_remote", "parentbased_jaeger_remote",
}

// JaegerTypes are the values of JAEGER_SAMPLER_TYPE these services honour.
var JaegerTypes = []string{"const", "probabilistic", "ratelimiting", "remote"}

// DefaultRemoteEndpoint is where a remote sampler asks for its strategies unless told
// otherwise: the port jaeger-agent served them on, which Jaeger v2's remote_sampling
// extension keeps.
const DefaultRemoteEndpoint = "http://localhost:5778/sampling"

// Remote defaults, the specification's and jaeger-client's.
const (
	DefaultPollingInterval = time.Minute
	DefaultInitialRate     = 0.001
)

// OTelConfig is what OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG ask for.
type OTelConfig struct {
	// Name is the sampler, one of OTelSamplers.
	Name string
	// Ratio is traceidratio's ratio, in [0, 1].
	Ratio float64
	// Endpoint, PollingInterval and InitialRate configure jaeger_remote.
	Endpoint        string
	PollingInterval time.Duration
	InitialRate     float64
	// Default reports that no variable chose the sampler: the workshop's default.
	Default bool
	// IgnoredArg is OTEL_TRACES_SAMPLER_ARG when the sampler takes no argument.
	IgnoredArg string
}

// ParentBased reports whether the sampler follows the parent's decision.
func (c OTelConfig) ParentBased() bool { return strings.HasPrefix(c.Name, "parentbased_") }

// Remote reports whether the sampler asks a sampling endpoint for its strategies.
func (c OTelConfig) Remote() bool { return strings.HasSuffix(c.Name, "jaeger_remote") }

// String describes the sampler in a few words, for the log.
func (c OTelConfig) String() string {
	switch {
	case c.Default:
		return "parentbased_always_on: every trace sampled (the workshop's default; " + EnvOTelSampler + " chooses another)"
	case strings.HasSuffix(c.Name, "traceidratio"):
		return fmt.Sprintf("%s, ratio %g", c.Name, c.Ratio)
	case c.Remote():
		return fmt.Sprintf("%s from %s every %s, at %g until the first answer", c.Name, c.Endpoint, c.PollingInterval, c.InitialRate)
	}
	return c.Name
}

// ParseOTel reads OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG through getenv. A value
// the services cannot honour is an error that names the variable and the values it
// takes.
func ParseOTel(getenv func(string) string) (OTelConfig, error) {
	name := strings.ToLower(strings.TrimSpace(getenv(EnvOTelSampler)))
	arg := strings.TrimSpace(getenv(EnvOTelSamplerArg))
	c := OTelConfig{Name: name}
	switch name {
	case "":
		c.Name, c.Default = "parentbased_always_on", true
		c.IgnoredArg = arg
	case "always_on", "always_off", "parentbased_always_on", "parentbased_always_off":
		c.IgnoredArg = arg
	case "traceidratio", "parentbased_traceidratio":
		c.Ratio = 1 // the specification's default
		if arg != "" {
			r, err := parseRate(arg)
			if err != nil {
				return c, fmt.Errorf("%s=%q for %s=%s: %w", EnvOTelSamplerArg, arg, EnvOTelSampler, name, err)
			}
			c.Ratio = r
		}
	case "jaeger_remote", "parentbased_jaeger_remote":
		c.Endpoint, c.PollingInterval, c.InitialRate = DefaultRemoteEndpoint, DefaultPollingInterval, DefaultInitialRate
		if err := c.parseRemoteArg(arg); err != nil {
			return c, fmt.Errorf("%s=%q for %s=%s: %w (it takes endpoint=<http URL>,pollingIntervalMs=<ms>,initialSamplingRate=<0..1>, each optional)",
				EnvOTelSamplerArg, arg, EnvOTelSampler, name, err)
		}
	case "xray":
		return c, fmt.Errorf("%s=xray: these services do not link AWS X-Ray's sampler; use one of %s", EnvOTelSampler, strings.Join(OTelSamplers, ", "))
	default:
		return c, fmt.Errorf("%s=%q: unknown sampler; use one of %s", EnvOTelSampler, getenv(EnvOTelSampler), strings.Join(OTelSamplers, ", "))
	}
	return c, nil
}

// parseRemoteArg reads jaeger_remote's argument, the specification's comma-separated
// key=value pairs.
func (c *OTelConfig) parseRemoteArg(arg string) error {
	if arg == "" {
		return nil
	}
	seen := map[string]bool{}
	for _, kv := range strings.Split(arg, ",") {
		k, v, ok := strings.Cut(kv, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" {
			return fmt.Errorf("%q is not key=value", kv)
		}
		if seen[k] {
			return fmt.Errorf("%s given twice", k)
		}
		seen[k] = true
		switch k {
		case "endpoint":
			if err := checkURL(v); err != nil {
				return fmt.Errorf("endpoint: %w", err)
			}
			c.Endpoint = v
		case "pollingIntervalMs":
			ms, err := strconv.ParseInt(v, 10, 64)
			if err != nil || ms <= 0 || ms > math.MaxInt64/int64(time.Millisecond) {
				return fmt.Errorf("pollingIntervalMs=%q is not a positive number of milliseconds", v)
			}
			c.PollingInterval = time.Duration(ms) * time.Millisecond
		case "initialSamplingRate":
			r, err := parseRate(v)
			if err != nil {
				return fmt.Errorf("initialSamplingRate: %w", err)
			}
			c.InitialRate = r
		default:
			return fmt.Errorf("unknown key %q", k)
		}
	}
	return nil
}

// parseRate reads a probability.
func parseRate(s string) (float64, error) {
	r, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(r) || r < 0 || r > 1 {
		return 0, fmt.Errorf("%q is not a number from 0 to 1", s)
	}
	return r, nil
}

// checkURL accepts an absolute http or https URL with a host.
func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %w", s, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http:// or https:// URL with a host", s)
	}
	return nil
}

// JaegerConfig is what the JAEGER_SAMPLER_* variables ask of jaeger-client.
type JaegerConfig struct {
	Type     string // one of JaegerTypes
	Param    float64
	Endpoint string        // remote only; "" is jaeger-client's default, DefaultRemoteEndpoint (JAEGER_AGENT_HOST's port 5778 when set)
	Refresh  time.Duration // remote only; 0 is jaeger-client's default, a minute
	// Default reports that JAEGER_SAMPLER_TYPE is unset: const 1, the workshop's default.
	Default bool
}

// String describes the sampler in a few words, for the log.
func (c JaegerConfig) String() string {
	switch {
	case c.Default:
		return "const 1: every trace sampled (the workshop's default; " + EnvJaegerType + " chooses another)"
	case c.Type == "remote":
		ep, every := c.Endpoint, c.Refresh
		if ep == "" {
			ep = DefaultRemoteEndpoint
		}
		if every == 0 {
			every = DefaultPollingInterval
		}
		return fmt.Sprintf("remote from %s every %s, at %g until the first answer", ep, every, c.Param)
	}
	return fmt.Sprintf("%s %g", c.Type, c.Param)
}

// ParseJaeger reads the JAEGER_SAMPLER_* variables through getenv and checks them as
// jaeger-client does not. A value the services cannot honour is an error that names the
// variable and the values it takes.
func ParseJaeger(getenv func(string) string) (JaegerConfig, error) {
	typ := strings.ToLower(strings.TrimSpace(getenv(EnvJaegerType)))
	param := strings.TrimSpace(getenv(EnvJaegerParam))
	c := JaegerConfig{Type: typ}
	var err error
	switch typ {
	case "":
		if param != "" {
			return c, fmt.Errorf("%s=%q without %s: say which sampler it is for, one of %s (unset, every trace is sampled)",
				EnvJaegerParam, param, EnvJaegerType, strings.Join(JaegerTypes, ", "))
		}
		c.Type, c.Param, c.Default = "const", 1, true
	case "const":
		switch param {
		case "0":
			c.Param = 0
		case "1":
			c.Param = 1
		default:
			return c, fmt.Errorf("%s=%q for %s=const: it takes 1 (sample every trace) or 0 (none)", EnvJaegerParam, param, EnvJaegerType)
		}
	case "probabilistic":
		if c.Param, err = parseRate(param); err != nil {
			return c, fmt.Errorf("%s for %s=probabilistic: %w (the probability of sampling a trace)", EnvJaegerParam, EnvJaegerType, err)
		}
	case "ratelimiting":
		c.Param, err = strconv.ParseFloat(param, 64)
		if err != nil || math.IsNaN(c.Param) || math.IsInf(c.Param, 0) || c.Param < 0 {
			return c, fmt.Errorf("%s=%q for %s=ratelimiting: it takes the traces per second, a number of 0 or more", EnvJaegerParam, param, EnvJaegerType)
		}
	case "remote":
		c.Param = DefaultInitialRate
		if param != "" {
			if c.Param, err = parseRate(param); err != nil {
				return c, fmt.Errorf("%s for %s=remote: %w (the rate until the first answer)", EnvJaegerParam, EnvJaegerType, err)
			}
		}
	default:
		return c, fmt.Errorf("%s=%q: unknown sampler type; use one of %s", EnvJaegerType, getenv(EnvJaegerType), strings.Join(JaegerTypes, ", "))
	}
	if ep := strings.TrimSpace(getenv(EnvJaegerEndpoint)); ep != "" {
		if err := checkURL(ep); err != nil {
			return c, fmt.Errorf("%s: %w", EnvJaegerEndpoint, err)
		}
		c.Endpoint = ep
	}
	if c.Endpoint == "" && c.Type == "remote" {
		// jaeger-client's own fallback: the agent's host, at the agent's sampling port.
		if host := strings.TrimSpace(getenv(envJaegerAgentHost)); host != "" {
			c.Endpoint = "http://" + net.JoinHostPort(host, "5778") + "/sampling"
		}
	}
	if ri := strings.TrimSpace(getenv(EnvJaegerRefreshInterval)); ri != "" {
		d, err := time.ParseDuration(ri)
		if err != nil || d <= 0 {
			return c, fmt.Errorf("%s=%q: it takes a positive Go duration, such as 30s or 1m", EnvJaegerRefreshInterval, ri)
		}
		c.Refresh = d
	}
	return c, nil
}

// LogOTel checks OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG and logs, once, the
// sampler they choose: main calls it at start, before any service traces. An error
// names the variable and the values it takes: the command stops with it.
func LogOTel(logger *slog.Logger, getenv func(string) string) error {
	c, err := ParseOTel(getenv)
	if err != nil {
		return err
	}
	args := []any{"sampler", c.String()}
	if c.IgnoredArg != "" {
		args = append(args, "ignored", EnvOTelSamplerArg+"="+c.IgnoredArg+" ("+c.Name+" takes no argument)")
	}
	if !c.ParentBased() {
		args = append(args, "parent", "ignored: below an unsampled caller this service records spans whose root nobody has")
	}
	logger.Info("sampling", args...)
	return nil
}

// LogJaeger checks the JAEGER_SAMPLER_* variables and logs, once, the sampler they
// choose: main calls it at start. An error names the variable and the values it takes.
func LogJaeger(logger *slog.Logger, getenv func(string) string) error {
	c, err := ParseJaeger(getenv)
	if err != nil {
		return err
	}
	logger.Info("sampling", "sampler", c.String(), "parent", "followed: jaeger-client samples only at the root")
	return nil
}

// The strategy types of Jaeger's remote sampling protocol, by the numbers its thrift and
// protobuf definitions give them.
const (
	StrategyProbabilistic = 0
	StrategyRateLimiting  = 1
)

// StrategyType reads the strategyType of a sampling endpoint's answer, which Jaeger
// writes as a number (Jaeger v2, jaeger-agent: 0) or as a name (jaeger-client's own
// encoding: "PROBABILISTIC"). A type the protocol does not define is an error: a sampler
// that applied the answer's rates anyway would obey a strategy nobody can say it
// understood.
func StrategyType(raw json.RawMessage) (int, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return 0, errors.New("no strategyType")
	}
	if raw[0] == '"' {
		var name string
		if err := json.Unmarshal(raw, &name); err != nil {
			return 0, fmt.Errorf("strategyType %s: %w", raw, err)
		}
		switch strings.ToUpper(name) {
		case "PROBABILISTIC":
			return StrategyProbabilistic, nil
		case "RATE_LIMITING":
			return StrategyRateLimiting, nil
		}
		return 0, fmt.Errorf("unknown strategyType %s: want PROBABILISTIC or RATE_LIMITING (0 or 1)", raw)
	}
	var n int64
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, fmt.Errorf("strategyType %s is neither a name nor a whole number", raw)
	}
	if n != StrategyProbabilistic && n != StrategyRateLimiting {
		return 0, fmt.Errorf("unknown strategyType %d: want 0 (PROBABILISTIC) or 1 (RATE_LIMITING)", n)
	}
	return int(n), nil
}

// MaxStrategiesAnswer bounds how much of a sampling endpoint's answer FetchStrategies reads.
const MaxStrategiesAnswer = 1 << 20

// FetchStrategies asks a sampling endpoint (Jaeger's remote sampling protocol) for
// service's strategies, as jaeger-client's and jaegerremote's own fetchers do, with
// client's timeout: both worlds' remote samplers poll through it, so a poll is bounded
// and a failure reads the same in either. An answer other than 200 is an error quoting
// its start.
func FetchStrategies(client *http.Client, endpoint, service string) ([]byte, error) {
	resp, err := client.Get(endpoint + "?" + url.Values{"service": {service}}.Encode())
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxStrategiesAnswer))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %s: %.200s", endpoint, resp.Status, body)
	}
	return body, nil
}
