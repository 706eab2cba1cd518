package shop

import (
	"errors"
	"sync"
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
