package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	"google.golang.org/protobuf/proto"

	"github.com/ot2otel/workshop/shared/app"
	"github.com/ot2otel/workshop/shared/fleet"
	"github.com/ot2otel/workshop/shared/shop"
	"github.com/ot2otel/workshop/shared/workshoptest"
)

// These tests check what step 07 adds to 06: every log line of an order carries the
// order's trace and a span of it, through the otelslog bridge; each service measures
// into a meter provider of its own, which Prometheus reads from /metrics, with exemplars
// that name a trace; and no metric has an attribute that identifies an order.

const (
	todoLogger    = "TODO(07.1) in signals.go: newLogger hands slog records to the service's logger provider through otelslog.NewHandler, with otelslog.WithLoggerProvider(lp)"
	todoContext   = "TODO(07.1): log with the Context variants (InfoContext, ErrorContext) and the request's or message's context: without it the bridge cannot find the span"
	todoMeter     = "TODO(07.2) in middleware.go, gateway.go and tracing.go: otelmux, otelhttp and redisotel measure into the service's meter provider (WithMeterProvider(mp)), not noMetrics"
	todoMessaging = "TODO(07.3) in broker.go: Publish and Consume record their durations in the messaging conventions' histograms (messagingconv.NewClientOperationDuration, NewProcessDuration)"
)

var traceResponseHeader = regexp.MustCompile(`^00-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$`)

// orderTraceID is the trace the gateway's traceresponse header names.
func orderTraceID(t *testing.T, resp fleet.Response) string {
	t.Helper()
	m := traceResponseHeader.FindStringSubmatch(resp.Header.Get("traceresponse"))
	if m == nil {
		t.Fatalf("the gateway answered traceresponse %q, want 00-<trace id>-<span id>-<flags> (as since step 02)", resp.Header.Get("traceresponse"))
	}
	return m[1]
}

// TestLogsOnTheTrace: every line an order logs, in every service, carries the order's
// trace ID and a span ID, in JSON and in text.
func TestLogsOnTheTrace(t *testing.T) {
	// Parallel: a fleet of its own, read through its own answers, log and /metrics; no
	// environment variable, no global.
	t.Parallel()
	for _, format := range []string{"json", "text"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel() // a fleet of its own, as above
			f := workshoptest.Start(t, run, map[string]string{"LOG_FORMAT": format})
			requestID := fmt.Sprintf("logs-%s-%d", format, time.Now().UnixNano())
			resp := f.PlaceDemoOrder(http.Header{"X-Request-ID": {requestID}})
			traceID := orderTraceID(t, resp)
			f.WaitReserved(workshoptest.DemoSKU, 2)
			f.Stop()
			records := logRecords(f.LogText(), format)
			checkOnTrace(t, records, requestID, resp.OrderID(), traceID)
		})
	}
}

// logRecords reads log lines of either format as key-value records.
func logRecords(text, format string) []map[string]any {
	if format == "json" {
		return workshoptest.LogRecords(text)
	}
	var out []map[string]any
	for _, line := range strings.Split(text, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		rec := map[string]any{}
		for _, m := range textPair.FindAllStringSubmatch(line, -1) {
			rec[m[1]] = strings.Trim(m[2], `"`)
		}
		out = append(out, rec)
	}
	return out
}

var textPair = regexp.MustCompile(`([a-z_.]+)=("(?:[^"\\]|\\.)*"|\S*)`)

func checkOnTrace(t *testing.T, records []map[string]any, requestID, orderID, traceID string) {
	t.Helper()
	// Whether any line of the order has a trace ID at all: none means the bridge is
	// not wired; some means some calls have no context.
	anyTraced := false
	for _, rec := range records {
		if id, _ := rec["trace_id"].(string); id != "" && (rec["request_id"] == requestID || rec["order_id"] == orderID) {
			anyTraced = true
		}
	}
	for _, service := range []string{app.Gateway, app.Checkout, app.Stock} {
		lines := 0
		for _, rec := range records {
			if rec["service"] != service || (rec["request_id"] != requestID && rec["order_id"] != orderID) {
				continue
			}
			lines++
			got, _ := rec["trace_id"].(string)
			span, _ := rec["span_id"].(string)
			switch {
			case !anyTraced:
				t.Fatalf("no log line of the order, in any service, has a trace_id: the records never reach the logger provider, whose lines carry it.\n"+
					"For example %s's line %v.\nLook at %s", service, rec, todoLogger)
			case got == "":
				t.Errorf("%s logged a line of the order without trace_id: %v.\nLook at %s", service, rec, todoContext)
			case got != traceID:
				t.Errorf("%s logged a line of the order with trace_id=%s, want the order's %s (its traceresponse): %v.\n"+
					"The line was logged with a context that is not the request's or the message's.\nLook at %s", service, got, traceID, rec, todoContext)
			case len(span) != 16:
				t.Errorf("%s logged a line of the order with span_id=%q, want 16 hex digits: %v.\nLook at %s", service, span, rec, todoContext)
			}
		}
		if lines == 0 {
			t.Errorf("%s logged no line with request_id=%s or order_id=%s: the request ID has been on every line since step 01.\nLook at %s",
				service, requestID, orderID, todoLogger)
		}
	}
}

// TestSpanErrorsAreLogs: an error recorded on a span is also a log record on the span's
// trace: stock's failure to reserve an order it cannot fill.
func TestSpanErrorsAreLogs(t *testing.T) {
	// Parallel: a fleet of its own, read through its own answers, log and /metrics; no
	// environment variable, no global.
	t.Parallel()
	f := workshoptest.Start(t, run, nil)
	resp := f.PlaceOrder(shop.Order{CustomerID: "c-too-many", Items: []shop.Item{{SKU: workshoptest.DemoSKU, Quantity: 1000}}}, nil)
	traceID := orderTraceID(t, resp)
	deadline := time.Now().Add(20 * time.Second)
	for {
		for _, rec := range f.Logs() {
			if rec["service"] == app.Stock && rec["level"] == "ERROR" && rec["trace_id"] == traceID &&
				strings.HasPrefix(fmt.Sprint(rec["msg"]), "error recorded on span") && rec["exception.message"] != nil {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("stock logged no ERROR record \"error recorded on span ...\" with trace_id=%s and exception.message for an order it cannot fill:\n%s\n"+
				"main registers otellogs.SpanErrors(lp) on each tracer provider: an exception event becomes a log record on the span's trace",
				traceID, f.LogText())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// scrape reads url's /metrics in Prometheus's text format, and in OpenMetrics, which
// carries exemplars.
func scrape(t *testing.T, url string) (map[string]*dto.MetricFamily, string) {
	t.Helper()
	get := func(accept string) []byte {
		req, _ := http.NewRequest(http.MethodGet, url+"/metrics", nil)
		req.Header.Set("Accept", accept)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("scrape %s/metrics: %v", url, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("scrape %s/metrics: %s\n%s", url, resp.Status, body)
		}
		return body
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(get("text/plain; version=0.0.4")))
	if err != nil {
		t.Fatalf("scrape %s/metrics: %v", url, err)
	}
	open := get("application/openmetrics-text; version=1.0.0; charset=utf-8")
	return families, string(open)
}

// labels is a metric's labels as a map.
func labels(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

// findHistogram returns the series of family name whose labels include want.
func findHistogram(families map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	for _, m := range families[name].GetMetric() {
		ok := true
		for k, v := range want {
			if labels(m)[k] != v {
				ok = false
			}
		}
		if ok && m.GetHistogram().GetSampleCount() > 0 {
			return m
		}
	}
	return nil
}

func names(families map[string]*dto.MetricFamily) string {
	if len(families) == 0 {
		return "nothing"
	}
	var out []string
	for n := range families {
		out = append(out, n)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// TestMetrics: each service's /metrics has its duration histograms, by route, method and
// status, the messaging durations, Redis's, and the orders reserved by SKU; the
// gateway's histogram has an exemplar naming the order's trace.
func TestMetrics(t *testing.T) {
	// Parallel: a fleet of its own, read through its own answers, log and /metrics; no
	// environment variable, no global.
	t.Parallel()
	f := workshoptest.Start(t, run, nil)
	resp := f.PlaceDemoOrder(nil)
	traceID := orderTraceID(t, resp)
	f.WaitReserved(workshoptest.DemoSKU, 2)

	gateway, gatewayOM := scrape(t, f.MetricsURLs[app.Gateway])
	checkout, _ := scrape(t, f.MetricsURLs[app.Checkout])
	stock, _ := scrape(t, f.MetricsURLs[app.Stock])
	if len(gateway)+len(checkout)+len(stock) == 0 {
		t.Fatalf("every service's /metrics is empty after an order: the meter providers have no reader.\n" +
			"Look at TODO(07.2) in signals.go: newMeterProvider gives the provider every reader otelmetrics.Readers returns (sdkmetric.WithReader)")
	}

	for _, c := range []struct {
		service  string
		families map[string]*dto.MetricFamily
		name     string
		labels   map[string]string
		todo     string
	}{
		{app.Gateway, gateway, "http_server_request_duration_seconds",
			map[string]string{"http_route": "/checkout", "http_request_method": "POST", "http_response_status_code": "202"}, todoMeter},
		{app.Gateway, gateway, "http_client_request_duration_seconds",
			map[string]string{"http_request_method": "POST", "http_response_status_code": "202"}, todoMeter},
		{app.Checkout, checkout, "http_server_request_duration_seconds",
			map[string]string{"http_route": "/orders", "http_request_method": "POST", "http_response_status_code": "202"}, todoMeter},
		{app.Checkout, checkout, "messaging_client_operation_duration_seconds",
			map[string]string{"messaging_system": "rabbitmq", "messaging_operation_name": "publish", "messaging_operation_type": "send",
				"messaging_destination_name": f.Config().Broker.Exchange + ":checkout.processed"}, todoMessaging},
		{app.Stock, stock, "messaging_process_duration_seconds",
			map[string]string{"messaging_system": "rabbitmq", "messaging_operation_name": "process", "messaging_operation_type": "process"}, todoMessaging},
	} {
		if findHistogram(c.families, c.name, c.labels) == nil {
			t.Errorf("%s's /metrics has no %s histogram with %v after an order; it has: %s.\nLook at %s",
				c.service, c.name, c.labels, names(c.families), c.todo)
		}
	}
	redis := false
	for n := range stock {
		redis = redis || strings.HasPrefix(n, "db_client_")
	}
	if !redis {
		t.Errorf("stock's /metrics has no db_client_* metric of redisotel's; it has: %s.\nLook at %s", names(stock), todoMeter)
	}
	found := false
	for _, m := range stock["shop_orders_reserved_total"].GetMetric() {
		if labels(m)["shop_sku"] == workshoptest.DemoSKU && m.GetCounter().GetValue() == 1 {
			found = true
		}
	}
	if !found {
		t.Errorf("stock's /metrics has no shop_orders_reserved_total{shop_sku=%q} 1 after one order; it has: %s.\n"+
			"reserveStock (stock.go) counts each order it reserved, by SKU, in the meter it is given", workshoptest.DemoSKU, names(stock))
	}
	// OpenMetrics: a bucket's exemplar follows its value, after " # ".
	exemplar := regexp.MustCompile(`(?m)^http_server_request_duration_seconds_bucket\{[^}]*http_route="/checkout"[^}]*\} \S+ # \{[^}]*trace_id="` + traceID + `"`)
	if !exemplar.MatchString(gatewayOM) {
		t.Errorf("the gateway's http_server_request_duration_seconds has no exemplar with trace_id=%s, the order's, in the OpenMetrics format:\n%s\n"+
			"An exemplar is kept when the measurement is made in a sampled span's context: otelmux does that, given the meter provider.\nLook at %s",
			traceID, grepLines(gatewayOM, "http_server_request_duration_seconds_bucket"), todoMeter)
	}
}

func grepLines(text, prefix string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestMetricsCardinality: no exported metric, in any service, has an attribute that
// names an order, a customer, a request or a trace: each value of an attribute is a
// time series of its own, and Prometheus keeps every one.
func TestMetricsCardinality(t *testing.T) {
	// Parallel: a fleet of its own, read through its own answers, log and /metrics; no
	// environment variable, no global.
	t.Parallel()
	f := workshoptest.Start(t, run, nil)
	var ids []string
	for i := range 3 {
		customer := fmt.Sprintf("cust-%d-%d", i, time.Now().UnixNano())
		request := fmt.Sprintf("req-%d-%d", i, time.Now().UnixNano())
		resp := f.PlaceOrder(shop.Order{CustomerID: customer, Items: []shop.Item{{SKU: workshoptest.DemoSKU, Quantity: 1}}},
			http.Header{"X-Request-ID": {request}})
		if resp.OrderID() == "" {
			t.Fatalf("order %d: %d %s", i, resp.Status, resp.Body)
		}
		ids = append(ids, customer, request, resp.OrderID(), orderTraceID(t, resp))
	}
	f.WaitReserved(workshoptest.DemoSKU, 3)
	// And one that fails in stock, so the attributes of failures (error.type) are read too.
	failed := f.PlaceOrder(shop.Order{CustomerID: fmt.Sprintf("cust-failed-%d", time.Now().UnixNano()),
		Items: []shop.Item{{SKU: workshoptest.DemoSKU, Quantity: 1000}}}, nil)
	if failed.OrderID() == "" {
		t.Fatalf("the order stock cannot fill: %d %s, want 202 (checkout does not know the stock)", failed.Status, failed.Body)
	}
	ids = append(ids, failed.OrderID(), orderTraceID(t, failed))
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		families, _ := scrape(t, f.MetricsURLs[app.Stock])
		failedOnce := false
		for _, m := range families["messaging_process_duration_seconds"].GetMetric() {
			failedOnce = failedOnce || labels(m)["error_type"] != ""
		}
		if failedOnce {
			break
		}
		// Three orders were handled already: no histogram at all will not come.
		if _, ok := families["messaging_process_duration_seconds"]; !ok || time.Now().After(deadline) {
			todo := todoMessaging
			if len(families) == 0 {
				todo = todoMeter
			}
			t.Fatalf("stock's messaging_process_duration_seconds has no series with error_type after an order it cannot fill; it has: %s.\nLook at %s",
				names(families), todo)
		}
	}
	forbidden := map[string]bool{"order_id": true, "order_id_": true, "messaging_message_id": true, "request_id": true,
		"customer_id": true, "trace_id": true, "span_id": true}
	for _, service := range []string{app.Gateway, app.Checkout, app.Stock} {
		families, _ := scrape(t, f.MetricsURLs[service])
		if len(families) == 0 {
			t.Fatalf("%s's /metrics is empty after three orders: there is nothing to check the attributes of.\nLook at %s", service, todoMeter)
		}
		for name, fam := range families {
			for _, m := range fam.GetMetric() {
				for k, v := range labels(m) {
					if forbidden[k] || strings.HasPrefix(k, "order_") {
						t.Errorf("%s's %s has the attribute %s=%q: an attribute that names one order, request or message makes "+
							"a time series per order.\nLook at %s", service, name, k, v, todoMessaging)
						continue
					}
					for _, id := range ids {
						if strings.Contains(v, id) {
							t.Errorf("%s's %s has %s=%q, which holds the ID %q of one order.\nLook at %s", service, name, k, v, id, todoMessaging)
						}
					}
				}
			}
		}
	}
}

// TestSignalVariables: a value of OTEL_METRICS_EXPORTER, OTEL_LOGS_EXPORTER or a
// metrics address that a service cannot honour stops it at start, naming the variable.
func TestSignalVariables(t *testing.T) {
	for _, c := range []struct{ key, value, want string }{
		{"OTEL_METRICS_EXPORTER", "graphite", "OTEL_METRICS_EXPORTER"},
		{"OTEL_LOGS_EXPORTER", "syslog", "OTEL_LOGS_EXPORTER"},
		{"GATEWAY_METRICS_ADDR", "no-port", "GATEWAY_METRICS_ADDR"},
		{"STOCK_METRICS_ADDR", "localhost:8080", "GATEWAY_ADDR"},
	} {
		env := map[string]string{c.key: c.value, "AMQP_URL": "amqp://guest:guest@127.0.0.1:1/"}
		getenv := func(k string) string { return env[k] }
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := run(ctx, []string{"shop", "gateway"}, getenv, io.Discard)
		cancel()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s=%q: run returned %v, want an error at start naming %s", c.key, c.value, err, c.want)
		}
	}
}

// otlpSink receives OTLP/HTTP log records and metrics, as a collector would.
type otlpSink struct {
	mu      sync.Mutex
	logs    []*logspb.ResourceLogs
	metrics []*metricspb.ResourceMetrics
}

func (s *otlpSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch r.URL.Path {
	case "/v1/logs":
		var req collogspb.ExportLogsServiceRequest
		if proto.Unmarshal(body, &req) == nil {
			s.logs = append(s.logs, req.GetResourceLogs()...)
		}
	case "/v1/metrics":
		var req colmetricspb.ExportMetricsServiceRequest
		if proto.Unmarshal(body, &req) == nil {
			s.metrics = append(s.metrics, req.GetResourceMetrics()...)
		}
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.WriteHeader(http.StatusOK)
}

func serviceOf(attrs []*commonpb.KeyValue) string {
	for _, kv := range attrs {
		if kv.GetKey() == "service.name" {
			return kv.GetValue().GetStringValue()
		}
	}
	return ""
}

// TestOTLPLogsAndMetrics: with OTEL_LOGS_EXPORTER=otlp and OTEL_METRICS_EXPORTER=otlp the
// services push their log records, with the order's trace ID, and their metrics over
// OTLP, each with its own service.name.
func TestOTLPLogsAndMetrics(t *testing.T) {
	sink := &otlpSink{}
	srv := httptest.NewServer(sink)
	defer srv.Close()
	// autoexport reads the process's environment.
	for k, v := range map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": srv.URL, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
		"OTEL_LOGS_EXPORTER": "otlp", "OTEL_METRICS_EXPORTER": "otlp", "OTEL_TRACES_EXPORTER": "none",
		"OTEL_METRIC_EXPORT_INTERVAL": "200", "OTEL_BLRP_SCHEDULE_DELAY": "100"} {
		t.Setenv(k, v)
	}
	f := workshoptest.Start(t, run, nil)
	resp := f.PlaceDemoOrder(nil)
	traceID := orderTraceID(t, resp)
	f.WaitReserved(workshoptest.DemoSKU, 2)
	f.Stop() // flushes the last batch

	sink.mu.Lock()
	defer sink.mu.Unlock()
	logged := map[string]bool{}
	for _, rl := range sink.logs {
		for _, sl := range rl.GetScopeLogs() {
			for _, rec := range sl.GetLogRecords() {
				if fmt.Sprintf("%x", rec.GetTraceId()) == traceID {
					logged[serviceOf(rl.GetResource().GetAttributes())] = true
				}
			}
		}
	}
	measured := map[string]bool{}
	for _, rm := range sink.metrics {
		if len(rm.GetScopeMetrics()) > 0 {
			measured[serviceOf(rm.GetResource().GetAttributes())] = true
		}
	}
	for _, service := range []string{app.Gateway, app.Checkout, app.Stock} {
		if !logged[service] {
			t.Errorf("no log record of %s with the order's trace ID %s reached the OTLP endpoint (records from %v).\nLook at %s",
				service, traceID, logged, todoLogger)
		}
		if !measured[service] {
			t.Errorf("no metrics of %s reached the OTLP endpoint (metrics from %v).\nLook at %s", service, measured, todoMeter)
		}
	}
}

// TestUnreachableCollector: a log and metrics collector that cannot be reached is said
// once, and no order waits for it.
func TestUnreachableCollector(t *testing.T) {
	// autoexport reads the process's environment.
	for k, v := range map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
		"OTEL_LOGS_EXPORTER": "otlp", "OTEL_METRICS_EXPORTER": "otlp", "OTEL_TRACES_EXPORTER": "none",
		"OTEL_METRIC_EXPORT_INTERVAL": "100", "OTEL_BLRP_SCHEDULE_DELAY": "50"} {
		t.Setenv(k, v)
	}
	// Whether the services export both signals at all is decided first, without a
	// clock: one order against a collector that is up, and a stop, which flushes every
	// provider. A collector that accepts leaves no failure in OpenTelemetry's error
	// handler (one per process, saying a failure once per outage).
	up := workshoptest.StartUpCollector(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", up.URL(""))
	workshoptest.Start(t, run, nil).OrderAndStop()
	if up.AttemptsAt("/v1/logs") == 0 || up.AttemptsAt("/v1/metrics") == 0 {
		t.Fatalf("one order and a shutdown, which flushes every provider, left %d export(s) of log records and %d of metrics "+
			"at a collector that takes them all: the services export nothing yet.\nLook at %s; and %s",
			up.AttemptsAt("/v1/logs"), up.AttemptsAt("/v1/metrics"), todoLogger, todoMeter)
	}
	// A collector that takes each export and hangs up: a port of the test's own, which no
	// other process can take meanwhile, as one can a closed port; it counts the attempts.
	collector := workshoptest.StartDownCollector(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL(""))
	f := workshoptest.Start(t, run, nil)
	for i := range 3 {
		start := time.Now()
		resp := f.PlaceOrder(workshoptest.DemoOrder(), nil)
		if resp.Status != http.StatusAccepted {
			t.Fatalf("order %d with the collector down: %d %s, want 202", i, resp.Status, resp.Body)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("order %d took %s with the collector down: a request waited on the exporter", i, d)
		}
	}
	f.WaitReserved(workshoptest.DemoSKU, 6)
	counts := map[string]int{}
	said := func() bool {
		clear(counts)
		for _, rec := range f.Logs() {
			if msg, _ := rec["msg"].(string); strings.HasPrefix(msg, "exporting log records failed") || strings.HasPrefix(msg, "exporting metrics failed") {
				counts[msg]++
			}
		}
		return len(counts) == 2
	}
	// Exports fail every 50 and 100 ms. Each signal's failure is said once: wait for
	// both records (a condition; the bound only ends the wait for a step that exports
	// and does not say them, and is many times what a working one needs on any machine).
	for deadline := time.Now().Add(20 * time.Second); !said() && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	if len(counts) != 2 {
		t.Fatalf("with the collector down (%d export(s) of log records and %d of metrics reached it), the log says %v, "+
			"want one \"exporting log records failed\" and one \"exporting metrics failed\".\nLook at %s; and %s",
			collector.AttemptsAt("/v1/logs"), collector.AttemptsAt("/v1/metrics"), counts, todoLogger, todoMeter)
	}
	for msg, n := range counts {
		if n != 1 {
			t.Errorf("%q logged %d times, want once per outage", msg, n)
		}
	}
}

// TestScrapeDuringShutdown: Prometheus scraping while the services stop gets either
// the metrics or a refused connection, never an error page.
func TestScrapeDuringShutdown(t *testing.T) {
	// Parallel: a fleet of its own, read through its own answers, log and /metrics; no
	// environment variable, no global.
	t.Parallel()
	f := workshoptest.Start(t, run, nil)
	f.PlaceDemoOrder(nil)
	f.WaitReserved(workshoptest.DemoSKU, 2)
	stop := make(chan struct{})
	results := make(chan string, 1)
	go func() {
		var bad []string
		client := &http.Client{Timeout: 5 * time.Second}
		for {
			select {
			case <-stop:
				results <- strings.Join(bad, "\n")
				return
			default:
			}
			resp, err := client.Get(f.MetricsURLs[app.Stock] + "/metrics")
			if err != nil {
				continue // refused once the server has stopped: what Prometheus records as down
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				bad = append(bad, fmt.Sprintf("%s: %.200s", resp.Status, body))
			}
		}
	}()
	f.Stop()
	close(stop)
	if bad := <-results; bad != "" {
		t.Errorf("a scrape of stock's /metrics during the shutdown failed:\n%s", bad)
	}
}
