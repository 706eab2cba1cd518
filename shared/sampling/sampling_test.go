package sampling

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

// TestParseOTelRefuses: every value a service cannot honour is an error that names the
// variable and what it takes.
func TestParseOTelRefuses(t *testing.T) {
	for _, tc := range []struct{ sampler, arg, want string }{
		{"nope", "", "OTEL_TRACES_SAMPLER=\"nope\": unknown sampler; use one of always_on"},
		{"xray", "", "OTEL_TRACES_SAMPLER=xray"},
		{"traceidratio", "abc", "OTEL_TRACES_SAMPLER_ARG=\"abc\" for OTEL_TRACES_SAMPLER=traceidratio: \"abc\" is not a number from 0 to 1"},
		{"parentbased_traceidratio", "1.5", "is not a number from 0 to 1"},
		{"traceidratio", "-1", "is not a number from 0 to 1"},
		{"traceidratio", "NaN", "is not a number from 0 to 1"},
		{"jaeger_remote", "endpoint=localhost:5778", "endpoint: \"localhost:5778\" is not an http:// or https:// URL"},
		{"jaeger_remote", "endpoint=::nope", "is not a URL"},
		{"parentbased_jaeger_remote", "pollingIntervalMs=abc", "pollingIntervalMs=\"abc\" is not a positive number"},
		{"parentbased_jaeger_remote", "pollingIntervalMs=0", "is not a positive number"},
		{"jaeger_remote", "initialSamplingRate=1.5", "initialSamplingRate: \"1.5\" is not a number from 0 to 1"},
		{"jaeger_remote", "initialSamplingRate=-1", "initialSamplingRate"},
		{"jaeger_remote", "0.5", "\"0.5\" is not key=value"},
		{"jaeger_remote", "rate=0.5", "unknown key \"rate\""},
		{"jaeger_remote", "endpoint=http://a:1/s,endpoint=http://b:1/s", "endpoint given twice"},
	} {
		_, err := ParseOTel(env(EnvOTelSampler, tc.sampler, EnvOTelSamplerArg, tc.arg))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s=%s %s=%s: error %v, want one containing %q", EnvOTelSampler, tc.sampler, EnvOTelSamplerArg, tc.arg, err, tc.want)
		}
		if err != nil && tc.arg != "" && strings.Contains(tc.sampler, "jaeger_remote") && !strings.Contains(err.Error(), "endpoint=<http URL>,pollingIntervalMs=<ms>,initialSamplingRate=<0..1>") {
			t.Errorf("%s=%s: error %v does not say what the argument takes", EnvOTelSampler, tc.sampler, err)
		}
	}
}

func TestParseOTel(t *testing.T) {
	for _, tc := range []struct {
		sampler, arg string
		want         OTelConfig
	}{
		{"", "", OTelConfig{Name: "parentbased_always_on", Default: true}},
		{" Always_Off ", "", OTelConfig{Name: "always_off"}},
		{"parentbased_always_off", "0.3", OTelConfig{Name: "parentbased_always_off", IgnoredArg: "0.3"}},
		{"traceidratio", "", OTelConfig{Name: "traceidratio", Ratio: 1}},
		{"parentbased_traceidratio", "0.25", OTelConfig{Name: "parentbased_traceidratio", Ratio: 0.25}},
		{"jaeger_remote", "", OTelConfig{Name: "jaeger_remote", Endpoint: DefaultRemoteEndpoint, PollingInterval: time.Minute, InitialRate: 0.001}},
		{"parentbased_jaeger_remote", "endpoint=http://jaeger:5778/sampling, pollingIntervalMs=5000,initialSamplingRate=0.25",
			OTelConfig{Name: "parentbased_jaeger_remote", Endpoint: "http://jaeger:5778/sampling", PollingInterval: 5 * time.Second, InitialRate: 0.25}},
	} {
		got, err := ParseOTel(env(EnvOTelSampler, tc.sampler, EnvOTelSamplerArg, tc.arg))
		if err != nil || got != tc.want {
			t.Errorf("%q %q: got %+v, %v; want %+v", tc.sampler, tc.arg, got, err, tc.want)
		}
	}
}

func TestParseJaegerRefuses(t *testing.T) {
	for _, tc := range []struct{ typ, param, endpoint, refresh, want string }{
		{"nope", "1", "", "", "JAEGER_SAMPLER_TYPE=\"nope\": unknown sampler type; use one of const, probabilistic, ratelimiting, remote"},
		{"", "0.5", "", "", "JAEGER_SAMPLER_PARAM=\"0.5\" without JAEGER_SAMPLER_TYPE"},
		{"const", "", "", "", "JAEGER_SAMPLER_PARAM=\"\" for JAEGER_SAMPLER_TYPE=const: it takes 1"},
		{"const", "2", "", "", "it takes 1 (sample every trace) or 0 (none)"},
		{"const", "-1", "", "", "it takes 1"},
		{"probabilistic", "abc", "", "", "JAEGER_SAMPLER_PARAM for JAEGER_SAMPLER_TYPE=probabilistic: \"abc\" is not a number from 0 to 1"},
		{"probabilistic", "1.5", "", "", "is not a number from 0 to 1"},
		{"ratelimiting", "-1", "", "", "it takes the traces per second"},
		{"ratelimiting", "", "", "", "it takes the traces per second"},
		{"remote", "-1", "", "", "JAEGER_SAMPLER_PARAM for JAEGER_SAMPLER_TYPE=remote"},
		{"remote", "", "localhost:5778", "", "JAEGER_SAMPLING_ENDPOINT: \"localhost:5778\" is not an http:// or https:// URL"},
		{"remote", "", "", "abc", "JAEGER_SAMPLER_REFRESH_INTERVAL=\"abc\": it takes a positive Go duration"},
		{"remote", "", "", "-1s", "JAEGER_SAMPLER_REFRESH_INTERVAL"},
	} {
		_, err := ParseJaeger(env(EnvJaegerType, tc.typ, EnvJaegerParam, tc.param, EnvJaegerEndpoint, tc.endpoint, EnvJaegerRefreshInterval, tc.refresh))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want one containing %q", tc, err, tc.want)
		}
	}
}

func TestParseJaeger(t *testing.T) {
	for _, tc := range []struct {
		typ, param, endpoint, refresh string
		want                          JaegerConfig
	}{
		{"", "", "", "", JaegerConfig{Type: "const", Param: 1, Default: true}},
		{"const", "0", "", "", JaegerConfig{Type: "const", Param: 0}},
		{"probabilistic", "0.1", "", "", JaegerConfig{Type: "probabilistic", Param: 0.1}},
		{"ratelimiting", "2.5", "", "", JaegerConfig{Type: "ratelimiting", Param: 2.5}},
		{"remote", "", "", "", JaegerConfig{Type: "remote", Param: 0.001}},
		{"remote", "1", "http://jaeger:5778/sampling", "5s", JaegerConfig{Type: "remote", Param: 1, Endpoint: "http://jaeger:5778/sampling", Refresh: 5 * time.Second}},
		// jaeger-client asks the agent's host when no endpoint is given.
		{"remote", "", "", "", JaegerConfig{Type: "remote", Param: 0.001, Endpoint: "http://agent.local:5778/sampling"}},
	} {
		agent := ""
		if tc.want.Endpoint == "http://agent.local:5778/sampling" {
			agent = "agent.local"
		}
		got, err := ParseJaeger(env(EnvJaegerType, tc.typ, EnvJaegerParam, tc.param, EnvJaegerEndpoint, tc.endpoint, EnvJaegerRefreshInterval, tc.refresh, "JAEGER_AGENT_HOST", agent))
		if err != nil || got != tc.want {
			t.Errorf("%+v: got %+v, %v; want %+v", tc, got, err, tc.want)
		}
	}
}

// TestLogOnce: the workshop's default is said in one line, in both worlds.
func TestLogOnce(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	if err := LogOTel(logger, env()); err != nil {
		t.Fatal(err)
	}
	if err := LogJaeger(logger, env()); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.Count(out, "\n") != 2 || !strings.Contains(out, "parentbased_always_on: every trace sampled (the workshop's default") ||
		!strings.Contains(out, "const 1: every trace sampled (the workshop's default") {
		t.Errorf("log:\n%s\nwant one line per world saying every trace is sampled by default", out)
	}
	buf.Reset()
	if err := LogOTel(logger, env(EnvOTelSampler, "always_on")); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "spans whose root nobody has") {
		t.Errorf("always_on logged %q, want the warning about orphans", buf.String())
	}
	if err := LogOTel(logger, env(EnvOTelSampler, "bogus")); err == nil {
		t.Error("LogOTel accepted OTEL_TRACES_SAMPLER=bogus")
	}
}
