// Command shop runs the workshop's shop: a gateway, checkout and stock, each traced with
// its own OpenTelemetry tracer provider, which exports over OTLP/HTTP, and the W3C
// propagator: otelmux and otelhttp for HTTP, the TracedRabbitBroker for RabbitMQ. One
// order is one trace, from the gateway to stock. Each service still logs the request's
// correlation ID, carried by hand from service to service.
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
	// Every service speaks the same propagation formats, and hands them to all its
	// instrumentation explicitly: the global propagator is a no-op. They are
	// OTEL_PROPAGATORS', newPropagator's W3C pair when it is unset: the migration is over
	// and no service speaks uber-trace-id. A consumer of a queue that a legacy publisher
	// fed keeps OTEL_PROPAGATORS=tracecontext,baggage,jaeger until the queue is empty
	// (MIGRATION.md's drain rule). A name the services cannot honour stops them now,
	// before they connect to anything.
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
		tp, err := newTracerProvider(name)
		if err != nil {
			return errors.Join(err, app.CloseAll(services, b))
		}
		switch name {
		case app.Gateway:
			services = append(services, app.Service{Name: name, Addr: cfg.GatewayAddr,
				// The public entry point: edge.Guard decides what a caller's headers may say.
				Handler: edge.Guard(newGateway(cfg.CheckoutURL, tp, prop, log), edgeCfg, prop), Close: tp.Shutdown})
		case app.Checkout:
			services = append(services, app.Service{Name: name, Addr: cfg.CheckoutAddr,
				Handler: newCheckout(NewTracedRabbitBroker(b, tp, prop), tp, prop, log), Close: tp.Shutdown})
		case app.Stock:
			ledger, err := app.OpenLedger(ctx, cfg, cmd, log, instrumentRedis(tp))
			if err != nil {
				return errors.Join(err, app.CloseAll(services, b))
			}
			traced := NewTracedRabbitBroker(b, tp, prop)
			services = append(services, app.Service{Name: name, Addr: cfg.StockAddr,
				Handler: newStockAPI(ledger, b, tp, prop),
				Consume: func(ctx context.Context) error {
					return traced.Consume(ctx, reserveStock(ledger, tp.Tracer(tracerName), log))
				},
				Close: func(ctx context.Context) error { return errors.Join(tp.Shutdown(ctx), ledger.Close()) }})
		}
	}
	return app.Serve(ctx, logger, b, services...)
}
