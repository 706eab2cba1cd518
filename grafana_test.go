package workshop

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/ot2otel/workshop/shared/app"
	"github.com/ot2otel/workshop/shared/fleet"
	"github.com/ot2otel/workshop/shared/otelmetrics"
	"github.com/ot2otel/workshop/shared/shop"
)

// Step 07's Prometheus and Grafana in Docker Compose cannot run here (no Docker engine):
// these tests check what can be checked without one. The files parse; Compose mounts
// them where Prometheus and Grafana read them; Prometheus scrapes the addresses the
// services serve /metrics on; Grafana's Prometheus links an exemplar's trace_id to its
// Jaeger; and every metric and label the dashboard's queries name is one step 07 really
// serves, read from a running step 07.

// readYAML decodes the YAML file at path into v, refusing fields v does not know.
func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// promConfig is the part of a Prometheus configuration the workshop's use.
type promConfig struct {
	Global struct {
		ScrapeInterval string `yaml:"scrape_interval"`
		ScrapeTimeout  string `yaml:"scrape_timeout"`
	} `yaml:"global"`
	ScrapeConfigs []struct {
		JobName       string `yaml:"job_name"`
		StaticConfigs []struct {
			Targets []string          `yaml:"targets"`
			Labels  map[string]string `yaml:"labels"`
		} `yaml:"static_configs"`
	} `yaml:"scrape_configs"`
}

// targets returns each job's targets by the service label.
func (c promConfig) targets() map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, sc := range c.ScrapeConfigs {
		out[sc.JobName] = map[string]string{}
		for _, st := range sc.StaticConfigs {
			for _, target := range st.Targets {
				out[sc.JobName][st.Labels["service"]] = target
			}
		}
	}
	return out
}

func TestComposePrometheus(t *testing.T) {
	p := loadCompose(t, nil, "shop")
	prom := p.Services["prometheus"]
	if !regexp.MustCompile(`^prom/prometheus:v\d+\.\d+\.\d+$`).MatchString(prom.Image) {
		t.Errorf("prometheus image = %q, want an exact release (prom/prometheus:vX.Y.Z): a moving tag changes under the room", prom.Image)
	}
	if !slices.Contains([]string(prom.Command), "--enable-feature=exemplar-storage") {
		t.Errorf("prometheus command %v lacks --enable-feature=exemplar-storage: without it Prometheus drops the exemplars", prom.Command)
	}
	if want := "127.0.0.1:9090:9090/tcp"; !slices.Equal(published(prom), []string{want}) {
		t.Errorf("prometheus ports %v, want %s only", published(prom), want)
	}
	config := ""
	for _, v := range prom.Volumes {
		if v.Target == "/etc/prometheus/prometheus.yml" {
			config = v.Source
		}
	}
	wd, _ := os.Getwd()
	if rel, err := filepath.Rel(wd, config); config == "" || err != nil || rel != filepath.Join("tools", "prometheus", "compose.yml") {
		t.Fatalf("prometheus mounts %q as its configuration, want tools/prometheus/compose.yml", config)
	}
	var compose, local promConfig
	readYAML(t, "tools/prometheus/compose.yml", &compose)
	readYAML(t, "tools/prometheus/prometheus.yml", &local)

	// Inside Compose's network: each service's container, on the port its
	// *_METRICS_ADDR listens on there.
	targets := compose.targets()
	for _, name := range shopServices {
		s := p.Services[name]
		addr := ""
		if v := s.Environment[otelmetrics.AddrVar(name)]; v != nil {
			addr = *v
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil || host != "0.0.0.0" {
			t.Errorf("%s: %s=%q, want 0.0.0.0:port, so that Prometheus's container reaches it", name, otelmetrics.AddrVar(name), addr)
			continue
		}
		if got, want := targets["shop"][name], net.JoinHostPort(name, port); got != want {
			t.Errorf("tools/prometheus/compose.yml: job shop scrapes %s at %q, want %s (its %s)", name, got, want, otelmetrics.AddrVar(name))
		}
		for _, pp := range s.Ports {
			if pp.Target == mustPort(t, port) {
				t.Errorf("%s publishes its /metrics port %s: only Prometheus, inside the network, reads it", name, port)
			}
		}
	}
	// On the host (go run): the services' default metrics addresses, through
	// host.docker.internal in Compose, on loopback for Debian's Prometheus.
	defaults := map[string]string{app.Gateway: otelmetrics.DefaultGatewayMetricsAddr, app.Checkout: otelmetrics.DefaultCheckoutMetricsAddr,
		app.Stock: otelmetrics.DefaultStockMetricsAddr}
	if !slices.Contains(prom.ExtraHosts["host.docker.internal"], "host-gateway") {
		t.Errorf("prometheus extra_hosts %v lacks host.docker.internal:host-gateway, which the shop-on-host job scrapes", prom.ExtraHosts)
	}
	for service, addr := range defaults {
		_, port, _ := net.SplitHostPort(addr)
		if got, want := targets["shop-on-host"][service], "host.docker.internal:"+port; got != want {
			t.Errorf("tools/prometheus/compose.yml: job shop-on-host scrapes %s at %q, want %s", service, got, want)
		}
		if got := local.targets()["shop"][service]; got != addr {
			t.Errorf("tools/prometheus/prometheus.yml scrapes %s at %q, want its default metrics address %s", service, got, addr)
		}
	}
}

func mustPort(t *testing.T, port string) uint32 {
	t.Helper()
	var n uint32
	for _, c := range port {
		if c < '0' || c > '9' {
			t.Fatalf("port %q", port)
		}
		n = n*10 + uint32(c-'0')
	}
	return n
}

// grafanaDatasources is Grafana's provisioning file for data sources.
type grafanaDatasources struct {
	APIVersion  int `yaml:"apiVersion"`
	Datasources []struct {
		Name      string `yaml:"name"`
		UID       string `yaml:"uid"`
		Type      string `yaml:"type"`
		Access    string `yaml:"access"`
		URL       string `yaml:"url"`
		IsDefault bool   `yaml:"isDefault"`
		Editable  bool   `yaml:"editable"`
		JSONData  struct {
			ExemplarTraceIDDestinations []struct {
				Name          string `yaml:"name"`
				DatasourceUID string `yaml:"datasourceUid"`
			} `yaml:"exemplarTraceIdDestinations"`
		} `yaml:"jsonData"`
	} `yaml:"datasources"`
}

// grafanaProviders is Grafana's provisioning file for dashboards.
type grafanaProviders struct {
	APIVersion int `yaml:"apiVersion"`
	Providers  []struct {
		Name            string `yaml:"name"`
		Folder          string `yaml:"folder"`
		Type            string `yaml:"type"`
		DisableDeletion bool   `yaml:"disableDeletion"`
		AllowUIUpdates  bool   `yaml:"allowUiUpdates"`
		Options         struct {
			Path string `yaml:"path"`
		} `yaml:"options"`
	} `yaml:"providers"`
}

// dashboard is the part of a Grafana dashboard the test reads.
type dashboard struct {
	UID    string `json:"uid"`
	Title  string `json:"title"`
	Panels []struct {
		Title      string `json:"title"`
		Type       string `json:"type"`
		Datasource struct {
			UID string `json:"uid"`
		} `json:"datasource"`
		Targets []struct {
			Expr     string `json:"expr"`
			Exemplar bool   `json:"exemplar"`
		} `json:"targets"`
	} `json:"panels"`
}

// TestComposeGrafana checks Grafana's service, its provisioning files and its dashboard
// against each other and against Compose's Prometheus and Jaeger.
func TestComposeGrafana(t *testing.T) {
	p := loadCompose(t, nil, "grafana")
	g, ok := p.Services["grafana"]
	if !ok {
		t.Fatal("no grafana service in the grafana profile")
	}
	if !regexp.MustCompile(`^grafana/grafana:\d+\.\d+\.\d+$`).MatchString(g.Image) {
		t.Errorf("grafana image = %q, want an exact release (grafana/grafana:X.Y.Z)", g.Image)
	}
	if want := "127.0.0.1:3000:3000/tcp"; !slices.Equal(published(g), []string{want}) {
		t.Errorf("grafana ports %v, want %s only", published(g), want)
	}
	for _, dep := range []string{"prometheus", "jaeger"} {
		if _, ok := g.DependsOn[dep]; !ok {
			t.Errorf("grafana does not depend on %s, one of its data sources", dep)
		}
	}
	wd, _ := os.Getwd()
	mounted := map[string]string{} // source, relative to the repository, by target
	for _, v := range g.Volumes {
		if !v.ReadOnly {
			t.Errorf("grafana mounts %s read-write: the repository's files are provisioning, mount them :ro", v.Source)
		}
		rel, _ := filepath.Rel(wd, v.Source)
		mounted[v.Target] = filepath.ToSlash(rel)
	}
	if mounted["/etc/grafana/provisioning"] != "tools/grafana/provisioning" {
		t.Errorf("grafana mounts %v, want tools/grafana/provisioning at /etc/grafana/provisioning", mounted)
	}

	var sources grafanaDatasources
	readYAML(t, "tools/grafana/provisioning/datasources/workshop.yml", &sources)
	uids := map[string]string{} // uid by type
	var promURL, jaegerURL string
	var traceDest []string
	for _, d := range sources.Datasources {
		uids[d.Type] = d.UID
		switch d.Type {
		case "prometheus":
			promURL = d.URL
			for _, e := range d.JSONData.ExemplarTraceIDDestinations {
				traceDest = append(traceDest, e.Name+"→"+e.DatasourceUID)
			}
		case "jaeger":
			jaegerURL = d.URL
		}
	}
	if sources.APIVersion != 1 || promURL != "http://prometheus:9090" || jaegerURL != "http://jaeger:16686" {
		t.Errorf("data sources: apiVersion %d, Prometheus at %q, Jaeger at %q; want apiVersion 1, http://prometheus:9090 and http://jaeger:16686 (Compose's services)",
			sources.APIVersion, promURL, jaegerURL)
	}
	// The exemplar's label is the one OTel's Prometheus exporter writes (trace_id).
	if want := []string{"trace_id→" + uids["jaeger"]}; uids["jaeger"] == "" || !slices.Equal(traceDest, want) {
		t.Errorf("Prometheus's exemplarTraceIdDestinations %v, want %v: an exemplar's trace_id opens the trace in Jaeger", traceDest, want)
	}

	var providers grafanaProviders
	readYAML(t, "tools/grafana/provisioning/dashboards/workshop.yml", &providers)
	if len(providers.Providers) != 1 || providers.Providers[0].Type != "file" {
		t.Fatalf("dashboard providers %+v, want one of type file", providers.Providers)
	}
	if path := providers.Providers[0].Options.Path; mounted[path] != "tools/grafana/dashboards" {
		t.Errorf("the dashboard provider reads %s, where Compose mounts %q, want tools/grafana/dashboards", path, mounted[path])
	}
	if home := g.Environment["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]; home != nil &&
		*home != providers.Providers[0].Options.Path+"/shop.json" {
		t.Errorf("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH=%s is not the provisioned dashboard", *home)
	}

	d := readDashboard(t)
	exemplars := false
	for _, panel := range d.Panels {
		if panel.Datasource.UID != uids["prometheus"] {
			t.Errorf("panel %q asks data source %q, want the provisioned Prometheus (%q)", panel.Title, panel.Datasource.UID, uids["prometheus"])
		}
		for _, target := range panel.Targets {
			exemplars = exemplars || (target.Exemplar && strings.Contains(target.Expr, "http_server_request_duration_seconds_bucket"))
		}
	}
	if !exemplars {
		t.Error("no query of the dashboard asks for the exemplars of http_server_request_duration_seconds_bucket")
	}
}

func readDashboard(t *testing.T) dashboard {
	t.Helper()
	data, err := os.ReadFile("tools/grafana/dashboards/shop.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("tools/grafana/dashboards/shop.json: %v", err)
	}
	if d.UID == "" || d.Title == "" || len(d.Panels) == 0 {
		t.Fatalf("tools/grafana/dashboards/shop.json: uid %q, title %q, %d panels: want a dashboard", d.UID, d.Title, len(d.Panels))
	}
	return d
}

var (
	// A metric selector: a name, then its label matchers or a range.
	promSelector = regexp.MustCompile(`([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}`)
	promMatcher  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)`)
	promGrouping = regexp.MustCompile(`\b(?:by|without)\s*\(([^)]*)\)`)
)

// TestDashboardQueriesStep07Metrics runs step 07 as three processes, places an order,
// reads the three /metrics, and checks that every metric the dashboard's PromQL selects
// is served and every label it matches or groups by is one of those metrics' labels, or
// one Prometheus adds when it scrapes (the configuration's service, job, instance).
func TestDashboardQueriesStep07Metrics(t *testing.T) {
	d := readDashboard(t)
	requireRabbitMQ(t)
	binary := buildSolution(t, "07-logs-and-metrics")
	f, err := fleet.StartProcesses(context.Background(), binary, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": collector(t, false)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.Stop(); err != nil {
			t.Error(err)
		}
	})
	resp, err := f.PlaceOrder(context.Background(), shop.Order{CustomerID: "c-grafana", Items: []shop.Item{{SKU: "gopher-plush", Quantity: 1}}}, nil)
	if err != nil || resp.Status != http.StatusAccepted {
		t.Fatalf("place an order: %v %v", resp, err)
	}
	if err := f.WaitReserved(context.Background(), "gopher-plush", 1); err != nil {
		t.Fatal(err)
	}
	served := map[string]map[string]bool{} // label names by sample name, over the three services
	for _, service := range shopServices {
		r, err := http.Get(f.MetricsURLs[service] + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(r.Body)
		r.Body.Close()
		for _, line := range strings.Split(string(body), "\n") {
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			name, rest, _ := strings.Cut(strings.Fields(line)[0], "{")
			if served[name] == nil {
				served[name] = map[string]bool{}
			}
			for _, m := range regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="`).FindAllStringSubmatch(rest, -1) {
				served[name][m[1]] = true
			}
		}
	}
	scrapeLabels := map[string]bool{"service": true, "job": true, "instance": true, "le": true}
	var local promConfig
	readYAML(t, "tools/prometheus/prometheus.yml", &local)
	for _, sc := range local.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			for k := range st.Labels {
				scrapeLabels[k] = true
			}
		}
	}
	var names []string
	for n := range served {
		names = append(names, n)
	}
	sort.Strings(names)
	checked := 0
	for _, panel := range d.Panels {
		for _, target := range panel.Targets {
			selectors := promSelector.FindAllStringSubmatch(target.Expr, -1)
			if len(selectors) == 0 {
				t.Errorf("panel %q: %q selects no metric as name{...}: write each selector with its braces, so this test can read it", panel.Title, target.Expr)
			}
			for _, sel := range selectors {
				name, matchers := sel[1], sel[2]
				labels, ok := served[name]
				if !ok {
					t.Errorf("panel %q asks for %s, which no service of step 07 serves after an order; they serve:\n%s",
						panel.Title, name, strings.Join(names, "\n"))
					continue
				}
				checked++
				var used []string
				for _, m := range promMatcher.FindAllStringSubmatch(matchers, -1) {
					used = append(used, m[1])
				}
				for _, g := range promGrouping.FindAllStringSubmatch(target.Expr, -1) {
					for _, l := range strings.Split(g[1], ",") {
						used = append(used, strings.TrimSpace(l))
					}
				}
				for _, l := range used {
					if l != "" && !labels[l] && !scrapeLabels[l] {
						t.Errorf("panel %q uses the label %s, which %s does not have (its labels: %v) and Prometheus does not add", panel.Title, l, name, sortedKeys(labels))
					}
				}
			}
		}
	}
	if checked == 0 {
		t.Error("the dashboard's queries name no metric step 07 serves")
	}
}
