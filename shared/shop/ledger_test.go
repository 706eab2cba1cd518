package shop

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

func TestReserveIsIdempotentPerOrder(t *testing.T) {
	l := NewLedger(DemoCatalogue())
	items := []Item{{SKU: "trace-mug", Quantity: 2}, {SKU: "trace-mug", Quantity: 1}}
	dup, err := l.Reserve("ord_1", items)
	if err != nil || dup {
		t.Fatalf("first reserve: duplicate=%v err=%v", dup, err)
	}
	dup, err = l.Reserve("ord_1", items)
	if err != nil || !dup {
		t.Fatalf("redelivered reserve: duplicate=%v err=%v, want duplicate", dup, err)
	}
	if got, _ := l.Item("trace-mug"); got.Available != 47 || got.Reserved != 3 {
		t.Errorf("after one order of 3 delivered twice: %+v, want 47 available, 3 reserved", got)
	}
}

func TestReserveAllOrNothing(t *testing.T) {
	l := NewLedger(DemoCatalogue())
	_, err := l.Reserve("ord_1", []Item{{SKU: "trace-mug", Quantity: 1}, {SKU: "no-such-thing", Quantity: 1}})
	if !errors.Is(err, ErrUnknownSKU) {
		t.Errorf("unknown SKU: err = %v", err)
	}
	_, err = l.Reserve("ord_2", []Item{{SKU: "trace-mug", Quantity: 1}, {SKU: "gopher-plush", Quantity: 101}})
	if !errors.Is(err, ErrOutOfStock) {
		t.Errorf("out of stock: err = %v", err)
	}
	if got, _ := l.Item("trace-mug"); got.Reserved != 0 || got.Available != 50 {
		t.Errorf("a failed reservation changed stock: %+v", got)
	}
	// A failed order may be retried once stock allows: it was not recorded as done.
	if dup, err := l.Reserve("ord_1", []Item{{SKU: "trace-mug", Quantity: 1}}); dup || err != nil {
		t.Errorf("retry of a failed order: duplicate=%v err=%v", dup, err)
	}
}

func TestReserveConcurrently(t *testing.T) {
	l := NewLedger([]StockItem{{SKU: "a", Available: 100}})
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Every order twice: 100 distinct orders of 1, each delivered twice.
			l.Reserve(string(rune('A'+i%100)), []Item{{SKU: "a", Quantity: 1}})
		}()
	}
	wg.Wait()
	if got, _ := l.Item("a"); got.Reserved != 100 || got.Available != 0 {
		t.Errorf("after 100 orders delivered twice: %+v, want all 100 reserved once", got)
	}
	if items := l.Items(); len(items) != 1 || items[0].SKU != "a" {
		t.Errorf("Items() = %+v", items)
	}
	if _, ok := l.Item("b"); ok {
		t.Error("Item of an unknown SKU reported ok")
	}
}

// TestLedgerForgetsOnlyOldOrders checks the bound: a redelivery among the latest
// RememberedOrders reservations is recognised, and older ones are forgotten.
func TestLedgerForgetsOnlyOldOrders(t *testing.T) {
	l := NewLedger([]StockItem{{SKU: "a", Available: 1 << 30}})
	l.limit = 100
	one := []Item{{SKU: "a", Quantity: 1}}
	for i := range 250 {
		if dup, err := l.Reserve(fmt.Sprint("o", i), one); dup || err != nil {
			t.Fatalf("order %d: duplicate=%v err=%v", i, dup, err)
		}
	}
	if len(l.orders) != 100 || len(l.recent) != 100 {
		t.Fatalf("remembers %d orders (ring %d), want the bound, 100", len(l.orders), len(l.recent))
	}
	for i := 150; i < 250; i++ {
		if dup, _ := l.Reserve(fmt.Sprint("o", i), one); !dup {
			t.Fatalf("redelivery of recent order %d reserved again", i)
		}
	}
	if dup, _ := l.Reserve("o0", one); dup {
		t.Error("order 0, 250 orders ago, is still remembered past the bound of 100")
	}
	if got, _ := l.Item("a"); got.Reserved != 251 {
		t.Errorf("reserved %d, want 251", got.Reserved)
	}
}

// TestReserveConcurrentRedeliveries hands every order to several goroutines at once,
// as concurrent consumer workers could see a redelivery: each is reserved once.
func TestReserveConcurrentRedeliveries(t *testing.T) {
	l := NewLedger([]StockItem{{SKU: "a", Available: 1 << 30}})
	const orders, copies = 500, 4
	var wg sync.WaitGroup
	var fresh atomic.Int64
	for c := range copies {
		wg.Go(func() {
			for i := range orders {
				// Each goroutine walks the orders in its own order.
				id := fmt.Sprint("o", (i*(c+1)*7919)%orders)
				if dup, err := l.Reserve(id, []Item{{SKU: "a", Quantity: 1}}); err == nil && !dup {
					fresh.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if got, _ := l.Item("a"); got.Reserved != orders || fresh.Load() != orders {
		t.Errorf("reserved %d in %d fresh reservations, want %d of each", got.Reserved, fresh.Load(), orders)
	}
}
