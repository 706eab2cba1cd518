package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/ot2otel/workshop/shared/app"
)

// restock puts stock's ledger in Redis back to the catalogue: the ledger outlives every
// run, so whoever runs the shop often enough (a rehearsal, a load test) ends with every
// SKU run out and every order dead-lettered. It reads the variables stock reads:
// REDIS_URL, and AMQP_EXCHANGE and AMQP_QUEUE, which make the ledger's key prefix, and
// STOCK_QUANTITY for how many of each SKU.
func restock(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("restock", flag.ContinueOnError)
	fs.SetOutput(stdout)
	forget := fs.Bool("forget", false, "also forget the order IDs the ledger remembers (a reset: a redelivered old order is reserved again)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("restock takes no arguments, only -forget and the variables stock reads (REDIS_URL, AMQP_EXCHANGE, AMQP_QUEUE, STOCK_QUANTITY); got %q", fs.Args())
	}
	cfg, err := app.LoadConfig(getenv)
	if err != nil {
		return err
	}
	items, err := app.Restock(ctx, cfg, *forget)
	if err != nil {
		return fmt.Errorf("restock: %w", err)
	}
	what := "restocked"
	if *forget {
		what = "reset (order IDs forgotten)"
	}
	fmt.Fprintf(stdout, "%s the ledger %s in %s:\n", what, app.LedgerPrefix(cfg), cfg.RedisURL)
	for _, it := range items {
		fmt.Fprintf(stdout, "  %-20s %6d available %6d reserved\n", it.SKU, it.Available, it.Reserved)
	}
	return nil
}
