package app

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ot2otel/workshop/shared/redistest"
	"github.com/ot2otel/workshop/shared/shop"
)

func TestOpenLedgerFallsBackOnlyInProcess(t *testing.T) {
	// A port nothing listens on: Redis is unreachable.
	cfg, err := LoadConfig(env(map[string]string{"REDIS_URL": "redis://" + freeAddr(t) + "/0"}))
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	all, _ := ParseArgs([]string{"shop", "all"})
	instrumented := false
	l, err := OpenLedger(context.Background(), cfg, all, logger, func(redis.UniversalClient) error { instrumented = true; return nil })
	if err != nil {
		t.Fatalf("all without Redis: %v", err)
	}
	if l.InRedis() || strings.Count(logs.String(), "in-memory ledger") != 1 || instrumented {
		t.Errorf("all without Redis: in Redis=%v, instrumented=%v, logs %q; want the in-memory ledger, said once", l.InRedis(), instrumented, logs.String())
	}
	if items, err := l.List(context.Background()); err != nil || len(items) != len(shop.DemoCatalogue()) {
		t.Errorf("the in-memory ledger lists %v, %v; want the catalogue", items, err)
	}
	_ = l.Close()

	old := redisConnectTimeout
	redisConnectTimeout = 500 * time.Millisecond
	t.Cleanup(func() { redisConnectTimeout = old })
	stock, _ := ParseArgs([]string{"shop", "stock"})
	start := time.Now()
	if _, err := OpenLedger(context.Background(), cfg, stock, logger); err == nil || !strings.Contains(err.Error(), "is Redis running?") {
		t.Errorf("stock alone without Redis: err = %v, want a hint to start Redis", err)
	} else if d := time.Since(start); d > 5*time.Second {
		t.Errorf("stock alone without Redis: gave up after %s, with a timeout of %s", d, redisConnectTimeout)
	}

	cfg.RequireRedis = true
	if _, err := OpenLedger(context.Background(), cfg, all, logger); err == nil {
		t.Error("all with WORKSHOP_REQUIRE_REDIS=1 and no Redis: no error")
	}
}

// TestOpenLedgerInRedis: with Redis there, the ledger lives under the prefix of the
// configuration's exchange and queue, is seeded once, and is instrumented after the
// seeding.
func TestOpenLedgerInRedis(t *testing.T) {
	c := redistest.Client(t)
	prefix := redistest.Prefix(t, c) // a unique name, used as the exchange
	cfg, err := LoadConfig(env(map[string]string{"REDIS_URL": redistest.URL(), "AMQP_EXCHANGE": prefix, "AMQP_QUEUE": "q",
		"WORKSHOP_REQUIRE_REDIS": "1"}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { redistest.DeleteKeys(t, c, LedgerPrefix(cfg)) })
	ctx := context.Background()
	stock, _ := ParseArgs([]string{"shop", "stock"})
	var seen []string
	hook := func(rc redis.UniversalClient) error {
		rc.AddHook(recordHook{&seen})
		return nil
	}
	l, err := OpenLedger(ctx, cfg, stock, slog.New(slog.DiscardHandler), hook)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if !l.InRedis() {
		t.Fatal("not in Redis")
	}
	if len(seen) != 0 {
		t.Errorf("the instrumentation saw %v: the start-up was instrumented", seen)
	}
	if _, err := l.Reserve(ctx, "ord_1", []shop.Item{{SKU: "trace-mug", Quantity: 2}}); err != nil {
		t.Fatal(err)
	}
	if len(seen) == 0 {
		t.Error("the instrumentation saw no command")
	}
	if n, err := c.Exists(ctx, LedgerPrefix(cfg)+"stock").Result(); err != nil || n != 1 {
		t.Errorf("no stock under %s: %v, %v", LedgerPrefix(cfg), n, err)
	}

	// A restarted stock finds what it had reserved.
	l2, err := OpenLedger(ctx, cfg, stock, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	s, ok, err := l2.Get(ctx, "trace-mug")
	if err != nil || !ok || s.Reserved != 2 || s.Available != 48 {
		t.Errorf("after a restart: %+v, %v, %v; want 48 available and 2 reserved", s, ok, err)
	}

	// A broken instrumentation is an error, not a silently untraced ledger.
	if _, err := OpenLedger(ctx, cfg, stock, slog.New(slog.DiscardHandler), func(redis.UniversalClient) error { return errors.New("nope") }); err == nil {
		t.Error("an instrumentation that fails: no error")
	}
}

type recordHook struct{ seen *[]string }

func (h recordHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h recordHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		*h.seen = append(*h.seen, cmd.Name())
		return next(ctx, cmd)
	}
}
func (h recordHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		*h.seen = append(*h.seen, "pipeline")
		return next(ctx, cmds)
	}
}

// TestRunOutSaidOnce: an order that finds a SKU run out is logged once per SKU, not once
// per order; once the SKU is reserved again (restocked), running out is said again.
func TestRunOutSaidOnce(t *testing.T) {
	var buf bytes.Buffer
	mem := shop.NewLedger([]shop.StockItem{{SKU: "a", Available: 2}, {SKU: "b", Available: 1}})
	l := &Ledger{Stock: mem.Stock(), logger: slog.New(slog.NewTextHandler(&buf, nil))}
	ctx := context.Background()
	reserve := func(id, sku string, n int) error {
		_, err := l.Reserve(ctx, id, []shop.Item{{SKU: sku, Quantity: n}})
		return err
	}
	if err := reserve("o1", "a", 2); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := reserve("late-a-"+string(rune('0'+i)), "a", 1); !errors.Is(err, shop.ErrOutOfStock) {
			t.Fatalf("a run out: %v", err)
		}
	}
	if err := reserve("too-many-b", "b", 2); !errors.Is(err, shop.ErrOutOfStock) {
		t.Fatalf("2 of b: %v", err)
	}
	logs := buf.String()
	if n := strings.Count(logs, "run out"); n != 2 || !strings.Contains(logs, "sku=a") || !strings.Contains(logs, "sku=b") ||
		!strings.Contains(logs, "workshop restock") {
		t.Errorf("five orders for the run-out a and one for more b than is left logged\n%s\nwant one record each for a and b, naming workshop restock", logs)
	}
	// b is still there (1 left): an order that fits clears it; asking too much again is said again.
	if err := reserve("one-b", "b", 1); err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	if err := reserve("again-b", "b", 1); !errors.Is(err, shop.ErrOutOfStock) {
		t.Fatalf("b run out: %v", err)
	}
	if n := strings.Count(buf.String(), "run out"); n != 1 {
		t.Errorf("b reserved, then run out again: logged %d times, want once:\n%s", n, buf.String())
	}
}
