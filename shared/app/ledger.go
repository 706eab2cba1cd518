package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ot2otel/workshop/shared/shop"
	"github.com/ot2otel/workshop/shared/shop/redisledger"
)

// redisConnectTimeout bounds how long OpenLedger waits for a Redis that must be there
// (a stock process of its own, or WORKSHOP_REQUIRE_REDIS=1): it may still be starting.
var redisConnectTimeout = 30 * time.Second

// redisReachTimeout bounds one attempt to reach Redis, and so the check that decides
// between Redis and the in-memory ledger.
const redisReachTimeout = 2 * time.Second

// Ledger is stock's ledger as OpenLedger opened it: a shop.Stock in Redis, or in this
// process's memory.
type Ledger struct {
	shop.Stock
	client *redis.Client // nil in memory
	logger *slog.Logger
	dry    sync.Map // SKUs that ran out, said once each
}

// Reserve reserves as the ledger does, and says once per SKU, in the log, when an order
// finds it run out (again once it has been restocked and runs out again): from then on every order for it is dead-lettered, which with a ledger
// that outlives every run (Redis) can last until someone restocks.
func (l *Ledger) Reserve(ctx context.Context, orderID string, items []shop.Item) (bool, error) {
	dup, err := l.Stock.Reserve(ctx, orderID, items)
	if err == nil {
		for _, it := range items {
			l.dry.Delete(it.SKU) // restocked: say it again when it runs out again
		}
	}
	if err != nil && errors.Is(err, shop.ErrOutOfStock) && l.logger != nil {
		for _, it := range items {
			got, ok, gerr := l.Stock.Get(ctx, it.SKU)
			if gerr != nil || !ok || got.Available >= it.Quantity {
				continue
			}
			if _, said := l.dry.LoadOrStore(it.SKU, true); !said {
				l.logger.Warn("a SKU has run out: orders for more than is left are dead-lettered until it is restocked",
					"sku", it.SKU, "available", got.Available, "reserved", got.Reserved,
					"hint", "go run ./cmd/workshop restock (same REDIS_URL, AMQP_EXCHANGE and AMQP_QUEUE as stock)")
			}
		}
	}
	return dup, err
}

// InRedis reports whether the ledger is kept in Redis.
func (l *Ledger) InRedis() bool { return l.client != nil }

// Close closes the connection to Redis, if any. Call it once stock has stopped
// consuming and serving.
func (l *Ledger) Close() error {
	if l.client == nil {
		return nil
	}
	return l.client.Close()
}

// LedgerPrefix is the prefix of the Redis keys of the ledger of the stock service that
// consumes cfg's exchange and queue: a test or a demo on an exchange and a queue of its
// own never shares stock with another. The braces are a Redis Cluster hash tag, which
// keeps the ledger's keys together, as its Lua script needs.
func LedgerPrefix(cfg Config) string {
	return "shop:{" + cfg.Broker.Exchange + "/" + cfg.Broker.Queue + "}:"
}

// OpenLedger opens stock's ledger in the Redis at cfg.RedisURL, seeds it with the
// catalogue (never overwriting stock already there, so that a restarted stock keeps
// its reservations), then instruments the client with each of instrument (a tracing
// hook, say), so that what stock does is traced and its start-up is not.
//
// When every service runs in this process (all, demo) and Redis cannot be reached, it
// falls back to an in-memory ledger and says so, unless cfg.RequireRedis is set. A
// stock process of its own always needs Redis, because another stock process may
// share its ledger; it waits a while, since Redis may still be starting.
func OpenLedger(ctx context.Context, cfg Config, cmd Command, logger *slog.Logger, instrument ...func(redis.UniversalClient) error) (*Ledger, error) {
	opts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	where := opts.Network + "://" + opts.Addr
	inProcess := cmd.Runs(Checkout) && cmd.Runs(Stock)
	wait := redisConnectTimeout
	if inProcess && !cfg.RequireRedis {
		wait = 0
	}
	client := redis.NewClient(opts)
	if err := reachRedis(ctx, client, wait); err != nil {
		_ = client.Close()
		if wait == 0 {
			logger.Warn("Redis is not reachable; using an in-memory ledger for this process (its reservations end with it)",
				"redis", where, "err", err, "hint", "start Redis (docker compose up -d redis, or redis-server --daemonize yes) to use it")
			return &Ledger{Stock: shop.NewLedger(cfg.Catalogue()).Stock(), logger: logger}, nil
		}
		return nil, fmt.Errorf("connect to Redis at %s: %w (is Redis running? docker compose up -d redis, or redis-server --daemonize yes)", where, err)
	}
	l := redisledger.New(client, LedgerPrefix(cfg))
	if err := l.Seed(ctx, cfg.Catalogue()); err != nil {
		_ = client.Close()
		return nil, err
	}
	for _, instr := range instrument {
		if err := instr(client); err != nil {
			_ = client.Close()
			return nil, fmt.Errorf("instrument the Redis client: %w", err)
		}
	}
	logger.Info("keeping the stock ledger in Redis", "redis", where, "db", opts.DB, "prefix", LedgerPrefix(cfg))
	return &Ledger{Stock: l, client: client, logger: logger}, nil
}

// Restock puts cfg's ledger in the Redis at cfg.RedisURL back to the catalogue
// (cfg.Catalogue: the demo's stock, or STOCK_QUANTITY of each SKU), nothing reserved,
// and returns the stock as it now is. The ledger's key prefix comes from cfg's exchange
// and queue (LedgerPrefix), as stock's does. forget also forgets the order IDs the
// ledger remembers, so that a redelivered old order would be reserved again: a reset.
// It runs beside a running stock service; an order reserved in the same instant may be
// overwritten.
func Restock(ctx context.Context, cfg Config, forget bool) ([]shop.StockItem, error) {
	var items []shop.StockItem
	err := withRedis(ctx, cfg, func(c *redis.Client, reachable error) error {
		if reachable != nil {
			return fmt.Errorf("REDIS_URL %s: Redis does not answer: %w", cfg.RedisURL, reachable)
		}
		l := redisledger.New(c, LedgerPrefix(cfg))
		if forget {
			if err := l.Delete(ctx); err != nil {
				return err
			}
		}
		if err := l.Restock(ctx, cfg.Catalogue()); err != nil {
			return err
		}
		if err := l.Seed(ctx, nil); err != nil { // loads the reserve script, as stock does
			return err
		}
		var err error
		items, err = l.List(ctx)
		return err
	})
	return items, err
}

// reachRedis pings Redis until it answers or wait has passed (a single try when wait
// is zero). It dials first, so that a Redis that is not there is not retried and
// logged by go-redis's pool.
func reachRedis(ctx context.Context, c *redis.Client, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	opts := c.Options()
	for attempt := 1; ; attempt++ {
		dctx, cancel := context.WithTimeout(ctx, redisReachTimeout)
		var d net.Dialer
		conn, err := d.DialContext(dctx, opts.Network, opts.Addr)
		if err == nil {
			_ = conn.Close()
			err = c.Ping(dctx).Err()
		}
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return errors.Join(err, ctx.Err())
		}
		if !time.Now().Before(deadline) {
			if attempt > 1 {
				return fmt.Errorf("gave up after %d attempts in %s: %w", attempt, wait, err)
			}
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(min(time.Duration(attempt)*200*time.Millisecond, 2*time.Second)):
		}
	}
}

// DeleteLedger deletes the Redis keys of cfg's ledger, if Redis answers: a test or a
// demo that ran a fleet on an exchange and a queue of its own cleans up with it.
func DeleteLedger(ctx context.Context, cfg Config) error {
	return withRedis(ctx, cfg, func(c *redis.Client, reachable error) error {
		if reachable != nil {
			return nil // nothing to delete where nothing was kept
		}
		return redisledger.New(c, LedgerPrefix(cfg)).Delete(ctx)
	})
}

// RedisReachable reports why cfg's Redis cannot be used for the ledger, or nil.
func RedisReachable(ctx context.Context, cfg Config) error {
	return withRedis(ctx, cfg, func(_ *redis.Client, reachable error) error { return reachable })
}

// withRedis calls f with a client of cfg's Redis, closed after, and whether Redis
// answers it.
func withRedis(ctx context.Context, cfg Config, f func(c *redis.Client, reachable error) error) error {
	opts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return fmt.Errorf("REDIS_URL: %w", err)
	}
	c := redis.NewClient(opts)
	defer c.Close()
	return f(c, reachRedis(ctx, c, 0))
}
