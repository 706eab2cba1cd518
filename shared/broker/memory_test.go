package broker

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

func TestNormalizeHeaders(t *testing.T) {
	t.Parallel()
	when := time.Date(2024, 5, 6, 7, 8, 9, 987654321, time.UTC)
	tests := []struct {
		name string
		in   amqp.Table
		want amqp.Table
	}{
		{"nil", nil, nil},
		{"empty", amqp.Table{}, nil},
		{"string", amqp.Table{"k": "v"}, amqp.Table{"k": "v"}},
		{"bytes", amqp.Table{"k": []byte("v")}, amqp.Table{"k": []byte("v")}},
		{"empty bytes", amqp.Table{"k": []byte{}}, amqp.Table{"k": []byte{}}},
		{"nil bytes", amqp.Table{"k": []byte(nil)}, amqp.Table{"k": []byte{}}},
		{"int", amqp.Table{"k": 42}, amqp.Table{"k": int32(42)}},
		{"int truncated like the wire", amqp.Table{"k": 1<<32 + 5}, amqp.Table{"k": int32(5)}},
		{"sized ints unchanged", amqp.Table{
			"b": byte(1), "i8": int8(-1), "i16": int16(-2), "u16": uint16(2),
			"i32": int32(-3), "u32": uint32(3), "i64": int64(-4),
		}, amqp.Table{
			"b": byte(1), "i8": int8(-1), "i16": int16(-2), "u16": uint16(2),
			"i32": int32(-3), "u32": uint32(3), "i64": int64(-4),
		}},
		{"floats, bool, nil, decimal", amqp.Table{
			"f32": float32(0.5), "f64": 0.25, "t": true, "nil": nil, "d": amqp.Decimal{Scale: 1, Value: 5},
		}, amqp.Table{
			"f32": float32(0.5), "f64": 0.25, "t": true, "nil": nil, "d": amqp.Decimal{Scale: 1, Value: 5},
		}},
		{"time truncated to seconds, local", amqp.Table{"k": when}, amqp.Table{"k": time.Unix(when.Unix(), 0)}},
		{"array", amqp.Table{"k": []any{1, "a", []any{2}}}, amqp.Table{"k": []any{int32(1), "a", []any{int32(2)}}}},
		{"empty array becomes nil", amqp.Table{"k": []any{}}, amqp.Table{"k": []any(nil)}},
		{"nested table", amqp.Table{"k": amqp.Table{"n": 1, "e": amqp.Table{}}}, amqp.Table{"k": amqp.Table{"n": int32(1), "e": amqp.Table{}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NormalizeHeaders(tt.in)
			if err != nil {
				t.Fatalf("NormalizeHeaders: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("NormalizeHeaders(%#v)\n got %#v\nwant %#v", tt.in, got, tt.want)
			}
		})
	}
}

func TestNormalizeHeadersCopies(t *testing.T) {
	t.Parallel()
	in := amqp.Table{"b": []byte("abc"), "t": amqp.Table{"b": []byte("x")}, "a": []any{[]byte("y")}}
	out, err := NormalizeHeaders(in)
	if err != nil {
		t.Fatal(err)
	}
	in["b"].([]byte)[0] = 'X'
	in["t"].(amqp.Table)["new"] = "z"
	in["t"].(amqp.Table)["b"].([]byte)[0] = 'X'
	in["a"].([]any)[0].([]byte)[0] = 'X'
	want := amqp.Table{"b": []byte("abc"), "t": amqp.Table{"b": []byte("x")}, "a": []any{[]byte("y")}}
	if !reflect.DeepEqual(out, want) {
		t.Errorf("mutating the input changed the copy: %#v", out)
	}
}

func TestNormalizeHeadersRejects(t *testing.T) {
	t.Parallel()
	deep := amqp.Table{"leaf": "x"}
	for range 40 {
		deep = amqp.Table{"n": deep}
	}
	tests := []struct {
		name string
		in   amqp.Table
		want error // nil: any error
	}{
		{"map[string]any is not a Table", amqp.Table{"k": map[string]any{"a": 1}}, amqp.ErrFieldType},
		{"uint64", amqp.Table{"k": uint64(1)}, amqp.ErrFieldType},
		{"uint", amqp.Table{"k": uint(1)}, amqp.ErrFieldType},
		{"[]string", amqp.Table{"k": []string{"a"}}, amqp.ErrFieldType},
		{"struct", amqp.Table{"k": struct{}{}}, amqp.ErrFieldType},
		{"nested in array", amqp.Table{"k": []any{1, int64(2), uint64(3)}}, amqp.ErrFieldType},
		{"nested in table", amqp.Table{"k": amqp.Table{"x": complex(1, 1)}}, amqp.ErrFieldType},
		{"too deep to read back", deep, amqp.ErrSyntax},
		{"key over 255 bytes", amqp.Table{strings.Repeat("k", 256): 1}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NormalizeHeaders(tt.in)
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Errorf("NormalizeHeaders: %v, want an error wrapping %v", err, tt.want)
			}
		})
	}
}

func TestTopicMatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		binding, key string
		want         bool
	}{
		{"checkout.processed", "checkout.processed", true},
		{"checkout.processed", "checkout.failed", false},
		{"checkout.processed", "checkout", false},
		{"checkout.processed", "checkout.processed.eu", false},
		{"checkout.*", "checkout.processed", true},
		{"checkout.*", "checkout", false},
		{"checkout.*", "checkout.processed.eu", false},
		{"*.processed", "checkout.processed", true},
		{"checkout.#", "checkout", true},
		{"checkout.#", "checkout.processed.eu", true},
		{"#", "anything.at.all", true},
		{"#", "", true},
		{"#.eu", "checkout.processed.eu", true},
		{"#.eu", "checkout.processed.us", false},
		{"checkout.#.eu", "checkout.eu", true},
		{"checkout.#.eu", "checkout.a.b.eu", true},
		{"*", "", true}, // one empty word
		{"", "", true},
		{"", "x", false},
	}
	for _, tt := range tests {
		if got := topicMatch(tt.binding, tt.key); got != tt.want {
			t.Errorf("topicMatch(%q, %q) = %v, want %v", tt.binding, tt.key, got, tt.want)
		}
	}
}

// TestMemoryIsolatesMessages checks that neither the publisher nor a handler can
// change a queued message after the fact, as over a real wire.
func TestMemoryIsolatesMessages(t *testing.T) {
	t.Parallel()
	m := NewMemory(Config{Exchange: "x", Queue: "q", MaxAttempts: 2})
	body := []byte("body")
	headers := amqp.Table{"b": []byte("hdr"), "t": amqp.Table{"k": "v"}}
	if err := m.Publish(context.Background(), Message{RoutingKey: RoutingKey, Headers: headers, Body: body}); err != nil {
		t.Fatal(err)
	}
	body[0] = 'X'
	headers["b"].([]byte)[0] = 'X'
	headers["t"].(amqp.Table)["k"] = "changed"
	headers["added"] = "late"

	var seen []string
	startConsumer(t, m, func(_ context.Context, msg Message) error {
		seen = append(seen, string(msg.Body)+" "+string(msg.Headers["b"].([]byte))+" "+msg.Headers["t"].(amqp.Table)["k"].(string))
		if _, ok := msg.Headers["added"]; ok {
			t.Errorf("handler sees a header the publisher added after Publish: %#v", msg.Headers)
		}
		// A handler scribbling on its message must not affect the next attempt.
		msg.Body[0] = 'Y'
		msg.Headers["b"].([]byte)[0] = 'Y'
		msg.Headers["t"].(amqp.Table)["k"] = "scribbled"
		msg.Headers["scribble"] = true
		return errors.New("retry")
	})
	dead := waitDeadLetters(t, m, 1)
	if want := []string{"body hdr v", "body hdr v"}; !reflect.DeepEqual(seen, want) {
		t.Errorf("handler saw %q, want %q", seen, want)
	}
	if string(dead[0].Body) != "body" || string(dead[0].Headers["b"].([]byte)) != "hdr" {
		t.Errorf("dead letter %q %#v, want the message as published", dead[0].Body, dead[0].Headers)
	}
	if _, ok := dead[0].Headers["scribble"]; ok {
		t.Errorf("the handler's changes reached the dead letter: %#v", dead[0].Headers)
	}
}

func waitDeadLetters(t *testing.T, m *Memory, n int) []Message {
	t.Helper()
	var dead []Message
	waitFor(t, 5*time.Second, "dead letters", func() bool {
		dead = m.DeadLetters()
		return len(dead) >= n
	})
	return dead
}

func BenchmarkMemoryPublishConsume(b *testing.B) {
	m := NewMemory(Config{Exchange: "bench", Queue: "bench"})
	defer m.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var n atomic.Int64
	done := make(chan struct{})
	go m.Consume(ctx, func(context.Context, Message) error {
		if n.Add(1) == int64(b.N) {
			close(done)
		}
		return nil
	})
	msg := Message{
		RoutingKey:  RoutingKey,
		ContentType: "application/json",
		Headers:     amqp.Table{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
		Body:        []byte(`{"order_id":"o-1","items":[{"sku":"A","qty":1}]}`),
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := m.Publish(ctx, msg); err != nil {
			b.Fatal(err)
		}
	}
	<-done
}

// BenchmarkPublishHeaderCheck: what Rabbit.Publish does with an order's headers (the
// correlation ID and the trace context) before it sends them. It used to build
// NormalizeHeaders' copy only to learn whether there was an error.
func BenchmarkPublishHeaderCheck(b *testing.B) {
	headers := amqp.Table{
		"x-request-id": "4bf92f3577b34da6a3ce929d0e0e4736",
		"traceparent":  "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"tracestate":   "",
	}
	b.Run("NormalizeHeaders", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := NormalizeHeaders(headers); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("checkHeaders", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := checkHeaders(headers); err != nil {
				b.Fatal(err)
			}
		}
	})
}
