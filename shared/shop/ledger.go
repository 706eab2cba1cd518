package shop

import (
	"fmt"
	"sort"
	"sync"
)

// StockItem is one SKU's stock, as GET /stock lists it.
type StockItem struct {
	SKU       string `json:"sku"`
	Available int    `json:"available"`
	Reserved  int    `json:"reserved"`
}

// ErrUnknownSKU, ErrOutOfStock and ErrBadQuantity are wrapped by Reserve's errors. All
// are permanent (their Permanent method says so, which the broker reads): asking again
// cannot fill the order, so its message is dead-lettered at once instead of being retried.
var (
	ErrUnknownSKU error = permanentError("unknown SKU")
	ErrOutOfStock error = permanentError("not enough stock")
	// ErrBadQuantity: a quantity below one.
	ErrBadQuantity error = permanentError("bad quantity")
)

// permanentError is an error that retrying cannot fix. The broker dead-letters a message
// whose handler fails with one (anywhere in its chain) without retrying it; shop does not
// import the broker, it only has the method the broker looks for.
type permanentError string

func (e permanentError) Error() string { return string(e) }

// Permanent reports true: retrying does not help.
func (permanentError) Permanent() bool { return true }

// DemoCatalogue is the stock the stock service starts with.
func DemoCatalogue() []StockItem {
	return []StockItem{
		{SKU: DemoSKU, Available: 100},
		{SKU: "trace-mug", Available: 50},
		{SKU: "span-sticker", Available: 1000},
	}
}

// InCatalogue reports whether the shop sells sku: whether it is in DemoCatalogue, the
// catalogue every stock service starts with. Checkout refuses an order for anything
// else before publishing it, because no stock service could ever fill it.
func InCatalogue(sku string) bool {
	for _, s := range DemoCatalogue() {
		if s.SKU == sku {
			return true
		}
	}
	return false
}

// Ledger holds stock and reserves it for orders, at most once per order ID, because a
// message broker delivers at least once: a redelivered event must not reserve twice.
// It is safe for concurrent use.
//
// # What it remembers
//
// The ledger remembers the IDs of the last RememberedOrders orders it reserved, not
// all of them, so that its memory stays bounded. That covers every redelivery a
// reservation can meet: an order's event comes back only when its ack was lost with
// the consumer's channel, and then it is one of the at most Config.Prefetch messages
// the consumer held unacked, which a quorum queue hands out again before any message
// that was never delivered. A ledger that forgot the order before its redelivery
// would have to reserve RememberedOrders other orders in between. (Being in memory,
// it forgets everything when stock restarts anyway; a durable store fixes that.)
type Ledger struct {
	mu     sync.Mutex
	items  map[string]*StockItem
	orders map[string]struct{} // the IDs in recent
	recent []string            // a ring of the latest reserved order IDs, oldest at next
	next   int
	limit  int
}

// RememberedOrders is how many of the latest reserved order IDs a Ledger remembers to
// recognise their redelivery.
const RememberedOrders = 1 << 14

// NewLedger returns a ledger holding the given stock.
func NewLedger(stock []StockItem) *Ledger {
	l := &Ledger{items: make(map[string]*StockItem), orders: make(map[string]struct{}), limit: RememberedOrders}
	for _, s := range stock {
		s := s
		l.items[s.SKU] = &s
	}
	return l
}

// Reserve reserves every item of the order, or none of them. It reports duplicate=true,
// and changes nothing, when the order was reserved before.
func (l *Ledger) Reserve(orderID string, items []Item) (duplicate bool, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.orders[orderID]; ok {
		return true, nil
	}
	need := make(map[string]int)
	for _, it := range items {
		// The ledger keeps its invariants whatever it is handed (a quantity below one
		// would put stock back; a sum could overflow): it checks as it adds.
		if it.Quantity < 1 {
			return false, fmt.Errorf("reserve order %s: %w: quantity %d of %q", orderID, ErrBadQuantity, it.Quantity, it.SKU)
		}
		s, ok := l.items[it.SKU]
		if !ok {
			return false, fmt.Errorf("reserve order %s: %w %q", orderID, ErrUnknownSKU, it.SKU)
		}
		if s.Available-need[it.SKU] < it.Quantity {
			return false, fmt.Errorf("reserve order %s: %w for %q: want %d more, have %d", orderID, ErrOutOfStock, it.SKU,
				it.Quantity, s.Available-need[it.SKU])
		}
		need[it.SKU] += it.Quantity
	}
	for sku, n := range need {
		l.items[sku].Available -= n
		l.items[sku].Reserved += n
	}
	l.remember(orderID)
	return false, nil
}

// remember records orderID as reserved, forgetting the oldest when the ring is full.
func (l *Ledger) remember(orderID string) {
	if len(l.recent) < l.limit {
		l.recent = append(l.recent, orderID)
	} else {
		delete(l.orders, l.recent[l.next])
		l.recent[l.next] = orderID
		l.next = (l.next + 1) % l.limit
	}
	l.orders[orderID] = struct{}{}
}

// Items lists the stock, sorted by SKU.
func (l *Ledger) Items() []StockItem {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]StockItem, 0, len(l.items))
	for _, s := range l.items {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SKU < out[j].SKU })
	return out
}

// Item returns one SKU's stock.
func (l *Ledger) Item(sku string) (StockItem, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.items[sku]
	if !ok {
		return StockItem{}, false
	}
	return *s, true
}

// DemoSKU is the SKU of DemoOrder, in DemoCatalogue.
const DemoSKU = "gopher-plush"

// DemoQuantity is how many of DemoSKU DemoOrder asks for.
const DemoQuantity = 2

// DemoOrder is the order the demo places and the tests place by default: a valid order
// for the demo catalogue.
func DemoOrder() Order {
	return Order{CustomerID: "cust-42", Items: []Item{{SKU: DemoSKU, Quantity: DemoQuantity}}}
}
