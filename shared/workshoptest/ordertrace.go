package workshoptest

import (
	"cmp"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/ot2otel/workshop/shared/fleet"
	"github.com/ot2otel/workshop/shared/tracecheck"
)

// OrderTraces is how a traced step's order trace is collected and what it must be, for
// Contract: TestContract/OrderTrace runs the services in the test's process,
// TestContract/OrderTraceAcrossProcesses as three processes, as deployed.
type OrderTraces struct {
	// Collect points the services' tracers at collectors of t's own. It returns the
	// environment that points separate processes at them, and received, which returns
	// the spans they got once the services stopped and fails t, naming what to look
	// at, when there are none.
	Collect func(t *testing.T) (env map[string]string, received func() []tracecheck.Span)
	// Want is the trace the order with ID orderID must make, in a fleet with env.
	Want func(env map[string]string, orderID string) OrderTrace
	// StockAPI, when its Name is set, is stock's server span for a GET /stock/{sku}
	// asked after the order (TestContract/OrderTrace): a trace of its own, the ledger's
	// Redis calls under it (StockAPIHop).
	StockAPI tracecheck.Hop
}

// TraceResponseFormat is the traceresponse header (W3C Trace Context level 2): the
// version, the trace ID, the span ID and the flags.
var TraceResponseFormat = regexp.MustCompile(`^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$`)

// OrderTrace is what one step expects of the trace of one order. Its spans are a list,
// in the order they nest, so a step that traces one more hop adds one more entry.
type OrderTrace struct {
	// Spans are the order's spans, from the gateway's server span on, each directly
	// under the one before.
	Spans []tracecheck.Hop
	// Continuous: every recorded span belongs in the order's trace.
	Continuous bool
	// TraceResponse is the hint when the traceresponse header does not name the
	// order's trace ("": no hint); with TraceResponseSpan it must name the gateway's
	// server span too.
	TraceResponse     string
	TraceResponseSpan bool
	// Redis, when its Name is set, are the Redis spans stock's work must have.
	Redis RedisSpans
	// Sources, when set, is what records each service's spans (tracecheck.Span.Source),
	// SourceHint what to look at when a span came from elsewhere.
	Sources    map[string]string
	SourceHint string
	// Check checks anything else the step expects of the trace's spans.
	Check func(t *testing.T, spans []tracecheck.Span)
	// Tagged are the spans whose tags Tags says.
	Tagged []tracecheck.Hop
	Tags   func(hop tracecheck.Hop, span tracecheck.Span) map[string]string
	// Attrs shows the attributes when the trace is logged.
	Attrs bool
	// Ignore drops, before any check, the recorded spans that are not the order's.
	Ignore func(tracecheck.Span) bool
}

// CheckOrderTrace checks that spans are the one trace of the order resp answered, as
// want says.
func CheckOrderTrace(t *testing.T, spans []tracecheck.Span, resp fleet.Response, want OrderTrace) {
	t.Helper()
	if want.Ignore != nil {
		spans = slices.DeleteFunc(slices.Clone(spans), want.Ignore)
	}
	hops := want.Spans
	if err := tracecheck.CheckChain(spans, hops...); err != nil {
		t.Fatal(err)
	}
	// Each hop directly under the one before: nothing in between, nothing skipped.
	for i := 1; i < len(hops); i++ {
		if err := tracecheck.CheckParent(spans, hops[i], hops[i-1]); err != nil {
			t.Error(err)
		}
	}
	if want.Continuous {
		if err := tracecheck.CheckContinuous(spans); err != nil {
			t.Errorf("every span of the order belongs in its trace: %v", err)
		}
	}
	server, _ := tracecheck.Find(spans, hops[0])
	m := TraceResponseFormat.FindStringSubmatch(resp.Header.Get("traceresponse"))
	switch {
	case want.TraceResponseSpan:
		if m == nil || m[1] != server.TraceID || m[2] != server.SpanID {
			t.Errorf("traceresponse: %q does not name the order's trace %s and the gateway's server span %s.\nLook at %s",
				resp.Header.Get("traceresponse"), server.TraceID, server.SpanID, want.TraceResponse)
		}
	case m == nil || m[1] != server.TraceID:
		hint := ""
		if want.TraceResponse != "" {
			hint = ".\nLook at " + want.TraceResponse
		}
		t.Errorf("traceresponse: %q does not name the order's trace %s%s", resp.Header.Get("traceresponse"), server.TraceID, hint)
	}
	if want.Redis.Name != "" {
		CheckRedisSpans(t, spans, want.Redis)
	}
	for _, s := range spans {
		if want.Sources != nil && s.Source != want.Sources[s.Service] {
			t.Errorf("the span %s %q came from %s, want %s: %s", s.Service, s.Name, s.Source, want.Sources[s.Service], want.SourceHint)
		}
	}
	if want.Check != nil {
		want.Check(t, spans)
	}
	for _, hop := range want.Tagged {
		span, _ := tracecheck.Find(spans, hop)
		CheckTags(t, span, want.Tags(hop, span), hop.Todo)
	}
	if want.Attrs {
		var b strings.Builder
		tracecheck.Render(&b, spans, tracecheck.RenderOptions{Attrs: true, Width: 110})
		t.Logf("the order's trace:\n%s", b.String())
		return
	}
	t.Logf("the order's trace:\n%s", tracecheck.String(spans))
}

// BrokerTags are the tags an OpenTracing broker span must have: its destination, and
// where RabbitMQ is (the in-memory broker of a laptop without RabbitMQ is nowhere).
func BrokerTags(hop tracecheck.Hop, exchange, queue, system string) map[string]string {
	want := map[string]string{"message_bus.destination": queue, "messaging.system": system}
	if hop.Kind == tracecheck.KindProducer {
		want["message_bus.destination"] = exchange
	}
	if system != "in-memory" {
		u, _ := url.Parse(RabbitMQURL())
		want["messaging.system"], want["peer.hostname"], want["peer.port"] = "rabbitmq", u.Hostname(), cmp.Or(u.Port(), "5672")
	}
	return want
}

// BrokerTagsIn are BrokerTags for a fleet started with env, for OrderTrace.Tags.
func BrokerTagsIn(env map[string]string) func(tracecheck.Hop, tracecheck.Span) map[string]string {
	return func(hop tracecheck.Hop, span tracecheck.Span) map[string]string {
		return BrokerTags(hop, env["AMQP_EXCHANGE"], env["AMQP_QUEUE"], span.Attrs["messaging.system"])
	}
}

// The spans of one order, the same in every traced step but for the hint that names the
// step's task: each constructor takes it, so that a step declares only its hints.

// GatewayServerHop is the gateway's server span of POST /checkout.
func GatewayServerHop(todo string) tracecheck.Hop {
	return tracecheck.Hop{Service: "gateway", Kind: tracecheck.KindServer, Name: "POST /checkout", Todo: todo}
}

// GatewaySubmitHop is the gateway's OpenTelemetry-native "submit order" span (04–06).
func GatewaySubmitHop(todo string) tracecheck.Hop {
	return tracecheck.Hop{Service: "gateway", Kind: tracecheck.KindInternal, Name: "submit order", Todo: todo}
}

// GatewayClientHop is the gateway's client span of its call to checkout.
func GatewayClientHop(todo string) tracecheck.Hop {
	return tracecheck.Hop{Service: "gateway", Kind: tracecheck.KindClient, Name: "POST /orders", Todo: todo}
}

// CheckoutServerHop is checkout's server span of POST /orders.
func CheckoutServerHop(todo string) tracecheck.Hop {
	return tracecheck.Hop{Service: "checkout", Kind: tracecheck.KindServer, Name: "POST /orders", Todo: todo}
}

// PlaceOrderHop is checkout's business span.
func PlaceOrderHop(todo string) tracecheck.Hop {
	return tracecheck.Hop{Service: "checkout", Kind: tracecheck.KindInternal, Name: "place order", Todo: todo}
}

// StockReserveHop is stock's business span, under the consumer span.
func StockReserveHop(todo string) tracecheck.Hop {
	return tracecheck.Hop{Service: "stock", Kind: tracecheck.KindInternal, Name: "reserve stock", Todo: todo}
}

// PublishHop and ProcessHop return the OpenTracing broker spans of the
// TracedRabbitBroker (03–05), named after the fleet's exchange and queue, with todo.
func PublishHop(todo string) func(exchange string) tracecheck.Hop {
	return func(exchange string) tracecheck.Hop {
		return tracecheck.Hop{Service: "checkout", Kind: tracecheck.KindProducer, Name: "publish " + exchange, Todo: todo}
	}
}

// ProcessHop: see PublishHop.
func ProcessHop(todo string) func(queue string) tracecheck.Hop {
	return func(queue string) tracecheck.Hop {
		return tracecheck.Hop{Service: "stock", Kind: tracecheck.KindConsumer, Name: "process " + queue, Todo: todo}
	}
}

// BrokerOrderTrace is the order's trace in a step whose TracedRabbitBroker traces with
// OpenTracing (03–05): hops, the order's spans up to "place order", then the producer
// span, the consumer span and reserve, each directly under the one before, all in one
// trace; the broker's spans tagged as OpenTracing tags them, stock's Redis calls traced
// by the OpenTracing hook.
func BrokerOrderTrace(env map[string]string, publish, process func(string) tracecheck.Hop, reserve tracecheck.Hop, hops ...tracecheck.Hop) OrderTrace {
	producer, consumer := publish(env["AMQP_EXCHANGE"]), process(env["AMQP_QUEUE"])
	return OrderTrace{
		Spans:      slices.Concat(hops, []tracecheck.Hop{producer, consumer, reserve}),
		Continuous: true,
		Tagged:     []tracecheck.Hop{producer, consumer}, Tags: BrokerTagsIn(env),
		Redis: OpenTracingRedisSpans(reserve),
	}
}
