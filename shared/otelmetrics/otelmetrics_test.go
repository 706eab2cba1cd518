package otelmetrics

import (
	"context"
	"strings"
	"testing"

	"github.com/ot2otel/workshop/shared/app"
)

func TestAddrs(t *testing.T) {
	cfg := app.Config{GatewayAddr: "localhost:8080", CheckoutAddr: "localhost:8081", StockAddr: "localhost:8082"}
	got, err := Addrs(func(string) string { return "" }, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got[app.Gateway] != DefaultGatewayMetricsAddr || got[app.Checkout] != DefaultCheckoutMetricsAddr || got[app.Stock] != DefaultStockMetricsAddr {
		t.Errorf("defaults: %v", got)
	}
	for _, c := range []struct{ key, value, want string }{
		{"GATEWAY_METRICS_ADDR", "localhost:8080", "GATEWAY_ADDR"},
		{"CHECKOUT_METRICS_ADDR", "nope", "CHECKOUT_METRICS_ADDR"},
	} {
		_, err := Addrs(func(k string) string {
			if k == c.key {
				return c.value
			}
			return ""
		}, cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.key) {
			t.Errorf("%s=%s: %v, want an error naming %s and %s", c.key, c.value, err, c.key, c.want)
		}
	}
}

func TestExportOTLP(t *testing.T) {
	for v, want := range map[string]bool{"": false, "prometheus": false, "none": false, "otlp": true, "OTLP": true, "prometheus,otlp": true} {
		got, err := ExportOTLP(func(string) string { return v })
		if err != nil || got != want {
			t.Errorf("OTEL_METRICS_EXPORTER=%q: %v, %v; want %v", v, got, err, want)
		}
	}
	for _, v := range []string{"graphite", "otlp,graphite", "console"} {
		if _, err := ExportOTLP(func(string) string { return v }); err == nil || !strings.Contains(err.Error(), "OTEL_METRICS_EXPORTER") {
			t.Errorf("OTEL_METRICS_EXPORTER=%s: %v, want an error naming the variable", v, err)
		}
	}
}

// TestNoop: the provider of a disabled SDK measures into nothing and shuts down.
func TestNoop(t *testing.T) {
	p := Noop()
	c, err := p.Meter("test").Int64Counter("c")
	if err != nil {
		t.Fatal(err)
	}
	c.Add(context.Background(), 1)
	if c.Enabled(context.Background()) {
		t.Error("the no-op provider's counter is enabled")
	}
	if err := p.Shutdown(context.Background()); err != nil {
		t.Error(err)
	}
}
