package workshoptest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

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
	want func(env map[string]string, orderID string) OrderTrace) {
	t.Helper()
	_, received := collect(t)
	for k, v := range SamplingOff {
		t.Setenv(k, v)
	}
	seen := newHeaderLog()
	var target atomic.Value // checkout's URL, once the fleet runs
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.add("http", r.Header.Get("X-Request-ID"), r.Header.Clone())
		u, _ := url.Parse(target.Load().(string))
		httputilProxy(u).ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	f := Start(t, run, map[string]string{"CHECKOUT_URL": proxy.URL})
	target.Store(f.CheckoutURL)
	captureAMQP(t, f.Env["AMQP_EXCHANGE"], seen)

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
					"with its flag off, so that the services after it do not start traces of their own", where, format, h.Get(format), trace)
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

	// The root does not sample: no caller context.
	off := place("sampling-off", http.Header{})
	m := TraceResponseFormat.FindStringSubmatch(off.Header.Get("traceresponse"))
	if m == nil || m[3] != "00" {
		t.Errorf("the unsampled order answered traceresponse %q, want 00-<trace id>-<span id>-00: the caller learns "+
			"its trace ID, and that it was not sampled", off.Header.Get("traceresponse"))
	}
	f.WaitReserved(DemoSKU, 2)
	unsampled := ""
	if m != nil {
		unsampled = m[1]
		wire("sampling-off", unsampled, false)
	}

	// A caller that sampled its trace: every service follows.
	h := http.Header{}
	if s.OTel {
		h.Set("traceparent", "00-"+samplingTraceID+"-"+edgeSpanID+"-01")
	} else {
		h.Set("uber-trace-id", samplingTraceID+":"+edgeSpanID+":0:1")
	}
	on := place("sampling-on", h)
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
	CheckOrderTrace(t, onlyTrace(spans, samplingTraceID), on, w)
}

// samplingTraceID is the trace a caller of CheckSampling sampled.
const samplingTraceID = "5bf92f3577b34da6a3ce929d0e0e4737"

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
