package workshoptest

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ot2otel/workshop/shared/fleet"
	"github.com/ot2otel/workshop/shared/tracecheck"
)

// SamplingOff are the variables under which no service samples a trace of its own
// accord but every one follows the flag it receives: parent-based with the root
// decision off (OTEL_TRACES_SAMPLER), and jaeger-client's const 0, which only decides
// for a span without a parent. So an order with no caller context is unsampled
// everywhere, and one a caller sends sampled is sampled everywhere: the test proves that
// the services follow the flag rather than a rule of their own.
var SamplingOff = map[string]string{
	"OTEL_TRACES_SAMPLER": "parentbased_always_off", "OTEL_TRACES_SAMPLER_ARG": "",
	"JAEGER_SAMPLER_TYPE": "const", "JAEGER_SAMPLER_PARAM": "0",
}

// samplingHint is what to look at when a service does not follow the trace's decision.
const samplingHint = "Every service but the root follows the sampled flag it receives: OpenTelemetry services take " +
	"their sampler from otelenv.SamplerFromEnv (tracing.go, newTracerProvider: sdktrace.WithSampler), which is " +
	"parent-based unless OTEL_TRACES_SAMPLER says always_on, always_off, traceidratio or jaeger_remote; " +
	"jaeger-client decides only at the root. A sampler that ignores its parent records spans whose root was never " +
	"recorded (orphans), and one that samples a trace its caller did not drops them"

// CheckSampling checks that one decision is made per trace, at the root, and honoured
// by every service over HTTP and AMQP: with SamplingOff, an order that comes with no
// trace context is still placed and reserved, carries its context on every wire with
// the sampled flag off, answers with a traceresponse whose flags are 00, and leaves no
// span in any service; an order whose caller sends a sampled context is one whole
// trace, want.
func CheckSampling(t *testing.T, run fleet.RunFunc, s EdgeStep, collect func(t *testing.T) (map[string]string, func() []tracecheck.Span),
	want func(env map[string]string, orderID string) OrderTrace, todo string) {
	t.Helper()
	checkSampling(t, run, s, collect, want, false, todo)
}

// CheckTrustedFrontEnd is CheckSampling for a gateway behind the fleet's own front end
// (GATEWAY_CALLER_SAMPLING=trust): the unsampled order comes with the front end's
// context, flag off, and that decision stands in every service.
func CheckTrustedFrontEnd(t *testing.T, run fleet.RunFunc, s EdgeStep, collect func(t *testing.T) (map[string]string, func() []tracecheck.Span),
	want func(env map[string]string, orderID string) OrderTrace, todo string) {
	t.Helper()
	checkSampling(t, run, s, collect, want, true, todo)
}

func checkSampling(t *testing.T, run fleet.RunFunc, s EdgeStep, collect func(t *testing.T) (map[string]string, func() []tracecheck.Span),
	want func(env map[string]string, orderID string) OrderTrace, trust bool, todo string) {
	t.Helper()
	_, received := collect(t)
	for k, v := range SamplingOff {
		t.Setenv(k, v)
	}
	seen := newWireLog(t)
	env := map[string]string{"CHECKOUT_URL": seen.URL}
	if trust {
		env["GATEWAY_CALLER_SAMPLING"] = "trust"
	}
	f := Start(t, run, env)
	seen.watch(t, f)

	place := func(id string, h http.Header) fleet.Response {
		t.Helper()
		h.Set("X-Request-ID", id)
		resp, err := f.Fleet.PlaceOrder(context.Background(), DemoOrder(), h)
		if err != nil || resp.Status != http.StatusAccepted {
			t.Fatalf("POST /checkout (%s): %v %d %s, want 202: an unsampled order is an order like any other", id, err, resp.Status, resp.Body)
		}
		return resp
	}
	// wire checks that the context of the order id carries trace with the flag sampled.
	wire := func(id, trace string, sampled bool) {
		t.Helper()
		check := func(where string, h http.Header, format string) {
			gotID, gotSampled, ok := wireContext(h, format)
			switch {
			case !ok || gotID != trace:
				t.Errorf("%s carries %s %q, want trace %s: an unsampled trace's context still crosses every wire, "+
					"with its flag off, so that the services after it do not start traces of their own.\n"+
					"(If the trace context does not get through at all, sampled or not, that is the exercise: look at %s.)",
					where, format, h.Get(format), trace, todo)
			case gotSampled != sampled:
				t.Errorf("%s carries %s %q: sampled=%v, want %v.\n%s", where, format, h.Get(format), gotSampled, sampled, samplingHint)
			}
		}
		check("the gateway's request to checkout", seen.wait(t, "http", id), s.HTTPFormat)
		if s.AMQPFormat != "" {
			if h, ok := seen.waitAMQP(t, id); ok {
				check("the message checkout published", h, s.AMQPFormat)
			}
		}
	}

	callerContext := func(traceID, flags string) http.Header {
		h := http.Header{}
		if s.OTel {
			h.Set("traceparent", "00-"+traceID+"-"+edgeSpanID+"-"+flags)
		} else {
			h.Set("uber-trace-id", traceID+":"+edgeSpanID+":0:"+strings.TrimPrefix(flags, "0"))
		}
		return h
	}

	// The root does not sample: no caller context; or, behind a trusted front end, the
	// front end's context with the flag off.
	first := http.Header{}
	if trust {
		first = callerContext(trustedTraceID, "00")
	}
	off := place("sampling-off", first)
	m := TraceResponseFormat.FindStringSubmatch(off.Header.Get("traceresponse"))
	if m == nil || m[3] != "00" || (trust && m[1] != trustedTraceID) {
		hint := "the caller learns its trace ID, and that it was not sampled"
		if trust {
			hint = "with GATEWAY_CALLER_SAMPLING=trust the front end's unsampled trace " + trustedTraceID + " stands: " +
				"edge.Guard leaves its flag alone (edge.LoadConfig reads the setting, main hands it to edge.Guard)"
		}
		t.Errorf("the unsampled order answered traceresponse %q, want 00-<trace id>-<span id>-00: %s", off.Header.Get("traceresponse"), hint)
	}
	f.WaitReserved(DemoSKU, 2)
	unsampled := ""
	if m != nil {
		unsampled = m[1]
		wire("sampling-off", unsampled, false)
	}

	// A caller that sampled its trace: every service follows.
	on := place("sampling-on", callerContext(samplingTraceID, "01"))
	f.WaitReserved(DemoSKU, 4)
	wire("sampling-on", samplingTraceID, true)
	f.Stop() // flushes every service's spans

	spans := received()
	var stray []string
	for _, sp := range spans {
		if sp.TraceID != samplingTraceID {
			what := "a trace of its own"
			if sp.TraceID == unsampled {
				what = "the unsampled order's trace"
			}
			stray = append(stray, fmt.Sprintf("%s %s %q in %s (trace %s, parent %q)", sp.Service, sp.Kind, sp.Name, what, sp.TraceID, sp.ParentID))
		}
	}
	if len(stray) > 0 {
		t.Errorf("with %s, of an order the root did not sample and one its caller sampled, the services recorded "+
			"%d span(s) outside the sampled trace %s, want 0:\n  %s\n%s", formatEnv(SamplingOff), len(stray), samplingTraceID,
			strings.Join(stray, "\n  "), samplingHint)
	}
	w := want(f.Env, on.OrderID())
	w.Continuous = false // the unsampled order's spans, if any, were reported above
	sampled := onlyTrace(spans, samplingTraceID)
	for _, service := range hopServices(w.Spans) {
		if !slices.ContainsFunc(sampled, func(sp tracecheck.Span) bool { return sp.Service == service }) {
			t.Errorf("%s recorded no span of the order its caller sampled (trace %s): it ignores the sampled flag it "+
				"receives and decides on its own (with %s, never).\n%s", service, samplingTraceID, formatEnv(SamplingOff), samplingHint)
		}
	}
	if t.Failed() {
		t.Logf("the spans received:\n%s", tracecheck.String(spans))
		return
	}
	CheckOrderTrace(t, sampled, on, w)
}

// hopServices lists the services of hops, each once, in order.
func hopServices(hops []tracecheck.Hop) []string {
	var out []string
	for _, h := range hops {
		if !slices.Contains(out, h.Service) {
			out = append(out, h.Service)
		}
	}
	return out
}

// samplingTraceID is the trace a caller of CheckSampling sampled; trustedTraceID the
// one a trusted front end did not.
const (
	samplingTraceID = "5bf92f3577b34da6a3ce929d0e0e4737"
	trustedTraceID  = "6bf92f3577b34da6a3ce929d0e0e4738"
)

// wireContext reads the trace ID and the sampled flag of a trace header.
func wireContext(h http.Header, format string) (traceID string, sampled, ok bool) {
	v := h.Get(format)
	if format == "traceparent" {
		p := strings.Split(v, "-")
		if len(p) != 4 || len(p[3]) != 2 {
			return "", false, false
		}
		return p[1], p[3][1]&1 == 1, true
	}
	p := strings.Split(v, ":")
	if len(p) != 4 || p[3] == "" {
		return "", false, false
	}
	flags := p[3][len(p[3])-1]
	return strings.Repeat("0", max(32-len(p[0]), 0)) + p[0], (flags-'0')&1 == 1, true
}

func onlyTrace(spans []tracecheck.Span, traceID string) []tracecheck.Span {
	var out []tracecheck.Span
	for _, s := range spans {
		if s.TraceID == traceID {
			out = append(out, s)
		}
	}
	return out
}

func formatEnv(env map[string]string) string {
	var b []string
	for _, k := range []string{"OTEL_TRACES_SAMPLER", "JAEGER_SAMPLER_TYPE", "JAEGER_SAMPLER_PARAM"} {
		b = append(b, k+"="+env[k])
	}
	return strings.Join(b, " ")
}

// Sampling runs the sampling checks of a traced step: OneDecisionPerTrace
// (CheckSampling), TrustedFrontEnd (CheckTrustedFrontEnd) and Remote
// (CheckRemoteSampling).
//
// todo names what to look at when the trace breaks or no service samples as its sampling
// variables say: in a step's starting code, the exercise.
func Sampling(t *testing.T, run fleet.RunFunc, s EdgeStep, collect func(t *testing.T) (map[string]string, func() []tracecheck.Span),
	want func(env map[string]string, orderID string) OrderTrace, todo string) {
	t.Run("OneDecisionPerTrace", func(t *testing.T) { CheckSampling(t, run, s, collect, want, todo) })
	t.Run("TrustedFrontEnd", func(t *testing.T) { CheckTrustedFrontEnd(t, run, s, collect, want, todo) })
	t.Run("Remote", func(t *testing.T) { CheckRemoteSampling(t, run, collect, want, todo) })
	t.Run("BadValuesRefused", func(t *testing.T) { CheckSamplerRefused(t, run, s.OTel) })
}

// CheckSamplerRefused checks that the command stops at start, with an error naming the
// variable and the values it takes, when a sampling variable of the gateway's world
// (OpenTelemetry's when otel) asks for what no service can honour.
func CheckSamplerRefused(t *testing.T, run fleet.RunFunc, otel bool) {
	t.Helper()
	type refused struct {
		env map[string]string
		bad string // the variable the error must name
	}
	cases := []refused{
		{map[string]string{"JAEGER_SAMPLER_TYPE": "probabilistic", "JAEGER_SAMPLER_PARAM": "1.5"}, "JAEGER_SAMPLER_PARAM"},
		{map[string]string{"JAEGER_SAMPLER_TYPE": "remote", "JAEGER_SAMPLING_ENDPOINT": "localhost:5778"}, "JAEGER_SAMPLING_ENDPOINT"},
		{map[string]string{"JAEGER_SAMPLER_TYPE": "nope"}, "JAEGER_SAMPLER_TYPE"},
	}
	if otel {
		cases = []refused{
			{map[string]string{"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "abc"}, "OTEL_TRACES_SAMPLER_ARG"},
			{map[string]string{"OTEL_TRACES_SAMPLER": "parentbased_jaeger_remote", "OTEL_TRACES_SAMPLER_ARG": "endpoint=localhost:5778"}, "OTEL_TRACES_SAMPLER_ARG"},
			{map[string]string{"OTEL_TRACES_SAMPLER": "nope"}, "OTEL_TRACES_SAMPLER"},
		}
	}
	// Addresses, an exchange and a queue of its own, and a few seconds: a shop that does not
	// refuse serves until the context ends, and must meet nothing it did not choose.
	suffix := fmt.Sprintf("%x", rand.Uint64())
	own := map[string]string{"AMQP_EXCHANGE": "ws-refused-" + suffix, "AMQP_QUEUE": "ws-stock-refused-" + suffix}
	// Distinct addresses: step 07 refuses a metrics address that is a service's.
	for _, k := range []string{"GATEWAY_ADDR", "CHECKOUT_ADDR", "STOCK_ADDR", "GATEWAY_METRICS_ADDR", "CHECKOUT_METRICS_ADDR", "STOCK_METRICS_ADDR"} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("a free port: %v", err)
		}
		own[k] = ln.Addr().String()
		defer ln.Close() // held until the cases ran, so no two keys get one port
	}
	for _, c := range cases {
		var out strings.Builder
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := run(ctx, []string{"shop", "all"}, func(k string) string {
			if v, ok := c.env[k]; ok {
				return v
			}
			return own[k]
		}, &out)
		cancel()
		if err == nil || !strings.Contains(err.Error(), c.bad) {
			t.Errorf("with %v: %v, want the shop to stop at start with an error naming %s (sampling.LogOTel or "+
				"sampling.LogJaeger in main, after the logger): a sampling value no service can honour is never a silent fallback",
				c.env, err, c.bad)
		}
	}
}

// Strategies are answers of a sampling endpoint (Jaeger's remote sampling protocol, as
// Jaeger v2's remote_sampling extension serves it at every path: the strategy type is a
// number, which jaeger-client's own parser rejects; see shared/sampling/legacyremote).
const (
	// StrategyNone samples no trace, with no per-operation rule: so no lower bound that
	// would grant an operation's first trace (jaeger-client's guaranteed throughput).
	StrategyNone = `{"strategyType":0,"probabilisticSampling":{"samplingRate":0}}`
	// StrategyCheckout samples every POST /checkout, and nothing else but what the
	// lower bound grants.
	StrategyCheckout = `{"strategyType":0,"probabilisticSampling":{"samplingRate":0},
 "operationSampling":{"defaultSamplingProbability":0,"defaultLowerBoundTracesPerSecond":0,
  "perOperationStrategies":[
   {"operation":"POST /checkout","probabilisticSampling":{"samplingRate":1}},
   {"operation":"GET /healthz","probabilisticSampling":{"samplingRate":0}}]}}`
)

// SamplingEndpoint is a sampling endpoint of a test's own: it serves Strategy to every
// service, and counts each service's polls.
type SamplingEndpoint struct {
	URL      string
	strategy atomic.Value // string
	mu       sync.Mutex
	polls    map[string]int
}

// NewSamplingEndpoint starts a sampling endpoint that answers strategy.
func NewSamplingEndpoint(t testing.TB, strategy string) *SamplingEndpoint {
	e := &SamplingEndpoint{polls: map[string]int{}}
	e.strategy.Store(strategy)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, e.strategy.Load().(string))
		e.mu.Lock()
		e.polls[r.URL.Query().Get("service")]++
		e.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	e.URL = srv.URL + "/sampling"
	return e
}

// Set changes the strategy the endpoint serves from now on.
func (e *SamplingEndpoint) Set(strategy string) { e.strategy.Store(strategy) }

// Polls reports how often service asked.
func (e *SamplingEndpoint) Polls(service string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.polls[service]
}

// WaitApplied waits until each of services has asked twice more: the answer to the
// first of those polls has then been applied.
// todo is what to look at when they do not.
func (e *SamplingEndpoint) WaitApplied(t testing.TB, todo string, services ...string) {
	t.Helper()
	from := map[string]int{}
	for _, s := range services {
		from[s] = e.Polls(s)
	}
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		done := true
		for _, s := range services {
			done = done && e.Polls(s) >= from[s]+2
		}
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the services did not poll the sampling endpoint (%v polls since the change, want 2 each): "+
				"with OTEL_TRACES_SAMPLER=parentbased_jaeger_remote or JAEGER_SAMPLER_TYPE=remote each service asks "+
				"its endpoint every polling interval. Look at %s.\n%s", func() map[string]int {
				m := map[string]int{}
				for _, s := range services {
					m[s] = e.Polls(s) - from[s]
				}
				return m
			}(), todo, remoteHint)
		}
	}
}

// RemoteSampling are the variables that put every service, in both worlds, on the
// remote sampler of endpoint, polling every 50 ms, sampling nothing until it answers.
func RemoteSampling(endpoint string) map[string]string {
	return map[string]string{
		"OTEL_TRACES_SAMPLER":             "parentbased_jaeger_remote",
		"OTEL_TRACES_SAMPLER_ARG":         "endpoint=" + endpoint + ",pollingIntervalMs=50,initialSamplingRate=0",
		"JAEGER_SAMPLER_TYPE":             "remote",
		"JAEGER_SAMPLER_PARAM":            "0",
		"JAEGER_SAMPLING_ENDPOINT":        endpoint,
		"JAEGER_SAMPLER_REFRESH_INTERVAL": "50ms",
	}
}

const remoteHint = "OpenTelemetry services: newTracerProvider (tracing.go) passes the sampler of " +
	"otelenv.SamplerFromEnv to sdktrace.WithSampler; the SDK alone does not know jaeger_remote, says so in an error " +
	"nobody reads, and samples everything (parentbased_always_on). jaeger-client services: config.FromEnv reads " +
	"JAEGER_SAMPLER_TYPE=remote itself, but its parser rejects Jaeger's numeric strategyType and stays at the initial " +
	"rate, silently: main passes legacyremote.Option to the tracer set-up"

// CheckRemoteSampling checks that every service samples as a sampling endpoint of the
// test's own says, in both worlds: while it says "none", an order leaves no span; once
// it says "every POST /checkout", the next order is one whole trace.
func CheckRemoteSampling(t *testing.T, run fleet.RunFunc, collect func(t *testing.T) (map[string]string, func() []tracecheck.Span),
	want func(env map[string]string, orderID string) OrderTrace, todo string) {
	t.Helper()
	// A step whose services record no span yet has no sampler that could ask the
	// endpoint: that is decided first, without a clock (tracesAtAll), rather than by
	// WaitApplied's bound running out.
	if !tracesAtAll(t, run) {
		t.Fatalf("the services record no span at all (one order and a shutdown, which flushes every tracer, left none at a "+
			"collector that takes them all), so no sampler of theirs asks the sampling endpoint.\nLook at %s.\n%s", todo, remoteHint)
	}
	_, received := collect(t)
	e := NewSamplingEndpoint(t, StrategyNone)
	for k, v := range RemoteSampling(e.URL) {
		t.Setenv(k, v)
	}
	f := Start(t, run, nil)
	e.WaitApplied(t, todo, "gateway", "checkout", "stock")
	none := f.PlaceDemoOrder(nil)
	f.WaitReserved(DemoSKU, 2)
	e.Set(StrategyCheckout)
	e.WaitApplied(t, todo, "gateway")
	every := f.PlaceDemoOrder(nil)
	f.WaitReserved(DemoSKU, 4)
	f.Stop()
	// Before the spans: with no order sampled, no span arrives at all, and the
	// collector's own failure would blame the tracer set-up.
	if !strings.HasSuffix(every.Header.Get("traceresponse"), "-01") {
		t.Fatalf("once the sampling endpoint says to sample every POST /checkout, an order answered traceresponse %q, "+
			"want flags 01: the gateway's sampler applies the per-operation strategy.\nLook at %s.\n%s", every.Header.Get("traceresponse"), todo, remoteHint)
	}

	spans := received()
	traceOf := func(r fleet.Response) string {
		if m := TraceResponseFormat.FindStringSubmatch(r.Header.Get("traceresponse")); m != nil {
			return m[1]
		}
		return ""
	}
	if id := traceOf(none); id == "" || strings.HasSuffix(none.Header.Get("traceresponse"), "-01") {
		t.Errorf("while the sampling endpoint says to sample nothing, an order answered traceresponse %q, want flags 00.\nLook at %s.\n%s",
			none.Header.Get("traceresponse"), todo, remoteHint)
	} else if got := onlyTrace(spans, id); len(got) > 0 {
		t.Errorf("while the sampling endpoint says to sample nothing, an order left %d span(s), want 0:\n%s\nLook at %s.\n%s",
			len(got), tracecheck.String(got), todo, remoteHint)
	}
	id := traceOf(every)
	w := want(f.Env, every.OrderID())
	w.Continuous = false
	CheckOrderTrace(t, onlyTrace(spans, id), every, w)
}
