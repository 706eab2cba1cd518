package broker

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// amqpURL is the RabbitMQ the tests use.
func amqpURL() string {
	if u := os.Getenv("AMQP_URL"); u != "" {
		return u
	}
	return "amqp://guest:guest@127.0.0.1:5672/"
}

// rabbitReachable checks once per test binary whether RabbitMQ answers.
var rabbitReachable = sync.OnceValue(func() error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return Reachable(ctx, amqpURL())
})

// requireRabbit returns the RabbitMQ URL, or skips the test when RabbitMQ is not
// reachable; with WORKSHOP_REQUIRE_RABBITMQ=1 it fails it instead.
func requireRabbit(t *testing.T) string {
	t.Helper()
	if err := rabbitReachable(); err != nil {
		if os.Getenv("WORKSHOP_REQUIRE_RABBITMQ") == "1" {
			t.Fatalf("RabbitMQ is required (WORKSHOP_REQUIRE_RABBITMQ=1) but not reachable: %v", err)
		}
		t.Skipf("skipping: RabbitMQ not reachable (%v); start it or point AMQP_URL at one, "+
			"or set WORKSHOP_REQUIRE_RABBITMQ=1 to make this a failure", err)
	}
	return amqpURL()
}

// testOptions keeps back-offs short so reconnect tests run fast.
func testOptions() dialOptions {
	return dialOptions{minBackoff: 10 * time.Millisecond, maxBackoff: 200 * time.Millisecond, handshakeTimeout: 3 * time.Second}
}

// testConfig returns a Config with exchange and queue names unique to t.
func testConfig(t *testing.T, url string) Config {
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			return r
		case r >= 'A' && r <= 'Z':
			return r - 'A' + 'a'
		}
		return '-'
	}, t.Name())
	if len(name) > 80 {
		name = name[len(name)-80:]
	}
	unique := "test-" + name + "-" + NewMessageID()[:8]
	return Config{
		URL:            url,
		Exchange:       unique,
		Queue:          unique,
		ConnectTimeout: 5 * time.Second,
	}
}

// logWriter sends log lines to t.Log until the test's cleanups are done, so a
// goroutine logging late cannot make the test panic.
type logWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
	buf  bytes.Buffer // everything logged, for tests that inspect the logs
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if !w.done {
		w.t.Logf("%s", bytes.TrimRight(p, "\n"))
	}
	return len(p), nil
}

func (w *logWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// testLogger returns a logger writing to t.Log. Call it before anything that logs
// registers its cleanup, because cleanups run last-in first-out.
func testLogger(t testing.TB) (*slog.Logger, *logWriter) {
	w := &logWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})), w
}

// harness is one Broker implementation under test, with ways to look behind it.
type harness struct {
	cfg    Config
	broker Broker
	// deadLetters waits until n messages are in the dead-letter queue, takes them
	// out and returns them.
	deadLetters func(t *testing.T, n int) []Message
	// queued reports how many messages are ready in the queue.
	queued func(t *testing.T) int
}

// implementations lists the brokers the behaviour tests run against.
var implementations = []struct {
	name string
	open func(t *testing.T, configure func(*Config)) *harness
}{
	{"rabbit", openRabbit},
	{"memory", openMemory},
}

func openMemory(t *testing.T, configure func(*Config)) *harness {
	cfg := testConfig(t, "")
	if configure != nil {
		configure(&cfg)
	}
	m := NewMemory(cfg)
	t.Cleanup(func() { _ = m.Close() })
	return &harness{
		cfg:    m.cfg,
		broker: m,
		deadLetters: func(t *testing.T, n int) []Message {
			t.Helper()
			var got []Message
			waitFor(t, 10*time.Second, "dead letters", func() bool {
				got = m.DeadLetters()
				return len(got) >= n
			})
			return got
		},
		queued: func(t *testing.T) int { return m.queued() },
	}
}

func openRabbit(t *testing.T, configure func(*Config)) *harness {
	url := requireRabbit(t)
	logger, _ := testLogger(t)
	cfg := testConfig(t, url)
	if configure != nil {
		configure(&cfg)
	}
	r := dialRabbit(t, cfg, logger)
	admin := adminChannel(t, url)
	return &harness{
		cfg:    r.cfg,
		broker: r,
		deadLetters: func(t *testing.T, n int) []Message {
			t.Helper()
			var got []Message
			waitFor(t, 10*time.Second, "dead letters", func() bool {
				d, ok, err := admin.Get(r.cfg.deadLetterQueue(), true)
				if err != nil {
					t.Fatalf("basic.get on the dead-letter queue: %v", err)
				}
				if ok {
					got = append(got, Message{
						RoutingKey: d.RoutingKey, MessageID: d.MessageId, ContentType: d.ContentType,
						Headers: d.Headers, Body: d.Body, Redelivered: d.Redelivered, Exchange: d.Exchange,
					})
				}
				return len(got) >= n
			})
			return got
		},
		queued: func(t *testing.T) int {
			t.Helper()
			q, err := admin.QueueDeclarePassive(r.cfg.Queue, true, false, false, false, nil)
			if err != nil {
				t.Fatalf("passive declare of %s: %v", r.cfg.Queue, err)
			}
			return q.Messages
		},
	}
}

// dialRabbit dials with test back-offs and deletes the topology in cleanup.
func dialRabbit(t *testing.T, cfg Config, logger *slog.Logger) *Rabbit {
	t.Helper()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := DeleteTopology(ctx, cfg); err != nil {
			t.Errorf("delete topology: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := dial(ctx, cfg, logger, testOptions())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return r
}

// adminChannel opens a channel of the test's own, to look at queues behind the
// broker's back.
func adminChannel(t *testing.T, url string) *amqp.Channel {
	t.Helper()
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Fatalf("admin connection: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatalf("admin channel: %v", err)
	}
	return ch
}

// startConsumer runs b.Consume(h) in the background. The returned stop cancels it
// and returns what Consume returned; cleanup stops it if the test did not.
func startConsumer(t *testing.T, b Broker, h Handler) (stop func() error) {
	t.Helper()
	return startConsumerCtx(t, context.Background(), b, h)
}

func startConsumerCtx(t *testing.T, parent context.Context, b Broker, h Handler) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(parent)
	errc := make(chan error, 1)
	go func() { errc <- b.Consume(ctx, h) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-errc:
			case <-time.After(10 * time.Second):
				err = errors.New("Consume did not return within 10s of cancel")
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// publish publishes a message with body and fails the test on error.
func publish(t *testing.T, b Broker, body string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Publish(ctx, Message{RoutingKey: RoutingKey, ContentType: "text/plain", Body: []byte(body)}); err != nil {
		t.Fatalf("publish %q: %v", body, err)
	}
}

// receive waits for a message on c.
func receive(t *testing.T, c <-chan Message) Message {
	t.Helper()
	select {
	case m := <-c:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no message within 10s")
		return Message{}
	}
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
