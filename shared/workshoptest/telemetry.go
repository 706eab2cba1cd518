package workshoptest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ot2otel/workshop/shared/fleet"
)

// closedURL returns the URL of a port nothing listens on: a collector that is down.
func closedURL(t *testing.T, path string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	return "http://" + ln.Addr().String() + path
}

// exportFailures returns the records that say an exporter failed, by service.
func exportFailures(records []map[string]any, source string) map[string]int {
	n := map[string]int{}
	for _, r := range records {
		msg, _ := r["msg"].(string)
		if r["source"] == source && (strings.Contains(msg, "exporting spans") || strings.Contains(msg, "reporting spans")) &&
			!strings.Contains(msg, "works again") {
			n[fmt.Sprint(r["service"])]++
		}
	}
	return n
}

// placeOrders places n orders, far enough apart that each goes out in a batch of its own.
func placeOrders(t *testing.T, f *Fleet, n int, gap time.Duration) {
	t.Helper()
	for range n {
		f.PlaceDemoOrder(nil)
		time.Sleep(gap)
	}
}

// LogCheck is a check that a step's tracer reports its own errors to the services'
// log, run by Contract as TestContract/TracerLogs/Name.
type LogCheck struct {
	Name  string
	check func(t *testing.T, run fleet.RunFunc)
}

// OTelErrorLogs is CheckOTelErrorLogs as a step's LogCheck, named OTel.
func OTelErrorLogs(todo string) LogCheck {
	return LogCheck{"OTel", func(t *testing.T, run fleet.RunFunc) { CheckOTelErrorLogs(t, run, todo) }}
}

// JaegerLogs is CheckJaegerLogs as a step's LogCheck, named Jaeger.
func JaegerLogs(service, todo string) LogCheck {
	return LogCheck{"Jaeger", func(t *testing.T, run fleet.RunFunc) { CheckJaegerLogs(t, run, service, todo) }}
}

// CheckOTelErrorLogs checks that OpenTelemetry's own errors reach the services' log as
// structured records, not stderr: with the collector down, four batches fail, and the
// log says so once, naming the service; a baggage header that does not parse is a
// record too. It runs in a process of its own (OpenTelemetry's error handler is one per
// process, and reports a bad baggage header only once). todo names what to look at.
func CheckOTelErrorLogs(t *testing.T, run fleet.RunFunc, todo string) {
	stderr, child := InOwnProcess(t)
	if !child {
		for _, text := range []string{"traces export", "not valid"} {
			if strings.Contains(stderr, text) {
				t.Errorf("OpenTelemetry wrote its errors to stderr as plain text, not to the service's log:\n%s\nLook at %s",
					stderr, todo)
			}
		}
		return
	}
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", closedURL(t, ""))
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "20")
	t.Setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "100")
	f := Start(t, run, map[string]string{"LOG_FORMAT": "json", "GATEWAY_BAGGAGE_ALLOW": "tenant"})
	placeOrders(t, f, 4, 300*time.Millisecond)
	// An allowed key, so the edge lets it through to the gateway's propagator, with a
	// value W3C Baggage does not allow (no spaces).
	resp, err := f.Fleet.PlaceOrder(context.Background(), DemoOrder(), http.Header{"Baggage": {"tenant=not valid"}})
	if err != nil || resp.Status != http.StatusAccepted {
		t.Fatalf("POST /checkout with a garbage baggage header: %v %d, want 202", err, resp.Status)
	}
	f.Stop()
	records := f.Logs()
	failures := exportFailures(records, "opentelemetry")
	total := 0
	for service, n := range failures {
		total += n
		if !strings.Contains(service, "gateway") {
			t.Errorf("an export failure record names the service %q, want the process's services", service)
		}
	}
	if total != 1 {
		t.Errorf("with the collector down for four batches, the log has %d records of a failed export (%v), want "+
			"one: the first failure, then nothing until the outage ends. Look at %s\nlogs:\n%s", total, failures, todo, f.LogText())
	}
	badBaggage := false
	for _, r := range records {
		if e, _ := r["err"].(string); r["source"] == "opentelemetry" && strings.Contains(e, "not valid") {
			badBaggage = true
		}
	}
	if !badBaggage {
		t.Errorf("a baggage header that does not parse left no structured record in the log. Look at %s", todo)
	}
}

// CheckJaegerLogs checks that jaeger-client's own errors reach the services' log as
// structured records: with the collector down, each service says once that it cannot
// report its spans; and JAEGER_REPORTER_LOG_SPANS=true logs each span. service is a
// service that traces with jaeger-client; todo names what to look at.
func CheckJaegerLogs(t *testing.T, run fleet.RunFunc, service, todo string) {
	t.Setenv("JAEGER_ENDPOINT", closedURL(t, "/api/traces"))
	t.Setenv("JAEGER_REPORTER_FLUSH_INTERVAL", "50ms")
	t.Setenv("JAEGER_REPORTER_LOG_SPANS", "true")
	f := Start(t, run, map[string]string{"LOG_FORMAT": "json"})
	placeOrders(t, f, 4, 200*time.Millisecond)
	f.Stop()
	records := f.Logs()
	failures := exportFailures(records, "jaeger-client")
	if failures[service] != 1 {
		t.Errorf("with the collector down for four flushes, %s's log has %d records of a failed report (%v), want one: "+
			"the first failure, then nothing until the reporter recovers. Look at %s\nlogs:\n%s", service, failures[service],
			failures, todo, f.LogText())
	}
	logged := false
	for _, r := range records {
		if msg, _ := r["msg"].(string); r["service"] == service && strings.HasPrefix(msg, "Reporting span") {
			logged = true
		}
	}
	if !logged {
		t.Errorf("JAEGER_REPORTER_LOG_SPANS=true logged no span of %s. Look at %s", service, todo)
	}
}
