package sampling

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
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
	} {
		got, err := ParseJaeger(env(EnvJaegerType, tc.typ, EnvJaegerParam, tc.param, EnvJaegerEndpoint, tc.endpoint, EnvJaegerRefreshInterval, tc.refresh))
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

// TestOTelParentBased: the parentbased_ samplers follow the caller's flag whatever
// their root rule; the others do not.
func TestOTelParentBased(t *testing.T) {
	sampled := parent(true)
	unsampled := parent(false)
	for _, tc := range []struct {
		name                 string
		root, under1, under0 bool
	}{
		{"parentbased_always_off", false, true, false},
		{"parentbased_always_on", true, true, false},
		{"always_on", true, true, true},
		{"always_off", false, false, false},
	} {
		s, err := OTel("svc", env(EnvOTelSampler, tc.name))
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			ctx  context.Context
			want bool
			what string
		}{{context.Background(), tc.root, "a root"}, {sampled, tc.under1, "below a sampled parent"}, {unsampled, tc.under0, "below an unsampled parent"}} {
			if got := decide(s, c.ctx, "op"); got != c.want {
				t.Errorf("%s %s: sampled %v, want %v", tc.name, c.what, got, c.want)
			}
		}
		s.Close()
	}
}

func parent(sampled bool) context.Context {
	var flags trace.TraceFlags
	if sampled {
		flags = trace.FlagsSampled
	}
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}, TraceFlags: flags, Remote: true})
	return trace.ContextWithRemoteSpanContext(context.Background(), sc)
}

var nextID atomic.Uint64

func decide(s sdktrace.Sampler, ctx context.Context, name string) bool {
	var id trace.TraceID
	n := nextID.Add(1)
	for i := range 8 {
		id[8+i] = byte(n >> (8 * i))
	}
	id[0] = 0xff // traceidratio reads the low bytes; keep the ID valid and distinct
	r := s.ShouldSample(sdktrace.SamplingParameters{ParentContext: ctx, TraceID: id, Name: name, Kind: trace.SpanKindServer})
	return r.Decision == sdktrace.RecordAndSample
}

// handled collects what reaches OpenTelemetry's error handler.
type handled struct {
	mu   sync.Mutex
	errs []string
}

func (h *handled) Handle(err error) { h.mu.Lock(); h.errs = append(h.errs, err.Error()); h.mu.Unlock() }
func (h *handled) all() []string    { h.mu.Lock(); defer h.mu.Unlock(); return append([]string(nil), h.errs...) }

// strategies is a sampling endpoint of the test's own: it answers with body, counts
// the polls, and waits on hold (if any) before answering.
type strategies struct {
	polls atomic.Int64
	body  atomic.Value // string
	hold  chan struct{}
}

func serveStrategies(t *testing.T, body string) (*strategies, string) {
	s := &strategies{}
	s.body.Store(body)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("service") != "checkout" {
			http.Error(w, "want service=checkout", http.StatusBadRequest)
			return
		}
		if s.hold != nil {
			select {
			case <-s.hold:
			case <-r.Context().Done():
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(s.body.Load().(string)))
		s.polls.Add(1)
	}))
	t.Cleanup(srv.Close)
	return s, srv.URL + "/sampling"
}

// remote returns checkout's parentbased_jaeger_remote sampler against endpoint, polling
// every 10 ms, at initial until the first answer.
func remote(t *testing.T, endpoint, initial string) *Sampler {
	t.Helper()
	s, err := OTel("checkout", env(EnvOTelSampler, "parentbased_jaeger_remote",
		EnvOTelSamplerArg, "endpoint="+endpoint+",pollingIntervalMs=10,initialSamplingRate="+initial))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// waitFor polls cond for up to ten seconds (a slow, shared machine).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

const perOperation = `{"strategyType":"PROBABILISTIC","probabilisticSampling":{"samplingRate":0},
 "operationSampling":{"defaultSamplingProbability":0,"defaultLowerBoundTracesPerSecond":0,
  "perOperationStrategies":[
   {"operation":"POST /checkout","probabilisticSampling":{"samplingRate":1}},
   {"operation":"GET /healthz","probabilisticSampling":{"samplingRate":0}}]}}`

// TestRemotePerOperation: the strategies an endpoint serves replace the initial rate,
// operation by operation; a caller's flag still decides below it.
func TestRemotePerOperation(t *testing.T) {
	srv, endpoint := serveStrategies(t, perOperation)
	s := remote(t, endpoint, "0")
	waitFor(t, "the first poll", func() bool { return srv.polls.Load() >= 2 })
	if !decide(s, context.Background(), "POST /checkout") {
		t.Error("POST /checkout not sampled: the per-operation rate 1 was not applied")
	}
	// Rate 0, but the guaranteed throughput's lower bound (0 per second here) grants
	// nothing: pitfall 15 is jaeger-client's, whose lower bound is never 0.
	for range 20 {
		if decide(s, context.Background(), "GET /healthz") {
			t.Fatal("GET /healthz sampled at rate 0")
		}
	}
	if !decide(s, parent(true), "GET /healthz") {
		t.Error("below a sampled caller GET /healthz was dropped: parentbased_ must follow the caller")
	}
}

// TestRemoteEndpointFails: an endpoint that is down, slow, answers garbage or a strategy
// the sampler does not know leaves the initial rate in force; each outage is said once
// (and again after a recovery); no decision waits for a poll.
func TestRemoteEndpointFails(t *testing.T) {
	h := &handled{}
	otel.SetErrorHandler(h)
	t.Cleanup(func() { otel.SetErrorHandler(otel.ErrorHandlerFunc(func(error) {})) })

	for _, tc := range []struct{ name, body, want string }{
		{"garbage", `{"strategyType": `, "failed to parse sampling strategy response"},
		{"unknown type", `{"strategyType":"BOGUS"}`, "failed to parse sampling strategy response"},
		{"no strategy", `{}`, "failed to handle sampling strategy response"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(h.all())
			srv, endpoint := serveStrategies(t, tc.body)
			s := remote(t, endpoint, "1")
			waitFor(t, "five polls", func() bool { return srv.polls.Load() >= 5 })
			if !decide(s, context.Background(), "POST /checkout") {
				t.Error("not sampled: the initial rate 1 must stay in force while the endpoint answers what the sampler cannot use")
			}
			got := h.all()[before:]
			if len(got) != 1 || !strings.Contains(got[0], tc.want) || !strings.Contains(got[0], "checkout: jaeger_remote sampler") ||
				!strings.Contains(got[0], "sampling as before (at first the initial rate) until it answers") {
				t.Errorf("after five bad answers the error handler got %q, want one error containing %q", got, tc.want)
			}
			// The endpoint recovers, then fails again: the second outage is said too.
			srv.body.Store(perOperation)
			waitFor(t, "the strategies to apply", func() bool { return !decide(s, context.Background(), "other") })
			srv.body.Store(tc.body)
			waitFor(t, "the second outage to be said", func() bool { return len(h.all()) == before+2 })
		})
	}

	t.Run("down", func(t *testing.T) {
		before := len(h.all())
		srv := httptest.NewServer(http.NotFoundHandler())
		endpoint := srv.URL + "/sampling"
		srv.Close()
		s := remote(t, endpoint, "1")
		waitFor(t, "the outage to be said", func() bool { return len(h.all()) > before })
		time.Sleep(100 * time.Millisecond) // about ten more polls, which must not be said
		if got := h.all()[before:]; len(got) != 1 || !strings.Contains(got[0], "failed to fetch sampling strategy") {
			t.Errorf("with the endpoint down the error handler got %q, want one error", got)
		}
		if !decide(s, context.Background(), "POST /checkout") {
			t.Error("not sampled: the initial rate 1 must stay in force while the endpoint is down")
		}
	})

	t.Run("slow", func(t *testing.T) {
		srv, endpoint := serveStrategies(t, perOperation)
		srv.hold = make(chan struct{})
		defer close(srv.hold)
		s := remote(t, endpoint, "1")
		done := make(chan bool)
		go func() { done <- decide(s, context.Background(), "other") }()
		select {
		case got := <-done:
			if !got {
				t.Error("not sampled: until the first answer the initial rate 1 is in force")
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a sampling decision waited for a poll that has not answered")
		}
	})
}

// TestBindCloses: shutting the provider down stops the remote sampler's polling.
func TestBindCloses(t *testing.T) {
	srv, endpoint := serveStrategies(t, perOperation)
	s := remote(t, endpoint, "1")
	tp := s.Bind(sdktrace.NewTracerProvider(sdktrace.WithSampler(s)))
	waitFor(t, "a poll", func() bool { return srv.polls.Load() >= 1 })
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	n := srv.polls.Load()
	time.Sleep(100 * time.Millisecond)
	if m := srv.polls.Load(); m > n+1 { // one poll may have been under way
		t.Errorf("%d polls after Shutdown: the sampler still polls", m-n)
	}
	if other, _ := OTel("x", env(EnvOTelSampler, "always_on")); other.Bind(sdktrace.NewTracerProvider()) == nil {
		t.Error("Bind of a local sampler returned nil")
	}
}
