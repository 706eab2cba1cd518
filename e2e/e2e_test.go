//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/ot2otel/workshop/shared/fleet"
	"github.com/ot2otel/workshop/shared/shop"
	"github.com/ot2otel/workshop/shared/tracecheck"
)

// The spans of one order, by service and kind, and by name where every step agrees.
var (
	gatewayServer  = tracecheck.Hop{Service: "gateway", Kind: tracecheck.KindServer, Name: "POST /checkout"}
	gatewaySubmit  = tracecheck.Hop{Service: "gateway", Kind: tracecheck.KindInternal, Name: "submit order"}
	gatewayClient  = tracecheck.Hop{Service: "gateway", Kind: tracecheck.KindClient}
	checkoutServer = tracecheck.Hop{Service: "checkout", Kind: tracecheck.KindServer, Name: "POST /orders"}
	placeOrder     = tracecheck.Hop{Service: "checkout", Kind: tracecheck.KindInternal, Name: "place order"}
	producer       = tracecheck.Hop{Service: "checkout", Kind: tracecheck.KindProducer}
	consumer       = tracecheck.Hop{Service: "stock", Kind: tracecheck.KindConsumer}
	reserveStock   = tracecheck.Hop{Service: "stock", Kind: tracecheck.KindInternal, Name: "reserve stock"}
)

// An exporter set-up is the environment the README tells users to set for a step.
type exporter struct {
	name string
	env  func(j *jaeger) map[string]string
}

var (
	// jaeger-client with JAEGER_ENDPOINT: jaeger thrift over HTTP.
	thriftHTTP = exporter{"JAEGER_ENDPOINT", func(j *jaeger) map[string]string {
		return map[string]string{"JAEGER_ENDPOINT": j.ThriftEndpoint()}
	}}
	// jaeger-client without JAEGER_ENDPOINT: the agent's UDP port, here the test's own.
	agentUDP = exporter{"agent (UDP)", func(j *jaeger) map[string]string {
		host, port, _ := strings.Cut(j.Compact, ":")
		return map[string]string{"JAEGER_AGENT_HOST": host, "JAEGER_AGENT_PORT": port}
	}}
	otlpHTTP = exporter{"OTEL_EXPORTER_OTLP_ENDPOINT", func(j *jaeger) map[string]string {
		return map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": j.OTLPEndpoint()}
	}}
	// OTLP over gRPC, which autoexport picks when OTEL_EXPORTER_OTLP_PROTOCOL says so.
	otlpGRPC = exporter{"OTLP gRPC (OTEL_EXPORTER_OTLP_PROTOCOL)", func(j *jaeger) map[string]string {
		return map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + j.OTLPGRPC, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}
	}}
	// The mixed fleet: checkout on jaeger-client, gateway and stock on OTel.
	both = exporter{"both", func(j *jaeger) map[string]string {
		return map[string]string{"JAEGER_ENDPOINT": j.ThriftEndpoint(), "OTEL_EXPORTER_OTLP_ENDPOINT": j.OTLPEndpoint()}
	}}
)

// A step is a solution and what its trace promises.
type step struct {
	dir       string
	exporters []exporter
	// hops is the chain one order's trace holds, each a descendant of the one before.
	hops []tracecheck.Hop
	// broker says whether the broker hop is traced, so that stock is in the order's trace.
	broker bool
}

var steps = []step{
	{dir: "02-opentracing", exporters: []exporter{thriftHTTP, agentUDP},
		hops: []tracecheck.Hop{gatewayServer, gatewayClient, checkoutServer, placeOrder}},
	{dir: "03-traced-rabbit-broker", exporters: []exporter{thriftHTTP, agentUDP}, broker: true,
		hops: []tracecheck.Hop{gatewayServer, gatewayClient, checkoutServer, placeOrder, producer, consumer, reserveStock}},
	{dir: "04-otel-bridge", exporters: []exporter{otlpHTTP}, broker: true,
		hops: []tracecheck.Hop{gatewayServer, gatewaySubmit, gatewayClient, checkoutServer, placeOrder, producer, consumer, reserveStock}},
	{dir: "05-mixed-fleet", exporters: []exporter{both}, broker: true,
		hops: []tracecheck.Hop{gatewayServer, gatewaySubmit, gatewayClient, checkoutServer, placeOrder, producer, consumer, reserveStock}},
	{dir: "06-native-otel", exporters: []exporter{otlpHTTP, otlpGRPC}, broker: true,
		hops: []tracecheck.Hop{gatewayServer, gatewaySubmit, gatewayClient, checkoutServer, placeOrder, producer, consumer, reserveStock}},
	step07,
}

// step07 is step 07: the trace of 06, with logs and metrics beside it
// (prometheus_test.go scrapes its metrics).
var step07 = step{dir: "07-logs-and-metrics", exporters: []exporter{otlpHTTP}, broker: true,
	hops: []tracecheck.Hop{gatewayServer, gatewaySubmit, gatewayClient, checkoutServer, placeOrder, producer, consumer, reserveStock}}

// result is one row of the summary table.
type result struct {
	step, exporter string
	good, bad      string // "ok, N spans" or what went wrong
	stop           string
	goodID, badID  string // the orders' trace IDs
}

// TestStepsAgainstJaeger runs each solution's gateway, checkout and stock as three
// processes exporting to a real Jaeger v2, places a good order and one that fails in
// stock, stops them with SIGTERM, and reads each order's trace back from Jaeger's query
// API by the ID its traceresponse header names.
func TestStepsAgainstJaeger(t *testing.T) {
	if os.Getenv("WORKSHOP_REQUIRE_RABBITMQ") != "1" {
		t.Log("three processes meet only through RabbitMQ: set WORKSHOP_REQUIRE_RABBITMQ=1 to fail fast when it is down")
	}
	j := startJaeger(t)
	var (
		mu   sync.Mutex
		rows []result
	)
	t.Cleanup(func() { printSummary(t, rows) })
	for _, st := range steps {
		bin := buildStep(t, st.dir)
		for _, ex := range st.exporters {
			t.Run(st.dir+"/"+ex.name, func(t *testing.T) {
				r := runStep(t, j, st, ex, bin)
				mu.Lock()
				rows = append(rows, r)
				mu.Unlock()
			})
		}
	}
	// The terminal viewer draws the last step's orders from the same Jaeger.
	t.Run("workshop trace", func(t *testing.T) {
		last := rows[len(rows)-1]
		if last.goodID == "" || last.badID == "" {
			t.Skip("the last step placed no orders")
		}
		workshop := filepath.Join(t.TempDir(), "workshop")
		if out, err := exec.Command("go", "build", "-o", workshop, "../cmd/workshop").CombinedOutput(); err != nil {
			t.Fatalf("go build ./cmd/workshop: %v\n%s", err, out)
		}
		for _, tc := range []struct {
			args []string
			want []string
		}{
			{[]string{"trace", last.goodID}, []string{"trace " + last.goodID + " · 9 spans", "reserve stock", "evalsha", "every parent present"}},
			{[]string{"trace", "00-" + last.goodID + "-0000000000000001-01"}, []string{"trace " + last.goodID}},
			{[]string{"trace", "--last"}, []string{"trace " + last.badID, "✗ error", "every parent present"}},
		} {
			cmd := exec.Command(workshop, tc.args...)
			cmd.Env = append(os.Environ(), "JAEGER_QUERY_URL="+j.QueryURL())
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Errorf("workshop %s: %v\n%s", strings.Join(tc.args, " "), err, out)
				continue
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("workshop %s: output lacks %q:\n%s", strings.Join(tc.args, " "), w, out)
				}
			}
		}
	})
}

// buildStep builds a solution from the workspace, as `go run ./solutions/NN-name` would.
func buildStep(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), dir)
	build := exec.Command("go", "build", "-o", bin, "./solutions/"+dir)
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./solutions/%s: %v\n%s", dir, err, out)
	}
	return bin
}

func runStep(t *testing.T, j *jaeger, st step, ex exporter, bin string) result {
	r := result{step: st.dir, exporter: ex.name, good: "-", bad: "-", stop: "-"}
	ctx := context.Background()
	f, err := fleet.StartProcesses(ctx, bin, ex.env(j))
	if err != nil {
		t.Errorf("%s: start the three services: %v", st.dir, err)
		r.stop = "did not start"
		return r
	}
	stopped := false
	defer func() {
		if !stopped {
			f.Stop()
		}
	}()

	good, err := place(ctx, f, shop.Order{CustomerID: "e2e", Items: []shop.Item{{SKU: "gopher-plush", Quantity: 2}}})
	if err == nil {
		err = f.WaitReserved(ctx, "gopher-plush", 2)
	}
	if err != nil {
		t.Errorf("%s: the good order: %v", st.dir, err)
		r.good = "failed"
		return r
	}
	// An order for more than stock holds passes the gateway and checkout (an unknown SKU
	// would not: checkout refuses it), and fails in stock: its trace must reach stock all
	// the same, with stock's span an error.
	bad, err := place(ctx, f, shop.Order{CustomerID: "e2e", Items: []shop.Item{{SKU: "trace-mug", Quantity: 1000}}})
	if err == nil {
		err = waitLog(ctx, f, "could not reserve stock", bad.OrderID())
	}
	if err != nil {
		t.Errorf("%s: the failing order: %v", st.dir, err)
		r.bad = "failed"
		return r
	}

	stopped = true
	if err := f.Stop(); err != nil {
		t.Errorf("%s: SIGTERM: %v", st.dir, err)
		r.stop = "unclean"
	} else {
		r.stop = "3 × exit 0"
	}

	r.goodID, r.badID = traceID(good), traceID(bad)
	r.good = checkTrace(t, j, st, ex, "good order", good, false)
	r.bad = checkTrace(t, j, st, ex, "failing order", bad, st.broker)
	return r
}

func place(ctx context.Context, f *fleet.Fleet, o shop.Order) (fleet.Response, error) {
	resp, err := f.PlaceOrder(ctx, o, nil)
	if err != nil {
		return resp, err
	}
	if resp.Status != http.StatusAccepted {
		return resp, fmt.Errorf("POST /checkout: %d %s, want 202", resp.Status, resp.Body)
	}
	return resp, nil
}

// waitLog waits for stock to log msg about the order.
func waitLog(ctx context.Context, f *fleet.Fleet, msg, orderID string) error {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		for _, rec := range f.Logs() {
			if rec["msg"] == msg && rec["order_id"] == orderID {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("stock never logged %q for %s\nlogs:\n%s", msg, orderID, f.LogText())
}

// checkTrace reads the order's trace from Jaeger and checks it: one root, every parent
// present, the step's chain of hops, the consumer a child of the producer, only the
// services the step promises, and (wantError) a failed span in stock.
func checkTrace(t *testing.T, j *jaeger, st step, ex exporter, what string, resp fleet.Response, wantError bool) string {
	t.Helper()
	id := traceID(resp)
	if id == "" {
		t.Errorf("%s (%s), %s: traceresponse %q names no trace", st.dir, ex.name, what, resp.Header.Get("traceresponse"))
		return "no traceresponse"
	}
	wantServices := []string{"checkout", "gateway"}
	if st.broker {
		wantServices = append(wantServices, "stock")
	}
	check := func(spans []tracecheck.Span) error {
		var errs []error
		if err := tracecheck.CheckContinuous(spans); err != nil {
			errs = append(errs, err)
		} else if err := tracecheck.CheckChain(spans, st.hops...); err != nil {
			errs = append(errs, err)
		} else if st.broker {
			errs = append(errs, tracecheck.CheckParent(spans, consumer, producer))
		}
		if got := services(spans); !slices.Equal(got, wantServices) {
			errs = append(errs, fmt.Errorf("the trace has spans of %v, want %v", got, wantServices))
		}
		if wantError && !slices.ContainsFunc(spans, func(s tracecheck.Span) bool { return s.Service == "stock" && s.Error }) {
			errs = append(errs, errors.New("no span of stock is marked as an error, though stock could not reserve the order"))
		}
		return errors.Join(errs...)
	}
	spans, err := j.spansOf(context.Background(), id, check)
	if err != nil {
		t.Errorf("%s (%s), %s: the trace %s read back from Jaeger is not what the step promises:\n%v",
			st.dir, ex.name, what, id, err)
		var b *tracecheck.BreakError
		if errors.As(err, &b) && b.Hop.Service != "" {
			return "BROKEN at " + b.Hop.String()
		}
		return "BROKEN"
	}
	return fmt.Sprintf("ok, %d spans", len(spans))
}

// traceID is the trace ID a traceresponse header names, or "".
func traceID(resp fleet.Response) string {
	parts := strings.Split(resp.Header.Get("traceresponse"), "-")
	if len(parts) != 4 || len(parts[1]) != 32 {
		return ""
	}
	return parts[1]
}

func services(spans []tracecheck.Span) []string {
	var out []string
	for _, s := range spans {
		if !slices.Contains(out, s.Service) {
			out = append(out, s.Service)
		}
	}
	slices.Sort(out)
	return out
}

func printSummary(t *testing.T, rows []result) {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "step\texporter\tgood order\tfailing order\tSIGTERM")
	for _, r := range rows {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", r.step, r.exporter, r.good, r.bad, r.stop)
	}
	w.Flush()
	// On stdout, so that `make e2e` shows it whether the test passed or not.
	fmt.Printf("\nTraces read back from Jaeger:\n\n%s\n", b.String())
}
