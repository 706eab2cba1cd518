// Package telemetry sends the tracing libraries' own errors and logs to the service's
// slog logger, so that they are structured records that name the service and follow
// LOG_FORMAT like every other line, instead of plain text on stderr.
//
// An exporter that cannot reach its collector fails once per batch, every few seconds,
// for as long as the collector is away. Those failures are said once per outage: the
// first one is logged; its repeats are counted, not logged. An outage ends when the
// library says it exported again (jaeger-client does), or after a quiet minute without a
// failure (OpenTelemetry says nothing when an export succeeds); the next failure after
// that starts a new outage and is logged again. An outage that lasts is reminded every
// ten minutes, with the number of failures not logged since.
package telemetry

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"go.opentelemetry.io/otel"
)

// Default outage timing: see the package comment.
const (
	QuietWindow    = time.Minute
	RemindInterval = 10 * time.Minute
)

// ExportKey is the outage key of every failure to export spans, whatever the error.
const ExportKey = "export"

const exportKey = ExportKey

// Outages says each kind of failure once per outage (see the package comment).
type Outages = outages

// outages says each kind of failure once per outage.
type outages struct {
	mu     sync.Mutex
	quiet  time.Duration
	remind time.Duration
	now    func() time.Time
	open   map[string]*outage
}

type outage struct {
	lastSeen, lastLogged time.Time
	suppressed           int
}

// NewOutages returns an empty set of outages, with the default timing.
func NewOutages() *Outages { return newOutages() }

// Fail records a failure of kind key. It reports whether to log it, and how many
// failures of that kind were not logged since the last record.
func (o *outages) Fail(key string) (log bool, suppressed int) { return o.fail(key) }

// Recover ends the outage of kind key, if there is one, and reports how many failures
// it did not log.
func (o *outages) Recover(key string) (ended bool, suppressed int) { return o.recover(key) }

func newOutages() *outages {
	return &outages{quiet: QuietWindow, remind: RemindInterval, now: time.Now, open: map[string]*outage{}}
}

// fail records a failure of kind key. It reports whether to log it, and how many
// failures of that kind were not logged since the last record.
func (o *outages) fail(key string) (log bool, suppressed int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.now()
	cur := o.open[key]
	if cur == nil || now.Sub(cur.lastSeen) > o.quiet {
		if len(o.open) > 100 { // unbounded error texts must not grow the map forever
			clear(o.open)
		}
		o.open[key] = &outage{lastSeen: now, lastLogged: now}
		return true, 0
	}
	cur.lastSeen = now
	if now.Sub(cur.lastLogged) >= o.remind {
		n := cur.suppressed
		cur.suppressed, cur.lastLogged = 0, now
		return true, n
	}
	cur.suppressed++
	return false, 0
}

// recover ends the outage of kind key, if there is one, and reports how many failures
// it did not log.
func (o *outages) recover(key string) (ended bool, suppressed int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	cur := o.open[key]
	if cur == nil {
		return false, 0
	}
	delete(o.open, key)
	return true, cur.suppressed
}

// otelErrors is the process's OpenTelemetry error handler. OpenTelemetry has one per
// process (otel.SetErrorHandler is global), so it logs to the logger of the latest
// HandleOTelErrors call.
var otelErrors = &errorHandler{outages: newOutages()}

var installOnce sync.Once

type errorHandler struct {
	logger  atomic.Pointer[slog.Logger]
	outages *outages
}

// Handle logs err: a failure to export spans once per outage, anything else (a baggage
// header that does not parse, say) once per quiet window of its own text.
func (h *errorHandler) Handle(err error) {
	logger := h.logger.Load()
	if logger == nil || err == nil {
		return
	}
	msg, key := "OpenTelemetry error", err.Error()
	// Log records and metrics (step 07) fail on their own, each an outage of its own.
	if signal := otherSignal(key); signal != "" {
		msg, key = "exporting "+signal+" failed; repeats are not logged until the exporter recovers", exportKey+" "+signal
	} else if isExportError(key) {
		msg, key = "exporting spans failed; repeats are not logged until the exporter recovers", exportKey
	}
	log, suppressed := h.outages.fail(key)
	if !log {
		return
	}
	attrs := []any{"source", "opentelemetry", "err", err.Error()}
	if suppressed > 0 {
		msg = "exporting spans is still failing"
		attrs = append(attrs, "failures_not_logged", suppressed)
	}
	logger.Warn(msg, attrs...)
}

// otherSignal names the signal an export error is about when it is not spans: "metrics"
// for the OTLP metric exporters ("failed to upload metrics: ..."), "log records" for the
// OTLP log exporters, whose errors name their endpoint's path; "" otherwise.
func otherSignal(text string) string {
	switch {
	case strings.Contains(text, "upload metrics") || strings.Contains(text, "/v1/metrics"):
		return "metrics"
	case strings.Contains(text, "/v1/logs") || strings.Contains(text, "logs export"):
		return "log records"
	}
	return ""
}

// isExportError reports whether an OpenTelemetry error is about exporting spans. The
// SDK's batch processor hands on the exporter's error, which the OTLP exporters prefix.
func isExportError(text string) bool {
	return strings.Contains(text, "export")
}

// HandleOTelErrors makes OpenTelemetry's global error handler and internal logger write
// to logger, with a service attribute naming services (the services this process runs:
// OpenTelemetry's handler is one per process, so in `all` the three share it).
//
// OpenTelemetry insists on a global here; it carries no context from one service to
// another, so setting it in main is safe. Without it, OpenTelemetry writes its errors
// (an exporter that cannot reach its collector, a baggage header that does not parse) to
// stderr as plain text.
func HandleOTelErrors(logger *slog.Logger, services ...string) {
	l := logger.With("service", strings.Join(services, ","))
	otelErrors.logger.Store(l)
	installOnce.Do(func() {
		otel.SetErrorHandler(otelErrors)
		// The SDK's own log lines (warnings and debug output, through logr) too.
		otel.SetLogger(logr.FromSlogHandler(currentHandler{}))
	})
}

// currentHandler is a slog.Handler that writes to the latest HandleOTelErrors logger.
type currentHandler struct{ attrs []slog.Attr }

func (c currentHandler) handler() slog.Handler {
	if l := otelErrors.logger.Load(); l != nil {
		return l.Handler().WithAttrs(append([]slog.Attr{slog.String("source", "opentelemetry")}, c.attrs...))
	}
	return nil
}

func (c currentHandler) Enabled(ctx context.Context, level slog.Level) bool {
	h := c.handler()
	return h != nil && h.Enabled(ctx, level)
}

func (c currentHandler) Handle(ctx context.Context, r slog.Record) error {
	if h := c.handler(); h != nil {
		return h.Handle(ctx, r)
	}
	return nil
}

func (c currentHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return currentHandler{attrs: append(c.attrs[:len(c.attrs):len(c.attrs)], attrs...)}
}

func (c currentHandler) WithGroup(string) slog.Handler { return c }
