package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/ot2otel/workshop/shared/app"
	"github.com/ot2otel/workshop/shared/redistest"
	"github.com/ot2otel/workshop/shared/shop"
	"github.com/ot2otel/workshop/shared/shop/redisledger"
)

// TestRestock runs `workshop restock` against the real Redis, on a ledger of its own
// (its own exchange name, so its own key prefix): a SKU run dry comes back to the
// catalogue, nothing reserved, and an order reserved before is still remembered;
// -forget forgets it too.
func TestRestock(t *testing.T) {
	t.Parallel()
	c := redistest.Client(t)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	env := map[string]string{
		"REDIS_URL":      redistest.URL(),
		"AMQP_EXCHANGE":  "ws-restock-" + hex.EncodeToString(b),
		"AMQP_QUEUE":     "stock",
		"STOCK_QUANTITY": "3",
	}
	getenv := func(k string) string { return env[k] }
	cfg, err := app.LoadConfig(getenv)
	if err != nil {
		t.Fatal(err)
	}
	prefix := app.LedgerPrefix(cfg)
	t.Cleanup(func() { redistest.DeleteKeys(t, c, prefix) })
	ctx := context.Background()
	l := redisledger.New(c, prefix)
	if err := l.Seed(ctx, cfg.Catalogue()); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Reserve(ctx, "ord_dry", []shop.Item{{SKU: shop.DemoSKU, Quantity: 3}}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Reserve(ctx, "ord_late", []shop.Item{{SKU: shop.DemoSKU, Quantity: 1}}); !errors.Is(err, shop.ErrOutOfStock) {
		t.Fatalf("the ledger run dry: %v, want out of stock", err)
	}

	check := func(how string, forget bool, args ...string) {
		t.Helper()
		var out bytes.Buffer
		if err := restock(ctx, args, getenv, &out); err != nil {
			t.Fatalf("workshop restock %s: %v\n%s", strings.Join(args, " "), err, out.String())
		}
		if !strings.Contains(out.String(), prefix) || !strings.Contains(out.String(), shop.DemoSKU) {
			t.Errorf("workshop restock %s said\n%s\nwant the ledger's prefix %s and its SKUs", strings.Join(args, " "), out.String(), prefix)
		}
		items, err := l.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(items) != len(cfg.Catalogue()) {
			t.Errorf("%s: %d SKUs, want the catalogue's %d", how, len(items), len(cfg.Catalogue()))
		}
		for _, it := range items {
			if it.Available != 3 || it.Reserved != 0 {
				t.Errorf("%s: %+v, want 3 available (STOCK_QUANTITY) and 0 reserved", how, it)
			}
		}
		dup, err := l.Reserve(ctx, "ord_dry", []shop.Item{{SKU: shop.DemoSKU, Quantity: 1}})
		if err != nil || dup == forget {
			t.Errorf("%s: the order reserved before, redelivered: duplicate=%v, %v; want duplicate=%v", how, dup, err, !forget)
		}
	}
	check("after restock", false)
	if _, err := l.Reserve(ctx, "ord_more", []shop.Item{{SKU: shop.DemoSKU, Quantity: 2}}); err != nil {
		t.Fatal(err)
	}
	check("after restock -forget", true, "-forget")

	if err := restock(ctx, []string{"extra"}, getenv, &bytes.Buffer{}); err == nil {
		t.Error("workshop restock extra: no error, want one saying it takes no arguments")
	}
	env["REDIS_URL"] = "redis://127.0.0.1:1/0"
	if err := restock(ctx, nil, getenv, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "REDIS_URL") {
		t.Errorf("workshop restock with no Redis at REDIS_URL: %v, want an error naming REDIS_URL", err)
	}
}
