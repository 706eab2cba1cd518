// Package jaegersuite is what the tests of every step with a jaeger-client service
// share (02, 03, and 05's legacy checkout): a recorder, a collector the tracers from
// the environment report to, and the checks of a tracer built from JAEGER_* variables.
// It is a package of its own so that the steps without jaeger-client (01, 06) do not
// build it.
package jaegersuite

import (
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/opentracing/opentracing-go"
	"github.com/uber/jaeger-client-go"
	"github.com/uber/jaeger-client-go/config"

	"github.com/ot2otel/workshop/shared/broker"
	"github.com/ot2otel/workshop/shared/tracecheck"
	"github.com/ot2otel/workshop/shared/tracecheck/jaegerspans"
	"github.com/ot2otel/workshop/shared/workshoptest"
)

// Recorder keeps the finished spans of the tracers it makes in memory, for the tests
// of one or two services at a time. It keeps each span as it was when it finished, as
// a real reporter sends it: jaeger's InMemoryReporter keeps a pointer to the span, so a
// tag or log set after Finish (ext.LogError after span.Finish()) would still show, and
// a test would pass code whose exported span lacks them.
type Recorder struct {
	t        testing.TB
	reporter *snapshotReporter
}

// NewRecorder returns a recorder whose tracers are closed when t ends.
func NewRecorder(t testing.TB) *Recorder {
	return &Recorder{t: t, reporter: &snapshotReporter{}}
}

// Tracer returns a tracer for service that samples every span and records it.
func (r *Recorder) Tracer(service string, opts ...jaeger.TracerOption) opentracing.Tracer {
	tracer, closer := jaeger.NewTracer(service, jaeger.NewConstSampler(true), r.reporter, opts...)
	r.t.Cleanup(func() { closer.Close() })
	return tracer
}

// Spans returns the spans recorded so far, each as it was when it finished.
func (r *Recorder) Spans() []tracecheck.Span {
	r.reporter.mu.Lock()
	defer r.reporter.mu.Unlock()
	return slices.Clone(r.reporter.spans)
}

// snapshotReporter is a jaeger.Reporter that converts each span when it finishes.
type snapshotReporter struct {
	mu    sync.Mutex
	spans []tracecheck.Span
}

// Report is called by Finish, with the span's lock released.
func (r *snapshotReporter) Report(span *jaeger.Span) {
	snap := jaegerspans.FromOpenTracing([]opentracing.Span{span})
	r.mu.Lock()
	defer r.mu.Unlock()
	r.spans = append(r.spans, snap...)
}

func (r *snapshotReporter) Close() {}

// Traces is a step's OrderTraces.Collect: a collector of the test's own, as Collect
// starts it; hint names what to look at when no span reaches it.
func Traces(hint string) func(t *testing.T) (map[string]string, func() []tracecheck.Span) {
	return workshoptest.ReceiverTraces(Collect, hint)
}

// Spans points the services' tracers at a collector of t's own, as Collect does, and
// returns what it received: a step's EdgeStep.Collect.
func Spans(t *testing.T) func() []tracecheck.Span { return Collect(t).Spans }

// Collect starts a jaeger collector and points every tracer made from the environment
// during the test at it, through JAEGER_ENDPOINT as in production. It sets the
// variable with t.Setenv, so the test cannot run in parallel.
func Collect(t testing.TB) *jaegerspans.Collector {
	t.Helper()
	c := workshoptest.StartReceiver(t, jaegerspans.NewCollector)
	t.Setenv("JAEGER_ENDPOINT", c.Endpoint())
	return c
}

// FromEnv is a step's tracer built from the JAEGER_* variables, and the hints its
// checks give.
type FromEnv struct {
	// New is the step's newTracer.
	New func(service string, opts ...config.Option) (opentracing.Tracer, io.Closer, error)
	// Built follows the spans when the closed tracer did not deliver its span as the
	// service's; Sampler when the environment's sampler was overridden; BadSetting when a
	// bad variable was no error.
	Built, Sampler, BadSetting string
}

// CheckTracerFromEnv checks a tracer built from the environment: it is named after
// its service whatever JAEGER_SERVICE_NAME says, samples every span unless the
// environment says otherwise, reports to JAEGER_ENDPOINT, flushes when closed, and
// returns an error for a setting that does not parse.
func CheckTracerFromEnv(t *testing.T, s FromEnv) {
	c := Collect(t)
	t.Setenv("JAEGER_SERVICE_NAME", "someone-else")
	tracer, closer, err := s.New("checkout")
	if err != nil {
		t.Fatalf("newTracer: %v", err)
	}
	tracer.StartSpan("hello").Finish()
	if err := closer.Close(); err != nil {
		t.Fatalf("closing the tracer: %v", err)
	}
	if spans := c.Spans(); len(spans) != 1 || spans[0].Service != "checkout" {
		t.Fatalf("once the tracer was closed, JAEGER_ENDPOINT had received %d span(s), want 1 from service \"checkout\":\n%s"+
			"Look at %s", len(spans), tracecheck.String(spans), s.Built)
	}

	t.Run("the environment decides the sampler", func(t *testing.T) {
		t.Setenv("JAEGER_SAMPLER_TYPE", "const")
		t.Setenv("JAEGER_SAMPLER_PARAM", "0")
		tracer, closer, err := s.New("checkout")
		if err != nil {
			t.Fatalf("newTracer: %v", err)
		}
		tracer.StartSpan("not sampled").Finish()
		closer.Close()
		if spans := c.Spans(); len(spans) != 1 {
			t.Errorf("with JAEGER_SAMPLER_TYPE=const and JAEGER_SAMPLER_PARAM=0 the tracer still sampled a span.\n"+
				"Look at %s", s.Sampler)
		}
	})
	t.Run("a bad setting is an error", func(t *testing.T) {
		t.Setenv("JAEGER_SAMPLER_PARAM", "lots")
		if _, closer, err := s.New("checkout"); err == nil {
			closer.Close()
			t.Errorf("newTracer with JAEGER_SAMPLER_PARAM=lots returned no error.\nLook at %s", s.BadSetting)
		}
	})
}

// ClientContext returns the check of the trace context on the gateway's request to
// checkout, for workshoptest.SpanChecks: jaeger-client's uber-trace-id, naming the
// client span. inject is the hint when there is none, child when it names another span.
func ClientContext(inject, child string) func(t *testing.T, headers http.Header, client tracecheck.Span) {
	return func(t *testing.T, headers http.Header, client tracecheck.Span) {
		sc, err := NewRecorder(t).Tracer("gateway").Extract(opentracing.HTTPHeaders, opentracing.HTTPHeadersCarrier(headers))
		if err != nil {
			t.Fatalf("checkout's request carries no trace context it can read (uber-trace-id: %q): %v.\nLook at %s",
				headers.Get("uber-trace-id"), err, inject)
		}
		if got := tracecheck.SpanIDHex(uint64(sc.(jaeger.SpanContext).SpanID())); got != client.SpanID {
			t.Errorf("checkout's request carries the context of span %s, not of the client span %s.\nLook at %s",
				got, client.SpanID, child)
		}
	}
}

// SpanChecks completes c, the hints of a step whose gateway and checkout trace with
// jaeger-client (02, 03), with the services the checks record (newGateway and
// newCheckout on a Recorder's tracers) and OpenTracing's HTTP tags.
func SpanChecks(c workshoptest.SpanChecks,
	newGateway func(string, opentracing.Tracer, *slog.Logger) http.Handler,
	newCheckout func(broker.Broker, opentracing.Tracer, *slog.Logger) http.Handler) workshoptest.SpanChecks {
	c.Record = func(t *testing.T) workshoptest.Spans {
		rec := NewRecorder(t)
		return workshoptest.Spans{
			Gateway: func(url string) http.Handler {
				return newGateway(url, rec.Tracer("gateway"), workshoptest.DiscardLogger())
			},
			Checkout: func(b broker.Broker) http.Handler {
				return newCheckout(b, rec.Tracer("checkout"), workshoptest.DiscardLogger())
			},
			Spans: rec.Spans,
		}
	}
	c.ClientTags, c.ServerTags = workshoptest.OpenTracingClientTags, workshoptest.OpenTracingServerTags
	return c
}
