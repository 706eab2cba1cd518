package workshoptest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ot2otel/workshop/shared/fleet"
)

// downCollector is a collector that is down in the way that matters to an exporter:
// it takes each request, reads it, and closes the connection without an answer, so
// every export fails. Unlike a closed port it counts the attempts, and which service
// each came from, so a test can wait for the failures it needs instead of sleeping
// for them (on a loaded machine no sleep is ever long enough).
type downCollector struct {
	ln net.Listener
	// accept: answer each request 200, as a collector that is up does (exportsAtAll).
	accept   bool
	mu       sync.Mutex
	attempts int
	from     map[string]int
	paths    map[string]int // attempts by request path
}

// DownCollector is startDownCollector's collector, for a step's own checks of what
// its services say when an export fails.
type DownCollector = downCollector

// StartDownCollector starts a collector that takes each export and hangs up without an
// answer, on a port of the test's own (held until the test ends, so no other process
// can take it, as one can a closed port), and counts the attempts by path.
func StartDownCollector(t *testing.T) *DownCollector {
	t.Helper()
	return startDownCollector(t)
}

// StartUpCollector starts a collector that is up: it answers every export 200, and
// counts the attempts by path as StartDownCollector's does. A check of what a failed
// export logs first makes sure, against it, that the services export at all: one order
// and a stop, which flushes every provider, decide that without a clock.
func StartUpCollector(t *testing.T) *DownCollector {
	t.Helper()
	return startCollector(t, true)
}

// AttemptsAt returns how many exports to path (/v1/logs, say) reached the collector.
func (d *downCollector) AttemptsAt(path string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.paths[path]
}

// startDownCollector listens on a port of the test's own until the test ends.
func startDownCollector(t *testing.T) *downCollector {
	t.Helper()
	return startCollector(t, false)
}

// startCollector is startDownCollector, or with accept a collector that is up, answering
// every export 200.
func startCollector(t *testing.T, accept bool) *downCollector {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &downCollector{ln: ln, accept: accept, from: map[string]int{}, paths: map[string]int{}}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go d.refuse(conn)
		}
	}()
	return d
}

// refuse reads one request from conn, counts it, and hangs up.
func (d *downCollector) refuse(conn net.Conn) {
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	req, err := http.ReadRequest(bufio.NewReader(conn))
	if err != nil {
		return
	}
	body, _ := io.ReadAll(io.LimitReader(req.Body, 4<<20))
	if d.accept {
		_, _ = io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.attempts++
	d.paths[req.URL.Path]++
	if name := thriftServiceName(body); name != "" {
		d.from[name]++
	}
}

// thriftServiceName returns the service name of a jaeger thrift batch, as
// jaeger-client's HTTP sender posts it (binary protocol): the batch's first field is the
// process (a struct, field 1), whose first field is the service name (a string, field 1,
// its length as a big-endian int32). "" for anything else, such as an OTLP request.
func thriftServiceName(body []byte) string {
	prefix := []byte{0x0c, 0x00, 0x01, 0x0b, 0x00, 0x01}
	if len(body) < len(prefix)+4 || !bytes.Equal(body[:len(prefix)], prefix) {
		return ""
	}
	n := int(binary.BigEndian.Uint32(body[len(prefix):]))
	rest := body[len(prefix)+4:]
	if n > len(rest) {
		return ""
	}
	return string(rest[:n])
}

// URL is where an exporter reaches the collector, path included.
func (d *downCollector) URL(path string) string { return "http://" + d.ln.Addr().String() + path }

// Attempts returns how many exports reached the collector, and how many of them came
// from service (jaeger thrift batches only).
func (d *downCollector) Attempts(service string) (all, fromService int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.attempts, d.from[service]
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

// failUntil places orders, one at a time, until done says enough exports have failed.
// The caller has made sure the services export at all (exportsAtAll), so no clock
// decides that; the minute is many times what a working step needs on any machine:
// each order's spans go out within the exporters' short flush intervals the checks set.
func failUntil(t *testing.T, f *Fleet, what, todo string, done func() bool) {
	t.Helper()
	begin := time.Now()
	for !done() {
		if time.Since(begin) > time.Minute {
			t.Fatalf("after a minute of orders, still not %s. Look at %s\nlogs:\n%s", what, todo, f.LogText())
		}
		f.PlaceDemoOrder(nil)
		time.Sleep(50 * time.Millisecond)
	}
}

// exportsAtAll reports whether the services of run (service's, when not "") send any
// span to r, a collector that takes them all, so that a check of what a failed export
// logs can fail at once, naming its TODO, for a step whose tracers export nothing yet,
// instead of placing orders until a clock runs out. One order, reserved by stock, then
// a stop, which flushes every tracer whatever the machine's load (env, set for the rest
// of the test, sets the short flush interval the check needs next). The caller points
// endpointVar elsewhere (t.Setenv) before its next fleet. A collector that
// accepts leaves no failure in OpenTelemetry's error handler, which is one per process
// and says a failure once per outage: the check's own outage starts clean.
func exportsAtAll(t *testing.T, run fleet.RunFunc, endpointVar, path string, env map[string]string, service string) bool {
	t.Helper()
	return sendsAtAll(t, run, func(url string) map[string]string { return mergeEnv(env, map[string]string{endpointVar: url + path}) }, service)
}

// tracesAtAll is exportsAtAll for services of either world: OTLP and jaeger-client's
// HTTP reporter both point at the collector that takes them all.
func tracesAtAll(t *testing.T, run fleet.RunFunc) bool {
	t.Helper()
	return sendsAtAll(t, run, func(url string) map[string]string {
		return map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": url, "JAEGER_ENDPOINT": url + "/api/traces",
			"OTEL_BSP_SCHEDULE_DELAY": "20", "JAEGER_REPORTER_FLUSH_INTERVAL": "50ms"}
	}, "")
}

// sendsAtAll is exportsAtAll with the variables vars gives for the collector's URL.
func sendsAtAll(t *testing.T, run fleet.RunFunc, vars func(url string) map[string]string, service string) bool {
	t.Helper()
	up := startCollector(t, true)
	got := func() bool {
		all, from := up.Attempts(service)
		return (service == "" && all > 0) || from > 0
	}
	// The SDKs read these from the process's environment, not from run's getenv.
	for k, v := range vars(up.URL("")) {
		t.Setenv(k, v)
	}
	// Once stock has reserved the order, every span of it has ended, in every service
	// (service's too, whichever it is); the stop flushes them. No clock decides: a step
	// that exports nothing is told so as soon as its fleet has stopped.
	Start(t, run, nil).OrderAndStop()
	return got()
}

// mergeEnv returns the variables of every map, later maps winning.
func mergeEnv(envs ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, e := range envs {
		for k, v := range e {
			out[k] = v
		}
	}
	return out
}

// LogCheck is a check that a step's tracer reports its own errors to the services'
// log, run by Contract as TestContract/TracerLogs/Name, in a process of its own
// (InOwnProcess).
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
	if !exportsAtAll(t, run, "OTEL_EXPORTER_OTLP_ENDPOINT", "", map[string]string{"OTEL_BSP_SCHEDULE_DELAY": "20"}, "") {
		t.Fatalf("one order and a shutdown, which flushes every tracer, left no span at a collector that takes them all "+
			"(OTEL_EXPORTER_OTLP_ENDPOINT): the services export no spans. Look at %s", todo)
	}
	collector := startDownCollector(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL(""))
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "20")
	t.Setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "100")
	// Enough stock for every order the check may place.
	f := Start(t, run, map[string]string{"LOG_FORMAT": "json", "GATEWAY_BAGGAGE_ALLOW": "tenant", "STOCK_QUANTITY": "100000"})
	// Four failed exports, whichever services made them. At least one service has then
	// failed twice, and the error handler saw its first failure before its second
	// export began: the first failure's record is in the log, and the rest are repeats.
	failUntil(t, f, "four failed exports", todo,
		func() bool { n, _ := collector.Attempts(""); return n >= 4 })
	// An allowed key, so the edge lets it through to the gateway's propagator, with a
	// value W3C Baggage does not allow (no spaces).
	resp, err := f.Fleet.PlaceOrder(context.Background(), DemoOrder(), http.Header{"Baggage": {"tenant=not valid"}})
	if err != nil || resp.Status != http.StatusAccepted {
		t.Fatalf("POST /checkout with a garbage baggage header: %v %d, want 202", err, resp.Status)
	}
	f.Stop()
	attempts, _ := collector.Attempts("")
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
		t.Errorf("with the collector down for %d batches, the log has %d records of a failed export (%v), want "+
			"one: the first failure, then nothing until the outage ends. Look at %s\nlogs:\n%s", attempts, total, failures, todo, f.LogText())
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
// service that traces with jaeger-client; todo names what to look at. It runs in a
// process of its own, like CheckOTelErrorLogs, so that it can set its variables
// (t.Setenv) while the test that runs it is parallel.
func CheckJaegerLogs(t *testing.T, run fleet.RunFunc, service, todo string) {
	if _, child := InOwnProcess(t); !child {
		return
	}
	if !exportsAtAll(t, run, "JAEGER_ENDPOINT", "/api/traces", map[string]string{"JAEGER_REPORTER_FLUSH_INTERVAL": "50ms"}, service) {
		t.Fatalf("one order and a shutdown, which flushes every tracer, left no span of %s at a collector that takes them all "+
			"(JAEGER_ENDPOINT): %s reports no spans. Look at %s", service, service, todo)
	}
	collector := startDownCollector(t)
	t.Setenv("JAEGER_ENDPOINT", collector.URL("/api/traces"))
	t.Setenv("JAEGER_REPORTER_FLUSH_INTERVAL", "50ms")
	t.Setenv("JAEGER_REPORTER_LOG_SPANS", "true")
	f := Start(t, run, map[string]string{"LOG_FORMAT": "json", "STOCK_QUANTITY": "100000"})
	// Four failed reports of service's own spans: its logger saw each failure before
	// its reporter sent the next batch, so the log holds what four failures leave.
	failUntil(t, f, "four failed reports from "+service, todo,
		func() bool { _, n := collector.Attempts(service); return n >= 4 })
	f.Stop()
	_, attempts := collector.Attempts(service)
	records := f.Logs()
	failures := exportFailures(records, "jaeger-client")
	if failures[service] != 1 {
		t.Errorf("with the collector down for %d flushes, %s's log has %d records of a failed report (%v), want one: "+
			"the first failure, then nothing until the reporter recovers. Look at %s\nlogs:\n%s", attempts, service, failures[service],
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
