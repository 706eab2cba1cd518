package workshoptest

import (
	"cmp"
	"net"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/ot2otel/workshop/shared/app"
	"github.com/ot2otel/workshop/shared/tracecheck"
)

// RedisSpans is what a step promises of the spans of stock's Redis calls: under its
// "reserve stock" span (Parent), the reserve script's EVALSHA as a client span named
// Name, with the attributes Attrs and none of Absent.
type RedisSpans struct {
	Parent tracecheck.Hop
	Name   string
	Attrs  map[string]string
	Absent []string
	// Why says, by attribute of Absent, why it must be absent; "" for one that this
	// step's instrumentation does not set.
	Why  map[string]string
	Todo string
}

// RedisAddr returns the host and port of the Redis the tests use, as the spans name it.
func RedisAddr() (host, port string) {
	cfg, err := app.LoadConfig(os.Getenv)
	if err != nil {
		return "", ""
	}
	opts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return "", ""
	}
	host, port, _ = net.SplitHostPort(opts.Addr)
	return host, port
}

// CheckRedisSpans checks, in a subtest "redis calls", that spans hold stock's Redis
// calls as want says. Without Redis the services keep the ledger in memory and make no
// Redis call to trace: the subtest is skipped and says so (under WORKSHOP_REQUIRE_REDIS=1
// it fails instead).
func CheckRedisSpans(t *testing.T, spans []tracecheck.Span, want RedisSpans) {
	t.Helper()
	t.Run("redis calls", func(t *testing.T) {
		t.Helper()
		if err := CheckRedis(t); err != nil {
			t.Skipf("Redis does not answer (%v): stock keeps its ledger in memory, so there is no Redis call to trace "+
				"and this check cannot pass. Start Redis (docker compose up -d redis, or redis-server --daemonize yes) to run it.", err)
		}
		parent, ok := tracecheck.Find(spans, want.Parent)
		if !ok {
			t.Fatalf("no %s span to hold stock's Redis calls.\nLook at %s\n\nrecorded spans:\n%s", want.Parent, want.Parent.Todo, tracecheck.String(spans))
		}
		var calls []tracecheck.Span
		for _, s := range spans {
			if s.TraceID == parent.TraceID && s.ParentID == parent.SpanID && s.Kind == tracecheck.KindClient && s.Name == want.Name {
				calls = append(calls, s)
			}
		}
		if len(calls) == 0 {
			t.Fatalf("no Redis call under %s: want the reserve script's %q, a client span of stock, as its child.\nLook at %s\n\nrecorded spans:\n%s",
				want.Parent, want.Name, want.Todo, tracecheck.String(spans))
		}
		for _, s := range calls {
			if s.Service != "stock" {
				t.Errorf("the Redis call %q is a span of %s, want stock's.\nLook at %s", s.Name, s.Service, want.Todo)
			}
			CheckTags(t, s, want.Attrs, want.Todo)
			for _, k := range want.Absent {
				if v, ok := s.Attrs[k]; ok {
					why := cmp.Or(want.Why[k], "which this step's instrumentation does not set")
					t.Errorf("the Redis call %q carries %s=%q, %s.\nLook at %s", s.Name, k, v, why, want.Todo)
				}
			}
			if s.Error {
				t.Errorf("the Redis call %q of an order that was reserved is an error:\n%s", s.Name, tracecheck.String(spans))
			}
		}
	})
}

// OpenTracingRedisSpans is what steps 02 to 05 promise of stock's Redis calls, traced
// by the fleet's OpenTracing hook (shared/otredis) under the span parent.
func OpenTracingRedisSpans(parent tracecheck.Hop) RedisSpans {
	host, port := RedisAddr()
	return RedisSpans{Parent: parent, Name: "evalsha",
		Attrs: map[string]string{"db.system": "redis", "db.type": "redis", "db.statement": "EVALSHA",
			"peer.address": net.JoinHostPort(host, port), "component": "go-redis"},
		Todo: "reserveStock (stock.go): hand ledger.Reserve the ctx that holds the \"reserve stock\" span; the ledger's " +
			"hook (otredis.Instrument, set up in main.go, which the exercises leave as it is) traces with stock's own tracer"}
}

// RedisotelSpans is what step 06 promises of stock's Redis calls: traced by redisotel,
// the OpenTelemetry instrumentation of go-redis, with the database semantic conventions
// and none of the OpenTracing hook's tags.
func RedisotelSpans(parent tracecheck.Hop, todo string) RedisSpans {
	host, port := RedisAddr()
	return RedisSpans{Parent: parent, Name: "evalsha",
		Attrs:  map[string]string{"db.system": "redis", "server.address": host, "server.port": port},
		Absent: []string{"db.type", "component", "peer.address", "db.statement"},
		Why: map[string]string{"db.statement": "the command with its arguments (the order's ID, keys, quantities) in every " +
			"span, which redisotel records unless told not to: pass redisotel.WithDBStatement(false), as the README says"},
		Todo: todo}
}
