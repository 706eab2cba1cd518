package main

import (
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/ot2otel/workshop/shared/app"
	"github.com/ot2otel/workshop/shared/tracecheck"
	"github.com/ot2otel/workshop/shared/workshoptest"
)

// A rolling migration moves services in whatever order their teams ship. These tests
// run the fleet as main runs it, with each service's tracer chosen by SHOP_TRACERS, in
// every one of the eight assignments of {otel, jaeger} to {gateway, checkout, stock}.

// assignments are the eight ways gateway, checkout and stock can stand in the migration,
// from nothing moved to everything moved.
func assignments() []map[string]tracerKind {
	var out []map[string]tracerKind
	kinds := []tracerKind{tracerJaeger, tracerOTel}
	for _, g := range kinds {
		for _, c := range kinds {
			for _, s := range kinds {
				out = append(out, map[string]tracerKind{app.Gateway: g, app.Checkout: c, app.Stock: s})
			}
		}
	}
	return out
}

// assignmentName is how SHOP_TRACERS says it, which is also the subtest's name:
// gateway=otel,checkout=jaeger,stock=otel.
func assignmentName(a map[string]tracerKind) string {
	return fmt.Sprintf("gateway=%s,checkout=%s,stock=%s", a[app.Gateway], a[app.Checkout], a[app.Stock])
}

// TestRollingMigration places an order in each assignment, against the real RabbitMQ and
// Redis: the order is one trace across HTTP and AMQP, each service's spans recorded by
// the tracer SHOP_TRACERS gave it. Then, with every root deciding not to sample
// (OTEL_TRACES_SAMPLER=parentbased_always_off, JAEGER_SAMPLER_TYPE=const with
// JAEGER_SAMPLER_PARAM=0: the standard variables, read by both tracers), an order leaves
// no span anywhere, because every service follows the decision it receives in either
// format, and it is still reserved.
func TestRollingMigration(t *testing.T) {
	for _, a := range assignments() {
		name := assignmentName(a)
		t.Run(name, func(t *testing.T) {
			sources := map[string]string{}
			for service, kind := range a {
				sources[service] = string(kind)
			}
			// The gateway's own OpenTelemetry span exists only under the bridge: a
			// gateway on jaeger-client has no OpenTelemetry API to start it with.
			hops := []tracecheck.Hop{gatewayServer, gatewayClient, checkoutServer, checkoutPlaceOrder}
			if a[app.Gateway] == tracerOTel {
				hops = []tracecheck.Hop{gatewayServer, gatewaySubmit, gatewayClient, checkoutServer, checkoutPlaceOrder}
			}

			t.Log(crossings(a))
			c := collect(t)
			f := workshoptest.Start(t, run, map[string]string{"SHOP_TRACERS": name})
			resp := f.OrderAndStop()
			want := workshoptest.BrokerOrderTrace(f.Env, publishHop, processHop, stockReserve, hops...)
			want.Sources = sources
			want.SourceHint = "main picks each service's tracer from SHOP_TRACERS (loadTracers): " + name
			want.TraceResponse = "traceResponse: the gateway names its server span's trace, from the OpenTelemetry span " +
				"context under the bridge, from jaeger-client's span context otherwise"
			workshoptest.CheckOrderTrace(t, c.spans(), resp, want)

			t.Run("unsampled", func(t *testing.T) {
				c := collect(t) // first: it clears the sampler variables a shell may export
				t.Setenv("OTEL_TRACES_SAMPLER", "parentbased_always_off")
				t.Setenv("JAEGER_SAMPLER_TYPE", "const")
				t.Setenv("JAEGER_SAMPLER_PARAM", "0")
				f := workshoptest.Start(t, run, map[string]string{"SHOP_TRACERS": name})
				resp := f.OrderAndStop()
				if spans := c.spans(); len(spans) > 0 {
					t.Errorf("the gateway (%s) decided not to sample the order, yet %d span(s) were recorded: every "+
						"other service must follow the sampled flag it receives (traceparent's -00, uber-trace-id's "+
						"flags 0), whichever tracer sent it:\n%s", a[app.Gateway], len(spans), tracecheck.String(spans))
				}
				// The order still carried a trace context, with the flag off, and says so.
				if tr := resp.Header.Get("traceresponse"); !strings.HasSuffix(tr, "-00") {
					t.Errorf("traceresponse %q: the unsampled order's trace context should be there, with flags 00", tr)
				}
			})
		})
	}
}

// crossings says which hops cross between the two tracers in assignment a: those are
// the ones the propagators must carry.
func crossings(a map[string]tracerKind) string {
	var cross []string
	if a[app.Gateway] != a[app.Checkout] {
		cross = append(cross, fmt.Sprintf("gateway (%s) → checkout (%s) over HTTP", a[app.Gateway], a[app.Checkout]))
	}
	if a[app.Checkout] != a[app.Stock] {
		cross = append(cross, fmt.Sprintf("checkout (%s) → stock (%s) over AMQP", a[app.Checkout], a[app.Stock]))
	}
	if len(cross) == 0 {
		return "every service on one tracer: no hop crosses between the two"
	}
	return "hops between the two tracers here: " + strings.Join(cross, "; ")
}

// TestTracerConfiguration checks how SHOP_TRACER and SHOP_TRACERS pick each service's
// tracer, and that a value main cannot honour stops it, naming the variable and the
// values it takes.
func TestTracerConfiguration(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want map[string]tracerKind // nil: an error
		err  []string              // what the error must say
	}{
		{"nothing set: where this step stands", nil, defaultTracers, nil},
		{"SHOP_TRACER: every service of the process", map[string]string{"SHOP_TRACER": "otel"},
			map[string]tracerKind{app.Gateway: tracerOTel, app.Checkout: tracerOTel, app.Stock: tracerOTel}, nil},
		{"SHOP_TRACERS: each service", map[string]string{"SHOP_TRACERS": "gateway=jaeger, stock=jaeger"},
			map[string]tracerKind{app.Gateway: tracerJaeger, app.Checkout: tracerJaeger, app.Stock: tracerJaeger}, nil},
		{"SHOP_TRACERS wins for the services it names", map[string]string{"SHOP_TRACER": "jaeger", "SHOP_TRACERS": "stock=otel"},
			map[string]tracerKind{app.Gateway: tracerJaeger, app.Checkout: tracerJaeger, app.Stock: tracerOTel}, nil},
		{"unknown SHOP_TRACER", map[string]string{"SHOP_TRACER": "zipkin"}, nil,
			[]string{"SHOP_TRACER", `"zipkin"`, "otel", "jaeger"}},
		{"SHOP_TRACER in capitals", map[string]string{"SHOP_TRACER": "OTel"}, nil, []string{"SHOP_TRACER", "otel", "jaeger"}},
		{"unknown tracer in SHOP_TRACERS", map[string]string{"SHOP_TRACERS": "checkout=jaeger-client"}, nil,
			[]string{"SHOP_TRACERS", "checkout", `"jaeger-client"`, "otel", "jaeger"}},
		{"unknown service in SHOP_TRACERS", map[string]string{"SHOP_TRACERS": "payments=otel"}, nil,
			[]string{"SHOP_TRACERS", "payments", "gateway, checkout and stock"}},
		{"SHOP_TRACERS without =", map[string]string{"SHOP_TRACERS": "otel"}, nil, []string{"SHOP_TRACERS", "service=tracer"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := loadTracers(func(k string) string { return tc.env[k] })
			if tc.want != nil {
				if err != nil || !maps.Equal(got, tc.want) {
					t.Errorf("loadTracers(%v) = %v, %v; want %v", tc.env, got, err, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("loadTracers(%v) = %v, want an error: a tracer nobody chose must never start", tc.env, got)
			}
			for _, s := range tc.err {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("loadTracers(%v): %q does not say %s", tc.env, err, s)
				}
			}
		})
	}

	t.Run("run stops at start", func(t *testing.T) {
		for _, env := range []map[string]string{
			{"SHOP_TRACER": "zipkin"},
			{"SHOP_TRACERS": "gateway=paper"},
		} {
			getenv := func(k string) string { return env[k] }
			err := run(t.Context(), []string{"shop", "gateway"}, getenv, &strings.Builder{})
			if err == nil {
				t.Errorf("run with %v started, want an error at start", env)
				continue
			}
			for k := range env {
				if !strings.Contains(err.Error(), k) {
					t.Errorf("run with %v: %q does not name %s", env, err, k)
				}
			}
			t.Logf("%v: %v", env, err)
		}
	})
}
