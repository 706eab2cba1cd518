// Package jaegerlog gives jaeger-client a logger that writes to the service's slog
// logger, and says a failure to report spans once per outage (see package telemetry).
// It is a package of its own so that a service without jaeger-client does not depend
// on it.
package jaegerlog

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/uber/jaeger-client-go"

	"github.com/ot2otel/workshop/shared/telemetry"
)

// New returns a jaeger-client logger that writes to logger, which should name
// the service (logger.With("service", name)). Pass it to the tracer with
// config.Logger(jaegerlog.New(logger)): without a logger jaeger-client says
// nothing when its reporter cannot send spans, and JAEGER_REPORTER_LOG_SPANS has nothing
// to log the spans to.
//
// A failure to send spans is said once per outage; the reporter's next successful flush
// ends the outage, and says so.
func New(logger *slog.Logger) jaeger.Logger {
	return &jaegerLogger{logger: logger.With("source", "jaeger-client"), outages: telemetry.NewOutages()}
}

type jaegerLogger struct {
	logger  *slog.Logger
	outages *telemetry.Outages
}

// Error logs one of jaeger-client's errors.
func (j *jaegerLogger) Error(msg string) {
	key := msg
	if strings.Contains(msg, "Jaeger span") { // "failed to flush Jaeger spans", "error reporting Jaeger span"
		key = telemetry.ExportKey
	}
	log, suppressed := j.outages.Fail(key)
	if !log {
		return
	}
	switch {
	case key != telemetry.ExportKey:
		j.logger.Error("jaeger-client error", "err", msg)
	case suppressed > 0:
		j.logger.Warn("reporting spans is still failing", "err", msg, "failures_not_logged", suppressed)
	default:
		j.logger.Warn("reporting spans failed; repeats are not logged until the reporter recovers", "err", msg)
	}
}

// Infof logs jaeger-client's information, such as the spans JAEGER_REPORTER_LOG_SPANS
// asks it to log.
//
// The remote sampler's failures come here too, one per poll for as long as its endpoint
// is down, slow or answers what it cannot use: they are said once per outage, as a
// warning, with what the sampler does meanwhile. A sampler update ends the outage.
func (j *jaegerLogger) Infof(msg string, args ...any) {
	text := fmt.Sprintf(msg, args...)
	if strings.HasPrefix(msg, "failed to fetch sampling strategy") || strings.HasPrefix(msg, "failed to parse sampling strategy") ||
		strings.HasPrefix(msg, "failed to handle sampling strategy") {
		if log, _ := j.outages.Fail(samplingKey); log {
			j.logger.Warn("remote sampler: no strategy from JAEGER_SAMPLING_ENDPOINT; sampling as before (at first "+
				"JAEGER_SAMPLER_PARAM) until it answers, repeats not logged", "err", text)
			return
		}
		j.logger.Debug(text) // each repeat, for whoever asks for debug records
		return
	}
	j.logger.Info(text)
}

// samplingKey is the outage key of the remote sampler's failures.
const samplingKey = "sampling"

// Debugf logs jaeger-client's debug output. "flushed N spans" is also how the reporter
// says it sent spans again: it ends an outage.
func (j *jaegerLogger) Debugf(msg string, args ...any) {
	if strings.HasPrefix(msg, "sampler updated") {
		if ended, _ := j.outages.Recover(samplingKey); ended {
			j.logger.Info("remote sampler: the sampling endpoint answers again")
		}
	}
	if strings.HasPrefix(msg, "flushed ") {
		if ended, suppressed := j.outages.Recover(telemetry.ExportKey); ended {
			j.logger.Info("reporting spans works again", "failures_not_logged", suppressed)
		}
	}
	j.logger.Debug(fmt.Sprintf(msg, args...))
}
