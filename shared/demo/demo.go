// Package demo is every step's demo command: start the system, place one order, wait for
// the stock service, shut down (which flushes the spans), and print what happened and the
// log lines that carry the order's correlation ID.
//
// It collects no spans itself, so that a step's binary links no collector: the workshop
// command (`go run ./cmd/workshop demo NN`) runs the demo with receivers of its own and
// draws the trace. Run on its own, the demo sends its spans where the environment says
// and tells how to see the trace there.
package demo

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/ot2otel/workshop/shared/app"
	"github.com/ot2otel/workshop/shared/broker"
	"github.com/ot2otel/workshop/shared/fleet"
	"github.com/ot2otel/workshop/shared/shop"
)

// CollectedEnv is the variable with which the workshop command tells the demo that its
// receivers collect the spans and that it draws the trace itself, so the demo says
// nothing about where the spans went.
const CollectedEnv = "WORKSHOP_DEMO_COLLECTED"

// OrderEnv picks the demo's order: unset, the demo order (shop.DemoOrder), which stock
// fills; OutOfStock, an order for more than stock holds, which the gateway and checkout
// accept and stock cannot fill: the talk's opening story ("I paid, and nothing was
// reserved"), whose trace shows where it failed.
const OrderEnv = "WORKSHOP_DEMO_ORDER"

// OutOfStock is the value of OrderEnv for an order stock cannot fill.
const OutOfStock = "out-of-stock"

// Run runs the demo for a step's run function.
func Run(ctx context.Context, run fleet.RunFunc, getenv func(string) string, stdout io.Writer) error {
	say := func(format string, args ...any) string {
		line := fmt.Sprintf("demo: "+format, args...)
		fmt.Fprintln(stdout, line)
		return line
	}
	cfg, err := app.LoadConfig(getenv)
	if err != nil {
		return err
	}
	unfillable := false
	switch v := getenv(OrderEnv); v {
	case "":
	case OutOfStock:
		unfillable = true
	default:
		return fmt.Errorf("%s=%q: want %q or nothing", OrderEnv, v, OutOfStock)
	}
	why, err := broker.Fallback(ctx, cfg.Broker.URL, cfg.RequireRabbitMQ)
	switch {
	case err != nil:
		return err
	case why != nil:
		say("RabbitMQ is not reachable (%v): using the in-memory broker", why)
	default:
		say("using RabbitMQ at %s", redact(cfg.Broker.URL))
	}
	switch why := app.RedisReachable(ctx, cfg); {
	case why != nil && cfg.RequireRedis:
		return fmt.Errorf("WORKSHOP_REQUIRE_REDIS=1 but Redis does not answer: %w", why)
	case why != nil:
		say("Redis does not answer (%v): using an in-memory ledger", why)
	default:
		say("keeping the stock ledger in Redis at %s", redact(cfg.RedisURL))
	}
	o, err := placeOrder(ctx, run, envWith(getenv), unfillable, say)
	if err != nil {
		return err
	}
	printLogs(stdout, o.logs, o.requestID)
	if o.traceID == "" || getenv(CollectedEnv) != "" {
		// Untraced (step 01), or the workshop command shows the trace.
		return nil
	}
	return whereSpansWent(ctx, stdout, o.traceID, o.logs, getenv)
}

// placed is what placing the demo order left to show.
type placed struct {
	requestID string
	traceID   string // from the traceresponse header; "" before step 02
	logs      []map[string]any
}

// placeOrder starts the system with env, places the demo order, waits for stock to
// reserve it, and stops the system, which flushes the spans.
func placeOrder(ctx context.Context, run fleet.RunFunc, env map[string]string, unfillable bool, say func(string, ...any) string) (placed, error) {
	f, err := fleet.Start(ctx, run, env)
	if err != nil {
		return placed{}, err
	}
	stopped := false
	defer func() {
		if !stopped {
			f.Stop()
		}
	}()
	say("started gateway %s, checkout %s, stock %s", f.GatewayURL, f.CheckoutURL, f.StockURL)
	// Span names carry them: publish ws-…:checkout.processed here, publish
	// shop:checkout.processed in a deployment (and in the slides' pictures).
	say("exchange %s and queue %s (deployed: %s and %s): its own, to meet no other system on the broker",
		f.Env["AMQP_EXCHANGE"], f.Env["AMQP_QUEUE"], app.DefaultExchange, app.DefaultQueue)

	order := shop.DemoOrder()
	if unfillable {
		order.Items = []shop.Item{{SKU: shop.DemoSKU, Quantity: shop.MaxQuantity}}
	}
	p := placed{requestID: "demo-" + shop.NewRequestID()[:8]}
	say("POST /checkout %s  (X-Request-ID: %s)", order.Encode(), p.requestID)
	resp, err := f.PlaceOrder(ctx, order, http.Header{"X-Request-ID": {p.requestID}})
	if err != nil {
		return placed{}, err
	}
	say("%d %s %s", resp.Status, http.StatusText(resp.Status), strings.TrimSpace(string(resp.Body)))
	if tr := resp.Header.Get("traceresponse"); tr != "" {
		line := say(traceLine+"%s", tr)
		p.traceID = TraceID(line)
	}
	switch {
	case resp.Status == http.StatusAccepted && unfillable:
		rec, err := f.WaitDeadLettered(ctx)
		if err != nil {
			return placed{}, err
		}
		say("stock could not fill the order: %v", rec["error"])
	case resp.Status == http.StatusAccepted:
		if err := f.WaitReserved(ctx, shop.DemoSKU, shop.DemoQuantity); err != nil {
			return placed{}, err
		}
		say("stock reserved %d %s", shop.DemoQuantity, shop.DemoSKU)
	}
	stopped = true
	if err := f.Stop(); err != nil {
		return placed{}, err
	}
	say("stopped all services")
	p.logs = f.Logs()
	return p, nil
}

// printLogs prints the log records that carry the order's correlation ID.
func printLogs(w io.Writer, records []map[string]any, requestID string) {
	var lines []string
	for _, rec := range records {
		if rec["request_id"] != requestID {
			continue
		}
		var extra []string
		for k, v := range rec {
			switch k {
			case "time", "level", "msg", "service", "request_id":
			default:
				extra = append(extra, fmt.Sprintf("%s=%v", k, v))
			}
		}
		sort.Strings(extra)
		lines = append(lines, fmt.Sprintf("  %-9v %-30v %s", rec["service"], rec["msg"], strings.Join(extra, " ")))
	}
	fmt.Fprintf(w, "\nLog lines with request_id=%s: %d\n", requestID, len(lines))
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
}

// traceLine starts the line of the demo's output that quotes the gateway's traceresponse
// header, which names the order's trace.
const traceLine = "traceresponse: "

// TraceID returns the order's trace ID if line is the line of the demo's output that
// quotes the gateway's traceresponse header, and "" otherwise. The workshop command reads
// the demo's output with it, to know which of the spans it collected are the order's.
func TraceID(line string) string {
	_, tr, ok := strings.Cut(line, "demo: "+traceLine)
	if !ok {
		return ""
	}
	// version-traceid-spanid-flags (W3C Trace Context level 2)
	if parts := strings.Split(strings.TrimSpace(tr), "-"); len(parts) == 4 && len(parts[1]) == 32 {
		return parts[1]
	}
	return ""
}

// whereSpansWent says where the order's spans went when no workshop command collects them,
// and how to see the trace there. Spans that could not be exported are an error: the demo
// exists to show the trace.
func whereSpansWent(ctx context.Context, stdout io.Writer, traceID string, logs []map[string]any, getenv func(string) string) error {
	// The services log what their exporters could not send.
	var lost []string
	for _, rec := range logs {
		if msg, _ := rec["msg"].(string); strings.HasPrefix(msg, "exporting spans") || strings.HasPrefix(msg, "reporting spans") {
			lost = append(lost, fmt.Sprintf("%v: %s: %s", rec["service"], msg, firstLine(fmt.Sprint(rec["err"]))))
		}
	}
	backends := app.SpanBackends(getenv)
	for _, kv := range backends {
		// What the tracers do not report, such as a collector gone since the export.
		if k, v, _ := strings.Cut(kv, "="); strings.HasSuffix(k, "_ENDPOINT") && len(lost) == 0 {
			if err := probe(ctx, hostPort(v)); err != nil {
				lost = append(lost, fmt.Sprintf("nothing listens at %s: %v", kv, err))
			}
		}
	}
	hint := ""
	if len(backends) == 0 {
		backends = []string{"the tracers' defaults (OTLP to https://localhost:4318, jaeger-client's agent to localhost:6831/udp)"}
		// jaeger-client's agent takes UDP and reports nothing; a Jaeger from `make jaeger`
		// or the compose file serves OTLP on 4318 too.
		if err := probe(ctx, "localhost:4318"); err != nil && len(lost) == 0 {
			lost = append(lost, fmt.Sprintf("no Jaeger listens on localhost:4318: %v", err))
		}
		hint = "\nor start Jaeger (make jaeger) and set OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 " +
			"(a local Jaeger does not serve the exporter's default, https)"
	}
	fmt.Fprintf(stdout, "\nSpans were sent to %s.\n", strings.Join(backends, ", "))
	if len(lost) > 0 {
		return fmt.Errorf("the order's spans are lost:\n  %s\nTo see the trace, run the demo with the workshop command, "+
			"which collects the spans and draws it: make demo STEP=NN (go run ./cmd/workshop demo NN)%s",
			strings.Join(lost, "\n  "), hint)
	}
	SeeTrace(stdout, traceID, getenv)
	return nil
}

// firstLine is the first line of an error's text, at most 200 bytes of it: an exporter's
// error may quote the collector's whole answer.
func firstLine(text string) string {
	line, _, cut := strings.Cut(text, "\n")
	if len(line) > 200 {
		line, cut = line[:200], true
	}
	if cut {
		line += " …"
	}
	return line
}

// hostPort is the address to dial for an endpoint URL, with the scheme's port when the
// URL names none.
func hostPort(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return endpoint // host:port without a scheme, as OTLP/gRPC endpoints may be
	}
	if u.Port() != "" {
		return u.Host
	}
	if u.Scheme == "https" {
		return net.JoinHostPort(u.Hostname(), "443")
	}
	return net.JoinHostPort(u.Hostname(), "80")
}

// probe says whether something accepts TCP connections at addr.
func probe(ctx context.Context, addr string) error {
	d := net.Dialer{Timeout: 2 * time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	return c.Close()
}

// SeeTrace tells how to see the order's trace in Jaeger.
func SeeTrace(w io.Writer, traceID string, getenv func(string) string) {
	fmt.Fprintf(w, "The order's trace: go run ./cmd/workshop trace %s\n  (or open %s/trace/%s in Jaeger's UI)\n",
		traceID, queryURL(getenv), traceID)
}

// Configured returns the variable, if any, with which the user pointed the tracers that
// a receiver with env would collect from at a backend of their own.
func Configured(env map[string]string, getenv func(string) string) string {
	for k := range env {
		if !strings.HasSuffix(k, "_ENDPOINT") {
			continue
		}
		for _, v := range append([]string{k}, sameTracers[k]...) {
			if getenv(v) != "" {
				return v
			}
		}
	}
	return ""
}

// sameTracers are the other variables that send the spans of the tracers an endpoint
// variable configures somewhere else: the signal-specific OTLP endpoint, which wins over
// the general one, and jaeger-client's agent address.
var sameTracers = map[string][]string{
	"OTEL_EXPORTER_OTLP_ENDPOINT": {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"},
	"JAEGER_ENDPOINT":             {"JAEGER_AGENT_HOST", "JAEGER_AGENT_PORT"},
}

// queryURL is where Jaeger's UI and query API are: JAEGER_QUERY_URL, or the default of
// `make jaeger` and the compose file.
func queryURL(getenv func(string) string) string {
	if u := getenv("JAEGER_QUERY_URL"); u != "" {
		return strings.TrimRight(u, "/")
	}
	return "http://localhost:16686"
}

// envWith is the environment of the demo's fleet: the caller's AMQP settings; the fleet
// picks its own ports, exchange and queue.
func envWith(getenv func(string) string) map[string]string {
	env := map[string]string{}
	for _, k := range []string{"AMQP_URL", "WORKSHOP_REQUIRE_RABBITMQ"} {
		if v := getenv(k); v != "" {
			env[k] = v
		}
	}
	return env
}

func redact(u string) string {
	if at := strings.LastIndex(u, "@"); at >= 0 {
		if i := strings.Index(u, "://"); i >= 0 && i < at {
			return u[:i+3] + "…@" + u[at+1:]
		}
	}
	return u
}
