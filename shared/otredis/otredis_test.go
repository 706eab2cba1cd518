package otredis_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/opentracing/opentracing-go"
	"github.com/redis/go-redis/v9"
	"github.com/uber/jaeger-client-go"

	"github.com/ot2otel/workshop/shared/otredis"
	"github.com/ot2otel/workshop/shared/redistest"
	"github.com/ot2otel/workshop/shared/shop"
	"github.com/ot2otel/workshop/shared/shop/redisledger"
)

// traced returns a client of the real Redis traced by a jaeger-client tracer that
// keeps its spans in memory, and a key prefix of the test's own.
func traced(t *testing.T) (*redis.Client, opentracing.Tracer, *jaeger.InMemoryReporter, string) {
	t.Helper()
	real := redistest.Client(t)
	prefix := redistest.Prefix(t, real)
	c := redis.NewClient(real.Options())
	t.Cleanup(func() { _ = c.Close() })
	// A fresh connection says HELLO and CLIENT SETINFO, traced under the first command
	// that needs it: open it before tracing, so each test sees only its own commands.
	// (go-redis keeps pipelines' connections apart, so warm up both.)
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.TxPipelined(context.Background(), func(p redis.Pipeliner) error { return p.Ping(context.Background()).Err() }); err != nil {
		t.Fatal(err)
	}
	reporter := jaeger.NewInMemoryReporter()
	tracer, closer := jaeger.NewTracer("stock", jaeger.NewConstSampler(true), reporter)
	t.Cleanup(func() { _ = closer.Close() })
	if err := otredis.Instrument(tracer)(c); err != nil {
		t.Fatal(err)
	}
	return c, tracer, reporter, prefix
}

func spans(r *jaeger.InMemoryReporter) []*jaeger.Span {
	var out []*jaeger.Span
	for _, s := range r.GetSpans() {
		out = append(out, s.(*jaeger.Span))
	}
	return out
}

// TestSpanPerCommand: each command is a client span under the caller's span, with the
// command's name and none of its values.
func TestSpanPerCommand(t *testing.T) {
	c, tracer, reporter, prefix := traced(t)
	parent := tracer.StartSpan("reserve stock")
	ctx := opentracing.ContextWithSpan(context.Background(), parent)
	const secret = "customer-42-secret"
	if err := c.Set(ctx, prefix+secret, secret, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx, prefix+"missing").Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("GET of a missing key: %v", err)
	}
	parent.Finish()

	got := spans(reporter)
	if len(got) != 3 {
		t.Fatalf("%d spans, want SET, GET and the parent: %v", len(got), got)
	}
	for i, want := range []string{"SET", "GET"} {
		s := got[i]
		if s.OperationName() != strings.ToLower(want) {
			t.Errorf("span %d: operation %q, want %q", i, s.OperationName(), strings.ToLower(want))
		}
		if s.SpanContext().ParentID() != parent.Context().(jaeger.SpanContext).SpanID() ||
			s.SpanContext().TraceID() != parent.Context().(jaeger.SpanContext).TraceID() {
			t.Errorf("%s: not a child of the caller's span", want)
		}
		tags := s.Tags()
		for k, v := range map[string]any{
			"span.kind": "client", "db.system": "redis", "db.type": "redis", "db.statement": want,
			"peer.address": c.Options().Addr, "db.instance": fmt.Sprint(c.Options().DB), "component": "go-redis",
		} {
			// span.kind's value is an ext.SpanKindEnum.
			if fmt.Sprint(tags[k]) != v {
				t.Errorf("%s: tag %s = %v, want %v", want, k, tags[k], v)
			}
		}
		for k, v := range tags {
			if strings.Contains(fmt.Sprint(v), "secret") {
				t.Errorf("%s: tag %s = %v carries the command's values", want, k, v)
			}
		}
		if tags["error"] != nil {
			t.Errorf("%s: tagged error=%v (redis.Nil is an answer, not an error)", want, tags["error"])
		}
	}
}

// TestFailedCommandIsAnError: a command Redis refuses is tagged error=true and logs it.
func TestFailedCommandIsAnError(t *testing.T) {
	c, tracer, reporter, _ := traced(t)
	parent := tracer.StartSpan("parent")
	ctx := opentracing.ContextWithSpan(context.Background(), parent)
	if err := c.Do(ctx, "NOSUCHCOMMAND", "x").Err(); err == nil {
		t.Fatal("an unknown command succeeded")
	}
	parent.Finish()
	s := spans(reporter)[0]
	if s.Tags()["error"] != true {
		t.Errorf("tags %v lack error=true", s.Tags())
	}
	logs := s.Logs()
	if len(logs) == 0 || !strings.Contains(fieldsString(logs), "unknown command") {
		t.Errorf("logs %v do not carry Redis's error", logs)
	}
}

func fieldsString(logs []opentracing.LogRecord) string {
	var b strings.Builder
	for _, l := range logs {
		for _, f := range l.Fields {
			b.WriteString(f.String() + " ")
		}
	}
	return b.String()
}

// TestSpanPerPipeline: a transaction is one span naming its commands, and the ledger's
// calls (the reserve script, the stock listing) are traced under the caller's span.
func TestSpanPerPipeline(t *testing.T) {
	c, tracer, reporter, prefix := traced(t)
	l := redisledger.New(c, prefix)
	parent := tracer.StartSpan("reserve stock")
	ctx := opentracing.ContextWithSpan(context.Background(), parent)
	if err := l.Seed(ctx, []shop.StockItem{{SKU: "a", Available: 2}}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Reserve(ctx, "ord_1", []shop.Item{{SKU: "a", Quantity: 1}}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.List(ctx); err != nil {
		t.Fatal(err)
	}
	parent.Finish()
	var statements []string
	for _, s := range spans(reporter) {
		if s == parent {
			continue
		}
		if s.SpanContext().ParentID() != parent.Context().(jaeger.SpanContext).SpanID() {
			t.Errorf("%s: not a child of the caller's span", s.OperationName())
		}
		statements = append(statements, s.Tags()["db.statement"].(string))
	}
	// Seed loads the script (SCRIPT LOAD: the subcommand is a value too), so the reserve
	// is one EVALSHA.
	got := strings.Join(statements, " | ")
	if want := "MULTI HSETNX HSETNX EXEC | SCRIPT | EVALSHA | MULTI HGETALL HGETALL EXEC"; got != want {
		t.Errorf("statements %q, want %q", got, want)
	}
}

// TestNoSpanOutsideATrace: a command without a span in its context starts no trace.
func TestNoSpanOutsideATrace(t *testing.T) {
	c, _, reporter, prefix := traced(t)
	ctx := context.Background()
	if err := c.Get(ctx, prefix+"x").Err(); !errors.Is(err, redis.Nil) {
		t.Fatal(err)
	}
	if _, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error { return p.Get(ctx, prefix+"x").Err() }); !errors.Is(err, redis.Nil) {
		t.Fatal(err)
	}
	if got := spans(reporter); len(got) != 0 {
		t.Errorf("%d spans for commands outside any trace, want none: %v", len(got), got)
	}
}
