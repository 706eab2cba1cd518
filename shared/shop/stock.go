package shop

import "context"

// Stock is what the stock service needs of a ledger: reserve an order's items at most
// once per order ID, and list what is left. The in-memory Ledger and the Redis-backed
// one (package redisledger) both satisfy it, so a service takes a Stock and does not
// care which one it got.
//
// Reserve's errors that wrap ErrUnknownSKU, ErrOutOfStock or ErrBadQuantity are
// permanent (see Permanent); any other error (Redis unreachable, a timeout) is
// transient, and asking again may succeed. ctx carries the caller's span, under which
// an instrumented store traces its calls.
type Stock interface {
	// Reserve reserves every item of the order, or none of them. It reports
	// duplicate=true, and changes nothing, when the order was reserved before.
	Reserve(ctx context.Context, orderID string, items []Item) (duplicate bool, err error)
	// List lists the stock, sorted by SKU.
	List(ctx context.Context) ([]StockItem, error)
	// Get returns one SKU's stock, and false when the SKU is unknown.
	Get(ctx context.Context, sku string) (StockItem, bool, error)
}

// Stock returns l as a Stock.
func (l *Ledger) Stock() Stock { return memoryStock{l} }

// memoryStock is a Ledger seen as a Stock: it never fails and ignores ctx.
type memoryStock struct{ l *Ledger }

func (m memoryStock) Reserve(_ context.Context, orderID string, items []Item) (bool, error) {
	return m.l.Reserve(orderID, items)
}

func (m memoryStock) List(context.Context) ([]StockItem, error) { return m.l.Items(), nil }

func (m memoryStock) Get(_ context.Context, sku string) (StockItem, bool, error) {
	s, ok := m.l.Item(sku)
	return s, ok, nil
}
