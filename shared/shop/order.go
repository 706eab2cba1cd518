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

// ErrBadJSON is wrapped by DecodeOrder's errors when the body is not an order in JSON:
// malformed, too large, or with a field of the wrong type or unknown. Its messages name
// the field and the rule ("invalid order: items[0].quantity must be a whole number"),
// never a Go type, because they go back to the caller.
var ErrBadJSON = errors.New("malformed JSON")

// decodeError is a DecodeOrder failure: its message is for the caller, and it wraps
// ErrBadJSON.
type decodeError struct{ msg string }

func (e *decodeError) Error() string { return e.msg }
func (e *decodeError) Unwrap() error { return ErrBadJSON }

func badJSON(format string, args ...any) error {
	return &decodeError{msg: "malformed JSON: " + fmt.Sprintf(format, args...)}
}

func badField(field, rule string) error {
	return &decodeError{msg: "invalid order: " + field + " " + rule}
}

// DecodeOrder reads one JSON order from r. Unknown fields and trailing data are
// rejected: an order that does not say what we understand is not silently half-read.
// An error reading r (a timeout, say) is returned wrapped, and does not wrap ErrBadJSON.
func DecodeOrder(r io.Reader) (Order, error) {
	// Every order is read once into memory (it is at most MaxBodyBytes), and decoded
	// in one pass into its types: what a valid order costs. Only when that fails is it
	// decoded again, explained, so that the error can name the field and the rule; that
	// pass sees the same bytes and the same read error, so it says what it always said.
	body, err := io.ReadAll(&io.LimitedReader{R: r, N: MaxBodyBytes + 1})
	if err == nil && len(body) <= MaxBodyBytes {
		if o, ok := decodeOrderFast(body); ok {
			return o, nil
		}
	}
	var rest io.Reader = bytes.NewReader(body)
	if err != nil {
		rest = io.MultiReader(rest, errReader{err})
	}
	return decodeOrderExplained(rest)
}

// decodeOrderFast decodes body in one pass, with the rules decodeOrderExplained
// applies (unknown fields refused, null as zero, nothing after the object); ok is false
// wherever it would fail.
func decodeOrderFast(body []byte) (o Order, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if dec.Decode(&o) != nil || dec.More() {
		return Order{}, false
	}
	if len(o.Items) == 0 {
		o.Items = nil // as the explained pass leaves it
	}
	return o, true
}

// errReader returns err once its bytes ran out: the reader's error, replayed.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// decodeOrderExplained is DecodeOrder's second pass, for a body the first could not
// decode.
func decodeOrderExplained(r io.Reader) (Order, error) {
	// The order is decoded in two passes, first its fields as raw JSON, then each value,
	// so an error can name the field by its JSON path, index included.
	var raw struct {
		CustomerID json.RawMessage `json:"customer_id"`
		Items      json.RawMessage `json:"items"`
	}
	lr := &io.LimitedReader{R: r, N: MaxBodyBytes + 1}
	dec := json.NewDecoder(lr)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		if lr.N <= 0 {
			return Order{}, badJSON("the order is larger than %d bytes", MaxBodyBytes)
		}
		return Order{}, decodeFailure(err, "the body", "is not a field of an order (want customer_id and items)")
	}
	if dec.More() {
		return Order{}, badJSON("data after the order object")
	}
	var o Order
	if err := decodeValue(raw.CustomerID, &o.CustomerID); err != nil {
		return Order{}, badField("customer_id", "must be a string")
	}
	var items []json.RawMessage
	if err := decodeValue(raw.Items, &items); err != nil {
		return Order{}, badField("items", "must be an array of items")
	}
	for i, rawItem := range items {
		field := fmt.Sprintf("items[%d]", i)
		var ri struct {
			SKU      json.RawMessage `json:"sku"`
			Quantity json.RawMessage `json:"quantity"`
		}
		idec := json.NewDecoder(bytes.NewReader(rawItem))
		idec.DisallowUnknownFields()
		if err := idec.Decode(&ri); err != nil {
			return Order{}, decodeFailure(err, field, "is not a field of an item (want sku and quantity)")
		}
		var it Item
		if err := decodeValue(ri.SKU, &it.SKU); err != nil {
			return Order{}, badField(field+".sku", "must be a string")
		}
		if err := decodeValue(ri.Quantity, &it.Quantity); err != nil {
			return Order{}, badField(field+".quantity", "must be a whole number")
		}
		o.Items = append(o.Items, it)
	}
	return o, nil
}

// decodeFailure explains why decoding the object at what failed.
func decodeFailure(err error, what, unknownRule string) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return badJSON("%s is empty", what)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badJSON("%s ends in the middle of a JSON value", what)
	case errors.As(err, &syntax):
		return badJSON("%s at byte %d", syntax.Error(), syntax.Offset)
	case errors.As(err, &typ):
		if what == "the body" {
			return badJSON("the body must be a JSON object, not %s", jsonKind(typ.Value))
		}
		return badField(what, "must be an object with sku and quantity")
	}
	// encoding/json reports an unknown field only as text.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name = fmt.Sprintf("%.64s", strings.Trim(name, `"`))
		if what == "the body" {
			return badField(name, unknownRule)
		}
		return badField(what+"."+name, unknownRule)
	}
	return fmt.Errorf("read the order: %w", err)
}

// decodeValue decodes a field's raw value into v; a missing field or null leaves v zero.
func decodeValue(raw json.RawMessage, v any) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	return json.Unmarshal(raw, v)
}

// jsonKind names the kind of JSON value encoding/json saw ("array", "string", ...).
func jsonKind(v string) string {
	switch v {
	case "array":
		return "an array"
	case "bool":
		return "a boolean"
	case "string", "number":
		return "a " + v
	}
	return v
}

// InvalidOrderError says which rule an order broke.
type InvalidOrderError struct {
	Field  string // the JSON path of the offending field, e.g. "items[1].quantity"
	Reason string
}

func (e *InvalidOrderError) Error() string {
	return fmt.Sprintf("invalid order: %s %s", e.Field, e.Reason)
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

// CheckCatalogue reports the first item the shop does not sell, as an
// *InvalidOrderError: no stock service could ever fill such an order, so it is refused
// before it is published rather than dead-lettered after.
func (o Order) CheckCatalogue() error {
	for i, it := range o.Items {
		if !InCatalogue(it.SKU) {
			return &InvalidOrderError{Field: fmt.Sprintf("items[%d].sku", i),
				Reason: fmt.Sprintf("%.64q is not in the catalogue", it.SKU)}
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

// MaxRequestIDBytes bounds the correlation ID a caller may bring: it goes into every log
// line and into the AMQP headers, which RabbitMQ bounds (see broker.MaxHeaderBytes).
const MaxRequestIDBytes = 128

// RequestIDFrom returns id, the correlation ID a caller sent (X-Request-ID), when it is
// usable: 1 to MaxRequestIDBytes printable ASCII characters without spaces. Otherwise it
// returns a fresh one, so that a caller can neither omit it nor make it absurd.
func RequestIDFrom(id string) string {
	if id == "" || len(id) > MaxRequestIDBytes {
		return NewRequestID()
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return NewRequestID()
		}
	}
	return id
}

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

// ErrBadEvent is wrapped by DecodeOrderPlaced's errors. It is permanent: a message that
// does not decode never will, so it is dead-lettered at once instead of being retried.
var ErrBadEvent error = permanentError("unreadable order event")

// DecodeOrderPlaced reads an event and checks it carries what stock needs.
func DecodeOrderPlaced(body []byte) (OrderPlaced, error) {
	var e OrderPlaced
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&e); err != nil {
		return OrderPlaced{}, fmt.Errorf("%w: %v", ErrBadEvent, err)
	}
	if e.OrderID == "" {
		return OrderPlaced{}, fmt.Errorf("%w: order_id is missing", ErrBadEvent)
	}
	if err := (Order{CustomerID: e.CustomerID, Items: e.Items}).Validate(); err != nil {
		return OrderPlaced{}, fmt.Errorf("%w: order %s: %w", ErrBadEvent, e.OrderID, err)
	}
	return e, nil
}
