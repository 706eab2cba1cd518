// Package app is the scaffolding every step's binary shares: configuration from the
// environment, subcommands, logging, the broker choice, and running services with a
// graceful shutdown. None of it changes during the migration.
package app

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/ot2otel/workshop/shared/broker"
	"github.com/ot2otel/workshop/shared/shop"
)

// Config is the contract every step keeps: addresses, broker and topology.
type Config struct {
	GatewayAddr  string // GATEWAY_ADDR, default localhost:8080
	CheckoutAddr string // CHECKOUT_ADDR, default localhost:8081
	StockAddr    string // STOCK_ADDR, default localhost:8082
	CheckoutURL  string // CHECKOUT_URL, default http://localhost:8081
	// Broker is AMQP_URL, AMQP_EXCHANGE, AMQP_QUEUE, and how stock consumes:
	// AMQP_CONSUMER_WORKERS messages at once (default 8), AMQP_PREFETCH (default
	// 8 times the workers) held unacked.
	Broker broker.Config
	// RequireRabbitMQ (WORKSHOP_REQUIRE_RABBITMQ=1) turns the in-memory fallback off.
	RequireRabbitMQ bool
	// RedisURL (REDIS_URL, default redis://localhost:6379/0) is where stock keeps its
	// ledger.
	RedisURL string
	// RequireRedis (WORKSHOP_REQUIRE_REDIS=1) turns the in-memory ledger fallback off.
	RequireRedis bool
	// LogFormat (LOG_FORMAT) is "text" (the default) or "json".
	LogFormat string
	// StockQuantity (STOCK_QUANTITY), when set, is how many of each SKU of the demo
	// catalogue stock starts with, instead of the demo's few: a load test places far
	// more orders than a demo.
	StockQuantity int
}

// Catalogue is the stock the stock service starts with: the demo catalogue, with
// StockQuantity of each SKU when it is set.
func (c Config) Catalogue() []shop.StockItem {
	items := shop.DemoCatalogue()
	if c.StockQuantity > 0 {
		for i := range items {
			items[i].Available = c.StockQuantity
		}
	}
	return items
}

// Defaults of the contract.
const (
	DefaultGatewayAddr  = "localhost:8080"
	DefaultCheckoutAddr = "localhost:8081"
	DefaultStockAddr    = "localhost:8082"
	DefaultCheckoutURL  = "http://localhost:8081"
	DefaultAMQPURL      = "amqp://guest:guest@localhost:5672/"
	DefaultExchange     = "shop"
	DefaultQueue        = "stock"
	DefaultRedisURL     = "redis://localhost:6379/0"
)

// LoadConfig reads the configuration from getenv, filling in the defaults.
func LoadConfig(getenv func(string) string) (Config, error) {
	env := func(key, def string) string {
		if v := strings.TrimSpace(getenv(key)); v != "" {
			return v
		}
		return def
	}
	cfg := Config{
		GatewayAddr:  env("GATEWAY_ADDR", DefaultGatewayAddr),
		CheckoutAddr: env("CHECKOUT_ADDR", DefaultCheckoutAddr),
		StockAddr:    env("STOCK_ADDR", DefaultStockAddr),
		CheckoutURL:  strings.TrimRight(env("CHECKOUT_URL", DefaultCheckoutURL), "/"),
		Broker: broker.Config{
			URL:        env("AMQP_URL", DefaultAMQPURL),
			Exchange:   env("AMQP_EXCHANGE", DefaultExchange),
			Queue:      env("AMQP_QUEUE", DefaultQueue),
			BindingKey: broker.RoutingKey,
		},
		RequireRabbitMQ: env("WORKSHOP_REQUIRE_RABBITMQ", "") == "1",
		RedisURL:        env("REDIS_URL", DefaultRedisURL),
		RequireRedis:    env("WORKSHOP_REQUIRE_REDIS", "") == "1",
		LogFormat:       env("LOG_FORMAT", "text"),
	}
	u, err := url.Parse(cfg.CheckoutURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Config{}, fmt.Errorf("CHECKOUT_URL %q: want an http:// or https:// URL", cfg.CheckoutURL)
	}
	if !strings.HasPrefix(cfg.Broker.URL, "amqp://") && !strings.HasPrefix(cfg.Broker.URL, "amqps://") {
		return Config{}, errors.New("AMQP_URL: want an amqp:// or amqps:// URL")
	}
	if _, err := redis.ParseURL(cfg.RedisURL); err != nil {
		return Config{}, fmt.Errorf("REDIS_URL: want a redis:// or rediss:// URL: %w", err)
	}
	for _, knob := range []struct {
		key string
		dst *int
		max int
	}{
		{"AMQP_CONSUMER_WORKERS", &cfg.Broker.Workers, 1024},
		{"AMQP_PREFETCH", &cfg.Broker.Prefetch, 65535},
	} {
		if v := env(knob.key, ""); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 || n > knob.max {
				return Config{}, fmt.Errorf("%s %q: want a number from 1 to %d", knob.key, v, knob.max)
			}
			*knob.dst = n
		}
	}
	if v := env("STOCK_QUANTITY", ""); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return Config{}, fmt.Errorf("STOCK_QUANTITY %q: want a positive number", v)
		}
		cfg.StockQuantity = n
	}
	if cfg.LogFormat != "text" && cfg.LogFormat != "json" {
		return Config{}, fmt.Errorf("LOG_FORMAT %q: want text or json", cfg.LogFormat)
	}
	return cfg, nil
}
