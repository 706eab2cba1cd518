package workshoptest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"

	"github.com/ot2otel/workshop/shared/tracecheck"
)

// exporterDefaults are the standard variables that choose where an OTel service's spans
// go, at the values that send them over OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT: what a
// test that points that variable at its collector means, whatever the shell exported.
var exporterDefaults = map[string]string{
	"OTEL_TRACES_EXPORTER":               "otlp",
	"OTEL_EXPORTER_OTLP_PROTOCOL":        "http/protobuf",
	"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "",
	"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "",
	"OTEL_SDK_DISABLED":                  "false",
}

// PinExporter sets the standard variables that choose the exporter to OTLP over HTTP
// for the rest of the test, so that the spans go to OTEL_EXPORTER_OTLP_ENDPOINT, the
// test's collector, even when the developer's shell exports OTEL_TRACES_EXPORTER=console.
func PinExporter(t testing.TB) {
	for k, v := range exporterDefaults {
		t.Setenv(k, v)
	}
}

// exportVars are the variables that say where a service sends its spans, OTel's and
// jaeger-client's, at the values the developer's shell gave them when the test began.
var exportVars = func() map[string]*string {
	m := map[string]*string{}
	for _, k := range append([]string{"OTEL_EXPORTER_OTLP_ENDPOINT", "JAEGER_ENDPOINT"}, keys(exporterDefaults)...) {
		if v, ok := os.LookupEnv(k); ok {
			m[k] = &v
		} else {
			m[k] = nil
		}
	}
	return m
}()

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

var (
	sinkOnce sync.Once
	sinkURL  string
)

// Sink returns the URL of a collector of the test binary's own that takes every span
// it is sent and keeps none: where a fleet's spans go when its test reads none of them.
func Sink() string {
	sinkOnce.Do(func() {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusOK)
		}))
		sinkURL = srv.URL
	})
	return sinkURL
}

// pinTestExporter points every export variable the running test has not set itself at
// Sink, so that no fleet a test starts ever exports to a collector the test did not
// choose (an OTel SDK's default is https://localhost:4318, jaeger-client's the agent on
// localhost:6831). A variable that differs from the shell's value was set by the test
// (t.Setenv), and is left alone.
func pinTestExporter() {
	sinkMu.Lock()
	defer sinkMu.Unlock()
	for k, shell := range exportVars {
		v, ok := os.LookupEnv(k)
		if ok != (shell != nil) || (ok && v != *shell) {
			continue // the test chose it
		}
		switch k {
		case "OTEL_EXPORTER_OTLP_ENDPOINT":
			os.Setenv(k, Sink())
		case "JAEGER_ENDPOINT":
			os.Setenv(k, Sink()+"/api/traces")
		default:
			os.Setenv(k, exporterDefaults[k])
		}
	}
}

var sinkMu sync.Mutex

// CheckBatched fails t when early, the spans that reached the test's collector before
// the services stopped, is not zero although OTEL_BSP_SCHEDULE_DELAY holds a batch for
// an hour: the provider exports each span as it ends (sdktrace.WithSyncer), one
// request per span in production.
func CheckBatched(t testing.TB, early int, todo string) {
	t.Helper()
	if early > 0 {
		t.Errorf("%d span(s) reached the collector before the services stopped, although the batch waits an hour "+
			"(OTEL_BSP_SCHEDULE_DELAY): the provider exports each span as it ends, as sdktrace.WithSyncer does, "+
			"one request per span. Batch them with sdktrace.WithBatcher.\nLook at %s", early, todo)
	}
}

// CheckFlushed checks that every span of hops arrived, though the batch held them
// until the services stopped: they arrive only when each service flushes as it
// stops. flush is the hint that says how.
func CheckFlushed(t testing.TB, spans []tracecheck.Span, hops []tracecheck.Hop, flush string) {
	t.Helper()
	for _, hop := range hops {
		if _, ok := tracecheck.Find(spans, hop); !ok {
			t.Errorf("no %s span arrived, although the service ended it before it stopped: it was still in the batch.\n"+
				"%s\n\nrecorded spans:\n%s", hop, flush, tracecheck.String(spans))
		}
	}
}
