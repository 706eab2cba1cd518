//go:build e2e

package e2e

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/ot2otel/workshop/shared/fleet"
	"github.com/ot2otel/workshop/shared/tracecheck"
	"github.com/ot2otel/workshop/shared/tracecheck/jaegerquery"
)

// jaeger is a Jaeger v2 all-in-one this test started, with in-memory storage, on free
// loopback ports of its own, so it never sees another test's spans nor a developer's.
type jaeger struct {
	OTLPGRPC, OTLPHTTP, ThriftHTTP, Query, QueryGRPC string // host:port, TCP
	Compact                                          string // host:port, UDP
	// Sampling is the remote_sampling extension's HTTP host:port, serving the
	// strategies file Strategies, when the test asked for one (startJaegerWith).
	Sampling, Strategies string
	log                  *fleet.Buffer
}

// OTLPEndpoint is the value for OTEL_EXPORTER_OTLP_ENDPOINT.
func (j *jaeger) OTLPEndpoint() string { return "http://" + j.OTLPHTTP }

// ThriftEndpoint is the value for JAEGER_ENDPOINT.
func (j *jaeger) ThriftEndpoint() string { return "http://" + j.ThriftHTTP + "/api/traces" }

// QueryURL is the value for JAEGER_QUERY_URL.
func (j *jaeger) QueryURL() string { return "http://" + j.Query }

var jaegerConfig = template.Must(template.New("jaeger.yaml").Parse(`# written by the e2e test
service:
  extensions: [jaeger_storage, jaeger_query{{if .Strategies}}, remote_sampling{{end}}]
  pipelines:
    traces:
      receivers: [otlp, jaeger]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 10000
  jaeger_query:
    storage:
      traces: memstore
    # Otherwise the query service traces itself to localhost:4317, someone else's port.
    enable_tracing: false
    http:
      endpoint: {{.Query}}
    grpc:
      endpoint: {{.QueryGRPC}}
{{- if .Strategies}}
  remote_sampling:
    file:
      path: {{.Strategies}}
      reload_interval: 200ms
    http:
      endpoint: {{.Sampling}}
{{- end}}
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: {{.OTLPGRPC}}
      http:
        endpoint: {{.OTLPHTTP}}
  jaeger:
    protocols:
      thrift_http:
        endpoint: {{.ThriftHTTP}}
      thrift_compact:
        endpoint: {{.Compact}}
processors:
  batch:
    timeout: 100ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`))

// jaegerBinary returns the Jaeger that `make jaeger` builds: $JAEGER_BIN, or
// bin/jaeger built from tools/jaeger (outside the workspace, as the Makefile does).
func jaegerBinary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("JAEGER_BIN"); bin != "" {
		return bin
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(root, "bin", "jaeger")
	t.Logf("building Jaeger into %s (the first build takes several minutes)", bin)
	build := exec.Command("go", "build", "-o", bin, "github.com/jaegertracing/jaeger/cmd/jaeger")
	build.Dir = filepath.Join(root, "tools", "jaeger")
	build.Env = append(os.Environ(), "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build Jaeger: %v\n%s", err, out)
	}
	return bin
}

// startJaeger starts Jaeger and stops it, with SIGTERM, when the test ends.
func startJaeger(t *testing.T) *jaeger { return startJaegerWith(t, "") }

// startJaegerWith is startJaeger; with a strategies file, Jaeger also serves it through
// its remote_sampling extension, over HTTP on a port of its own (j.Sampling), and reads
// the file again every 200ms.
func startJaegerWith(t *testing.T, strategies string) *jaeger {
	t.Helper()
	bin := jaegerBinary(t)
	tcp := freeTCP(t, 6)
	j := &jaeger{OTLPGRPC: tcp[0], OTLPHTTP: tcp[1], ThriftHTTP: tcp[2], Query: tcp[3], QueryGRPC: tcp[4],
		Compact: freeUDP(t), log: &fleet.Buffer{}}
	if strategies != "" {
		j.Sampling, j.Strategies = tcp[5], strategies
	}
	cfg := filepath.Join(t.TempDir(), "jaeger.yaml")
	f, err := os.Create(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := jaegerConfig.Execute(f, j); err != nil {
		t.Fatal(err)
	}
	f.Close()

	cmd := exec.Command(bin, "--config", "file:"+cfg)
	cmd.Stdout, cmd.Stderr = j.log, j.log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start Jaeger: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		// How fast Jaeger itself stops is not what this test checks, but it must not
		// outlive the test.
		start := time.Now()
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
			t.Logf("Jaeger stopped %s after SIGTERM", time.Since(start).Round(time.Millisecond))
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Logf("Jaeger did not stop within 30s of SIGTERM, so it was killed; its log:\n%s", j.log)
		}
	})

	// Extensions (the query API) start before the receivers: wait for both.
	deadline := time.Now().Add(60 * time.Second)
	for _, addr := range []string{j.Query, j.OTLPGRPC, j.OTLPHTTP, j.ThriftHTTP, j.Sampling} {
		if addr == "" {
			continue
		}
		for {
			select {
			case err := <-done:
				t.Fatalf("Jaeger exited while starting: %v\n%s", err, j.log)
			default:
			}
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("Jaeger never listened on %s: %v\n%s", addr, err, j.log)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	resp, err := http.Get(j.QueryURL() + "/api/v3/services")
	if err != nil {
		t.Fatalf("Jaeger's query API: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("Jaeger's query API: GET /api/v3/services: %s", resp.Status)
	}
	return j
}

func freeTCP(t *testing.T, n int) []string {
	t.Helper()
	var addrs []string
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		addrs = append(addrs, ln.Addr().String())
	}
	for _, ln := range lns {
		ln.Close()
	}
	return addrs
}

func freeUDP(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().String()
}

// spansOf reads one trace back from Jaeger, as `workshop trace` does, until check
// accepts it and a second read 300ms later finds no more spans, or 20s have passed:
// spans reach Jaeger's storage in batches, after the processes that sent them have
// exited. It returns the last spans read and check's last error.
func (j *jaeger) spansOf(ctx context.Context, id string, check func([]tracecheck.Span) error) ([]tracecheck.Span, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	q := &jaegerquery.Client{Base: j.QueryURL()}
	accepted := -1 // how many spans check last accepted
	for {
		spans, err := q.Trace(ctx, id)
		if err == nil {
			err = check(spans)
		}
		switch {
		case err != nil:
			accepted = -1
		case len(spans) == accepted:
			return spans, nil
		default:
			accepted = len(spans)
		}
		select {
		case <-ctx.Done():
			if err == nil {
				return spans, nil
			}
			return spans, err
		case <-time.After(300 * time.Millisecond):
		}
	}
}
