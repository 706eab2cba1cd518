// Package demo is every step's demo command: start the system, place one order, wait for
// the stock service, shut down (which flushes the spans), and print what happened: the
// trace as a waterfall, and the log lines that carry the order's correlation ID.
package demo

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"

	"github.com/ot2otel/workshop/shared/app"
	"github.com/ot2otel/workshop/shared/broker"
	"github.com/ot2otel/workshop/shared/fleet"
	"github.com/ot2otel/workshop/shared/shop"
	"github.com/ot2otel/workshop/shared/tracecheck"
)

// NewReceiver starts an in-process trace receiver (an OTLP or jaeger collector).
type NewReceiver func() (tracecheck.Receiver, error)

// Run runs the demo for a step's run function. Each receiver collects the spans its
// tracers export, unless the environment already points them at a real backend.
func Run(ctx context.Context, run fleet.RunFunc, getenv func(string) string, stdout io.Writer, receivers ...NewReceiver) error {
	say := func(format string, args ...any) { fmt.Fprintf(stdout, "demo: "+format+"\n", args...) }
	cfg, err := app.LoadConfig(getenv)
	if err != nil {
		return err
	}
	setenv, restoreEnv := envSetter()
	defer restoreEnv()
	rs, err := startReceivers(receivers, getenv, setenv)
	defer rs.close()
	if err != nil {
		return err
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
	o, err := placeOrder(ctx, run, envWith(rs.env, getenv), say)
	if err != nil {
		return err
	}
	if len(rs.started) > 0 {
		printTrace(stdout, rs.spans(), o.traceID)
	}
	if len(rs.external) > 0 {
		printExternal(stdout, rs, o.traceID, getenv)
	}
	printLogs(stdout, o.logs, o.requestID)
	return nil
}

// receivers are the trace receivers a demo started, and the backends it did not start
// one for because the environment names them.
type receivers struct {
	started  []tracecheck.Receiver
	env      map[string]string // what points the tracers at started
	external []string          // KEY=value of each backend the environment names
}

// startReceivers starts a receiver with each of newReceivers, unless getenv already
// points its tracer elsewhere, and sets the environment that points the tracers at it.
func startReceivers(newReceivers []NewReceiver, getenv func(string) string, setenv func(k, v string) error) (*receivers, error) {
	rs := &receivers{env: map[string]string{}}
	for _, newReceiver := range newReceivers {
		r, err := newReceiver()
		if err != nil {
			return rs, fmt.Errorf("start a trace receiver: %w", err)
		}
		if k := configured(r.Env(), getenv); k != "" {
			// The user pointed this tracer at Jaeger: send the spans there, not here.
			rs.external = append(rs.external, k+"="+getenv(k))
			r.Close()
			continue
		}
		rs.started = append(rs.started, r)
		for k, v := range r.Env() {
			rs.env[k] = v
			// The tracing libraries read their endpoints from the process environment,
			// never from run's getenv, so the demo sets them for as long as it runs.
			if err := setenv(k, v); err != nil {
				return rs, err
			}
		}
	}
	return rs, nil
}

// spans returns every span the started receivers collected.
func (rs *receivers) spans() []tracecheck.Span {
	var spans []tracecheck.Span
	for _, r := range rs.started {
		spans = append(spans, r.Spans()...)
	}
	return spans
}

func (rs *receivers) close() {
	for _, r := range rs.started {
		r.Close()
	}
}

// placed is what placing the demo order left to show.
type placed struct {
	requestID string
	traceID   string // from the traceresponse header; "" before step 02
	logs      []map[string]any
}

// placeOrder starts the system with env, places the demo order, waits for stock to
// reserve it, and stops the system, which flushes the spans.
func placeOrder(ctx context.Context, run fleet.RunFunc, env map[string]string, say func(string, ...any)) (placed, error) {
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

	order := shop.DemoOrder()
	p := placed{requestID: "demo-" + shop.NewRequestID()[:8]}
	say("POST /checkout %s  (X-Request-ID: %s)", order.Encode(), p.requestID)
	resp, err := f.PlaceOrder(ctx, order, http.Header{"X-Request-ID": {p.requestID}})
	if err != nil {
		return placed{}, err
	}
	say("%d %s %s", resp.Status, http.StatusText(resp.Status), strings.TrimSpace(string(resp.Body)))
	if tr := resp.Header.Get("traceresponse"); tr != "" {
		say("traceresponse: %s", tr)
		if parts := strings.Split(tr, "-"); len(parts) == 4 {
			p.traceID = parts[1]
		}
	}
	if resp.Status == http.StatusAccepted {
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

// printTrace draws the order's trace as a waterfall, and then the spans that are not in
// it: those are the broken hops a step is about.
func printTrace(stdout io.Writer, spans []tracecheck.Span, traceID string) {
	opt := tracecheck.RenderOptions{Color: tracecheck.IsTerminal(stdout)}
	order := spans
	if traceID != "" {
		order = tracecheck.Filter(spans, traceID)
	}
	fmt.Fprintf(stdout, "\nThe order's trace, %d spans:\n\n", len(order))
	if len(order) == 0 {
		fmt.Fprintln(stdout, "  (no spans arrived)")
	}
	tracecheck.Render(stdout, order, opt)
	if rest := len(spans) - len(order); rest > 0 {
		var others []tracecheck.Span
		for _, s := range spans {
			if s.TraceID != traceID {
				others = append(others, s)
			}
		}
		fmt.Fprintf(stdout, "\n%d more span(s), NOT in the order's trace:\n\n", rest)
		tracecheck.Render(stdout, others, opt)
	}
}

// printExternal says where the spans went when the environment named a backend, and
// how to see the trace there.
func printExternal(stdout io.Writer, rs *receivers, traceID string, getenv func(string) string) {
	fmt.Fprintf(stdout, "\nSpans went to %s", strings.Join(rs.external, ", "))
	switch {
	case len(rs.started) > 0:
		// Some tracers sent their spans here, so the trace in Jaeger lacks them: a
		// link would open a broken trace.
		var here []string
		for _, r := range rs.started {
			for k := range r.Env() {
				if strings.HasSuffix(k, "_ENDPOINT") {
					here = append(here, k)
				}
			}
		}
		sort.Strings(here)
		fmt.Fprintf(stdout, ", but %s was not set, so the spans shown above stayed in this process "+
			"and the trace in Jaeger is not whole: set %s too", strings.Join(here, ", "), strings.Join(here, " and "))
	case traceID != "":
		fmt.Fprintf(stdout, ".\nThe order's trace: go run ./cmd/workshop trace %s\n  (or open %s/trace/%s in Jaeger's UI)",
			traceID, queryURL(getenv), traceID)
	}
	fmt.Fprintln(stdout)
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

// configured returns the variable, if any, with which the user pointed the tracers that
// a receiver with env would collect from at a backend of their own.
func configured(env map[string]string, getenv func(string) string) string {
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

func envWith(env map[string]string, getenv func(string) string) map[string]string {
	// Keep the caller's AMQP and tracing settings; the fleet picks its own ports and names.
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

// envSetter returns a setenv that remembers what it changed, and a func that puts it back.
func envSetter() (setenv func(k, v string) error, restore func()) {
	type saved struct {
		value string
		ok    bool
	}
	old := map[string]saved{}
	setenv = func(k, v string) error {
		if _, done := old[k]; !done {
			value, ok := os.LookupEnv(k)
			old[k] = saved{value, ok}
		}
		return os.Setenv(k, v)
	}
	restore = func() {
		for k, s := range old {
			if s.ok {
				os.Setenv(k, s.value)
			} else {
				os.Unsetenv(k)
			}
		}
	}
	return setenv, restore
}
