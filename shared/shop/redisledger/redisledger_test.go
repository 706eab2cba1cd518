package redisledger_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ot2otel/workshop/shared/broker"
	"github.com/ot2otel/workshop/shared/redistest"
	"github.com/ot2otel/workshop/shared/shop"
	"github.com/ot2otel/workshop/shared/shop/redisledger"
)

// newLedger returns a seeded ledger under a prefix of the test's own.
func newLedger(t *testing.T, stock ...shop.StockItem) (*redisledger.Ledger, *redis.Client, string) {
	t.Helper()
	c := redistest.Client(t)
	prefix := redistest.Prefix(t, c)
	l := redisledger.New(c, prefix)
	if err := l.Seed(context.Background(), stock); err != nil {
		t.Fatal(err)
	}
	return l, c, prefix
}

func item(t *testing.T, l *redisledger.Ledger, sku string) shop.StockItem {
	t.Helper()
	s, ok, err := l.Get(context.Background(), sku)
	if err != nil || !ok {
		t.Fatalf("Get(%q) = %v, %v, %v", sku, s, ok, err)
	}
	return s
}

// TestBehavesLikeTheMemoryLedger runs the same orders through both ledgers and wants
// the same answers and the same stock after each.
func TestBehavesLikeTheMemoryLedger(t *testing.T) {
	ctx := context.Background()
	stock := []shop.StockItem{{SKU: "a", Available: 3}, {SKU: "b", Available: 1}}
	l, _, _ := newLedger(t, stock...)
	mem := shop.NewLedger(stock).Stock()
	for _, o := range []struct {
		id    string
		items []shop.Item
		want  error
	}{
		{"o1", []shop.Item{{SKU: "a", Quantity: 2}}, nil},
		{"o1", []shop.Item{{SKU: "a", Quantity: 2}}, nil},                                         // duplicate
		{"o2", []shop.Item{{SKU: "a", Quantity: 1}, {SKU: "a", Quantity: 1}}, shop.ErrOutOfStock}, // lines add up
		{"o3", []shop.Item{{SKU: "b", Quantity: 1}, {SKU: "nope", Quantity: 1}}, shop.ErrUnknownSKU},
		{"o4", []shop.Item{{SKU: "b", Quantity: 0}}, shop.ErrBadQuantity},
		{"o5", []shop.Item{{SKU: "b", Quantity: -2}}, shop.ErrBadQuantity},
		{"o6", []shop.Item{{SKU: "a", Quantity: 1}, {SKU: "b", Quantity: 1}}, nil},
		{"o7", []shop.Item{{SKU: "b", Quantity: 1}}, shop.ErrOutOfStock},
		{"o4", []shop.Item{{SKU: "b", Quantity: 0}}, shop.ErrBadQuantity}, // a failed order is not remembered
	} {
		gotDup, gotErr := l.Reserve(ctx, o.id, o.items)
		memDup, memErr := mem.Reserve(ctx, o.id, o.items)
		if gotDup != memDup || !errors.Is(gotErr, o.want) || !errors.Is(memErr, o.want) || (gotErr == nil) != (o.want == nil) {
			t.Errorf("Reserve(%s, %v) = %v, %v; the memory ledger says %v, %v; want error %v", o.id, o.items, gotDup, gotErr, memDup, memErr, o.want)
		}
		if gotErr != nil && memErr != nil && gotErr.Error() != memErr.Error() {
			t.Errorf("Reserve(%s): error %q, the memory ledger's %q", o.id, gotErr, memErr)
		}
		if o.want != nil && !broker.IsPermanent(gotErr) {
			t.Errorf("Reserve(%s): %v is not permanent", o.id, gotErr)
		}
		got, err := l.List(ctx)
		want, _ := mem.List(ctx)
		if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("after %s: List() = %v, %v; the memory ledger has %v", o.id, got, err, want)
		}
	}
	if _, ok, err := l.Get(ctx, "nope"); ok || err != nil {
		t.Errorf("Get(nope) = %v, %v, want not found", ok, err)
	}
	if got := item(t, l, "a"); got != (shop.StockItem{SKU: "a", Available: 0, Reserved: 3}) {
		t.Errorf("Get(a) = %+v", got)
	}
}

// TestConcurrentReservesOfOneOrder: 50 goroutines deliver the same order at once, as
// redeliveries to several consumers might; it is reserved once.
func TestConcurrentReservesOfOneOrder(t *testing.T) {
	l, _, _ := newLedger(t, shop.StockItem{SKU: "a", Available: 1000})
	var wg sync.WaitGroup
	var mu sync.Mutex
	fresh, dups := 0, 0
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dup, err := l.Reserve(context.Background(), "ord_same", []shop.Item{{SKU: "a", Quantity: 3}})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				t.Error(err)
			case dup:
				dups++
			default:
				fresh++
			}
		}()
	}
	wg.Wait()
	if fresh != 1 || dups != 49 {
		t.Errorf("%d reservations and %d duplicates, want 1 and 49", fresh, dups)
	}
	if got := item(t, l, "a"); got.Available != 997 || got.Reserved != 3 {
		t.Errorf("stock %+v, want 997 available and 3 reserved", got)
	}
}

// TestConcurrentOrdersForTheLastUnit: 20 orders want the last unit at once; one gets it,
// the others are out of stock, and stock never goes negative.
func TestConcurrentOrdersForTheLastUnit(t *testing.T) {
	l, _, _ := newLedger(t, shop.StockItem{SKU: "last", Available: 1})
	var wg sync.WaitGroup
	var mu sync.Mutex
	won, out := 0, 0
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := l.Reserve(context.Background(), fmt.Sprintf("ord_%d", i), []shop.Item{{SKU: "last", Quantity: 1}})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won++
			case errors.Is(err, shop.ErrOutOfStock):
				out++
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if won != 1 || out != 19 {
		t.Errorf("%d orders won and %d were out of stock, want 1 and 19", won, out)
	}
	if got := item(t, l, "last"); got.Available != 0 || got.Reserved != 1 {
		t.Errorf("stock %+v, want 0 available and 1 reserved", got)
	}
}

// TestStateSurvivesANewLedger plays a stock restart: a new client and ledger on the same
// prefix, seeded again, still know the stock and the orders reserved before.
func TestStateSurvivesANewLedger(t *testing.T) {
	ctx := context.Background()
	catalogue := []shop.StockItem{{SKU: "a", Available: 10}}
	l, c, prefix := newLedger(t, catalogue...)
	if _, err := l.Reserve(ctx, "ord_1", []shop.Item{{SKU: "a", Quantity: 4}}); err != nil {
		t.Fatal(err)
	}
	c2 := redis.NewClient(c.Options())
	defer c2.Close()
	l2 := redisledger.New(c2, prefix)
	// Seeding again, as a restarted service does, must not put the stock back.
	if err := l2.Seed(ctx, catalogue); err != nil {
		t.Fatal(err)
	}
	if got := item(t, l2, "a"); got != (shop.StockItem{SKU: "a", Available: 6, Reserved: 4}) {
		t.Errorf("after a restart: %+v, want 6 available and 4 reserved", got)
	}
	dup, err := l2.Reserve(ctx, "ord_1", []shop.Item{{SKU: "a", Quantity: 4}})
	if err != nil || !dup {
		t.Errorf("redelivery after a restart: duplicate=%v, err=%v, want a duplicate", dup, err)
	}
	if got := item(t, l2, "a"); got.Available != 6 {
		t.Errorf("a redelivery after a restart reserved again: %+v", got)
	}
}

// TestSeedAddsOnlyWhatIsMissing: seeding twice keeps the first stock and adds new SKUs.
func TestSeedAddsOnlyWhatIsMissing(t *testing.T) {
	ctx := context.Background()
	l, _, _ := newLedger(t, shop.StockItem{SKU: "a", Available: 5})
	if err := l.Seed(ctx, []shop.StockItem{{SKU: "a", Available: 500}, {SKU: "b", Available: 7}}); err != nil {
		t.Fatal(err)
	}
	got, err := l.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []shop.StockItem{{SKU: "a", Available: 5}, {SKU: "b", Available: 7}}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("List() = %v, want %v", got, want)
	}
}

// TestPrefixesAreSeparate: two ledgers under different prefixes share nothing.
func TestPrefixesAreSeparate(t *testing.T) {
	ctx := context.Background()
	l1, c, _ := newLedger(t, shop.StockItem{SKU: "a", Available: 5})
	l2 := redisledger.New(c, redistest.Prefix(t, c))
	if err := l2.Seed(ctx, []shop.StockItem{{SKU: "a", Available: 9}}); err != nil {
		t.Fatal(err)
	}
	if _, err := l1.Reserve(ctx, "ord_1", []shop.Item{{SKU: "a", Quantity: 5}}); err != nil {
		t.Fatal(err)
	}
	if dup, err := l2.Reserve(ctx, "ord_1", []shop.Item{{SKU: "a", Quantity: 1}}); dup || err != nil {
		t.Errorf("the same order ID under another prefix: duplicate=%v, err=%v", dup, err)
	}
	if got := item(t, l2, "a"); got.Available != 8 {
		t.Errorf("other prefix: %+v, want 8 available", got)
	}
}

// TestDeleteRemovesEveryKey: Delete leaves nothing under the prefix.
func TestDeleteRemovesEveryKey(t *testing.T) {
	ctx := context.Background()
	l, c, prefix := newLedger(t, shop.StockItem{SKU: "a", Available: 5})
	if _, err := l.Reserve(ctx, "ord_1", []shop.Item{{SKU: "a", Quantity: 1}}); err != nil {
		t.Fatal(err)
	}
	if err := l.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	keys, err := c.Keys(ctx, prefix+"*").Result()
	if err != nil || len(keys) != 0 {
		t.Errorf("after Delete: keys %v, %v", keys, err)
	}
}

// TestUnreachableRedisIsTransient: with Redis on a closed port, every call fails with an
// error that is not permanent, so the broker tries the message again.
func TestUnreachableRedisIsTransient(t *testing.T) {
	t.Parallel()
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	defer c.Close()
	l := redisledger.New(c, "test:unreachable:")
	ctx := context.Background()
	_, err := l.Reserve(ctx, "ord_1", []shop.Item{{SKU: "a", Quantity: 1}})
	checkTransient(t, "Reserve", err)
	_, err = l.List(ctx)
	checkTransient(t, "List", err)
	_, _, err = l.Get(ctx, "a")
	checkTransient(t, "Get", err)
	checkTransient(t, "Seed", l.Seed(ctx, shop.DemoCatalogue()))
}

func checkTransient(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s without Redis: no error", what)
		return
	}
	if broker.IsPermanent(err) {
		t.Errorf("%s without Redis: %v is permanent; want the broker to retry", what, err)
	}
	if !strings.Contains(err.Error(), "redis") {
		t.Errorf("%s without Redis: %q does not say it was Redis", what, err)
	}
	if !broker.IsUnavailable(err) {
		t.Errorf("%s without Redis: %v is not broker.IsUnavailable; want the consumer to wait for Redis, not use up the message's attempts", what, err)
	}
}

// TestRedisGoingAwayAndComingBack plays a Redis restart with a proxy the test cuts:
// while it is gone, Reserve fails with a transient error and reserves nothing; once it
// is back, the same order reserves once.
func TestRedisGoingAwayAndComingBack(t *testing.T) {
	ctx := context.Background()
	real := redistest.Client(t)
	p := redistest.StartProxy(t, real)
	prefix := redistest.Prefix(t, real)
	opts, err := redis.ParseURL(redistest.ProxyURL(p, real))
	if err != nil {
		t.Fatal(err)
	}
	opts.MaxRetries = 1
	opts.DialTimeout = time.Second
	c := redis.NewClient(opts)
	defer c.Close()
	l := redisledger.New(c, prefix)
	if err := l.Seed(ctx, []shop.StockItem{{SKU: "a", Available: 5}}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Reserve(ctx, "ord_before", []shop.Item{{SKU: "a", Quantity: 1}}); err != nil {
		t.Fatal(err)
	}

	p.Cut()
	_, err = l.Reserve(ctx, "ord_during", []shop.Item{{SKU: "a", Quantity: 1}})
	checkTransient(t, "Reserve while Redis is gone", err)

	p.Restore()
	var dup bool
	deadline := time.Now().Add(10 * time.Second)
	for {
		dup, err = l.Reserve(ctx, "ord_during", []shop.Item{{SKU: "a", Quantity: 1}})
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil || dup {
		t.Fatalf("Reserve once Redis is back: duplicate=%v, err=%v", dup, err)
	}
	s, _, err := redisledger.New(real, prefix).Get(ctx, "a")
	if err != nil || s.Available != 3 || s.Reserved != 2 {
		t.Errorf("stock %+v, %v; want 3 available and 2 reserved (one before, one after the outage)", s, err)
	}
}

// TestRemembersABoundedNumberOfOrders: the ledger remembers the latest orders up to its
// bound and forgets the oldest, like shop.Ledger.
func TestRemembersABoundedNumberOfOrders(t *testing.T) {
	ctx := context.Background()
	l, c, prefix := newLedger(t, shop.StockItem{SKU: "a", Available: 100})
	redisledger.SetRemembered(l, 5)
	for i := range 8 {
		if _, err := l.Reserve(ctx, fmt.Sprintf("ord_%d", i), []shop.Item{{SKU: "a", Quantity: 1}}); err != nil {
			t.Fatal(err)
		}
	}
	if got := c.ZCard(ctx, prefix+"orders").Val(); got != 5 {
		t.Errorf("remembers %d orders, want 5", got)
	}
	if dup, err := l.Reserve(ctx, "ord_7", []shop.Item{{SKU: "a", Quantity: 1}}); !dup || err != nil {
		t.Errorf("the latest order again: duplicate=%v, err=%v, want a duplicate", dup, err)
	}
	if dup, err := l.Reserve(ctx, "ord_3", []shop.Item{{SKU: "a", Quantity: 1}}); !dup || err != nil {
		t.Errorf("the oldest remembered order again: duplicate=%v, err=%v, want a duplicate", dup, err)
	}
	if dup, err := l.Reserve(ctx, "ord_0", []shop.Item{{SKU: "a", Quantity: 1}}); dup || err != nil {
		t.Errorf("an order past the bound: duplicate=%v, err=%v, want it forgotten", dup, err)
	}
}
