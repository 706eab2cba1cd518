package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"go.opentelemetry.io/contrib/bridges/otelslog"
	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel/metric"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/ot2otel/workshop/shared/app"
	"github.com/ot2otel/workshop/shared/otelenv"
	"github.com/ot2otel/workshop/shared/otellogs"
	"github.com/ot2otel/workshop/shared/otelmetrics"
)

// loggerName and meterName are the instrumentation scope of the shop's own log records
// and measurements, named like its tracer.
const (
	loggerName = tracerName
	meterName  = tracerName
)

// newLoggerProvider returns the logger provider of one service: its records are the
// service's log lines on stdout (LOG_FORMAT), with the trace and span IDs of the span
// in the logging call's context, and go out over OTLP too when OTEL_LOGS_EXPORTER=otlp
// (autoexport reads the OTLP variables). Another OTEL_LOGS_EXPORTER is an error.
func newLoggerProvider(ctx context.Context, service string, stdout io.Writer, cfg app.Config, getenv func(string) string) (*otellogs.Provider, error) {
	res, err := otelenv.Resource(ctx, service)
	if err != nil {
		return nil, err
	}
	return otellogs.New(ctx, res, stdout, cfg.LogFormat, getenv, func(ctx context.Context) (sdklog.Exporter, error) {
		return autoexport.NewLogExporter(ctx)
	})
}

// newLogger returns the logger a service hands to its handlers: slog's API, through the
// otelslog bridge into the service's logger provider, which puts the trace and span IDs
// of the context's span on each record it is given with a context (InfoContext,
// ErrorContext...).
func newLogger(lp *otellogs.Provider) *slog.Logger {
	return slog.New(otelslog.NewHandler(loggerName, otelslog.WithLoggerProvider(lp)))
}

// newMeterProvider returns the meter provider of one service, and the handler of its
// Prometheus /metrics. Its measurements carry the service's resource; Prometheus reads
// them from /metrics, and OTEL_METRICS_EXPORTER=otlp pushes them over OTLP as well.
//
// No exemplar option is given: the SDK's default (OTEL_METRICS_EXEMPLAR_FILTER,
// trace_based) keeps, on each histogram bucket, a measurement made inside a sampled
// span, with its trace ID, as long as the instrument is given the span's context.
//
// With OTEL_SDK_DISABLED=true it is a no-op provider, and there is no /metrics to serve
// (the handler is nil).
//
// The caller must Shutdown the provider when the service stops.
func newMeterProvider(ctx context.Context, service string, getenv func(string) string) (otelmetrics.Provider, http.Handler, error) {
	if otelenv.SDKDisabled() {
		return otelmetrics.Noop(), nil, nil
	}
	res, err := otelenv.Resource(ctx, service)
	if err != nil {
		return nil, nil, err
	}
	readers, metrics, err := otelmetrics.Readers(ctx, getenv, func(ctx context.Context) (sdkmetric.Reader, error) {
		return autoexport.NewMetricReader(ctx)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", service, err)
	}
	opts := []sdkmetric.Option{sdkmetric.WithResource(res)}
	for _, r := range readers {
		opts = append(opts, sdkmetric.WithReader(r))
	}
	return sdkmetric.NewMeterProvider(opts...), metrics, nil
}

// ordersReserved counts the orders stock reserved, once per SKU an order holds: the
// shop's one business metric, by SKU and nothing finer.
func ordersReserved(meter metric.Meter) (metric.Int64Counter, error) {
	return meter.Int64Counter("shop.orders.reserved", metric.WithUnit("{order}"),
		metric.WithDescription("Orders whose stock was reserved, counted once for each SKU they hold."))
}
