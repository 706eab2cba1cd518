// Command shop runs the workshop's shop: a gateway, checkout and stock, each traced with
// its own OpenTelemetry tracer provider, which exports over OTLP/HTTP. The OpenTracing
// instrumentation of the earlier steps is unchanged: it runs on the OpenTelemetry
// bridge, and speaks W3C Trace Context on the wire. The trace follows the order over
// HTTP and, through the TracedRabbitBroker, across RabbitMQ. Each service still logs the
// request's correlation ID, carried by hand from service to service.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/ot2otel/workshop/shared/app"
	"github.com/ot2otel/workshop/shared/demo"
	"github.com/ot2otel/workshop/shared/edge"
	"github.com/ot2otel/workshop/shared/otelenv"
	"github.com/ot2otel/workshop/shared/otredis"
	"github.com/ot2otel/workshop/shared/sampling"
	"github.com/ot2otel/workshop/shared/telemetry"
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
	logger := app.NewLogger(stdout, cfg)
	// OpenTelemetry's own errors (an exporter that cannot reach its collector, a baggage
	// header that does not parse) go to the log, not to stderr as plain text.
	telemetry.HandleOTelErrors(logger, cmd.Services...)
	otelenv.LogIgnored(logger, getenv)
	// OTEL_TRACES_SAMPLER and its argument, checked (the SDK alone would sample everything
	// for a value it does not know), and said once.
	if err := sampling.LogOTel(logger, getenv); err != nil {
		return err
	}
	// Every service speaks the same propagation formats, handed to the bridge and to any
	// OpenTelemetry instrumentation explicitly: the global propagator is a no-op. They are
	// OTEL_PROPAGATORS', newPropagator's W3C pair when it is unset: OpenTelemetry's own
	// default, and enough here, where every service moved at once and none speaks
	// uber-trace-id (a fleet that moves service by service adds jaeger: step 05). A name
	// the services cannot honour stops them now, before they connect to anything.
	prop, err := otelenv.PropagatorsFromEnv(getenv, newPropagator())
	if err != nil {
		return err
	}
	b, err := app.OpenBroker(ctx, cfg, cmd, logger)
	if err != nil {
		return err
	}

	var services []app.Service
	for _, name := range cmd.Services {
		log := logger.With("service", name)
		// Each service has its own tracer provider, as it would in a process of its
		// own, and shuts it down when it stops, which flushes its spans.
		tr, err := newTracing(name, prop, log)
		if err != nil {
			return errors.Join(err, app.CloseAll(services, b))
		}
		tracer := tr.Tracer
		switch name {
		case app.Gateway:
			services = append(services, app.Service{Name: name, Addr: cfg.GatewayAddr,
				// The public entry point: edge.Guard decides what a caller's headers may say.
				Handler: edge.Guard(newGateway(cfg.CheckoutURL, tracer, tr.Provider, log), edgeCfg, prop), Close: tr.Shutdown})
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
