//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ot2otel/workshop/shared/fleet"
	"github.com/ot2otel/workshop/shared/shop"
	"github.com/ot2otel/workshop/shared/tracecheck"
)

// TestStep07Prometheus runs step 07 as three processes, exporting spans to a real Jaeger,
// and a real Prometheus (Debian's package) that scrapes their /metrics with exemplar
// storage on. It reads back from Prometheus's HTTP API the order rate by route, a
// duration histogram's quantile, and an exemplar, and then the exemplar's trace from
// Jaeger, whole.
func TestStep07Prometheus(t *testing.T) {
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatalf("no prometheus on PATH: install Debian's package (apt-get install prometheus), as .ci/run does")
	}
	j := startJaeger(t)
	shopBin := buildStep(t, step07.dir)
	ctx := context.Background()
	f, err := fleet.StartProcesses(ctx, shopBin, otlpHTTP.env(j))
	if err != nil {
		t.Fatalf("start step 07's three services: %v", err)
	}
	stopped := false
	defer func() {
		if !stopped {
			f.Stop()
		}
	}()
	prom := startPrometheus(t, bin, f)

	var last fleet.Response
	const orders = 5
	for range orders {
		last, err = place(ctx, f, shop.Order{CustomerID: "e2e-metrics", Items: []shop.Item{{SKU: "gopher-plush", Quantity: 1}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := f.WaitReserved(ctx, "gopher-plush", orders); err != nil {
		t.Fatal(err)
	}
	if traceID(last) == "" {
		t.Fatalf("traceresponse %q names no trace", last.Header.Get("traceresponse"))
	}

	// The order rate by route, as a dashboard would graph it. A rate needs two scrapes
	// that saw the series, so orders keep coming while it is asked for.
	rate := `sum by (http_route) (rate(http_server_request_duration_seconds_count{service="gateway"}[1m]))`
	waitFor(t, "the gateway's order rate by route", func() (string, error) {
		if _, err := place(ctx, f, shop.Order{CustomerID: "e2e-metrics", Items: []shop.Item{{SKU: "gopher-plush", Quantity: 1}}}); err != nil {
			return "", err
		}
		res, err := prom.query(rate)
		if err != nil {
			return "", err
		}
		for _, r := range res {
			if r.Metric["http_route"] == "/checkout" && r.value() > 0 {
				return fmt.Sprintf("%s: %g/s", rate, r.value()), nil
			}
		}
		return "", fmt.Errorf("%s: %v, want a positive rate for http_route=\"/checkout\"", rate, res)
	})
	// A quantile of checkout's duration histogram.
	p90 := `histogram_quantile(0.9, sum by (le) (rate(http_server_request_duration_seconds_bucket{service="checkout",http_route="/orders"}[1m])))`
	waitFor(t, "checkout's 90th percentile", func() (string, error) {
		res, err := prom.query(p90)
		if err != nil {
			return "", err
		}
		if len(res) != 1 || !(res[0].value() > 0) {
			return "", fmt.Errorf("%s: %v, want one positive number", p90, res)
		}
		return fmt.Sprintf("%s: %gs", p90, res[0].value()), nil
	})
	// An exemplar, and the trace it names, whole, in Jaeger.
	var exemplarTrace string
	waitFor(t, "an exemplar on the gateway's histogram", func() (string, error) {
		ids, err := prom.exemplarTraces(`http_server_request_duration_seconds_bucket{service="gateway",http_route="/checkout"}`)
		if err != nil {
			return "", err
		}
		if len(ids) == 0 {
			return "", errors.New("no exemplar with a trace_id yet")
		}
		exemplarTrace = ids[0]
		return "exemplar trace_id=" + exemplarTrace, nil
	})
	spans, err := j.spansOf(ctx, exemplarTrace, func(spans []tracecheck.Span) error {
		if err := tracecheck.CheckContinuous(spans); err != nil {
			return err
		}
		return tracecheck.CheckChain(spans, step07.hops...)
	})
	if err != nil {
		t.Fatalf("the exemplar's trace %s, read back from Jaeger, is not an order's whole trace:\n%v", exemplarTrace, err)
	}
	t.Logf("Jaeger returned the exemplar's trace %s whole: %d spans", exemplarTrace, len(spans))
	stopped = true
	if err := f.Stop(); err != nil {
		t.Errorf("SIGTERM while Prometheus scrapes: %v", err)
	}
}

// waitFor polls check until it succeeds, for up to a minute: Prometheus needs a few
// scrapes before a rate has two samples.
func waitFor(t *testing.T, what string, check func() (string, error)) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		got, err := check()
		if err == nil {
			t.Logf("%s: %s", what, got)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

type prometheus struct {
	url string
	log *fleet.Buffer
}

// startPrometheus runs Prometheus on loopback with the repository's configuration
// (tools/prometheus/prometheus.yml), its targets moved to f's three /metrics and its
// interval to a second, with exemplar storage on, and stops it when the test ends.
func startPrometheus(t *testing.T, bin string, f *fleet.Fleet) *prometheus {
	t.Helper()
	dir := t.TempDir()
	data, err := os.ReadFile("../tools/prometheus/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(data)
	for from, to := range map[string]string{"scrape_interval: 5s": "scrape_interval: 1s", "scrape_timeout: 4s": "scrape_timeout: 1s"} {
		if !strings.Contains(cfg, from) {
			t.Fatalf("tools/prometheus/prometheus.yml has no %q to make %q for the test", from, to)
		}
		cfg = strings.Replace(cfg, from, to, 1)
	}
	for service, def := range map[string]string{"gateway": "localhost:8090", "checkout": "localhost:8091", "stock": "localhost:8092"} {
		u, err := url.Parse(f.MetricsURLs[service])
		if err != nil {
			t.Fatal(err)
		}
		target := fmt.Sprintf("[%q]\n        labels: {service: %s}", def, service)
		if !strings.Contains(cfg, target) {
			t.Fatalf("tools/prometheus/prometheus.yml does not scrape %s at its default metrics address %s", service, def)
		}
		cfg = strings.Replace(cfg, target, fmt.Sprintf("[%q]\n        labels: {service: %s}", u.Host, service), 1)
	}
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeTCP(t, 1)[0]
	p := &prometheus{url: "http://" + addr, log: &fleet.Buffer{}}
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--enable-feature=exemplar-storage",
		"--web.listen-address="+addr, "--storage.tsdb.path="+filepath.Join(dir, "data"))
	cmd.Stdout, cmd.Stderr = p.log, p.log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start Prometheus: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	deadline := time.Now().Add(time.Minute)
	for {
		select {
		case err := <-done:
			t.Fatalf("Prometheus exited while starting: %v\n%s", err, p.log)
		default:
		}
		if resp, err := http.Get(p.url + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus was not ready within a minute:\n%s", p.log)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

type sample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

func (s sample) value() float64 {
	v, _ := s.Value[1].(string)
	f, _ := strconv.ParseFloat(v, 64)
	return f
}

func (p *prometheus) get(path string, params url.Values, into any) error {
	resp, err := http.Get(p.url + path + "?" + params.Encode())
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var body struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return fmt.Errorf("%s: %s: %w", path, resp.Status, err)
	}
	if body.Status != "success" {
		return fmt.Errorf("%s %v: %s", path, params, body.Error)
	}
	return json.Unmarshal(body.Data, into)
}

// query runs an instant query.
func (p *prometheus) query(q string) ([]sample, error) {
	var data struct {
		Result []sample `json:"result"`
	}
	err := p.get("/api/v1/query", url.Values{"query": {q}}, &data)
	return data.Result, err
}

// exemplarTraces returns the trace IDs of the exemplars of series q over the last
// ten minutes.
func (p *prometheus) exemplarTraces(q string) ([]string, error) {
	now := time.Now()
	var data []struct {
		Exemplars []struct {
			Labels map[string]string `json:"labels"`
		} `json:"exemplars"`
	}
	err := p.get("/api/v1/query_exemplars", url.Values{"query": {q},
		"start": {strconv.FormatInt(now.Add(-10*time.Minute).Unix(), 10)}, "end": {strconv.FormatInt(now.Unix(), 10)}}, &data)
	var ids []string
	for _, series := range data {
		for _, e := range series.Exemplars {
			if id := e.Labels["trace_id"]; id != "" {
				ids = append(ids, id)
			}
		}
	}
	return ids, err
}

// TestPrometheusConfigs: the configs the README and Compose use are ones Prometheus
// accepts (promtool comes with Debian's package).
func TestPrometheusConfigs(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("no promtool on PATH: install Debian's prometheus package, as .ci/run does")
	}
	for _, cfg := range []string{"../tools/prometheus/prometheus.yml", "../tools/prometheus/compose.yml"} {
		if out, err := exec.Command(promtool, "check", "config", cfg).CombinedOutput(); err != nil {
			t.Errorf("promtool check config %s: %v\n%s", cfg, err, out)
		}
	}
}

// TestGrafanaDashboardPromQL: every query of Compose's Grafana dashboard
// (tools/grafana/dashboards/shop.json) is PromQL Prometheus parses: promtool checks them
// as recording rules, Grafana's $__rate_interval made a plain range. (That the metrics
// and labels they name exist is TestDashboardQueriesStep07Metrics's, in the root module.)
func TestGrafanaDashboardPromQL(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("no promtool on PATH: install Debian's prometheus package, as .ci/run does")
	}
	data, err := os.ReadFile("../tools/grafana/dashboards/shop.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("tools/grafana/dashboards/shop.json: %v", err)
	}
	rules := "groups:\n  - name: dashboard\n    rules:\n"
	n := 0
	for _, p := range d.Panels {
		for _, target := range p.Targets {
			expr := strings.ReplaceAll(target.Expr, "$__rate_interval", "1m")
			quoted, _ := json.Marshal(expr) // a JSON string is a YAML string
			rules += fmt.Sprintf("      - record: dashboard:query%d\n        expr: %s\n", n, quoted)
			n++
		}
	}
	if n == 0 {
		t.Fatal("the dashboard has no query")
	}
	file := filepath.Join(t.TempDir(), "dashboard-rules.yml")
	if err := os.WriteFile(file, []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "rules", file).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules on the dashboard's %d queries: %v\n%s\n%s", n, err, out, rules)
	}
}
