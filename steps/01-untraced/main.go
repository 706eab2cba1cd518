// Command shop runs the workshop's shop: a gateway, checkout and stock, untraced.
// Each service logs the request's correlation ID, carried by hand from service to service.
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
	logger := app.NewLogger(stdout, cfg)
	b, err := app.OpenBroker(ctx, cfg, cmd, logger)
	if err != nil {
		return err
	}

	var services []app.Service
	for _, name := range cmd.Services {
		log := logger.With("service", name)
		switch name {
		case app.Gateway:
			services = append(services, app.Service{Name: name, Addr: cfg.GatewayAddr,
				Handler: newGateway(cfg.CheckoutURL, log)})
		case app.Checkout:
			services = append(services, app.Service{Name: name, Addr: cfg.CheckoutAddr,
				Handler: newCheckout(b, log)})
		case app.Stock:
			ledger, err := app.OpenLedger(ctx, cfg, cmd, log)
			if err != nil {
				return errors.Join(err, app.CloseAll(services, b))
			}
			services = append(services, app.Service{Name: name, Addr: cfg.StockAddr,
				Handler: newStockAPI(ledger, b),
				Consume: func(ctx context.Context) error { return b.Consume(ctx, reserveStock(ledger, log)) },
				Close:   func(context.Context) error { return ledger.Close() }})
		}
	}
	return app.Serve(ctx, logger, b, services...)
}
