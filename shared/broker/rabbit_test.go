package broker

import (
	"context"
	"errors"
	"net"
	neturl "net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/ot2otel/workshop/shared/tcpproxy"
)

func TestRabbitReconnect(t *testing.T) {
	t.Parallel()
	h := openRabbit(t, nil)
	r := h.broker.(*Rabbit)
	got := make(chan Message, 10)
	startConsumer(t, r, func(_ context.Context, m Message) error {
		got <- m
		return nil
	})
	publish(t, r, "before")
	if m := receive(t, got); string(m.Body) != "before" {
		t.Fatalf("got %q, want before", m.Body)
	}

	for round := range 2 {
		r.mu.Lock()
		old := r.conn
		r.mu.Unlock()
		if old == nil {
			t.Fatal("no connection")
		}
		if err := old.Close(); err != nil {
			t.Fatalf("closing the connection under the broker: %v", err)
		}

		// Publish waits for the reconnect; the consumer resumes by itself.
		publish(t, r, "after")
		receiveBody(t, got, "after")
		waitFor(t, 10*time.Second, "Ready() == nil", func() bool { return r.Ready() == nil })
		r.mu.Lock()
		reconnected := r.conn != nil && r.conn != old
		r.mu.Unlock()
		if !reconnected {
			t.Fatalf("round %d: still on the closed connection", round)
		}
	}
}

// TestRabbitOutage cuts the network between the broker and RabbitMQ for a while,
// through a proxy, and expects Ready to say so and everything to recover.
func TestRabbitOutage(t *testing.T) {
	t.Parallel()
	h, p, uri := openRabbitBehindProxy(t)
	r := h.broker.(*Rabbit)
	got := make(chan Message, 10)
	startConsumer(t, r, func(_ context.Context, m Message) error {
		got <- m
		return nil
	})
	publish(t, r, "before")
	receive(t, got)

	p.Cut()
	waitFor(t, 10*time.Second, "Ready() to report the outage", func() bool { return r.Ready() != nil })
	err := r.Ready()
	t.Logf("Ready() during the outage: %v", err)
	if !strings.Contains(err.Error(), "not connected") || strings.Contains(err.Error(), ":"+uri.Password+"@") {
		t.Errorf("Ready() = %q, want it to say not connected, without the password", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := r.Publish(ctx, Message{RoutingKey: RoutingKey, Body: []byte("lost")}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Publish during the outage: %v, want it to wait for the connection until ctx expires", err)
	}

	p.Restore()
	waitFor(t, 10*time.Second, "Ready() == nil", func() bool { return r.Ready() == nil })
	publish(t, r, "after")
	receiveBody(t, got, "after")
}

// receiveBody receives until a message with body want arrives. Messages received
// before it must be redeliveries: a connection lost right after a handler returned
// may have taken its ack along, so at-least-once delivery hands the message again.
func receiveBody(t *testing.T, c <-chan Message, want string) {
	t.Helper()
	for {
		m := receive(t, c)
		if string(m.Body) == want {
			return
		}
		if !m.Redelivered {
			t.Fatalf("got %q (not a redelivery), want %q", m.Body, want)
		}
		t.Logf("redelivered %q, its ack was lost with the connection", m.Body)
	}
}

// openRabbitBehindProxy opens a broker that reaches RabbitMQ through a proxy the test
// can cut; uri is RabbitMQ's own address.
func openRabbitBehindProxy(t *testing.T) (*harness, *tcpproxy.Proxy, amqp.URI) {
	url := requireRabbit(t)
	uri, err := amqp.ParseURI(url)
	if err != nil {
		t.Fatal(err)
	}
	p := tcpproxy.Start(t, net.JoinHostPort(uri.Host, strconv.Itoa(uri.Port)))
	h := openRabbit(t, func(c *Config) {
		u, _ := neturl.Parse(c.URL)
		u.Host = p.Addr
		c.URL = u.String()
	})
	return h, p, uri
}

func TestDialUnreachable(t *testing.T) {
	t.Parallel()
	logger, logs := testLogger(t)
	const password = "s3cr3t-Pa55"
	start := time.Now()
	_, err := Dial(context.Background(), Config{
		URL:            "amqp://workshop:" + password + "@127.0.0.1:1/",
		Exchange:       "x",
		Queue:          "q",
		ConnectTimeout: 700 * time.Millisecond,
	}, logger)
	elapsed := time.Since(start)
	if err == nil {
		t.Fatal("Dial to a closed port succeeded")
	}
	t.Logf("error: %v", err)
	if elapsed > 3*time.Second {
		t.Errorf("Dial took %s with a ConnectTimeout of 700ms", elapsed)
	}
	for _, want := range []string{"connect to RabbitMQ at", "127.0.0.1:1", "connection refused"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if strings.Contains(err.Error(), password) {
		t.Errorf("error %q leaks the password", err)
	}
	if strings.Contains(logs.String(), password) {
		t.Errorf("logs leak the password:\n%s", logs)
	}
}

func TestDialHonoursContext(t *testing.T) {
	t.Parallel()
	logger, _ := testLogger(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Dial(ctx, Config{URL: "amqp://guest:guest@127.0.0.1:1/", Exchange: "x", Queue: "q"}, logger)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Dial = %v, want an error wrapping context.DeadlineExceeded", err)
	}
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("Dial took %s with a 300ms context", elapsed)
	}
}

func TestDialInvalidConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
		want []string
	}{
		{"empty", Config{}, []string{"URL is required", "Exchange is required", "Queue is required"}},
		{"no queue", Config{URL: "amqp://localhost/", Exchange: "x"}, []string{"Queue is required"}},
		{"bad scheme", Config{URL: "http://u:pw-Secret@localhost/", Exchange: "x", Queue: "q"}, []string{"invalid AMQP URL", "scheme"}},
		{"bad port", Config{URL: "amqp://u:pw-Secret@localhost:port/", Exchange: "x", Queue: "q"}, []string{"invalid AMQP URL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Dial(context.Background(), tt.cfg, nil)
			if err == nil {
				t.Fatal("Dial succeeded")
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
			if strings.Contains(err.Error(), "pw-Secret") {
				t.Errorf("error %q leaks the password", err)
			}
		})
	}
}

func TestReachable(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := Reachable(ctx, "amqp://guest:topsecret@127.0.0.1:1/"); err == nil {
		t.Error("Reachable(closed port) = nil")
	} else if strings.Contains(err.Error(), "topsecret") {
		t.Errorf("error %q leaks the password", err)
	}
	url := requireRabbit(t)
	if err := Reachable(ctx, url); err != nil {
		t.Errorf("Reachable(%s) = %v", redactURL(url), err)
	}
}

func TestDeleteTopology(t *testing.T) {
	t.Parallel()
	h := openRabbit(t, nil)
	publish(t, h.broker, "doomed")
	if err := h.broker.Close(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := DeleteTopology(ctx, h.cfg); err != nil {
		t.Fatalf("DeleteTopology: %v", err)
	}
	// Deleting again is fine: the cleanup does it too.
	if err := DeleteTopology(ctx, h.cfg); err != nil {
		t.Fatalf("second DeleteTopology: %v", err)
	}
	for _, q := range []string{h.cfg.Queue, h.cfg.Queue + ".dlq"} {
		ch := adminChannel(t, h.cfg.URL)
		_, err := ch.QueueDeclarePassive(q, true, false, false, false, nil)
		var amqpErr *amqp.Error
		if !errors.As(err, &amqpErr) || amqpErr.Code != amqp.NotFound {
			t.Errorf("queue %s after DeleteTopology: %v, want NOT_FOUND", q, err)
		}
	}
	for _, x := range []string{h.cfg.Exchange, h.cfg.Exchange + ".dlx"} {
		ch := adminChannel(t, h.cfg.URL)
		err := ch.ExchangeDeclarePassive(x, amqp.ExchangeTopic, true, false, false, false, nil)
		var amqpErr *amqp.Error
		if !errors.As(err, &amqpErr) || amqpErr.Code != amqp.NotFound {
			t.Errorf("exchange %s after DeleteTopology: %v, want NOT_FOUND", x, err)
		}
	}
}

// TestRabbitDeadLetterHeaders documents what RabbitMQ 3.10 adds to a message it
// dead-letters, for code that inspects the dead-letter queue.
func TestRabbitDeadLetterHeaders(t *testing.T) {
	t.Parallel()
	h := openRabbit(t, func(c *Config) { c.MaxAttempts = 1 })
	startConsumer(t, h.broker, func(context.Context, Message) error { return errors.New("no") })
	publish(t, h.broker, "once")
	dead := h.deadLetters(t, 1)[0]
	if dead.Exchange != h.cfg.Exchange+".dlx" || dead.RoutingKey != RoutingKey {
		t.Errorf("dead letter came via %q with key %q, want %q and %q", dead.Exchange, dead.RoutingKey, h.cfg.Exchange+".dlx", RoutingKey)
	}
	if reason := dead.Headers["x-first-death-reason"]; reason != "rejected" {
		t.Errorf("x-first-death-reason = %#v, want rejected", reason)
	}
	if _, ok := dead.Headers["x-death"].([]any); !ok {
		t.Errorf("no x-death header in %#v", dead.Headers)
	}
	t.Logf("dead-letter headers: %#v", dead.Headers)
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	minD, maxD := 100*time.Millisecond, time.Second
	for n := 1; n <= 20; n++ {
		d := backoff(n, minD, maxD)
		ceiling := min(minD<<(n-1), maxD)
		if n > 10 {
			ceiling = maxD
		}
		if d < ceiling/2 || d > ceiling {
			t.Errorf("backoff(%d) = %s, want within [%s, %s]", n, d, ceiling/2, ceiling)
		}
	}
}
