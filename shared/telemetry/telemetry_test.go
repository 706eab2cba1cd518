package telemetry

import (
	"bytes"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/ot2otel/workshop/shared/workshoptest"
	"go.opentelemetry.io/otel"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time                  { return c.t }
func (c *clock) advance(d time.Duration)         { c.t = c.t.Add(d) }
func newTestOutages(c *clock) *outages           { o := newOutages(); o.now = c.now; return o }
func records(buf *bytes.Buffer) []map[string]any { return workshoptest.LogRecords(buf.String()) }

func TestOutages(t *testing.T) {
	c := &clock{t: time.Unix(0, 0)}
	o := newTestOutages(c)
	if log, _ := o.fail("export"); !log {
		t.Fatal("the first failure is not logged")
	}
	for range 5 {
		c.advance(5 * time.Second)
		if log, _ := o.fail("export"); log {
			t.Fatal("a repeat within the outage is logged")
		}
	}
	if log, _ := o.fail("other"); !log {
		t.Error("another kind of failure is not logged")
	}
	// A quiet minute ends the outage.
	c.advance(QuietWindow + time.Second)
	if log, n := o.fail("export"); !log || n != 0 {
		t.Errorf("the first failure after a quiet window: logged %v (%d), want a new outage", log, n)
	}
	// An outage that lasts is reminded, with the count.
	for range 130 {
		c.advance(5 * time.Second)
		if log, n := o.fail("export"); log {
			if n != 119 {
				t.Errorf("the reminder says %d failures not logged, want 119", n)
			}
		}
	}
	if ended, n := o.recover("export"); !ended || n != 10 {
		t.Errorf("recover: %v %d, want the outage ended with 10 failures not logged", ended, n)
	}
	if log, _ := o.fail("export"); !log {
		t.Error("the first failure after a recovery is not logged")
	}
}

func TestHandleOTelErrors(t *testing.T) {
	var buf bytes.Buffer
	HandleOTelErrors(slog.New(slog.NewJSONHandler(&buf, nil)), "gateway")
	for range 3 {
		otel.Handle(errors.New("traces export: connection refused"))
	}
	otel.Handle(errors.New("baggage: invalid member"))
	rs := records(&buf)
	if len(rs) != 2 || rs[0]["service"] != "gateway" || rs[1]["err"] != "baggage: invalid member" {
		t.Errorf("records: %v, want one for the export outage and one for the baggage error, naming the service", rs)
	}
}

// TestOtherSignalsOutages: a failing metric or log exporter is an outage of its own,
// said once and named for its signal, not taken for the span exporter's.
func TestOtherSignalsOutages(t *testing.T) {
	for text, want := range map[string]string{
		`failed to upload metrics: Post "http://127.0.0.1:1/v1/metrics": connection refused`:   "metrics",
		`Post "http://127.0.0.1:1/v1/logs": dial tcp 127.0.0.1:1: connect: connection refused`: "log records",
		`traces export: Post "http://127.0.0.1:1/v1/traces": connection refused`:               "",
	} {
		if got := otherSignal(text); got != want {
			t.Errorf("otherSignal(%q) = %q, want %q", text, got, want)
		}
	}
}
