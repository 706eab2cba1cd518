package shop

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestDecodeOrder(t *testing.T) {
	good := `{"customer_id": "c1", "items": [{"sku": "trace-mug", "quantity": 2}]}`
	o, err := DecodeOrder(strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	if o.CustomerID != "c1" || len(o.Items) != 1 || o.Items[0] != (Item{SKU: "trace-mug", Quantity: 2}) {
		t.Errorf("decoded %+v", o)
	}
	for name, body := range map[string]string{
		"empty":         ``,
		"truncated":     `{"customer_id": "c1"`,
		"array":         `[]`,
		"unknown field": `{"customer_id": "c1", "items": [], "discount": 5}`,
		"wrong type":    `{"customer_id": 7, "items": []}`,
		"trailing":      good + ` {"again": true}`,
		"too large":     `{"customer_id": "` + strings.Repeat("x", MaxBodyBytes) + `", "items": []}`,
	} {
		if _, err := DecodeOrder(strings.NewReader(body)); !errors.Is(err, ErrBadJSON) {
			t.Errorf("%s: err = %v, want ErrBadJSON", name, err)
		}
	}
}

func TestValidate(t *testing.T) {
	item := Item{SKU: "trace-mug", Quantity: 1}
	many := make([]Item, MaxItems+1)
	for i := range many {
		many[i] = item
	}
	for _, tc := range []struct {
		order Order
		field string
	}{
		{Order{CustomerID: "c1", Items: []Item{item}}, ""},
		{Order{CustomerID: "  ", Items: []Item{item}}, "customer_id"},
		{Order{CustomerID: "c1"}, "items"},
		{Order{CustomerID: "c1", Items: many}, "items"},
		{Order{CustomerID: "c1", Items: []Item{item, {SKU: "", Quantity: 1}}}, "items[1].sku"},
		{Order{CustomerID: "c1", Items: []Item{{SKU: "a", Quantity: 0}}}, "items[0].quantity"},
		{Order{CustomerID: "c1", Items: []Item{{SKU: "a", Quantity: -3}}}, "items[0].quantity"},
		{Order{CustomerID: "c1", Items: []Item{{SKU: "a", Quantity: MaxQuantity + 1}}}, "items[0].quantity"},
	} {
		err := tc.order.Validate()
		var inv *InvalidOrderError
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%+v: unexpected error %v", tc.order, err)
		case tc.field != "" && (!errors.As(err, &inv) || inv.Field != tc.field):
			t.Errorf("%+v: err = %v, want an InvalidOrderError on %s", tc.order, err, tc.field)
		}
	}
}

func TestOrderPlacedRoundTrip(t *testing.T) {
	o := Order{CustomerID: "c1", Items: []Item{{SKU: "trace-mug", Quantity: 3}}}
	e := NewOrderPlaced("ord_1", o)
	got, err := DecodeOrderPlaced(e.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if got.OrderID != "ord_1" || got.CustomerID != "c1" || got.Items[0].Quantity != 3 || !got.PlacedAt.Equal(e.PlacedAt) {
		t.Errorf("round trip: %+v, want %+v", got, e)
	}
	for name, body := range map[string]string{
		"not JSON":      `{{`,
		"no order ID":   `{"customer_id": "c1", "items": [{"sku": "a", "quantity": 1}]}`,
		"invalid order": `{"order_id": "ord_2", "customer_id": "c1", "items": []}`,
	} {
		if _, err := DecodeOrderPlaced([]byte(body)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestIDs(t *testing.T) {
	if a, b := NewOrderID(), NewOrderID(); a == b || !strings.HasPrefix(a, "ord_") {
		t.Errorf("order IDs %q, %q", a, b)
	}
	if a, b := NewRequestID(), NewRequestID(); a == b || len(a) != 32 {
		t.Errorf("request IDs %q, %q", a, b)
	}
}

// TestDecodeErrorsNameTheFieldAndTheRule: the errors go back to the caller, so they say
// which field broke which rule, never a Go type.
func TestDecodeErrorsNameTheFieldAndTheRule(t *testing.T) {
	for body, want := range map[string]string{
		`{"customer_id": 7, "items": []}`:                                           "invalid order: customer_id must be a string",
		`{"customer_id": "c1", "items": "mug"}`:                                     "invalid order: items must be an array of items",
		`{"customer_id": "c1", "items": [7]}`:                                       "invalid order: items[0] must be an object with sku and quantity",
		`{"customer_id": "c1", "items": [{"sku": "a", "quantity": 1}, {"sku": 5}]}`: "invalid order: items[1].sku must be a string",
		`{"customer_id": "c1", "items": [{"sku": "a", "quantity": 1.5}]}`:           "invalid order: items[0].quantity must be a whole number",
		`{"customer_id": "c1", "items": [{"sku": "a", "quantity": "two"}]}`:         "invalid order: items[0].quantity must be a whole number",
		`{"customer_id": "c1", "items": [{"sku": "a", "qty": 1}]}`:                  "invalid order: items[0].qty is not a field of an item",
		`{"customer_id": "c1", "items": [], "coupon": "FREE"}`:                      "invalid order: coupon is not a field of an order",
		`[1, 2]`:                           "malformed JSON: the body must be a JSON object, not an array",
		`{"customer_id": "c1", "items": [`: "malformed JSON: the body ends in the middle of a JSON value",
		``:                                 "malformed JSON: the body is empty",
		`{"customer_id": "c1"} {}`:         "malformed JSON: data after the order object",
		`{"customer_id" "c1"}`:             "malformed JSON: invalid character",
	} {
		_, err := DecodeOrder(strings.NewReader(body))
		if err == nil || !strings.HasPrefix(err.Error(), want) || !errors.Is(err, ErrBadJSON) {
			t.Errorf("%s: err = %v, want one starting %q and wrapping ErrBadJSON", body, err, want)
		}
		if err != nil && (strings.Contains(err.Error(), "Go ") || strings.Contains(err.Error(), "shop.")) {
			t.Errorf("%s: err = %v shows Go's types", body, err)
		}
	}
}

func TestRequestIDFrom(t *testing.T) {
	for _, id := range []string{"my-first-id", strings.Repeat("a", MaxRequestIDBytes)} {
		if got := RequestIDFrom(id); got != id {
			t.Errorf("RequestIDFrom(%q) = %q, want it kept", id, got)
		}
	}
	for _, id := range []string{"", strings.Repeat("a", MaxRequestIDBytes+1), strings.Repeat("r", 200<<10), "two words", "new\nline", "é"} {
		if got := RequestIDFrom(id); got == id || len(got) != 32 {
			t.Errorf("RequestIDFrom(%.20q) = %.40q, want a fresh ID", id, got)
		}
	}
}

func TestCheckCatalogue(t *testing.T) {
	ok := Order{CustomerID: "c1", Items: []Item{{SKU: "trace-mug", Quantity: 1}, {SKU: "gopher-plush", Quantity: 1}}}
	if err := ok.CheckCatalogue(); err != nil {
		t.Errorf("%+v: %v", ok, err)
	}
	bad := Order{CustomerID: "c1", Items: []Item{{SKU: "trace-mug", Quantity: 1}, {SKU: "unicorn", Quantity: 1}}}
	var inv *InvalidOrderError
	if err := bad.CheckCatalogue(); !errors.As(err, &inv) || inv.Field != "items[1].sku" {
		t.Errorf("%+v: err = %v, want an InvalidOrderError on items[1].sku", bad, err)
	}
}

func TestPermanentErrors(t *testing.T) {
	type permanent interface{ Permanent() bool }
	_, outOfStock := NewLedger(DemoCatalogue()).Reserve("o1", []Item{{SKU: "trace-mug", Quantity: 51}})
	_, unknown := NewLedger(DemoCatalogue()).Reserve("o2", []Item{{SKU: "unicorn", Quantity: 1}})
	_, undecodable := DecodeOrderPlaced([]byte(`{{`))
	for name, err := range map[string]error{"out of stock": outOfStock, "unknown SKU": unknown, "undecodable": undecodable} {
		var p permanent
		if !errors.As(err, &p) || !p.Permanent() {
			t.Errorf("%s: %v is not permanent, so the broker would retry it", name, err)
		}
	}
}

// BenchmarkDecodeOrder: an order as the load sends it, decoded the way DecodeOrder did
// before it had a one-pass path (explained: raw fields, then each value) and now.
func BenchmarkDecodeOrder(b *testing.B) {
	body := []byte(`{"customer_id": "load", "items": [{"sku": "span-sticker", "quantity": 1}]}`)
	b.Run("explained", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeOrderExplained(bytes.NewReader(body)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("DecodeOrder", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := DecodeOrder(bytes.NewReader(body)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
