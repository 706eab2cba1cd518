package legacyremote

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uber/jaeger-client-go"
	"github.com/uber/jaeger-client-go/config"
	"github.com/uber/jaeger-client-go/thrift-gen/sampling"

	"github.com/ot2otel/workshop/shared/telemetry/jaegerlog"
)

// Answers of sampling endpoints, for one service with a per-operation rule: every
// POST /checkout, no GET /healthz, nothing else.
const (
	// jaegerV2 is what Jaeger v2.13's remote_sampling extension answers (captured from
	// the binary `make jaeger` builds, at /sampling and at /): the strategy type as a
	// number, as jaeger-agent served it at / (its /sampling gave the name).
	jaegerV2 = `{"strategyType":0,"probabilisticSampling":{"samplingRate":0},"operationSampling":{"defaultSamplingProbability":0,"defaultLowerBoundTracesPerSecond":0,"perOperationStrategies":[{"operation":"POST /checkout","probabilisticSampling":{"samplingRate":1}},{"operation":"GET /healthz","probabilisticSampling":{"samplingRate":0}}],"defaultUpperBoundTracesPerSecond":0}}`
	// jaegerClient is the same strategy as jaeger-client's own thrift types encode it.
	jaegerClient = `{"strategyType":"PROBABILISTIC","probabilisticSampling":{"samplingRate":0},"operationSampling":{"defaultSamplingProbability":0,"defaultLowerBoundTracesPerSecond":0,"perOperationStrategies":[{"operation":"POST /checkout","probabilisticSampling":{"samplingRate":1}},{"operation":"GET /healthz","probabilisticSampling":{"samplingRate":0}}]}}`
	// thrift092 is the older agent's form, with nulls.
	thrift092 = `{"strategyType":1,"probabilisticSampling":null,"rateLimitingSampling":{"maxTracesPerSecond":5},"operationSampling":null}`
)

// TestParserReadsBothEncodings: a number or a name, the same strategy.
func TestParserReadsBothEncodings(t *testing.T) {
	for _, body := range []string{jaegerV2, jaegerClient} {
		got, err := Parser{}.Parse([]byte(body))
		if err != nil {
			t.Fatalf("Parse(%s): %v", body, err)
		}
		r := got.(*sampling.SamplingStrategyResponse)
		ops := r.GetOperationSampling().GetPerOperationStrategies()
		if r.StrategyType != sampling.SamplingStrategyType_PROBABILISTIC || r.GetProbabilisticSampling().GetSamplingRate() != 0 ||
			len(ops) != 2 || ops[0].Operation != "POST /checkout" || ops[0].ProbabilisticSampling.SamplingRate != 1 {
			t.Errorf("Parse(%s) = %+v, want the per-operation strategy", body, r)
		}
	}
	got, err := Parser{}.Parse([]byte(thrift092))
	if err != nil {
		t.Fatalf("Parse(%s): %v", thrift092, err)
	}
	if r := got.(*sampling.SamplingStrategyResponse); r.StrategyType != sampling.SamplingStrategyType_RATE_LIMITING ||
		r.GetRateLimitingSampling().GetMaxTracesPerSecond() != 5 || r.ProbabilisticSampling != nil || r.OperationSampling != nil {
		t.Errorf("Parse(%s) = %+v, want rate limiting at 5 per second", thrift092, r)
	}
}

// TestParserRefuses: an answer that is not a strategy jaeger-client can apply is an
// error, which leaves the sampler as it was.
func TestParserRefuses(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{`{"strategyType": `, "not a sampling strategy"},
		{`<html>502 Bad Gateway</html>`, "not a sampling strategy"},
		{`{"strategyType":7,"probabilisticSampling":{"samplingRate":1}}`, "unknown strategyType 7"},
		{`{"strategyType":"BOGUS","probabilisticSampling":{"samplingRate":1}}`, `unknown strategyType "BOGUS"`},
		{`{"strategyType":0.5}`, "neither a name nor a whole number"},
		{`{"probabilisticSampling":{"samplingRate":1}}`, "no strategyType"},
		{`{"strategyType":0}`, "PROBABILISTIC without probabilisticSampling"},
		{`{"strategyType":1,"probabilisticSampling":{"samplingRate":1}}`, "RATE_LIMITING without rateLimitingSampling"},
	} {
		if _, err := (Parser{}).Parse([]byte(tc.body)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%s): %v, want an error containing %q", tc.body, err, tc.want)
		}
	}
}

// endpoint serves a sampling answer that can change, and counts the polls.
type endpoint struct {
	URL    string
	answer atomic.Value // string; "" answers 503
	polls  atomic.Int64
}

func serve(t *testing.T, answer string) *endpoint {
	e := &endpoint{}
	e.answer.Store(answer)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer e.polls.Add(1)
		a := e.answer.Load().(string)
		if a == "" {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, a)
	}))
	t.Cleanup(srv.Close)
	e.URL = srv.URL + "/sampling"
	return e
}

// polled waits until n more polls have been answered: the answer to the first of them
// has then been applied.
func (e *endpoint) polled(t *testing.T, n int64) {
	t.Helper()
	from := e.polls.Load()
	for deadline := time.Now().Add(10 * time.Second); e.polls.Load() < from+n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the sampler polled %d times in 10s, want %d", e.polls.Load()-from, n)
		}
	}
}

// decide starts and finishes a root span named op and reports whether it was sampled.
func decide(tracer *jaeger.Tracer, op string) bool {
	span := tracer.StartSpan(op)
	defer span.Finish()
	return span.Context().(jaeger.SpanContext).IsSampled()
}

// remoteTracer is a jaeger-client tracer on the remote sampler of e, polling every 5 ms,
// at initial rate 0, with opts; its log goes to logs.
func remoteTracer(t *testing.T, e *endpoint, logs *syncBuffer, opts ...config.Option) *jaeger.Tracer {
	t.Helper()
	t.Setenv("JAEGER_SAMPLER_TYPE", "remote")
	t.Setenv("JAEGER_SAMPLER_PARAM", "0")
	t.Setenv("JAEGER_SAMPLING_ENDPOINT", e.URL)
	t.Setenv("JAEGER_SAMPLER_REFRESH_INTERVAL", "5ms")
	cfg, err := config.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	cfg.ServiceName = "gateway"
	cfg.Reporter.LogSpans = false
	l := jaegerlog.New(slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})))
	tracer, closer, err := cfg.NewTracer(append([]config.Option{config.Logger(l), config.Reporter(jaeger.NewNullReporter())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closer.Close() })
	return tracer.(*jaeger.Tracer)
}

// TestTheTrap pins the trap this package removes: jaeger-client as its config builds
// it, against Jaeger v2's answer, never leaves its initial rate, and says nothing.
func TestTheTrap(t *testing.T) {
	e := serve(t, jaegerV2)
	var logs syncBuffer
	tracer := remoteTracer(t, e, &logs)
	e.polled(t, 5)
	if decide(tracer, "POST /checkout") {
		t.Error("jaeger-client's own parser applied Jaeger v2's numeric strategyType: the trap is gone, and this package, " +
			"MIGRATION.md's sampling section and the e2e test's premise should be revisited")
	}
	if logs.Len() != 0 {
		t.Errorf("jaeger-client's remote sampler logged %q: it was expected to have no logger", logs.String())
	}
}

// TestOptionAppliesJaegerV2Strategies: with Option, the same tracer reads Jaeger v2's
// answer and obeys its per-operation rule.
func TestOptionAppliesJaegerV2Strategies(t *testing.T) {
	for _, answer := range []string{jaegerV2, jaegerClient} {
		e := serve(t, answer)
		var logs syncBuffer
		tracer := remoteTracer(t, e, &logs, Option("gateway", nil))
		e.polled(t, 2)
		if !decide(tracer, "POST /checkout") {
			t.Errorf("POST /checkout not sampled under %s: the per-operation rate 1 was not applied; log:\n%s", answer, logs.String())
		}
		// jaeger-client grants an operation's first trace whatever its rate (its lower
		// bound): at most one of these.
		n := 0
		for range 20 {
			if decide(tracer, "GET /healthz") {
				n++
			}
		}
		if n > 1 {
			t.Errorf("GET /healthz sampled %d times in 20 at rate 0", n)
		}
	}
}

// TestOptionSaysAnOutageOnce: an endpoint that is down, then answers garbage, then an
// unknown strategy type: the sampler keeps its strategy (here the initial rate 0), no
// decision waits, and the outage is said once, through the tracer's logger; a good
// answer ends it, and says so.
func TestOptionSaysAnOutageOnce(t *testing.T) {
	e := serve(t, "")
	var logs syncBuffer
	logger := jaegerlog.New(slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo})))
	tracer := remoteTracer(t, e, &logs, Option("gateway", logger))
	for _, bad := range []string{"", `{"strategyType": `, `{"strategyType":7,"probabilisticSampling":{"samplingRate":1}}`} {
		e.answer.Store(bad)
		e.polled(t, 5)
		if decide(tracer, "POST /checkout") {
			t.Errorf("with the endpoint answering %q, a span was sampled: the initial rate 0 must hold", bad)
		}
	}
	if n := strings.Count(logs.String(), "remote sampler: no strategy from JAEGER_SAMPLING_ENDPOINT"); n != 1 {
		t.Errorf("fifteen failed polls were said %d times, want once; log:\n%s", n, logs.String())
	}
	e.answer.Store(jaegerV2)
	e.polled(t, 2)
	if !decide(tracer, "POST /checkout") {
		t.Errorf("POST /checkout not sampled once the endpoint answers; log:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "the sampling endpoint answers again") {
		t.Errorf("the recovery was not said; log:\n%s", logs.String())
	}
}

// TestOptionSlowEndpoint: a poll that does not answer never holds a decision up.
func TestOptionSlowEndpoint(t *testing.T) {
	hold := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hold:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(hold)
	e := &endpoint{URL: srv.URL + "/sampling"}
	var logs syncBuffer
	tracer := remoteTracer(t, e, &logs, Option("gateway", nil))
	done := make(chan bool)
	go func() { done <- decide(tracer, "POST /checkout") }()
	select {
	case got := <-done:
		if got {
			t.Error("sampled at initial rate 0")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a sampling decision waited for a poll that has not answered")
	}
}

// TestOptionLeavesOtherSamplers: under any other sampler Option changes nothing.
func TestOptionLeavesOtherSamplers(t *testing.T) {
	t.Setenv("JAEGER_SAMPLER_TYPE", "const")
	t.Setenv("JAEGER_SAMPLER_PARAM", "1")
	cfg, err := config.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	cfg.ServiceName = "gateway"
	tracer, closer, err := cfg.NewTracer(config.Reporter(jaeger.NewNullReporter()), Option("gateway", nil))
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	if !decide(tracer.(*jaeger.Tracer), "x") {
		t.Error("const 1 did not sample: Option replaced the sampler")
	}
}

// syncBuffer is a bytes.Buffer safe for the sampler's goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Len()
}
