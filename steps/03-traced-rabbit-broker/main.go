// Command shop runs the workshop's shop: a gateway, checkout and stock, each traced with
// its own jaeger-client tracer through OpenTracing. The trace follows the order over
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

	"github.com/uber/jaeger-client-go/config"

	"github.com/ot2otel/workshop/shared/app"
	"github.com/ot2otel/workshop/shared/demo"
	"github.com/ot2otel/workshop/shared/edge"
	"github.com/ot2otel/workshop/shared/otredis"
	"github.com/ot2otel/workshop/shared/sampling"
	"github.com/ot2otel/workshop/shared/sampling/legacyremote"
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
	logger := app.NewLogger(stdout, cfg)
	// The JAEGER_SAMPLER_* variables, checked as jaeger-client does not, and said once.
	if err := sampling.LogJaeger(logger, getenv); err != nil {
		return err
	}
	b, err := app.OpenBroker(ctx, cfg, cmd, logger)
	if err != nil {
		return err
	}

	var services []app.Service
	for _, name := range cmd.Services {
		log := logger.With("service", name)
		// Each service has its own tracer, as it would in a process of its own, and
		// closes it when it stops, which flushes its spans. Its own errors and, with
		// JAEGER_REPORTER_LOG_SPANS=true, its spans go to the service's log.
		// With JAEGER_SAMPLER_TYPE=remote, a remote sampler that reads Jaeger v2's answers
		// (jaeger-client's own parser rejects them, silently) and logs its failures.
		jlog := jaegerlog.New(log)
		tracer, closer, err := newTracer(name, config.Logger(jlog), legacyremote.Option(name, jlog))
		if err != nil {
			return errors.Join(err, app.CloseAll(services, b))
		}
		closeTracer := func(context.Context) error { return closer.Close() }
		switch name {
		case app.Gateway:
			services = append(services, app.Service{Name: name, Addr: cfg.GatewayAddr,
				// The public entry point: edge.Guard decides what a caller's headers may say.
				Handler: edge.Guard(newGateway(cfg.CheckoutURL, tracer, log), edgeCfg, nil), Close: closeTracer})
		case app.Checkout:
			services = append(services, app.Service{Name: name, Addr: cfg.CheckoutAddr,
				Handler: newCheckout(NewTracedRabbitBroker(b, tracer), tracer, log), Close: closeTracer})
		case app.Stock:
			ledger, err := app.OpenLedger(ctx, cfg, cmd, log, otredis.Instrument(tracer))
			if err != nil {
				return errors.Join(err, app.CloseAll(services, b))
			}
			traced := NewTracedRabbitBroker(b, tracer)
			services = append(services, app.Service{Name: name, Addr: cfg.StockAddr,
				Handler: newStockAPI(ledger, b, tracer),
				Consume: func(ctx context.Context) error { return traced.Consume(ctx, reserveStock(ledger, tracer, log)) },
				Close:   func(ctx context.Context) error { return errors.Join(closeTracer(ctx), ledger.Close()) }})
		}
	}
	return app.Serve(ctx, logger, b, services...)
}
