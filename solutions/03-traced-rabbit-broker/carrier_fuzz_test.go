package main

import (
	"slices"
	"testing"

	"github.com/opentracing/opentracing-go"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/uber/jaeger-client-go"

	"github.com/ot2otel/workshop/shared/workshoptest"
)

// FuzzAMQPHeadersCarrier feeds the AMQP header carrier any header, of any value type
// another client could send, and checks pitfall 6: Get never panics and reads text
// (string or []byte) only, ForeachKey visits exactly the text headers, Set then Get
// gives back what was set, and extracting a trace context from any headers never
// panics nor fails the message.
func FuzzAMQPHeadersCarrier(f *testing.F) {
	f.Add("uber-trace-id", "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1", byte(0), "x-request-id", "req-1")
	f.Add("uber-trace-id", "a3ce929d0e0e4736:00f067aa0ba902b7:0:1", byte(1), "uberctx-k", "v")
	f.Add("Uber-Trace-Id", "garbage", byte(2), "uber-trace-id", "%3A%3A")
	f.Add("", "", byte(3), "", "")
	f.Fuzz(func(t *testing.T, key, val string, kind byte, key2, val2 string) {
		headers := amqp.Table{key: workshoptest.AMQPHeaderValue(kind, val), key2: val2}
		c := amqpHeadersCarrier(headers)
		for _, k := range []string{key, key2, "missing"} {
			want, _ := workshoptest.AMQPText(headers[k])
			if got := c.Get(k); got != want {
				t.Fatalf("Get(%q) on %#v = %q, want %q. Look at TODO(03.1) and TODO(03.2): the carrier reads text (string or []byte) and skips other types",
					k, headers, got, want)
			}
		}
		var visited []string
		_ = c.ForeachKey(func(k, v string) error {
			visited = append(visited, k)
			if v != c.Get(k) {
				t.Errorf("ForeachKey gave %q=%q, Get gives %q", k, v, c.Get(k))
			}
			return nil
		})
		text := workshoptest.AMQPTextKeys(headers)
		slices.Sort(visited)
		if !slices.Equal(visited, text) {
			t.Fatalf("ForeachKey on %#v visited %q, want the text headers %q. Look at TODO(03.2)", headers, visited, text)
		}
		c.Set(key2, val)
		if got := c.Get(key2); got != val {
			t.Fatalf("Set(%q, %q) then Get: %q. Look at TODO(03.1): store val under key", key2, val, got)
		}

		tracer, closer := jaeger.NewTracer("stock", jaeger.NewConstSampler(true), jaeger.NewNullReporter())
		defer closer.Close()
		if sc, err := tracer.Extract(opentracing.TextMap, c); err == nil {
			tracer.StartSpan("process", opentracing.ChildOf(sc)).Finish()
		}
	})
}
