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

	env := map[string]string{}
	setenv, restoreEnv := envSetter()
	defer restoreEnv()
	var started []tracecheck.Receiver
	defer func() {
		for _, r := range started {
			r.Close()
		}
	}()
	var external []string
	for _, newReceiver := range receivers {
		r, err := newReceiver()
		if err != nil {
			return fmt.Errorf("start a trace receiver: %w", err)
		}
		if k := configured(r.Env(), getenv); k != "" {
			// The user pointed this tracer at Jaeger: send the spans there, not here.
			external = append(external, k+"="+getenv(k))
			r.Close()
			continue
		}
		started = append(started, r)
		for k, v := range r.Env() {
			env[k] = v
			// The tracing libraries read their endpoints from the process environment,
			// never from run's getenv, so the demo sets them for as long as it runs.
			if err := setenv(k, v); err != nil {
				return err
			}
		}
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

	f, err := fleet.Start(ctx, run, envWith(env, getenv))
	if err != nil {
		return err
	}
	stopped := false
	defer func() {
		if !stopped {
			f.Stop()
		}
	}()
	say("started gateway %s, checkout %s, stock %s", f.GatewayURL, f.CheckoutURL, f.StockURL)

	order := shop.DemoOrder()
	requestID := "demo-" + shop.NewRequestID()[:8]
	say("POST /checkout %s  (X-Request-ID: %s)", order.Encode(), requestID)
	resp, err := f.PlaceOrder(ctx, order, http.Header{"X-Request-ID": {requestID}})
	if err != nil {
		return err
	}
	say("%d %s %s", resp.Status, http.StatusText(resp.Status), strings.TrimSpace(string(resp.Body)))
	traceID := ""
	if tr := resp.Header.Get("traceresponse"); tr != "" {
		say("traceresponse: %s", tr)
		if parts := strings.Split(tr, "-"); len(parts) == 4 {
			traceID = parts[1]
		}
	}
	if resp.Status == http.StatusAccepted {
		if err := f.WaitReserved(ctx, shop.DemoSKU, shop.DemoQuantity); err != nil {
			return err
		}
		say("stock reserved %d %s", shop.DemoQuantity, shop.DemoSKU)
	}
	stopped = true
	if err := f.Stop(); err != nil {
		return err
	}
	say("stopped all services")

	if len(started) > 0 {
		var spans []tracecheck.Span
		for _, r := range started {
			spans = append(spans, r.Spans()...)
		}
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
		// Spans of the same order that ended up in other traces are the broken hops a
		// step is about, so show them too.
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
	if len(external) > 0 {
		fmt.Fprintf(stdout, "\nSpans went to %s", strings.Join(external, ", "))
		switch {
		case len(started) > 0:
			// Some tracers sent their spans here, so the trace in Jaeger lacks them: a
			// link would open a broken trace.
			var here []string
			for _, r := range started {
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
	printLogs(stdout, f.Logs(), requestID)
	return nil
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
