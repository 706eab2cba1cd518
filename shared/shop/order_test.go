package shop

import (
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
