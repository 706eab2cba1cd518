// Command shop runs the workshop's shop in the middle of a rolling migration: each
// service traces either with its own OpenTelemetry tracer provider, through the
// OpenTracing bridge, exporting over OTLP/HTTP, or, not migrated yet, with jaeger-client,
// exporting to Jaeger. Which is configuration (SHOP_TRACER, SHOP_TRACERS); by default
// gateway and stock have moved and checkout has not. The OpenTelemetry services speak W3C
// Trace Context and Jaeger's uber-trace-id on the wire, so the order is still one trace,
// over HTTP and across RabbitMQ, whichever services have moved. Each service still logs
// the request's correlation ID, carried by hand from service to service.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/uber/jaeger-client-go/config"

	"github.com/ot2otel/workshop/shared/app"
	"github.com/ot2otel/workshop/shared/demo"
	"github.com/ot2otel/workshop/shared/edge"
	"github.com/ot2otel/workshop/shared/otelenv"
	"github.com/ot2otel/workshop/shared/otredis"
	"github.com/ot2otel/workshop/shared/sampling"
	"github.com/ot2otel/workshop/shared/sampling/legacyremote"
	"github.com/ot2otel/workshop/shared/telemetry"
	"github.com/ot2otel/workshop/shared/telemetry/jaegerlog"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// run starts the services the command line names and serves until ctx is done.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	cmd, err := app.ParseArgs(args)
	if err != nil {
		return err
	}
	if cmd.Demo() {
		return demo.Run(ctx, run, getenv, stdout)
	}
	cfg, err := app.LoadConfig(getenv)
	if err != nil {
		return err
	}
	edgeCfg, err := edge.LoadConfig(getenv)
	if err != nil {
		return err
	}
	tracers, err := loadTracers(getenv)
	if err != nil {
		return err
	}
	// Every OpenTelemetry service speaks the propagation formats OTEL_PROPAGATORS names,
	// handed to the bridge and to any OpenTelemetry instrumentation explicitly: the
	// global propagator is a no-op. A process of legacy services only checks them too,
	// so that a name it cannot honour stops it now, not on the day it migrates.
	prop, err := newPropagator(getenv)
	if err != nil {
		return err
	}
	if edgeCfg.PublicEndpoint && slices.Contains(cmd.Services, app.Gateway) && tracers[app.Gateway] != tracerOTel {
		// A public endpoint links its new root span to the caller's: jaeger-client has
		// no links, and would silently continue the caller's trace instead.
		return fmt.Errorf("GATEWAY_PUBLIC_ENDPOINT=1 needs the gateway on OpenTelemetry (SHOP_TRACER or SHOP_TRACERS gateway=%s), not on %s",
			tracerOTel, tracers[app.Gateway])
	}
	logger := app.NewLogger(stdout, cfg)
	// OpenTelemetry's own errors (an exporter that cannot reach its collector, a baggage
	// header that does not parse) go to the log, not to stderr as plain text.
	telemetry.HandleOTelErrors(logger, cmd.Services...)
	otelenv.LogIgnored(logger, getenv)
	// Both worlds' sampling variables, checked and said once: each service follows the
	// incoming flag, and the root decides with the sampler of the tracer it runs.
	if err := errors.Join(sampling.LogOTel(logger, getenv), sampling.LogJaeger(logger, getenv)); err != nil {
		return err
	}
	b, err := app.OpenBroker(ctx, cfg, cmd, logger)
	if err != nil {
		return err
	}

	var services []app.Service
	for _, name := range cmd.Services {
		log := logger.With("service", name)
		// Each service has its own tracer provider or tracer, as it would in a process
		// of its own, and shuts it down when it stops, which flushes its spans. The
		// migration is rolling: each service is on the tracer the configuration says.
		var tr tracing
		var err error
		guardProp := prop
		if tracers[name] == tracerJaeger {
			// With JAEGER_SAMPLER_TYPE=remote, a remote sampler that reads Jaeger v2's answers
			// (jaeger-client's own parser rejects them, silently) and logs its failures.
			jlog := jaegerlog.New(log)
			tr, err = newLegacyTracing(name, config.Logger(jlog), legacyremote.Option(name, jlog))
			guardProp = nil // jaeger-client has no OpenTelemetry propagator
		} else {
			tr, err = newTracing(name, prop, log)
		}
		if err != nil {
			return errors.Join(err, app.CloseAll(services, b))
		}
		log.Info("tracing", "tracer", tracers[name])
		tracer := tr.Tracer
		switch name {
		case app.Gateway:
			services = append(services, app.Service{Name: name, Addr: cfg.GatewayAddr,
				// The public entry point: edge.Guard decides what a caller's headers may say.
				Handler: edge.Guard(newGateway(cfg.CheckoutURL, tracer, tr.Provider, log), edgeCfg, guardProp), Close: tr.Shutdown})
		case app.Checkout:
			services = append(services, app.Service{Name: name, Addr: cfg.CheckoutAddr,
				Handler: newCheckout(NewTracedRabbitBroker(b, tracer), tracer, log), Close: tr.Shutdown})
		case app.Stock:
			ledger, err := app.OpenLedger(ctx, cfg, cmd, log, otredis.Instrument(tracer))
			if err != nil {
				return errors.Join(err, app.CloseAll(services, b))
			}
			traced := NewTracedRabbitBroker(b, tracer)
			services = append(services, app.Service{Name: name, Addr: cfg.StockAddr,
				Handler: newStockAPI(ledger, b, tracer),
				Consume: func(ctx context.Context) error { return traced.Consume(ctx, reserveStock(ledger, tracer, log)) },
				Close:   func(ctx context.Context) error { return errors.Join(tr.Shutdown(ctx), ledger.Close()) }})
		}
	}
	return app.Serve(ctx, logger, b, services...)
}

// tracerKind is what one service traces with during the migration.
type tracerKind string

const (
	// tracerOTel is the OpenTelemetry SDK, under the OpenTracing bridge (newTracing):
	// the service has migrated.
	tracerOTel tracerKind = "otel"
	// tracerJaeger is jaeger-client, as in step 03 (newLegacyTracing): it has not.
	tracerJaeger tracerKind = "jaeger"
)

// defaultTracers is where this step's migration stands unless the configuration says
// otherwise: gateway and stock have moved, checkout has not.
var defaultTracers = map[string]tracerKind{app.Gateway: tracerOTel, app.Checkout: tracerJaeger, app.Stock: tracerOTel}

// loadTracers returns the tracer of each service, from two variables: SHOP_TRACER,
// otel or jaeger, for every service the process runs (the form for a deployment of one
// service a process: a team moves its service by changing one variable of its own), and
// SHOP_TRACERS, a comma-separated list of service=tracer, for any of them (the form for
// `all`, or for one set of variables shared by the fleet), which wins over SHOP_TRACER
// for the services it names. A value it does not know stops the service at start: a
// service that guessed would trace with something nobody chose.
func loadTracers(getenv func(string) string) (map[string]tracerKind, error) {
	tracers := maps.Clone(defaultTracers)
	if v := strings.TrimSpace(getenv("SHOP_TRACER")); v != "" {
		kind, err := parseTracer(v)
		if err != nil {
			return nil, fmt.Errorf("SHOP_TRACER %q: %w", v, err)
		}
		for name := range tracers {
			tracers[name] = kind
		}
	}
	list := getenv("SHOP_TRACERS")
	for _, entry := range strings.Split(list, ",") {
		if entry = strings.TrimSpace(entry); entry == "" {
			continue
		}
		name, value, ok := strings.Cut(entry, "=")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if _, known := defaultTracers[name]; !ok || !known {
			return nil, fmt.Errorf("SHOP_TRACERS %q: %q is not service=tracer, with a service among gateway, checkout and stock", list, entry)
		}
		kind, err := parseTracer(value)
		if err != nil {
			return nil, fmt.Errorf("SHOP_TRACERS %q: %s's tracer: %w", list, name, err)
		}
		tracers[name] = kind
	}
	return tracers, nil
}

func parseTracer(v string) (tracerKind, error) {
	switch kind := tracerKind(v); kind {
	case tracerOTel, tracerJaeger:
		return kind, nil
	}
	return "", fmt.Errorf("no tracer %q: want %s (OpenTelemetry, through the bridge) or %s (jaeger-client)", v, tracerOTel, tracerJaeger)
}
