package benchmarks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/ot2otel/workshop/shared/broker"
)

// rabbitURL is the RabbitMQ the publish benchmarks use, or "" after skipping tb
// because there is none (a failure with WORKSHOP_REQUIRE_RABBITMQ=1).
func rabbitURL(tb testing.TB) string {
	tb.Helper()
	url := os.Getenv("AMQP_URL")
	if url == "" {
		url = "amqp://guest:guest@127.0.0.1:5672/"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := broker.Reachable(ctx, url); err != nil {
		if os.Getenv("WORKSHOP_REQUIRE_RABBITMQ") == "1" {
			tb.Fatalf("RabbitMQ is required (WORKSHOP_REQUIRE_RABBITMQ=1): %v", err)
		}
		tb.Skipf("skipping: RabbitMQ not reachable (%v)", err)
	}
	return url
}

// openBroker dials RabbitMQ with a topology of the benchmark's own, deleted afterwards.
func openBroker(tb testing.TB) *broker.Rabbit {
	tb.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "bench-publish-" + hex.EncodeToString(b)
	cfg := broker.Config{URL: rabbitURL(tb), Exchange: name, Queue: name, ConnectTimeout: 10 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := broker.Dial(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		r.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = broker.DeleteTopology(ctx, cfg)
	})
	return r
}

// orderEvent is about the size of the event checkout publishes.
var orderEvent = []byte(`{"order_id":"ord_0123456789abcdef","customer_id":"load","items":[{"sku":"span-sticker","quantity":1}],"placed_at":"2026-12-01T20:00:00.000000000Z"}`)

func publishOne(tb testing.TB, r *broker.Rabbit) {
	if err := r.Publish(context.Background(), broker.Message{
		RoutingKey: broker.RoutingKey, ContentType: "application/json", Body: orderEvent,
	}); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkPublish times Publish, which returns once RabbitMQ has confirmed the
// message, with one publisher and with 16 at once, as 16 concurrent orders would. Its
// ns/op is the time per confirmed message: with 16, the confirms in flight overlap.
//
//	go test -run '^$' -bench Publish -benchtime 3s ./benchmarks
func BenchmarkPublish(b *testing.B) {
	for _, inFlight := range []int{1, 16} {
		b.Run(fmt.Sprintf("in-flight-%d", inFlight), func(b *testing.B) {
			r := openBroker(b)
			publishOne(b, r) // the channel is open before the clock starts
			b.ReportAllocs()
			b.ResetTimer()
			var wg sync.WaitGroup
			next := make(chan struct{})
			go func() {
				defer close(next)
				for range b.N {
					next <- struct{}{}
				}
			}()
			for range inFlight {
				wg.Go(func() {
					for range next {
						publishOne(b, r)
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// TestPublishPathDelivers checks that what BenchmarkPublish times delivers: every
// message published by 16 concurrent publishers is confirmed and arrives.
func TestPublishPathDelivers(t *testing.T) {
	r := openBroker(t)
	const n = 160
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range n / 16 {
				publishOne(t, r)
			}
		})
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var mu sync.Mutex
	got := 0
	_ = r.Consume(ctx, func(context.Context, broker.Message) error {
		mu.Lock()
		defer mu.Unlock()
		if got++; got == n {
			cancel()
		}
		return nil
	})
	if got != n {
		t.Fatalf("consumed %d of %d confirmed messages", got, n)
	}
}
