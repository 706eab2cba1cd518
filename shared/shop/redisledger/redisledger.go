// Package redisledger keeps the stock service's ledger in Redis, so that it survives a
// restart of the service: the stock, what is reserved, and which orders were reserved
// (a redelivery after a restart must not reserve again). It behaves like shop.Ledger,
// the in-memory one, and satisfies shop.Stock.
//
// It lives beside package shop, not in it, so that shop, which every service and the
// fuzz tests use, stays a domain package without a database client.
//
// # Keys
//
// Every key starts with the prefix New is given, so that two shops (a demo and a test,
// or two tests) sharing one Redis never see each other's stock. Under the prefix:
//
//	stock      hash  SKU → available
//	reserved   hash  SKU → reserved
//	orders     sorted set of the latest reserved order IDs, scored by seq
//	seq        counter of reservations, the score of the next order ID
//
// # What it remembers
//
// Like shop.Ledger, it remembers the IDs of the last shop.RememberedOrders orders it
// reserved (a bound, not a time to live: memory stays bounded however fast orders come,
// and a redelivery, which only follows an ack lost with the consumer's channel, comes
// within the consumer's prefetch, long before that many other orders). Unlike
// shop.Ledger, it keeps them across restarts of the service.
package redisledger

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/ot2otel/workshop/shared/shop"
)

// Ledger is a shop.Stock kept in Redis. It is safe for concurrent use, by any number of
// processes sharing the prefix: each reservation is one Lua script, which Redis runs
// atomically.
type Ledger struct {
	c     redis.Cmdable
	keys  []string // stock, reserved, orders, seq: the script's KEYS
	limit int
}

// New returns the ledger kept under prefix in the Redis that c talks to.
func New(c redis.Cmdable, prefix string) *Ledger {
	return &Ledger{c: c, limit: shop.RememberedOrders,
		keys: []string{prefix + "stock", prefix + "reserved", prefix + "orders", prefix + "seq"}}
}

// Seed adds the SKUs of items that the ledger does not have yet, with their stock, and
// loads the reserve script into Redis. It never changes a SKU that is already there, so
// that a restarted stock service keeps what it had reserved.
func (l *Ledger) Seed(ctx context.Context, items []shop.StockItem) error {
	_, err := l.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for _, it := range items {
			p.HSetNX(ctx, l.keys[0], it.SKU, it.Available)
			p.HSetNX(ctx, l.keys[1], it.SKU, it.Reserved)
		}
		return nil
	})
	if err != nil {
		return redisError(ctx, "seed the stock", err)
	}
	// Load the reserve script now, so that the first order's EVALSHA finds it (and its
	// trace shows no NOSCRIPT failure).
	if err := reserve.Load(ctx, l.c).Err(); err != nil {
		return redisError(ctx, "load the reserve script", err)
	}
	return nil
}

// reserve checks the order ID, then every line of the order, and only then takes the
// stock and records the order: all or nothing. It answers {0} when it reserved, {1} for
// a duplicate, and {-1, sku} (unknown SKU), {-2, sku, quantity, available} (not enough
// stock) or {-3, sku, quantity} (bad quantity), checking the lines in order, as
// shop.Ledger does.
//
// KEYS: stock, reserved, orders, seq. ARGV: order ID, how many order IDs to remember,
// then SKU and quantity for each line.
var reserve = redis.NewScript(`
if redis.call('ZSCORE', KEYS[3], ARGV[1]) then
	return {1}
end
local need, skus = {}, {}
for i = 3, #ARGV, 2 do
	local sku, q = ARGV[i], tonumber(ARGV[i + 1])
	if not q or q < 1 then
		return {-3, sku, ARGV[i + 1]}
	end
	local have = redis.call('HGET', KEYS[1], sku)
	if not have then
		return {-1, sku}
	end
	have = tonumber(have) - (need[sku] or 0)
	if have < q then
		return {-2, sku, ARGV[i + 1], tostring(have)}
	end
	if not need[sku] then
		skus[#skus + 1] = sku
	end
	need[sku] = (need[sku] or 0) + q
end
for _, sku in ipairs(skus) do
	redis.call('HINCRBY', KEYS[1], sku, -need[sku])
	redis.call('HINCRBY', KEYS[2], sku, need[sku])
end
redis.call('ZADD', KEYS[3], redis.call('INCR', KEYS[4]), ARGV[1])
redis.call('ZREMRANGEBYRANK', KEYS[3], 0, -(tonumber(ARGV[2]) + 1))
return {0}
`)

// Reserve reserves every item of the order, or none of them, like shop.Ledger.Reserve.
// Its errors wrap shop.ErrUnknownSKU, shop.ErrOutOfStock or shop.ErrBadQuantity
// (permanent), or a Redis error (transient: the broker tries the message again).
func (l *Ledger) Reserve(ctx context.Context, orderID string, items []shop.Item) (duplicate bool, err error) {
	args := make([]any, 0, 2+2*len(items))
	args = append(args, orderID, l.limit)
	for _, it := range items {
		args = append(args, it.SKU, it.Quantity)
	}
	res, err := reserve.Run(ctx, l.c, l.keys, args...).Slice()
	if err != nil {
		return false, redisError(ctx, "reserve order "+orderID, err)
	}
	code, _ := res[0].(int64)
	str := func(i int) string {
		if i < len(res) {
			if s, ok := res[i].(string); ok {
				return s
			}
		}
		return "?"
	}
	switch code {
	case 0:
		return false, nil
	case 1:
		return true, nil
	case -1:
		return false, fmt.Errorf("reserve order %s: %w %q", orderID, shop.ErrUnknownSKU, str(1))
	case -2:
		return false, fmt.Errorf("reserve order %s: %w for %q: want %s more, have %s", orderID, shop.ErrOutOfStock, str(1), str(2), str(3))
	case -3:
		return false, fmt.Errorf("reserve order %s: %w: quantity %s of %q", orderID, shop.ErrBadQuantity, str(2), str(1))
	}
	return false, fmt.Errorf("reserve order %s: the reserve script answered %v", orderID, res)
}

// List lists the stock, sorted by SKU, read in one transaction so that available and
// reserved agree.
func (l *Ledger) List(ctx context.Context) ([]shop.StockItem, error) {
	var avail, reserved *redis.MapStringStringCmd
	_, err := l.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		avail = p.HGetAll(ctx, l.keys[0])
		reserved = p.HGetAll(ctx, l.keys[1])
		return nil
	})
	if err != nil {
		return nil, redisError(ctx, "list the stock", err)
	}
	out := make([]shop.StockItem, 0, len(avail.Val()))
	for sku, a := range avail.Val() {
		item, err := parseItem(sku, a, reserved.Val()[sku])
		if err != nil {
			return nil, err
		}
		out = append(out, item)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SKU < out[j].SKU })
	return out, nil
}

// Get returns one SKU's stock, and false when the SKU is unknown.
func (l *Ledger) Get(ctx context.Context, sku string) (shop.StockItem, bool, error) {
	var avail, reserved *redis.StringCmd
	_, err := l.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		avail = p.HGet(ctx, l.keys[0], sku)
		reserved = p.HGet(ctx, l.keys[1], sku)
		return nil
	})
	// A field that is not there fails its HGET with redis.Nil, and the transaction with it.
	if err != nil && !errors.Is(err, redis.Nil) {
		return shop.StockItem{}, false, redisError(ctx, fmt.Sprintf("get the stock of %q", sku), err)
	}
	if errors.Is(avail.Err(), redis.Nil) {
		return shop.StockItem{}, false, nil
	}
	item, err := parseItem(sku, avail.Val(), reserved.Val())
	return item, err == nil, err
}

// parseItem reads one SKU's counters; a missing reserved counter is zero.
func parseItem(sku, avail, reserved string) (shop.StockItem, error) {
	a, err := strconv.Atoi(avail)
	if err != nil {
		return shop.StockItem{}, fmt.Errorf("the stock of %q in redis: %q is not a number", sku, avail)
	}
	r := 0
	if reserved != "" {
		if r, err = strconv.Atoi(reserved); err != nil {
			return shop.StockItem{}, fmt.Errorf("the reserved stock of %q in redis: %q is not a number", sku, reserved)
		}
	}
	return shop.StockItem{SKU: sku, Available: a, Reserved: r}, nil
}

// Restock sets each SKU of items back to its stock, available and reserved as given,
// in one transaction. The order IDs the ledger remembers stay: an order reserved before
// and redelivered after is still not reserved twice.
func (l *Ledger) Restock(ctx context.Context, items []shop.StockItem) error {
	_, err := l.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for _, it := range items {
			p.HSet(ctx, l.keys[0], it.SKU, it.Available)
			p.HSet(ctx, l.keys[1], it.SKU, it.Reserved)
		}
		return nil
	})
	if err != nil {
		return redisError(ctx, "restock", err)
	}
	return nil
}

// Delete deletes every key of the ledger: the stock, the reservations and the orders it
// remembers. Tests and demos that made a ledger of their own clean up with it.
func (l *Ledger) Delete(ctx context.Context) error {
	if err := l.c.Del(ctx, l.keys...).Err(); err != nil {
		return redisError(ctx, "delete the ledger", err)
	}
	return nil
}

var _ shop.Stock = (*Ledger)(nil)

// redisError wraps a Redis error for what. An error that is not Redis's reply (a refused
// or cut connection, a timeout) means Redis is unavailable, not that the order is wrong:
// it says so with Unavailable, so that the consumer tries the message again in place
// instead of using up its attempts during an outage (broker.IsUnavailable).
func redisError(ctx context.Context, what string, err error) error {
	err = fmt.Errorf("%s: redis: %w", what, err)
	var reply redis.Error
	if errors.As(err, &reply) || ctx.Err() != nil {
		return err
	}
	return unavailableError{err}
}

type unavailableError struct{ error }

func (e unavailableError) Unwrap() error   { return e.error }
func (unavailableError) Unavailable() bool { return true }
