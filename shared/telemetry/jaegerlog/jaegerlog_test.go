package jaegerlog

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

	"github.com/ot2otel/workshop/shared/workshoptest"
)

func TestJaegerLoggerSaysAnOutageOnce(t *testing.T) {
	var buf bytes.Buffer
	l := New(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})).With("service", "checkout"))
	for range 3 {
		l.Error("failed to flush Jaeger spans to server: connection refused")
	}
	l.(interface{ Debugf(string, ...any) }).Debugf("flushed %d spans", 3)
	l.Error(`error reporting Jaeger span "x": connection refused`)
	l.Infof("Reporting span %v", "abc")
	var msgs []string
	for _, r := range workshoptest.LogRecords(buf.String()) {
		if r["service"] != "checkout" || r["source"] != "jaeger-client" {
			t.Errorf("record %v does not name the service and the source", r)
		}
		msgs = append(msgs, r["msg"].(string))
	}
	got := strings.Join(msgs, "|")
	want := "reporting spans failed; repeats are not logged until the reporter recovers|flushed 3 spans|" +
		"reporting spans works again|reporting spans failed; repeats are not logged until the reporter recovers|Reporting span abc"
	// The recovery record comes before the debug line that caused it.
	want = strings.Replace(want, "flushed 3 spans|reporting spans works again", "reporting spans works again|flushed 3 spans", 1)
	if got != want {
		t.Errorf("records:\n got %s\nwant %s", got, want)
	}
}

// TestRemoteSamplerOutageSaidOnce: jaeger-client's remote sampler, against an endpoint
// that is down or answers garbage, keeps its initial rate, never makes a span wait for
// a poll, and its failures (one per poll) are said once; a good answer ends the outage.
func TestRemoteSamplerOutageSaidOnce(t *testing.T) {
	var answer atomic.Value
	answer.Store("")
	var polls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		polls.Add(1)
		a := answer.Load().(string)
		if a == "" {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, a)
	}))
	defer srv.Close()
	var buf syncBuffer
	l := New(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	// config.NewSampler gives the remote sampler no logger of its own (jaeger-client's
	// NullLogger): without this option its failures are not said at all.
	cfg := config.Configuration{ServiceName: "checkout", Sampler: &config.SamplerConfig{
		Type: "remote", Param: 1, SamplingServerURL: srv.URL + "/sampling", SamplingRefreshInterval: 5 * time.Millisecond,
		Options: []jaeger.SamplerOption{jaeger.SamplerOptions.Logger(l)}}}
	tracer, closer, err := cfg.NewTracer(config.Logger(l))
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	wait := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; log:\n%s", what, buf.String())
			}
		}
	}
	count := func(s string) int { return strings.Count(buf.String(), s) }
	for _, bad := range []string{"", `{"strategyType": `} {
		answer.Store(bad)
		from := polls.Load()
		wait("five failed polls", func() bool { return polls.Load() >= from+5 })
		span := tracer.StartSpan("POST /orders")
		if !span.Context().(jaeger.SpanContext).IsSampled() {
			t.Errorf("with the endpoint failing (%q), a span was not sampled: the initial rate 1 must hold", bad)
		}
		span.Finish()
	}
	if n := count("remote sampler: no strategy from JAEGER_SAMPLING_ENDPOINT"); n != 1 {
		t.Errorf("the outage was said %d times over ten failed polls, want once; log:\n%s", n, buf.String())
	}
	answer.Store(`{"strategyType":"PROBABILISTIC","probabilisticSampling":{"samplingRate":0}}`)
	wait("the recovery to be said", func() bool { return count("the sampling endpoint answers again") == 1 })
	wait("rate 0 to apply", func() bool {
		span := tracer.StartSpan("POST /orders")
		defer span.Finish()
		return !span.Context().(jaeger.SpanContext).IsSampled()
	})
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
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }
