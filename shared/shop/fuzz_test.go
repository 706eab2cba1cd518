package shop

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"testing"
)

// FuzzDecodeOrder feeds DecodeOrder any body: it never panics, an error is a bad-JSON
// or invalid-order error, and an order that decodes and validates encodes back to
// itself.
func FuzzDecodeOrder(f *testing.F) {
	f.Add([]byte(`{"customer_id":"c1","items":[{"sku":"trace-mug","quantity":2}]}`))
	f.Add([]byte(`{"customer_id":"c1","items":[]}`))
	f.Add([]byte(`{"customer_id":"c1","items":[{"sku":"x","quantity":-1}],"extra":1}`))
	f.Add([]byte(`{"customer_id":"c1"} {"more":1}`))
	f.Add([]byte(`{"customer_id":"\u0000","items":[{"sku":"a","quantity":1e400}]}`))
	f.Add([]byte(`[`))
	f.Add([]byte(`{"customer_id":null,"items":[null,{"sku":"a","quantity":1}]}`))
	f.Add([]byte(`{"Customer_ID":"c","items":[{"SKU":"a","quantity":1}],"items":[]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		o, err := DecodeOrder(bytes.NewReader(body))
		// The one-pass decoding accepts exactly what the explained one does, as it does.
		slow, slowErr := decodeOrderExplained(bytes.NewReader(body))
		if (err == nil) != (slowErr == nil) || !reflect.DeepEqual(o, slow) || (err != nil && err.Error() != slowErr.Error()) {
			t.Fatalf("DecodeOrder(%q) = %+v, %v; the explained pass says %+v, %v", body, o, err, slow, slowErr)
		}
		if err != nil {
			if !errors.Is(err, ErrBadJSON) {
				t.Fatalf("DecodeOrder(%q): %v, want an ErrBadJSON", body, err)
			}
			return
		}
		if err := o.Validate(); err != nil {
			var invalid *InvalidOrderError
			if !errors.As(err, &invalid) || invalid.Field == "" {
				t.Fatalf("Validate(%+v): %v, want an *InvalidOrderError naming the field", o, err)
			}
			return
		}
		again, err := DecodeOrder(bytes.NewReader(o.Encode()))
		if err != nil || !reflect.DeepEqual(again, o) {
			t.Fatalf("an order does not survive Encode: %+v -> %s -> %+v, %v", o, o.Encode(), again, err)
		}
	})
}

// FuzzLedger runs any sequence of reservations, valid or not, against the demo
// catalogue and checks the ledger's invariants after each: stock is never negative, a
// failed reservation changes nothing, a second reservation of one order is a duplicate
// that changes nothing, and what is available plus reserved stays what there was.
func FuzzLedger(f *testing.F) {
	f.Add([]byte{0, 0, 2, 1, 1, 5, 0, 0, 2})
	f.Add([]byte{3, 1, 200, 3, 1, 200, 3, 1, 200})
	f.Add([]byte{1, 2, 0, 1, 7, 0xff})
	f.Add(binary.AppendVarint([]byte{4, 0}, -3))
	f.Fuzz(func(t *testing.T, ops []byte) {
		catalogue := DemoCatalogue()
		skus := []string{catalogue[0].SKU, catalogue[1].SKU, catalogue[2].SKU, "no-such-sku"}
		total := map[string]int{}
		for _, s := range catalogue {
			total[s.SKU] = s.Available
		}
		l := NewLedger(catalogue)
		reserved := map[string]bool{}
		r := bytes.NewReader(ops)
		for r.Len() > 0 {
			order, _ := r.ReadByte()
			lines, _ := r.ReadByte()
			var items []Item
			for range int(lines % 4) {
				sku, _ := r.ReadByte()
				q, err := binary.ReadVarint(r)
				if err != nil {
					q = 1
				}
				items = append(items, Item{SKU: skus[int(sku)%len(skus)], Quantity: int(q)})
			}
			id := fmt.Sprintf("ord_%d", order%8)
			before := l.Items()
			duplicate, err := l.Reserve(id, items)
			after := l.Items()
			switch {
			case reserved[id]:
				if !duplicate || err != nil || !reflect.DeepEqual(before, after) {
					t.Fatalf("a second reservation of %s: duplicate=%v err=%v, stock %v -> %v; want a duplicate that changes nothing",
						id, duplicate, err, before, after)
				}
			case err != nil:
				if duplicate || !reflect.DeepEqual(before, after) {
					t.Fatalf("a failed reservation of %s %v (%v) changed the stock: %v -> %v", id, items, err, before, after)
				}
			default:
				reserved[id] = true
			}
			for _, s := range after {
				if s.Available < 0 || s.Reserved < 0 || s.Available+s.Reserved != total[s.SKU] {
					t.Fatalf("after reserving %s %v: %+v; stock is never negative and available+reserved stays %d",
						id, items, s, total[s.SKU])
				}
			}
		}
	})
}
