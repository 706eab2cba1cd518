package benchmarks

import (
	"context"
	"io"
	"testing"

	"github.com/opentracing/opentracing-go"
	"github.com/opentracing/opentracing-go/ext"
	"github.com/uber/jaeger-client-go"
	otelbridge "go.opentelemetry.io/otel/bridge/opentracing"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// hop runs one traced hop and returns the trace IDs and parent link it produced, so the
// tests can check that what the benchmarks time is a hop that keeps the trace.
type hop func() (producerTrace, consumerTrace string, ok bool)

func jaegerHop(b testing.TB) (hop, io.Closer) {
	tracer, closer := jaeger.NewTracer("bench", jaeger.NewConstSampler(true), jaeger.NewNullReporter())
	return openTracingHop(tracer, func(sc opentracing.SpanContext) string {
		return sc.(jaeger.SpanContext).TraceID().String()
	}), closer
}

func bridgeHop(b testing.TB) (hop, func()) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	bridge, _ := otelbridge.NewTracerPair(tp.Tracer("bench"))
	bridge.SetTextMapPropagator(propagation.TraceContext{})
	return openTracingHop(bridge, func(sc opentracing.SpanContext) string {
		return sc.(interface{ TraceID() trace.TraceID }).TraceID().String()
	}), func() { tp.Shutdown(context.Background()) }
}

func openTracingHop(tracer opentracing.Tracer, traceID func(opentracing.SpanContext) string) hop {
	return func() (string, string, bool) {
		producer := tracer.StartSpan("publish", ext.SpanKindProducer)
		carrier := opentracing.TextMapCarrier{}
		if err := tracer.Inject(producer.Context(), opentracing.TextMap, carrier); err != nil {
			return "", "", false
		}
		parent, err := tracer.Extract(opentracing.TextMap, carrier)
		if err != nil {
			return "", "", false
		}
		consumer := tracer.StartSpan("process", ext.SpanKindConsumer, opentracing.ChildOf(parent))
		consumer.Finish()
		producer.Finish()
		return traceID(producer.Context()), traceID(consumer.Context()), true
	}
}

func otelHop(b testing.TB) (hop, func()) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	tracer := tp.Tracer("bench")
	prop := propagation.TraceContext{}
	return func() (string, string, bool) {
		ctx, producer := tracer.Start(context.Background(), "publish", trace.WithSpanKind(trace.SpanKindProducer))
		carrier := propagation.MapCarrier{}
		prop.Inject(ctx, carrier)
		cctx := prop.Extract(context.Background(), carrier)
		_, consumer := tracer.Start(cctx, "process", trace.WithSpanKind(trace.SpanKindConsumer))
		consumer.End()
		producer.End()
		return producer.SpanContext().TraceID().String(), consumer.SpanContext().TraceID().String(), true
	}, func() { tp.Shutdown(context.Background()) }
}

// namedHop is one tracer's hop, named for the benchmark's output.
type namedHop struct {
	name string
	hop  hop
}

// allHops starts the three tracers the workshop uses and returns their hops, in the
// order of the migration, and what stops the tracers.
func allHops(tb testing.TB) ([]namedHop, func()) {
	jh, jc := jaegerHop(tb)
	bh, bc := bridgeHop(tb)
	oh, oc := otelHop(tb)
	return []namedHop{{"jaeger-client", jh}, {"otel-bridge", bh}, {"otel-native", oh}},
		func() { oc(); bc(); jc.Close() }
}

// TestHopsKeepTheTrace checks each benchmarked hop really continues its trace: a
// benchmark of a broken hop would measure less work and flatter its tracer.
func TestHopsKeepTheTrace(t *testing.T) {
	hops, closeHops := allHops(t)
	defer closeHops()
	for _, h := range hops {
		p, c, ok := h.hop()
		if !ok || p == "" || p != c {
			t.Errorf("%s: producer trace %q, consumer trace %q: the hop broke the trace", h.name, p, c)
		}
	}
}

// TestBridgeHopIsRecordedByTheSDK checks the bridge hop goes through the OTel SDK (two
// spans, parent and child), so its cost is the bridge's and not a no-op's.
func TestBridgeHopIsRecordedByTheSDK(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	bridge, _ := otelbridge.NewTracerPair(tp.Tracer("bench"))
	bridge.SetTextMapPropagator(propagation.TraceContext{})
	openTracingHop(bridge, func(opentracing.SpanContext) string { return "" })()
	spans := rec.Ended()
	if len(spans) != 2 {
		t.Fatalf("the SDK recorded %d spans, want 2", len(spans))
	}
	consumer, producer := spans[0], spans[1]
	if consumer.Parent().SpanID() != producer.SpanContext().SpanID() {
		t.Errorf("consumer's parent %s, want the producer %s", consumer.Parent().SpanID(), producer.SpanContext().SpanID())
	}
	if consumer.SpanKind() != trace.SpanKindConsumer || producer.SpanKind() != trace.SpanKindProducer {
		t.Errorf("kinds %v/%v, want consumer/producer: the bridge takes the kind from start options", consumer.SpanKind(), producer.SpanKind())
	}
}

func BenchmarkHop(b *testing.B) {
	hops, closeHops := allHops(b)
	defer closeHops()
	for _, bm := range hops {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				bm.hop()
			}
		})
	}
}
