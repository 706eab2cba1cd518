//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ot2otel/workshop/shared/fleet"
	"github.com/ot2otel/workshop/shared/shop"
	"github.com/ot2otel/workshop/shared/tracecheck"
	"github.com/ot2otel/workshop/shared/tracecheck/jaegerquery"
)

// remoteStrategies is the test's own strategies file, in the format of the one `make
// jaeger` serves (tools/jaeger/sampling-strategies.json), with the gateway's rate for
// POST /checkout: every other operation of the gateway, and every operation of checkout
// and stock (POST /orders explicitly), at 0; health checks never (the services do not
// trace them at all).
func remoteStrategies(checkoutRate float64) string {
	return fmt.Sprintf(`{
  "default_strategy": {"type": "probabilistic", "param": 0,
    "operation_strategies": [{"operation": "GET /healthz", "type": "probabilistic", "param": 0}]},
  "service_strategies": [
    {"service": "gateway", "type": "probabilistic", "param": 0,
     "operation_strategies": [
       {"operation": "POST /checkout", "type": "probabilistic", "param": %g},
       {"operation": "GET /healthz", "type": "probabilistic", "param": 0}]},
    {"service": "checkout", "type": "probabilistic", "param": 0,
     "operation_strategies": [{"operation": "POST /orders", "type": "probabilistic", "param": 0}]}
  ]
}`, checkoutRate)
}

// remoteSampling are the variables that put every service of both worlds on Jaeger's
// remote sampler at endpoint, polling every 100 ms, sampling every trace until it
// answers.
func remoteSampling(endpoint string) map[string]string {
	return map[string]string{
		"OTEL_TRACES_SAMPLER":             "parentbased_jaeger_remote",
		"OTEL_TRACES_SAMPLER_ARG":         "endpoint=" + endpoint + ",pollingIntervalMs=100,initialSamplingRate=1",
		"JAEGER_SAMPLER_TYPE":             "remote",
		"JAEGER_SAMPLER_PARAM":            "1",
		"JAEGER_SAMPLING_ENDPOINT":        endpoint,
		"JAEGER_SAMPLER_REFRESH_INTERVAL": "100ms",
	}
}

// TestRemoteSamplingAgainstJaeger runs step 05 as three processes, jaeger-client and
// OpenTelemetry services side by side, every one on the remote sampler of a real Jaeger
// v2 (its remote_sampling extension, serving a strategies file of the test's own), with
// the root on either tracer. The services start at initial rate 1. While the file says
// POST /checkout at 0, the gateway, on whichever tracer, comes to sample no order: those
// orders work, and Jaeger has no span of them. Then the file says 1, Jaeger reloads it,
// and the next poll makes the gateway sample: that order is one whole trace in Jaeger,
// through checkout too, whose own rule for POST /orders is 0: below the root, the
// caller's decision stands.
//
// jaeger-client's gateway obeys only because main passes legacyremote.Option: Jaeger v2
// answers with a numeric strategyType, which jaeger-client's own parser rejects (the
// test checks that Jaeger still answers so).
func TestRemoteSamplingAgainstJaeger(t *testing.T) {
	if os.Getenv("WORKSHOP_REQUIRE_RABBITMQ") != "1" {
		t.Log("three processes meet only through RabbitMQ: set WORKSHOP_REQUIRE_RABBITMQ=1 to fail fast when it is down")
	}
	strategies := filepath.Join(t.TempDir(), "strategies.json")
	if err := os.WriteFile(strategies, []byte(remoteStrategies(0)), 0o644); err != nil {
		t.Fatal(err)
	}
	j := startJaegerWith(t, strategies)
	endpoint := "http://" + j.Sampling + "/sampling"
	checkJaegerAnswer(t, endpoint)
	bin := buildStep(t, "05-mixed-fleet")

	for _, tc := range []struct {
		name    string
		tracers map[string]string // SHOP_TRACER of each process
	}{
		{"root on OpenTelemetry", map[string]string{"gateway": "otel", "checkout": "jaeger", "stock": "otel"}},
		{"root on jaeger-client", map[string]string{"gateway": "jaeger", "checkout": "otel", "stock": "jaeger"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			setRate(t, strategies, endpoint, 0)
			env := both.env(j)
			for k, v := range remoteSampling(endpoint) {
				env[k] = v
			}
			f, err := fleet.StartProcesses(ctx, perServiceTracer(t, bin, tc.tracers), env)
			if err != nil {
				t.Fatalf("start the three services: %v", err)
			}
			stopped := false
			defer func() {
				if !stopped {
					f.Stop()
				}
			}()
			orders := 0
			order := func() fleet.Response {
				t.Helper()
				resp, err := place(ctx, f, shop.Order{CustomerID: "e2e", Items: []shop.Item{{SKU: "gopher-plush", Quantity: 1}}})
				if err != nil {
					t.Fatalf("the order: %v\nlogs:\n%s", err, f.LogText())
				}
				if !traceResponse.MatchString(resp.Header.Get("traceresponse")) {
					t.Fatalf("traceresponse %q, want 00-<trace id>-<span id>-<flags>", resp.Header.Get("traceresponse"))
				}
				orders++
				return resp
			}
			// until places orders until one answers flags, and returns it.
			until := func(flags, why string) fleet.Response {
				t.Helper()
				for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
					if resp := order(); strings.HasSuffix(resp.Header.Get("traceresponse"), "-"+flags) {
						return resp
					}
					if time.Now().After(deadline) {
						t.Fatalf("in 20s, no order answered flags %s: the %s gateway %s, from %s (jaeger-client reads "+
							"Jaeger v2's answers only through legacyremote.Option, which main passes to its tracer set-up)\nlogs:\n%s",
							flags, tc.tracers["gateway"], why, endpoint, f.LogText())
					}
				}
			}

			// POST /checkout at 0, against the initial rate 1. (jaeger-client grants an
			// operation's first trace whatever its rate: MIGRATION.md, the lower bound.)
			unsampled := []string{traceID(until("00", "never applied Jaeger's POST /checkout at 0"))}
			for range 3 {
				resp := order()
				if tr := resp.Header.Get("traceresponse"); !strings.HasSuffix(tr, "-00") {
					t.Errorf("with POST /checkout at 0 applied, an order answered traceresponse %q, want flags 00", tr)
				}
				unsampled = append(unsampled, traceID(resp))
			}
			// POST /checkout at 1: Jaeger reloads the file, the gateway's next poll
			// gets it.
			setRate(t, strategies, endpoint, 1)
			sampled := until("01", "never applied Jaeger's POST /checkout at 1")

			if err := f.WaitReserved(ctx, "gopher-plush", orders); err != nil {
				t.Fatalf("every order, sampled or not, is reserved: %v\nlogs:\n%s", err, f.LogText())
			}
			stopped = true
			if err := f.Stop(); err != nil {
				t.Errorf("SIGTERM: %v", err)
			}
			// No service said its sampling endpoint failed: a jaeger-client service
			// whose parser rejects Jaeger's answer says so (legacyremote.Option gives
			// its sampler the service's logger).
			for _, r := range f.Logs() {
				if msg, _ := r["msg"].(string); strings.Contains(msg, "remote sampler") || strings.Contains(fmt.Sprint(r["err"]), "jaeger_remote sampler") {
					t.Errorf("%v said: %s %v", r["service"], msg, r["err"])
				}
			}

			id := traceID(sampled)
			q := &jaegerquery.Client{Base: j.QueryURL()}
			hops := []tracecheck.Hop{gatewayServer, gatewayClient, checkoutServer, placeOrder, producer, consumer, reserveStock}
			if tc.tracers["gateway"] == "otel" {
				hops = slices.Insert(hops, 1, gatewaySubmit)
			}
			spans, err := j.spansOf(ctx, id, func(spans []tracecheck.Span) error {
				var errs []error
				if err := tracecheck.CheckContinuous(spans); err != nil {
					errs = append(errs, err)
				} else if err := tracecheck.CheckChain(spans, hops...); err != nil {
					errs = append(errs, err)
				}
				if got, want := services(spans), []string{"checkout", "gateway", "stock"}; !slices.Equal(got, want) {
					errs = append(errs, fmt.Errorf("the trace has spans of %v, want %v: below a sampled root every "+
						"service follows the flag, whatever its own rule (checkout's POST /orders is at 0)", got, want))
				}
				return errors.Join(errs...)
			})
			if err != nil {
				t.Errorf("the sampled order's trace %s read back from Jaeger is not one trace through the three services:\n%v", id, err)
			}
			t.Logf("%s: %d orders; the sampled one has %d spans\n%s", tc.name, orders, len(spans), tracecheck.String(spans))

			// The orders the root did not sample left no span in any service. The
			// sampled order's spans are in Jaeger by now, and these were sent earlier.
			for _, u := range unsampled {
				got, err := q.Trace(ctx, u)
				switch {
				case errors.Is(err, jaegerquery.ErrNotFound):
				case err != nil:
					t.Errorf("the unsampled order's trace %s: %v", u, err)
				default:
					t.Errorf("the order the root did not sample (trace %s) has %d span(s) in Jaeger, want 0:\n%s",
						u, len(got), tracecheck.String(got))
				}
			}
		})
	}
}

var traceResponse = regexp.MustCompile(`^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$`)

// setRate writes the strategies file with the gateway's POST /checkout at rate, and
// waits until Jaeger serves it.
func setRate(t *testing.T, strategies, endpoint string, rate float64) {
	t.Helper()
	if err := os.WriteFile(strategies, []byte(remoteStrategies(rate)), 0o644); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`"operation":"POST /checkout","probabilisticSampling":{"samplingRate":%g}`, rate)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		body, err := get(endpoint + "?service=gateway")
		if err == nil && strings.Contains(body, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Jaeger did not reload its strategies file in 10s: it answers %s %v, want %s", body, err, want)
		}
	}
}

func get(u string) (string, error) {
	resp, err := http.Get(u)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("%s", resp.Status)
	}
	return string(body), err
}

// checkJaegerAnswer checks the premise of legacyremote: Jaeger v2's sampling endpoint,
// at /sampling and at /, answers with the strategy type as a number, which
// jaeger-client's own parser (encoding/json into a thrift enum that takes only a name)
// rejects; and that it serves the test's strategies.
func checkJaegerAnswer(t *testing.T, endpoint string) {
	t.Helper()
	numeric := regexp.MustCompile(`"strategyType":\s*0\b`)
	for _, u := range []string{endpoint, strings.TrimSuffix(endpoint, "sampling")} {
		body, err := get(u + "?service=gateway")
		if err != nil {
			t.Fatalf("GET %s?service=gateway: %v\n%s", u, err, body)
		}
		if !numeric.MatchString(body) {
			t.Errorf("GET %s?service=gateway answered %s: the strategy type is no longer the number 0, so "+
				"jaeger-client's own parser may read it; revisit legacyremote and MIGRATION.md's sampling section", u, body)
		}
		if !strings.Contains(body, `"operation":"POST /checkout","probabilisticSampling":{"samplingRate":0}`) {
			t.Errorf("GET %s?service=gateway answered %s, want the strategies file's rule for POST /checkout", u, body)
		}
		t.Logf("GET %s?service=gateway: %s", u, body)
	}
}
