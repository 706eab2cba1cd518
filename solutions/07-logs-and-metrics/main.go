// Command shop runs the workshop's shop: a gateway, checkout and stock, each with its
// own OpenTelemetry tracer, logger and meter providers, and the W3C propagator: otelmux
// and otelhttp for HTTP, the TracedRabbitBroker for RabbitMQ. One order is one trace,
// from the gateway to stock; every line the order logs carries the trace's ID; each
// service serves its metrics to Prometheus on an address of its own, their duration
// histograms with exemplars that name a trace.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/ot2otel/workshop/shared/app"
	"github.com/ot2otel/workshop/shared/demo"
	"github.com/ot2otel/workshop/shared/edge"
	"github.com/ot2otel/workshop/shared/otelenv"
	"github.com/ot2otel/workshop/shared/otellogs"
	"github.com/ot2otel/workshop/shared/otelmetrics"
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
	metricsAddrs, err := otelmetrics.Addrs(getenv, cfg)
	if err != nil {
		return err
	}
	logger := app.NewLogger(stdout, cfg)
	// OpenTelemetry's own errors (an exporter that cannot reach its collector, a baggage
	// header that does not parse) go to the log, not to stderr as plain text.
	telemetry.HandleOTelErrors(logger, cmd.Services...)
	otelenv.LogIgnored(logger, getenv)
	if otelenv.SDKDisabled() {
		// The specification's OTEL_SDK_DISABLED turns every signal off, not just traces.
		logger.Warn("OTEL_SDK_DISABLED=true: no spans, no metrics (no /metrics is served) and no log records exported; " +
			"the log lines on stdout stay, without trace_id and span_id")
	}
	// OTEL_TRACES_SAMPLER and its argument, checked (the SDK alone would sample everything
	// for a value it does not know), and said once.
	if err := sampling.LogOTel(logger, getenv); err != nil {
		return err
	}
	// Every service speaks the same propagation formats, and hands them to all its
	// instrumentation explicitly: the global propagator is a no-op. They are
	// OTEL_PROPAGATORS', newPropagator's W3C pair when it is unset, as in step 06: no
	// service speaks uber-trace-id. A name the services cannot honour stops them now,
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
		// Each service has its own tracer, logger and meter providers, as it would in a
		// process of its own, and shuts them down when it stops, which flushes them.
		tp, err := newTracerProvider(name)
		if err != nil {
			return errors.Join(err, app.CloseAll(services, b))
		}
		lp, err := newLoggerProvider(ctx, name, stdout, cfg, getenv)
		if err != nil {
			return errors.Join(err, tp.Shutdown(ctx), app.CloseAll(services, b))
		}
		// An error recorded on a span is a log record too, on the span's trace.
		if sdk, ok := tp.(*sdktrace.TracerProvider); ok {
			sdk.RegisterSpanProcessor(otellogs.SpanErrors(lp))
		}
		log := newLogger(lp)
		mp, metrics, err := newMeterProvider(ctx, name, getenv)
		if err != nil {
			return errors.Join(err, tp.Shutdown(ctx), lp.Shutdown(ctx), app.CloseAll(services, b))
		}
		// /metrics goes first: Serve stops services in the reverse order, so it
		// answers until its service has stopped. There is none when the SDK is disabled.
		if metrics != nil {
			services = append(services, otelmetrics.Service(name, metricsAddrs[name], metrics))
		}
		closeAll := func(ctx context.Context) error {
			return errors.Join(tp.Shutdown(ctx), mp.Shutdown(ctx), lp.Shutdown(ctx))
		}
		switch name {
		case app.Gateway:
			services = append(services, app.Service{Name: name, Addr: cfg.GatewayAddr,
				// The public entry point: edge.Guard decides what a caller's headers may say.
				Handler: edge.Guard(newGateway(cfg.CheckoutURL, tp, mp, prop, log), edgeCfg, prop), Close: closeAll})
		case app.Checkout:
			services = append(services, app.Service{Name: name, Addr: cfg.CheckoutAddr,
				Handler: newCheckout(NewTracedRabbitBroker(b, tp, mp, prop), tp, mp, prop, log), Close: closeAll})
		case app.Stock:
			ledger, err := app.OpenLedger(ctx, cfg, cmd, log, instrumentRedis(tp, mp))
			if err != nil {
				return errors.Join(err, closeAll(ctx), app.CloseAll(services, b))
			}
			traced := NewTracedRabbitBroker(b, tp, mp, prop)
			services = append(services, app.Service{Name: name, Addr: cfg.StockAddr,
				Handler: newStockAPI(ledger, b, tp, mp, prop),
				Consume: func(ctx context.Context) error {
					return traced.Consume(ctx, reserveStock(ledger, tp.Tracer(tracerName), mp.Meter(meterName), log))
				},
				Close: func(ctx context.Context) error { return errors.Join(closeAll(ctx), ledger.Close()) }})
		}
	}
	return app.Serve(ctx, logger, b, services...)
}
