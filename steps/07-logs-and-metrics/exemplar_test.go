package main

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ot2otel/workshop/shared/app"
	"github.com/ot2otel/workshop/shared/workshoptest"
)

// TestExemplarsOnlyForSampledTraces: an exemplar names a trace that was sampled, one a
// person can open; an order whose trace was not sampled (the caller's traceparent says
// -00 and the gateway trusts it) is counted in the histograms, but no exemplar names it.
func TestExemplarsOnlyForSampledTraces(t *testing.T) {
	// Parallel: a fleet of its own, read through its own answers, log and /metrics; no
	// environment variable, no global.
	t.Parallel()
	f := workshoptest.Start(t, run, map[string]string{"GATEWAY_CALLER_SAMPLING": "trust"})
	unsampled := fmt.Sprintf("%032x", time.Now().UnixNano())
	sampled := fmt.Sprintf("%032x", time.Now().UnixNano()+1)
	for _, c := range []struct{ traceID, flags string }{{unsampled, "00"}, {sampled, "01"}} {
		resp := f.PlaceOrder(workshoptest.DemoOrder(), http.Header{"Traceparent": {"00-" + c.traceID + "-00f067aa0ba902b7-" + c.flags}})
		if resp.Status != http.StatusAccepted {
			t.Fatalf("order with traceparent flags %s: %d %s", c.flags, resp.Status, resp.Body)
		}
	}
	f.WaitReserved(workshoptest.DemoSKU, 4)
	exemplarTrace := regexp.MustCompile(`# \{[^}]*trace_id="([0-9a-f]{32})"`)
	seen := map[string][]string{} // metrics by the trace their exemplars name
	for _, service := range []string{app.Gateway, app.Checkout, app.Stock} {
		_, open := scrape(t, f.MetricsURLs[service])
		for _, line := range strings.Split(open, "\n") {
			if m := exemplarTrace.FindStringSubmatch(line); m != nil {
				name, _, _ := strings.Cut(line, "{")
				seen[m[1]] = append(seen[m[1]], service+" "+name)
			}
		}
	}
	if len(seen[sampled]) == 0 {
		t.Fatalf("no exemplar names the sampled order's trace %s (exemplars name %v).\nLook at %s", sampled, seen, todoMeter)
	}
	if len(seen[unsampled]) > 0 {
		t.Errorf("exemplars of %v name the trace %s, which was not sampled: nobody can open it. "+
			"The SDK's default exemplar filter (trace_based) keeps only measurements made in a sampled span", seen[unsampled], unsampled)
	}
}
