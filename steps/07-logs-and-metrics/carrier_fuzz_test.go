package main

import (
	"context"
	"slices"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/ot2otel/workshop/shared/workshoptest"
)

// FuzzAMQPHeadersCarrier feeds the AMQP header carrier any header, of any value type
// another client could send, and checks it: Get never panics and reads text (string or
// []byte) only, Keys lists exactly the text headers, Set then Get gives back what was
// set, and a trace context injected among any other headers is extracted unchanged.
func FuzzAMQPHeadersCarrier(f *testing.F) {
	f.Add("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", byte(0), "x-request-id", "req-1")
	f.Add("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", byte(1), "baggage", "k=v")
	f.Add("tracestate", "garbage", byte(2), "Traceparent", "x")
	f.Add("", "", byte(3), "", "")
	f.Fuzz(func(t *testing.T, key, val string, kind byte, key2, val2 string) {
		headers := amqp.Table{key: workshoptest.AMQPHeaderValue(kind, val), key2: val2}
		c := amqpHeadersCarrier(headers)
		tmc, ok := any(c).(propagation.TextMapCarrier)
		if !ok {
			t.Fatal("amqpHeadersCarrier is not a propagation.TextMapCarrier. Look at TODO(06.2): Get, Set and Keys")
		}
		for _, k := range []string{key, key2, "missing"} {
			want, _ := workshoptest.AMQPText(headers[k])
			if got := tmc.Get(k); got != want {
				t.Fatalf("Get(%q) on %#v = %q, want %q. Look at TODO(06.2)", k, headers, got, want)
			}
		}
		text := workshoptest.AMQPTextKeys(headers)
		keys := tmc.Keys()
		slices.Sort(keys)
		if !slices.Equal(keys, text) {
			t.Fatalf("Keys on %#v = %q, want the text headers %q. Look at TODO(06.2)", headers, keys, text)
		}
		tmc.Set(key2, val)
		if got := tmc.Get(key2); got != val {
			t.Fatalf("Set(%q, %q) then Get: %q. Look at TODO(06.2)", key2, val, got)
		}
		amqpHeadersCarrier(nil).Set(key, val) // must not panic

		// A trace context injected among the other headers comes back out as it went in.
		prop := newPropagator()
		tp := sdktrace.NewTracerProvider()
		ctx, span := tp.Tracer("fuzz").Start(context.Background(), "publish")
		defer span.End()
		prop.Inject(ctx, tmc)
		got := trace.SpanContextFromContext(prop.Extract(context.Background(), tmc))
		if got.TraceID() != span.SpanContext().TraceID() || got.SpanID() != span.SpanContext().SpanID() {
			t.Fatalf("injected %v among %#v, extracted %v. Look at TODO(06.2)", span.SpanContext(), headers, got)
		}
	})
}
