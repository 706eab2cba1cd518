// Package shop is the workshop's business domain: orders, the event checkout publishes,
// and the stock ledger. None of it changes during the migration, which is why it lives
// here and not in the steps.
package shop

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Limits on an order, so a typo or a hostile client cannot ask for absurd amounts.
const (
	MaxItems    = 50
	MaxQuantity = 1000
	// MaxBodyBytes bounds the JSON body an order may take.
	MaxBodyBytes = 64 << 10
)

// Item is one line of an order.
type Item struct {
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
}

// Order is what a customer checks out: the body of POST /checkout and POST /orders.
type Order struct {
	CustomerID string `json:"customer_id"`
	Items      []Item `json:"items"`
}

// ErrBadJSON is wrapped by DecodeOrder's errors when the body is not an order in JSON.
var ErrBadJSON = errors.New("malformed JSON")

// InvalidOrderError says which rule an order broke.
type InvalidOrderError struct {
	Field  string // the JSON path of the offending field, e.g. "items[1].quantity"
	Reason string
}

func (e *InvalidOrderError) Error() string {
	return fmt.Sprintf("invalid order: %s %s", e.Field, e.Reason)
}

// DecodeOrder reads one JSON order from r. Unknown fields and trailing data are
// rejected: an order that does not say what we understand is not silently half-read.
func DecodeOrder(r io.Reader) (Order, error) {
	var o Order
	dec := json.NewDecoder(io.LimitReader(r, MaxBodyBytes+1))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&o); err != nil {
		return Order{}, fmt.Errorf("%w: %v", ErrBadJSON, err)
	}
	if dec.More() {
		return Order{}, fmt.Errorf("%w: data after the order object", ErrBadJSON)
	}
	return o, nil
}

// Validate reports the first rule the order breaks, as an *InvalidOrderError.
func (o Order) Validate() error {
	if strings.TrimSpace(o.CustomerID) == "" {
		return &InvalidOrderError{Field: "customer_id", Reason: "is required"}
	}
	if len(o.Items) == 0 {
		return &InvalidOrderError{Field: "items", Reason: "must list at least one item"}
	}
	if len(o.Items) > MaxItems {
		return &InvalidOrderError{Field: "items", Reason: fmt.Sprintf("must list at most %d items", MaxItems)}
	}
	for i, it := range o.Items {
		switch {
		case strings.TrimSpace(it.SKU) == "":
			return &InvalidOrderError{Field: fmt.Sprintf("items[%d].sku", i), Reason: "is required"}
		case it.Quantity < 1 || it.Quantity > MaxQuantity:
			return &InvalidOrderError{Field: fmt.Sprintf("items[%d].quantity", i),
				Reason: fmt.Sprintf("must be between 1 and %d, got %d", MaxQuantity, it.Quantity)}
		}
	}
	return nil
}

// Encode returns the order as JSON, the body the gateway forwards to checkout.
func (o Order) Encode() []byte {
	b, err := json.Marshal(o)
	if err != nil {
		panic(fmt.Sprintf("shop: marshal order: %v", err)) // an Order always marshals
	}
	return b
}

// NewOrderID returns a fresh random order ID.
func NewOrderID() string { return "ord_" + randomHex(8) }

// NewRequestID returns a fresh random correlation ID.
func NewRequestID() string { return randomHex(16) }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}

// OrderPlaced is the checkout.processed event: an order checkout accepted.
type OrderPlaced struct {
	OrderID    string    `json:"order_id"`
	CustomerID string    `json:"customer_id"`
	Items      []Item    `json:"items"`
	PlacedAt   time.Time `json:"placed_at"`
}

// NewOrderPlaced returns the event for an accepted order.
func NewOrderPlaced(orderID string, o Order) OrderPlaced {
	return OrderPlaced{OrderID: orderID, CustomerID: o.CustomerID, Items: o.Items, PlacedAt: time.Now().UTC()}
}

// Encode returns the event as JSON.
func (e OrderPlaced) Encode() []byte {
	b, err := json.Marshal(e)
	if err != nil {
		panic(fmt.Sprintf("shop: marshal event: %v", err))
	}
	return b
}

// DecodeOrderPlaced reads an event and checks it carries what stock needs.
func DecodeOrderPlaced(body []byte) (OrderPlaced, error) {
	var e OrderPlaced
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&e); err != nil {
		return OrderPlaced{}, fmt.Errorf("decode order event: %w", err)
	}
	if e.OrderID == "" {
		return OrderPlaced{}, errors.New("decode order event: order_id is missing")
	}
	if err := (Order{CustomerID: e.CustomerID, Items: e.Items}).Validate(); err != nil {
		return OrderPlaced{}, fmt.Errorf("order event %s: %w", e.OrderID, err)
	}
	return e, nil
}
