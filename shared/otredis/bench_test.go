package otredis

import (
	"context"
	"testing"

	"github.com/opentracing/opentracing-go"
	"github.com/redis/go-redis/v9"
	"github.com/uber/jaeger-client-go"
)

// BenchmarkProcessHook times the hook around one command of an unsampled trace (what
// nine orders in ten are at 10 % sampling), the command itself left out.
//
//	go test -run '^$' -bench ProcessHook -benchmem ./otredis
func BenchmarkProcessHook(b *testing.B) {
	tracer, closer := jaeger.NewTracer("stock", jaeger.NewConstSampler(false), jaeger.NewNullReporter())
	defer closer.Close()
	h := NewHook(tracer, "127.0.0.1:6379", 0)
	next := h.ProcessHook(func(ctx context.Context, cmd redis.Cmder) error { return nil })
	parent := tracer.StartSpan("reserve stock")
	ctx := opentracing.ContextWithSpan(context.Background(), parent)
	cmd := redis.NewCmd(ctx, "evalsha", "abc", 1, "k")
	b.ReportAllocs()
	for b.Loop() {
		_ = next(ctx, cmd)
	}
}
