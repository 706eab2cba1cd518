package otelsuite

import (
	"cmp"
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/ot2otel/workshop/shared/broker"
	"github.com/ot2otel/workshop/shared/tracecheck"
	"github.com/ot2otel/workshop/shared/workshoptest"
)

// BrokerAttrs are the attributes the messaging conventions ask of a broker span: the
// operation, the destination, the message, and where RabbitMQ is (the in-memory broker
// of a laptop without RabbitMQ is nowhere).
func BrokerAttrs(hop tracecheck.Hop, exchange, queue, messageID string) map[string]string {
	want := map[string]string{
		"messaging.system":                           "rabbitmq",
		"messaging.operation.type":                   "send",
		"messaging.operation.name":                   "publish",
		"messaging.destination.name":                 exchange + ":" + broker.RoutingKey,
		"messaging.rabbitmq.destination.routing_key": broker.RoutingKey,
		"messaging.message.id":                       messageID,
	}
	if hop.Kind == tracecheck.KindConsumer {
		want["messaging.operation.type"], want["messaging.operation.name"] = "process", "process"
		want["messaging.destination.name"] += ":" + queue
	}
	if host, port, ok := rabbitAddress(); ok {
		want["server.address"], want["server.port"] = host, port
	}
	return want
}

// rabbitAddress returns the host and port of the RabbitMQ the tests use, when they use it.
func rabbitAddress() (host, port string, ok bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if broker.Reachable(ctx, workshoptest.RabbitMQURL()) != nil {
		return "", "", false // the in-memory broker has no address
	}
	u, err := url.Parse(workshoptest.RabbitMQURL())
	if err != nil {
		return "", "", false
	}
	return u.Hostname(), cmp.Or(u.Port(), "5672"), true
}

// CheckAttrs checks the span's attributes, blaming todo.
func CheckAttrs(t *testing.T, span tracecheck.Span, want map[string]string, todo string) {
	t.Helper()
	for k, v := range want {
		if got, ok := span.Attrs[k]; !ok || got != v {
			t.Errorf("the %s %s span %q has %s=%q, want %q.\nLook at %s", span.Service, span.Kind, span.Name, k, got, v, todo)
		}
	}
}
