package main

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/opentracing/opentracing-go"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/ot2otel/workshop/shared/app"
	"github.com/ot2otel/workshop/shared/shop"
	"github.com/ot2otel/workshop/shared/tracecheck"
	"github.com/ot2otel/workshop/shared/workshoptest"
)

// TestPropagatorsFromEnv: OTEL_PROPAGATORS picks the formats the OpenTelemetry services
// speak, through autoprop, and a value they cannot honour stops them at start.
func TestPropagatorsFromEnv(t *testing.T) {
	for _, tc := range []struct {
		value  string
		fields []string // the headers it writes; nil: an error
		err    []string
	}{
		{"", []string{"traceparent", "tracestate", "baggage", "uber-trace-id"}, nil},
		// The end of the migration: no service speaks uber-trace-id any more.
		{"tracecontext,baggage", []string{"traceparent", "tracestate", "baggage"}, nil},
		{" TraceContext , Baggage, jaeger ", []string{"traceparent", "tracestate", "baggage", "uber-trace-id"}, nil},
		{"tracecontext,baggage,", []string{"traceparent", "tracestate", "baggage"}, nil},
		{"b3multi,tracecontext", []string{"x-b3-traceid", "x-b3-spanid", "x-b3-sampled", "x-b3-flags", "traceparent", "tracestate"}, nil},
		{"none", []string{}, nil},
		// autoprop would log the unknown name and carry on with the others.
		{"tracecontext,zipkin", nil, []string{"OTEL_PROPAGATORS", "zipkin", "tracecontext, baggage, jaeger"}},
		{"w3c", nil, []string{"OTEL_PROPAGATORS", "w3c"}},
		// autoprop would read it as none alone, silently.
		{"tracecontext,none", nil, []string{"OTEL_PROPAGATORS", "none", "alone"}},
	} {
		t.Run(tc.value, func(t *testing.T) {
			p, err := newPropagator(func(k string) string {
				if k == "OTEL_PROPAGATORS" {
					return tc.value
				}
				return ""
			})
			if tc.fields == nil {
				if err == nil {
					t.Fatalf("OTEL_PROPAGATORS=%q: newPropagator speaks %v, want an error: a service that does not speak "+
						"what its operator asked for breaks traces silently", tc.value, p.Fields())
				}
				for _, s := range tc.err {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("OTEL_PROPAGATORS=%q: %q does not say %s", tc.value, err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("OTEL_PROPAGATORS=%q: %v", tc.value, err)
			}
			got := slices.Clone(p.Fields())
			want := slices.Clone(tc.fields)
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("OTEL_PROPAGATORS=%q: the propagator writes %v, want %v", tc.value, got, want)
				if tc.value == "" {
					t.Errorf("Look at %s", propagatorHint("defaultPropagators"))
				}
			}
		})
	}
	t.Run("run stops at start", func(t *testing.T) {
		env := map[string]string{"OTEL_PROPAGATORS": "tracecontext,zipkin"}
		err := run(t.Context(), []string{"shop", "stock"}, func(k string) string { return env[k] }, &strings.Builder{})
		if err == nil || !strings.Contains(err.Error(), "OTEL_PROPAGATORS") {
			t.Errorf("run with OTEL_PROPAGATORS=tracecontext,zipkin: %v, want an error at start naming the variable", err)
		}
	})
}

// TestEndOfMigration: once every service runs OpenTelemetry, jaeger comes out of
// OTEL_PROPAGATORS, by configuration alone, and the order is still one trace.
func TestEndOfMigration(t *testing.T) {
	c := collect(t)
	t.Setenv("OTEL_PROPAGATORS", "tracecontext,baggage")
	f := workshoptest.Start(t, run, map[string]string{"SHOP_TRACER": "otel"})
	resp := f.OrderAndStop()
	want := orderTrace(f.Env, resp.OrderID())
	want.Sources = map[string]string{"gateway": "otel", "checkout": "otel", "stock": "otel"}
	want.SourceHint = "SHOP_TRACER=otel: every service on OpenTelemetry"
	workshoptest.CheckOrderTrace(t, c.spans(), resp, want)
}

// TestDrainBeforeDroppingJaeger is the hazard of the last step: a message that checkout,
// still on jaeger-client, published with uber-trace-id alone, and that waited in the
// queue while the fleet moved on and dropped jaeger from OTEL_PROPAGATORS. Consumed by a
// stock that no longer reads uber-trace-id, it starts a new trace. The remedy: keep
// jaeger on the consumers until the queues that legacy publishers fed are empty.
func TestDrainBeforeDroppingJaeger(t *testing.T) {
	for _, tc := range []struct {
		name       string
		propagator string // stock's OTEL_PROPAGATORS once it consumes
		breaks     bool
	}{
		{"jaeger dropped before the queue drained", "tracecontext,baggage", true},
		{"jaeger kept on the consumer until the queue drained", "tracecontext,baggage,jaeger", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder(t)
			b := workshoptest.Broker(t)
			info := b.Info()
			// Before the switch: the legacy checkout publishes; nobody consumes yet.
			legacy := rec.legacyTracer("checkout")
			checkout := httptest.NewServer(newCheckout(NewTracedRabbitBroker(b, legacy), legacy, workshoptest.DiscardLogger()))
			defer checkout.Close()
			workshoptest.Post(t, checkout.URL+"/orders", workshoptest.DemoOrder(), http.StatusAccepted)

			// After it: stock, on OpenTelemetry, with the new OTEL_PROPAGATORS.
			prop, err := newPropagator(func(k string) string {
				if k == "OTEL_PROPAGATORS" {
					return tc.propagator
				}
				return ""
			})
			if err != nil {
				t.Fatal(err)
			}
			stock := rec.tracingWith("stock", prop).Tracer
			consumeOne(t, NewTracedRabbitBroker(b, stock), reserveStock(shop.NewLedger(shop.DemoCatalogue()).Stock(), stock, workshoptest.DiscardLogger()))

			spans := rec.spans()
			err = tracecheck.CheckParent(spans, processHop(info.Queue), publishHop(info.Exchange))
			switch {
			case tc.breaks && err == nil:
				t.Errorf("with OTEL_PROPAGATORS=%s, stock should not read the uber-trace-id of a message published "+
					"before the switch, yet it continued its trace:\n%s", tc.propagator, tracecheck.String(spans))
			case tc.breaks:
				t.Logf("As expected, the message queued before the switch starts a new trace: %s",
					strings.SplitN(err.Error(), "\n", 2)[0])
			case err != nil:
				t.Errorf("OTEL_PROPAGATORS=%s on the consumer: the queued message's trace should continue: %v",
					tc.propagator, err)
			}
		})
	}
}

// TestLegacyGatewayIsNoPublicEndpoint: GATEWAY_PUBLIC_ENDPOINT=1 links the caller's
// trace, which jaeger-client cannot do: a gateway on it refuses to start, naming both.
func TestLegacyGatewayIsNoPublicEndpoint(t *testing.T) {
	env := map[string]string{"SHOP_TRACER": "jaeger", "GATEWAY_PUBLIC_ENDPOINT": "1"}
	err := run(t.Context(), []string{"shop", app.Gateway}, func(k string) string { return env[k] }, &strings.Builder{})
	if err == nil || !strings.Contains(err.Error(), "GATEWAY_PUBLIC_ENDPOINT") || !strings.Contains(err.Error(), "SHOP_TRACER") {
		t.Errorf("run gateway with %v: %v, want an error at start naming GATEWAY_PUBLIC_ENDPOINT and SHOP_TRACER", env, err)
	}
}

// TestWhichContextWins: a request or a message that carries both uber-trace-id and
// traceparent, naming different traces. The rule: the composite's order decides, the
// last propagator in OTEL_PROPAGATORS that finds a context wins. By default that is
// jaeger, since the disagreement means a legacy hop updated uber-trace-id and passed a
// stale traceparent on; an operator who lists jaeger first makes traceparent win.
func TestWhichContextWins(t *testing.T) {
	const (
		w3cTrace    = "4bf92f3577b34da6a3ce929d0e0e4736"
		jaegerTrace = "0af7651916cd43dd8448eb211c80319c"
	)
	headers := map[string]string{
		"traceparent":   "00-" + w3cTrace + "-00f067aa0ba902b7-01",
		"uber-trace-id": jaegerTrace + ":b7ad6b7169203331:0:1",
	}
	for _, tc := range []struct {
		propagators, want string
	}{
		{"", jaegerTrace},
		{"tracecontext,baggage,jaeger", jaegerTrace},
		{"jaeger,tracecontext,baggage", w3cTrace},
	} {
		prop, err := newPropagator(func(k string) string {
			if k == "OTEL_PROPAGATORS" {
				return tc.propagators
			}
			return ""
		})
		if err != nil {
			t.Fatal(err)
		}
		rec := newRecorder(t)
		tracer := rec.tracingWith("stock", prop).Tracer
		for _, transport := range []struct {
			name    string
			format  any
			carrier any
		}{
			{"HTTP", opentracing.HTTPHeaders, opentracing.HTTPHeadersCarrier(headerOf(headers))},
			{"AMQP", opentracing.TextMap, amqpHeadersCarrier(amqpTableOf(headers))},
		} {
			sc, err := tracer.Extract(transport.format, transport.carrier)
			if err != nil {
				t.Fatalf("%s: extract from %v: %v", transport.name, headers, err)
			}
			span := tracer.StartSpan("child", opentracing.ChildOf(sc))
			span.Finish()
			got := rec.Spans()[len(rec.Spans())-1].TraceID
			if got != tc.want {
				t.Errorf("OTEL_PROPAGATORS=%q, %s carrying both %v: the span continues trace %s, want %s: the last "+
					"propagator in the list that finds a context wins.\nLook at %s", tc.propagators, transport.name, headers,
					got, tc.want, propagatorHint("jaeger after tracecontext in defaultPropagators"))
			}
		}
	}
}

func headerOf(m map[string]string) http.Header {
	h := http.Header{}
	for k, v := range m {
		h.Set(k, v)
	}
	return h
}

func amqpTableOf(m map[string]string) amqp.Table {
	t := amqp.Table{}
	for k, v := range m {
		t[k] = v
	}
	return t
}
