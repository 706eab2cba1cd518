// Package redistest gives tests a real Redis: a client to the one at REDIS_URL (default
// redis://localhost:6379/0), a key prefix of their own that is deleted when they end,
// and a proxy they can cut to play a Redis outage without touching the real server.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ot2otel/workshop/shared/tcpproxy"
)

// DefaultURL is where tests look for Redis when REDIS_URL is not set.
const DefaultURL = "redis://localhost:6379/0"

// URL returns REDIS_URL, or DefaultURL.
func URL() string {
	if u := strings.TrimSpace(os.Getenv("REDIS_URL")); u != "" {
		return u
	}
	return DefaultURL
}

// Required reports whether WORKSHOP_REQUIRE_REDIS=1: Redis must be there.
func Required() bool { return os.Getenv("WORKSHOP_REQUIRE_REDIS") == "1" }

var skipOnce sync.Once

// Client returns a client of the Redis at URL, closed when the test ends. When Redis
// does not answer, it skips the test (saying so once per test binary), or fails it
// under WORKSHOP_REQUIRE_REDIS=1.
func Client(t testing.TB) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(URL())
	if err != nil {
		t.Fatalf("REDIS_URL: %v", err)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		if Required() {
			t.Fatalf("WORKSHOP_REQUIRE_REDIS=1 but Redis does not answer at %s: %v", URL(), err)
		}
		skipOnce.Do(func() {
			t.Logf("Redis does not answer at %s (%v): the tests that need it are skipped; "+
				"start it (redis-server --daemonize yes, or docker compose up -d redis) to run them", URL(), err)
		})
		t.Skipf("Redis does not answer at %s", URL())
	}
	return c
}

// Prefix returns a key prefix no other test uses, and deletes every key under it
// when the test ends.
func Prefix(t testing.TB, c *redis.Client) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	prefix := "test:" + strings.NewReplacer("/", "-", " ", "-").Replace(t.Name()) + ":" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() { DeleteKeys(t, c, prefix) })
	return prefix
}

// DeleteKeys deletes every key that starts with prefix.
func DeleteKeys(t testing.TB, c *redis.Client, prefix string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	iter := c.Scan(ctx, 0, escapeGlob(prefix)+"*", 100).Iterator()
	for iter.Next(ctx) {
		if err := c.Del(ctx, iter.Val()).Err(); err != nil {
			t.Errorf("delete %s: %v", iter.Val(), err)
		}
	}
	if err := iter.Err(); err != nil {
		t.Errorf("scan %s*: %v", prefix, err)
	}
}

func escapeGlob(s string) string {
	return strings.NewReplacer(`\`, `\\`, "*", `\*`, "?", `\?`, "[", `\[`, "]", `\]`).Replace(s)
}

// StartProxy starts a proxy to the Redis c talks to, which the test can cut to play
// Redis going away, and restore to play it coming back, without restarting the
// machine's Redis; it is cut when the test ends.
func StartProxy(t testing.TB, c *redis.Client) *tcpproxy.Proxy {
	t.Helper()
	return tcpproxy.Start(t, c.Options().Addr)
}

// ProxyURL returns a Redis URL that reaches Redis through p, in the database c uses.
func ProxyURL(p *tcpproxy.Proxy, c *redis.Client) string {
	return "redis://" + p.Addr + "/" + strconv.Itoa(c.Options().DB)
}
