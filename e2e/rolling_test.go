//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ot2otel/workshop/shared/fleet"
	"github.com/ot2otel/workshop/shared/shop"
	"github.com/ot2otel/workshop/shared/tracecheck"
)

// TestRollingMigrationAgainstJaeger runs step 05 as three processes, each on the tracer
// its own SHOP_TRACER names, as a team that moves its service changes its own deploy's
// variable, exporting to a real Jaeger v2: OTLP from the services on OpenTelemetry,
// jaeger thrift from those on jaeger-client. In two topologies of a rolling migration,
// the order's trace read back from Jaeger is one trace through all three services.
func TestRollingMigrationAgainstJaeger(t *testing.T) {
	if os.Getenv("WORKSHOP_REQUIRE_RABBITMQ") != "1" {
		t.Log("three processes meet only through RabbitMQ: set WORKSHOP_REQUIRE_RABBITMQ=1 to fail fast when it is down")
	}
	j := startJaeger(t)
	bin := buildStep(t, "05-mixed-fleet")
	for _, tc := range []struct {
		name    string
		tracers map[string]string // SHOP_TRACER of each process
	}{
		{"one legacy service in the middle", map[string]string{"gateway": "otel", "checkout": "jaeger", "stock": "otel"}},
		{"legacy at both ends", map[string]string{"gateway": "jaeger", "checkout": "otel", "stock": "jaeger"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			f, err := fleet.StartProcesses(ctx, perServiceTracer(t, bin, tc.tracers), both.env(j))
			if err != nil {
				t.Fatalf("start the three services: %v", err)
			}
			stopped := false
			defer func() {
				if !stopped {
					f.Stop()
				}
			}()
			resp, err := place(ctx, f, shop.Order{CustomerID: "e2e", Items: []shop.Item{{SKU: "gopher-plush", Quantity: 2}}})
			if err == nil {
				err = f.WaitReserved(ctx, "gopher-plush", 2)
			}
			if err != nil {
				t.Fatalf("the order: %v\nlogs:\n%s", err, f.LogText())
			}
			stopped = true
			if err := f.Stop(); err != nil {
				t.Errorf("SIGTERM: %v", err)
			}
			// Each process says which tracer it runs: the variable reached it.
			for service, tracer := range tc.tracers {
				if !slices.ContainsFunc(f.Logs(), func(r map[string]any) bool {
					return r["msg"] == "tracing" && r["service"] == service && r["tracer"] == tracer
				}) {
					t.Errorf("%s never logged that it traces with %s (SHOP_TRACER=%s)\nlogs:\n%s", service, tracer, tracer, f.LogText())
				}
			}

			id := traceID(resp)
			if id == "" {
				t.Fatalf("traceresponse %q names no trace", resp.Header.Get("traceresponse"))
			}
			hops := []tracecheck.Hop{gatewayServer, gatewayClient, checkoutServer, placeOrder, producer, consumer, reserveStock}
			if tc.tracers["gateway"] == "otel" {
				hops = slices.Insert(hops, 1, gatewaySubmit)
			}
			spans, err := j.spansOf(ctx, id, func(spans []tracecheck.Span) error {
				var errs []error
				if err := tracecheck.CheckContinuous(spans); err != nil {
					errs = append(errs, err)
				} else if err := tracecheck.CheckChain(spans, hops...); err != nil {
					errs = append(errs, err)
				} else {
					errs = append(errs, tracecheck.CheckParent(spans, consumer, producer),
						tracecheck.CheckParent(spans, checkoutServer, gatewayClient))
				}
				if got, want := services(spans), []string{"checkout", "gateway", "stock"}; !slices.Equal(got, want) {
					errs = append(errs, fmt.Errorf("the trace has spans of %v, want %v", got, want))
				}
				return errors.Join(errs...)
			})
			if err != nil {
				t.Errorf("the trace %s read back from Jaeger is not one trace through the three services:\n%v", id, err)
			}
			t.Logf("%s: %d spans\n%s", tc.name, len(spans), tracecheck.String(spans))
		})
	}
}

// perServiceTracer returns an executable that runs bin with SHOP_TRACER set for the
// service it is asked to run, as each service's own deploy would set it.
func perServiceTracer(t *testing.T, bin string, tracers map[string]string) string {
	t.Helper()
	script := "#!/bin/sh\ncase \"$1\" in\n"
	for service, tracer := range tracers {
		script += fmt.Sprintf("%s) SHOP_TRACER=%s; export SHOP_TRACER;;\n", service, tracer)
	}
	script += fmt.Sprintf("esac\nexec %q \"$@\"\n", bin)
	path := filepath.Join(t.TempDir(), "shop")
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}
