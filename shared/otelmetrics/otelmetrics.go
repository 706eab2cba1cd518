// Package otelmetrics is the plumbing of an OpenTelemetry service's metrics (step 07):
// where each service serves its Prometheus /metrics (GATEWAY_METRICS_ADDR,
// CHECKOUT_METRICS_ADDR, STOCK_METRICS_ADDR), the readers a meter provider gets (a
// Prometheus exporter with a registry of the service's own, and an OTLP reader when
// OTEL_METRICS_EXPORTER=otlp asks for it), and the HTTP server that serves /metrics.
//
// It is the same in every step that has metrics, so it lives here and a step's diff
// shows only what the step teaches.
package otelmetrics

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/ot2otel/workshop/shared/app"
)

// Default addresses of the services' /metrics: beside the services' own ports, and
// never the gateway's public one, so that the internet never reads the shop's metrics.
const (
	DefaultGatewayMetricsAddr  = "localhost:8090"
	DefaultCheckoutMetricsAddr = "localhost:8091"
	DefaultStockMetricsAddr    = "localhost:8092"
)

// ExporterVar is the standard variable that says where metrics go besides /metrics.
const ExporterVar = "OTEL_METRICS_EXPORTER"

// AddrVar is the variable that sets service's metrics address.
func AddrVar(service string) string { return strings.ToUpper(service) + "_METRICS_ADDR" }

// Addrs reads where each service serves /metrics, and checks that none of them is a
// service's own address (cfg's), the gateway's public one above all.
func Addrs(getenv func(string) string, cfg app.Config) (map[string]string, error) {
	defaults := map[string]string{app.Gateway: DefaultGatewayMetricsAddr, app.Checkout: DefaultCheckoutMetricsAddr, app.Stock: DefaultStockMetricsAddr}
	serving := map[string]string{cfg.GatewayAddr: "GATEWAY_ADDR", cfg.CheckoutAddr: "CHECKOUT_ADDR", cfg.StockAddr: "STOCK_ADDR"}
	addrs := map[string]string{}
	for _, service := range []string{app.Gateway, app.Checkout, app.Stock} {
		key, addr := AddrVar(service), strings.TrimSpace(getenv(AddrVar(service)))
		if addr == "" {
			addr = defaults[service]
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("%s %q: want host:port, such as %s", key, addr, defaults[service])
		}
		if other, ok := serving[addr]; ok {
			return nil, fmt.Errorf("%s %q is %s: /metrics needs an address of its own, never a service's (the gateway's is public)", key, addr, other)
		}
		addrs[service] = addr
	}
	return addrs, nil
}

// ExportOTLP reads OTEL_METRICS_EXPORTER, a comma-separated list as the specification
// has it: true when it names otlp; false when it is unset or names only prometheus or
// none; an error naming the variable and the values it takes for anything else.
// /metrics is served whatever it says: Prometheus scrapes it.
func ExportOTLP(getenv func(string) string) (bool, error) {
	otlp := false
	for _, v := range strings.Split(strings.ToLower(getenv(ExporterVar)), ",") {
		switch v = strings.TrimSpace(v); v {
		case "otlp":
			otlp = true
		case "", "prometheus", "none":
		default:
			return false, fmt.Errorf("%s %q: want prometheus, otlp or none (every service serves /metrics; otlp also pushes them)", ExporterVar, v)
		}
	}
	return otlp, nil
}

// Readers returns the readers of one service's meter provider, and the handler of its
// /metrics: a Prometheus exporter on a registry of the service's own (the default
// registry is global: in the all command, three services would share it), served in the
// OpenMetrics format when the scraper asks for it, which is the format that carries
// exemplars; and, when OTEL_METRICS_EXPORTER=otlp, newReader's (autoexport's
// NewMetricReader), which pushes periodically in the background.
//
// The readers are shut down with their meter provider.
func Readers(ctx context.Context, getenv func(string) string, newReader func(context.Context) (sdkmetric.Reader, error)) ([]sdkmetric.Reader, http.Handler, error) {
	otlp, err := ExportOTLP(getenv)
	if err != nil {
		return nil, nil, err
	}
	reg := prometheus.NewRegistry()
	prom, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, nil, fmt.Errorf("the Prometheus exporter: %w", err)
	}
	readers := []sdkmetric.Reader{prom}
	if otlp {
		r, err := newReader(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("create the reader %s asks for: %w", ExporterVar, err)
		}
		readers = append(readers, r)
	}
	// ContinueOnError: a scrape while the provider shuts down gets what can still be
	// gathered, never a 500 that an alert would take for an outage.
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{EnableOpenMetrics: true, ErrorHandling: promhttp.ContinueOnError})
	return readers, h, nil
}

// Provider is what a service measures with: an SDK meter provider, or Noop.
type Provider interface {
	metric.MeterProvider
	// Shutdown pushes what is still to push and stops the readers.
	Shutdown(context.Context) error
}

var _ Provider = (*sdkmetric.MeterProvider)(nil)

// Noop returns the meter provider of a service whose SDK is disabled
// (OTEL_SDK_DISABLED=true, which the specification defines for every signal): its
// instruments measure nothing, and the service serves no /metrics.
func Noop() Provider { return noopProvider{noop.NewMeterProvider()} }

type noopProvider struct{ noop.MeterProvider }

func (noopProvider) Shutdown(context.Context) error { return nil }

// Service is the HTTP server of one service's /metrics, as app.Serve runs it. Put it
// before its service in the list Serve gets: Serve stops services in the reverse order,
// so /metrics answers until its service has stopped.
func Service(service, addr string, metrics http.Handler) app.Service {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics)
	return app.Service{Name: service + " metrics", Addr: addr, Handler: mux}
}
