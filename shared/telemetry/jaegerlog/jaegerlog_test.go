package jaegerlog

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

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
