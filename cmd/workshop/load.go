package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/ot2otel/workshop/shared/app"
	"github.com/ot2otel/workshop/shared/broker"
	"github.com/ot2otel/workshop/shared/fleet"
)

// rawTarget is the name the raw RabbitMQ measurement goes by among the steps.
const rawTarget = "rabbitmq-raw"

// loadOptions is what `workshop load` was asked to do.
type loadOptions struct {
	src      string       // the tree whose solutions are built (the repository by default)
	steps    []step       // each step to build, once
	targets  []loadTarget // what the rounds run: a step, or a step with variables of its own
	clients  int
	duration time.Duration
	warmup   time.Duration
	rounds   int
	amqpURL  string
	out      string   // the results file (.txt; a .json beside it)
	rssAt    []int64  // order counts at which to sample the system's RSS
	noRaw    bool     // skip RabbitMQ's raw rate
	env      []string // KEY=VALUE for every step's process, e.g. a sampler
	sampling []string // the sampler -sampling asks for, in both worlds' variables
	profile  string   // a directory for CPU and allocation profiles of each run's window
	command  string   // the command line, for the results file
}

// loadTarget is one step as the rounds run it: its name in the tables ("06-native-otel",
// or "06-native-otel:OTEL_SDK_DISABLED=true" for a variant) and the variables that
// variant adds to its process's environment, after -sampling's and -env's.
type loadTarget struct {
	name string
	step step
	env  []string
}

// loadRun is one measurement: one step (or the raw broker) in one round.
type loadRun struct {
	Target  string  `json:"target"`
	Round   int     `json:"round"`
	Orders  int64   `json:"orders"` // answered 202 inside the measured window
	Errors  int64   `json:"errors"` // anything else inside the window
	Seconds float64 `json:"seconds"`
	Rate    float64 `json:"orders_per_second"`
	P50     float64 `json:"p50_ms"`
	P99     float64 `json:"p99_ms"`
	// CPUPerOrder is the system's user+system CPU time per order, in microseconds.
	CPUPerOrder float64 `json:"cpu_us_per_order,omitempty"`
	// Budget is the machine's CPU per order, by process: where the cores went.
	Budget cpuBudget `json:"cpu_us_per_order_by_process"`
	// RSSMB is the system's resident set at the end of the run.
	RSSMB float64 `json:"rss_mb,omitempty"`
	// RSSAt is the resident set, in MB, when the total of orders reached each count.
	RSSAt map[string]float64 `json:"rss_mb_at_orders,omitempty"`
	// Reserved is how many orders stock reserved during the window: whether the
	// consumer keeps up with what the gateway accepts.
	Reserved int64 `json:"reserved"`
	// SinkRequests and SinkBytes are the span exports the sink received.
	SinkRequests int64 `json:"sink_requests"`
	SinkBytes    int64 `json:"sink_bytes"`
	// Spans is how many spans those exports held; SpansPerOrder, per order answered.
	Spans         int64   `json:"spans"`
	SpansPerOrder float64 `json:"spans_per_order"`
	// Accepted is every order answered 202, warm-up included; SampledOrders, those of
	// them whose traceresponse said sampled.
	Accepted      int64 `json:"accepted"`
	SampledOrders int64 `json:"sampled_orders"`
	// SpansPerTrace is how many spans most sampled orders' traces had; Dropped, how many
	// the sampled orders' traces lacked of it once the process had stopped and flushed
	// (a batch processor's full queue, a failed export): 0 when nothing was lost.
	SpansPerTrace int   `json:"spans_per_trace"`
	Dropped       int64 `json:"spans_dropped"`
}

// loadSummary is one target's median over the rounds.
type loadSummary struct {
	Target      string             `json:"target"`
	Rate        float64            `json:"orders_per_second"`
	P50         float64            `json:"p50_ms"`
	P99         float64            `json:"p99_ms"`
	CPUPerOrder float64            `json:"cpu_us_per_order,omitempty"`
	RSSMB       float64            `json:"rss_mb,omitempty"`
	RSSAt       map[string]float64 `json:"rss_mb_at_orders,omitempty"`
	Reserved    float64            `json:"reserved_per_second"`
	Errors      int64              `json:"errors"`
	Budget      cpuBudget          `json:"cpu_us_per_order_by_process"`
	// SpansPerOrder is the median over the rounds; Dropped, the sum.
	SpansPerOrder float64 `json:"spans_per_order"`
	Dropped       int64   `json:"spans_dropped"`
}

const loadUsage = `usage: workshop load [flags] [NN[:KEY=VALUE...] ...]

Runs each named step's "all" (default: every step) as a process of its own against the
real RabbitMQ, with spans exported to a sink in this process, and drives it with a closed
loop of clients placing orders. Rounds interleave the steps, and RabbitMQ's own
publish-with-confirm rate on the same topology, so that a noisy machine treats them alike.

A step may be named more than once with variables of its own after a colon,
NN:KEY=VALUE[:KEY=VALUE...] (values without a colon), so that one run measures the same
step with a layer taken away, e.g. the SDK off and the trace headers off:

  workshop load -sampling 0 01 06 06:OTEL_SDK_DISABLED=true 06:OTEL_PROPAGATORS=none

Its variables win over -sampling's and -env's; the tables name it as written, the step's
full name first ("06-native-otel:OTEL_SDK_DISABLED=true").`

// parseLoad reads load's flags.
func (w *workshop) parseLoad(args []string) (loadOptions, error) {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(w.errOut)
	fs.Usage = func() { fmt.Fprintln(w.errOut, loadUsage); fs.PrintDefaults() }
	o := loadOptions{}
	fs.StringVar(&o.src, "src", w.root, "the workshop tree whose solutions to build (e.g. an older commit's, extracted)")
	fs.IntVar(&o.clients, "clients", 16, "concurrent clients, each placing one order at a time")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "how long each measured window lasts")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "load before the measured window, not counted")
	fs.IntVar(&o.rounds, "rounds", 3, "interleaved rounds over the steps")
	fs.StringVar(&o.amqpURL, "amqp", envOr("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"), "the RabbitMQ to use")
	fs.StringVar(&o.out, "out", filepath.Join(w.root, "benchmarks", "load.txt"), "results file (a .json is written beside it); empty: none")
	fs.BoolVar(&o.noRaw, "no-raw", false, "do not measure RabbitMQ's raw confirm rate")
	fs.Func("env", "KEY=VALUE for the steps' environment, e.g. OTEL_TRACES_SAMPLER=traceidratio (repeatable)", func(v string) error {
		if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
			return fmt.Errorf("want KEY=VALUE, got %q", v)
		}
		o.env = append(o.env, v)
		return nil
	})
	fs.Func("sampling", "RATIO from 0 to 1 sampled at the root, in both worlds: OTEL_TRACES_SAMPLER=parentbased_traceidratio "+
		"and JAEGER_SAMPLER_TYPE=probabilistic with RATIO as their argument (-env entries win)", func(v string) error {
		r, err := strconv.ParseFloat(v, 64)
		if err != nil || !(r >= 0 && r <= 1) {
			return fmt.Errorf("want a ratio from 0 to 1, got %q", v)
		}
		o.sampling = []string{"OTEL_TRACES_SAMPLER=parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG=" + v,
			"JAEGER_SAMPLER_TYPE=probabilistic", "JAEGER_SAMPLER_PARAM=" + v}
		return nil
	})
	fs.StringVar(&o.profile, "profile", "", "DIR: write a CPU and an allocation profile of each step's process over each measured window "+
		"(DIR/STEP-rROUND.cpu.pprof, .allocs.pprof; read them with go tool pprof -top), through WORKSHOP_PPROF_ADDR on a loopback port")
	rssAt := fs.String("rss-at", "", "comma-separated order counts at which to sample RSS, e.g. 10000,100000")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.clients < 1 || o.rounds < 1 || o.duration <= 0 || o.warmup < 0 {
		return o, errors.New("load: -clients and -rounds must be at least 1, -duration positive")
	}
	for _, f := range strings.Split(*rssAt, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil || n <= 0 {
			return o, fmt.Errorf("load: -rss-at %q: want positive order counts", *rssAt)
		}
		o.rssAt = append(o.rssAt, n)
	}
	if o.profile != "" {
		if err := os.MkdirAll(o.profile, 0o755); err != nil {
			return o, fmt.Errorf("load: -profile: %w", err)
		}
	}
	var err error
	if o.steps, o.targets, err = (&workshop{root: o.src}).loadTargets(fs.Args()); err != nil {
		return o, err
	}
	o.command = "go run ./cmd/workshop load " + strings.Join(args, " ")
	return o, nil
}

// loadTargets reads the step arguments, each NN or NN:KEY=VALUE[:KEY=VALUE...]: the
// steps to build, once each, and the targets to run, in the order given.
func (w *workshop) loadTargets(args []string) ([]step, []loadTarget, error) {
	if len(args) == 0 {
		steps, err := w.stepsArg(nil)
		var targets []loadTarget
		for _, s := range steps {
			targets = append(targets, loadTarget{name: s.Name, step: s})
		}
		return steps, targets, err
	}
	var (
		steps   []step
		targets []loadTarget
		seen    = map[string]bool{}
	)
	for _, a := range args {
		arg, vars, variant := strings.Cut(a, ":")
		s, err := w.stepArg([]string{arg})
		if err != nil {
			return nil, nil, err
		}
		t := loadTarget{name: s.Name, step: s}
		if variant {
			for _, v := range strings.Split(vars, ":") {
				if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
					return nil, nil, fmt.Errorf("load: %q: want NN:KEY=VALUE[:KEY=VALUE...], got %q", a, v)
				}
				t.env = append(t.env, v)
			}
			t.name += ":" + vars
		}
		if seen[t.name] {
			return nil, nil, fmt.Errorf("load: %s named twice", t.name)
		}
		seen[t.name] = true
		if !slices.ContainsFunc(steps, func(b step) bool { return b.Name == s.Name }) {
			steps = append(steps, s)
		}
		targets = append(targets, t)
	}
	return steps, targets, nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// load builds the steps, measures them in interleaved rounds and writes the results.
func (w *workshop) load(ctx context.Context, o loadOptions) error {
	rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	err := broker.Reachable(rctx, o.amqpURL)
	cancel()
	if err != nil {
		return fmt.Errorf("load needs RabbitMQ: %w", err)
	}
	bin, err := os.MkdirTemp("", "workshop-load-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(bin)
	binaries := map[string]string{}
	for _, s := range o.steps {
		path := filepath.Join(bin, s.Name)
		fmt.Fprintf(w.out, "build %s\n", s.Name)
		cmd := exec.CommandContext(ctx, "go", "build", "-o", path, "./solutions/"+s.Name)
		cmd.Dir = o.src
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("build %s: %w\n%s", s.Name, err, out)
		}
		binaries[s.Name] = path
	}
	sink, err := newSink()
	if err != nil {
		return err
	}
	defer sink.Close()

	var targets []string
	if !o.noRaw {
		targets = append(targets, rawTarget)
	}
	byName := map[string]loadTarget{}
	for _, t := range o.targets {
		targets = append(targets, t.name)
		byName[t.name] = t
	}
	var runs []loadRun
	for round := 1; round <= o.rounds; round++ {
		// Rotate the order each round, so no target always runs first or last.
		for i := range targets {
			target := targets[(i+round-1)%len(targets)]
			var run loadRun
			var err error
			if target == rawTarget {
				run, err = rawConfirmRate(ctx, o.amqpURL, o.clients, o.warmup, o.duration)
			} else {
				t := byName[target]
				run, err = runStep(ctx, binaries[t.step.Name], fileName(fmt.Sprintf("%s-r%d", target, round)), o, t.env, sink)
			}
			if err != nil {
				return fmt.Errorf("round %d, %s: %w", round, target, err)
			}
			run.Target, run.Round = target, round
			runs = append(runs, run)
			fmt.Fprintf(w.out, "round %d  %-26s %8.0f orders/s  %5.2f spans/order  %d dropped  p50 %6.2f ms  p99 %6.2f ms  cpu %6.0f µs/order  rss %5.1f MB  reserved %d/%d  errors %d\n",
				round, target, run.Rate, run.SpansPerOrder, run.Dropped, run.P50, run.P99, run.CPUPerOrder, run.RSSMB, run.Reserved, run.Orders, run.Errors)
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}
	summaries := summarize(targets, runs)
	var report bytes.Buffer
	writeReport(&report, o, summaries, runs)
	fmt.Fprintln(w.out)
	w.out.Write(report.Bytes())
	if o.out == "" {
		return nil
	}
	if err := os.WriteFile(o.out, report.Bytes(), 0o644); err != nil {
		return err
	}
	data, _ := json.MarshalIndent(map[string]any{
		"machine": machine(), "date": time.Now().UTC().Format(time.RFC3339), "command": o.command,
		"commit": gitCommit(o.src), "clients": o.clients, "duration": o.duration.String(), "warmup": o.warmup.String(),
		"rounds": o.rounds, "summary": summaries, "runs": runs,
	}, "", "  ")
	jsonPath := strings.TrimSuffix(o.out, filepath.Ext(o.out)) + ".json"
	if err := os.WriteFile(jsonPath, append(data, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(w.out, "\nwrote %s and %s\n", o.out, jsonPath)
	return nil
}

// runStep starts one step's `all` as a process, loads it and stops it.
//
// name names its profiles; own is the target's own variables, which win over the rest.
func runStep(ctx context.Context, binary, name string, o loadOptions, own []string, sink *sink) (loadRun, error) {
	// The services' three addresses, the three of their /metrics (step 07), the profiler's.
	addrs, err := freeLoopbackAddrs(7)
	if err != nil {
		return loadRun{}, err
	}
	suffix := randomHex(6)
	exchange, queue := "load-"+suffix, "load-stock-"+suffix
	env := append(os.Environ(),
		"GATEWAY_ADDR="+addrs[0], "CHECKOUT_ADDR="+addrs[1], "STOCK_ADDR="+addrs[2],
		"CHECKOUT_URL=http://"+addrs[1],
		"GATEWAY_METRICS_ADDR="+addrs[3], "CHECKOUT_METRICS_ADDR="+addrs[4], "STOCK_METRICS_ADDR="+addrs[5],
		"AMQP_URL="+o.amqpURL, "AMQP_EXCHANGE="+exchange, "AMQP_QUEUE="+queue,
		"WORKSHOP_REQUIRE_RABBITMQ=1", "LOG_FORMAT=json",
		// Enough stock that no order of the run fails for want of it.
		"STOCK_QUANTITY=1000000000",
		// Every tracer exports to the sink: OTLP/HTTP (04-06) and jaeger-client (02-05).
		"OTEL_EXPORTER_OTLP_ENDPOINT="+sink.url, "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
		"OTEL_TRACES_EXPORTER=otlp", "JAEGER_ENDPOINT="+sink.url+"/api/traces",
	)
	var prof *profiler
	if o.profile != "" {
		prof = &profiler{dir: o.profile, addr: addrs[6], name: name}
		env = append(env, "WORKSHOP_PPROF_ADDR="+addrs[6])
	}
	env = append(env, o.sampling...)
	env = append(env, o.env...) // later entries win
	env = append(env, own...)
	logFile, err := os.CreateTemp("", "workshop-load-*.log")
	if err != nil {
		return loadRun{}, err
	}
	defer os.Remove(logFile.Name())
	defer logFile.Close()
	cmd := exec.Command(binary, "all")
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return loadRun{}, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			return err
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			return errors.New("did not stop within 30s of SIGTERM")
		}
	}
	logs := func() string {
		data, _ := os.ReadFile(logFile.Name())
		if len(data) > 4000 {
			data = data[len(data)-4000:]
		}
		return string(data)
	}
	defer func() {
		_ = stop()
		dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = broker.DeleteTopology(dctx, broker.Config{URL: o.amqpURL, Exchange: exchange, Queue: queue})
		_ = app.DeleteLedger(dctx, app.Config{RedisURL: envOr("REDIS_URL", app.DefaultRedisURL),
			Broker: broker.Config{Exchange: exchange, Queue: queue}})
	}()

	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConns: o.clients * 2, MaxIdleConnsPerHost: o.clients * 2, IdleConnTimeout: time.Minute,
	}}
	defer client.CloseIdleConnections()
	for _, a := range addrs[:3] {
		if err := waitHealthy(ctx, client, "http://"+a+"/healthz", exited); err != nil {
			return loadRun{}, fmt.Errorf("%w\nlogs:\n%s", err, logs())
		}
	}
	// Step 07 serves /metrics: scrape it as Prometheus would, so its cost is counted.
	defer scrapeMetrics(client, addrs[3:], scrapeInterval)()
	pid := cmd.Process.Pid
	stockURL := "http://" + addrs[2] + "/stock/" + loadSKU
	sink.takeTraces() // spans of an earlier run are not this one's
	res, sampled, err := drive(ctx, client, "http://"+addrs[0]+"/checkout", o, func() procSample {
		return procSample{cpu: processCPU(pid), reserved: reserved(client, stockURL), machine: sampleMachine()}
	}, func() float64 { return processRSS(pid) }, sink, prof)
	if err != nil {
		return loadRun{}, fmt.Errorf("%w\nlogs:\n%s", err, logs())
	}
	res.RSSMB = processRSS(pid)
	// Every accepted order's trace ends in stock: let stock reserve what is queued, so
	// that a trace cut short by the shutdown does not count as spans dropped.
	caughtUp(ctx, client, stockURL, res.Accepted, 15*time.Second)
	if err := stop(); err != nil {
		return loadRun{}, fmt.Errorf("shutdown: %w\nlogs:\n%s", err, logs())
	}
	// The process flushed its spans when it stopped: what has not arrived now was lost.
	res.SampledOrders = int64(len(sampled))
	res.SpansPerTrace, res.Dropped = dropped(sampled, sink.takeTraces())
	if res.Orders == 0 {
		return loadRun{}, fmt.Errorf("no order succeeded\nlogs:\n%s", logs())
	}
	return res, nil
}

// fileName is a target's name fit for a file name: a variant's colons become '+'
// ("06-native-otel+OTEL_SDK_DISABLED=true-r1"), which go tool pprof would otherwise
// take for a host and port.
func fileName(target string) string { return strings.ReplaceAll(target, ":", "+") }

// scrapeInterval is how often the load scrapes a step's /metrics: the interval of the
// repository's Prometheus configurations (tools/prometheus).
const scrapeInterval = 5 * time.Second

// scrapeMetrics reads http://addr/metrics of each of addrs every interval, in the
// OpenMetrics format (exemplars included) that Prometheus asks for, until the returned
// stop is called. An address that refuses the first scrape (a step without metrics) is
// not asked again.
func scrapeMetrics(client *http.Client, addrs []string, interval time.Duration) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for _, addr := range addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(interval)
			defer tick.Stop()
			for first := true; ; first = false {
				req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/metrics", nil)
				req.Header.Set("Accept", "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5")
				resp, err := client.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				if first && (err != nil || resp.StatusCode != http.StatusOK) {
					return
				}
				select {
				case <-done:
					return
				case <-tick.C:
				}
			}
		}()
	}
	return func() { close(done); wg.Wait() }
}

// loadSKU is the SKU every order asks for.
const loadSKU = "span-sticker"

// drive runs the closed loop: warm-up, then the measured window.
//
// It returns the run and the trace ID of every accepted order whose traceresponse
// header said sampled, warm-up included.
func drive(ctx context.Context, client *http.Client, url string, o loadOptions, sample func() procSample, rss func() float64, sink *sink, prof *profiler) (loadRun, map[string]bool, error) {
	body := []byte(`{"customer_id": "load", "items": [{"sku": "` + loadSKU + `", "quantity": 1}]}`)
	var (
		measuring atomic.Bool
		total     atomic.Int64
		errs      atomic.Int64
		mu        sync.Mutex
		lats      []time.Duration
		firstErr  error
		accepted  atomic.Int64
		sampled   = map[string]bool{}
	)
	lctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for range o.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := make([]time.Duration, 0, 4096)
			defer func() { mu.Lock(); lats = append(lats, mine...); mu.Unlock() }()
			for lctx.Err() == nil {
				start := time.Now()
				status, traceResponse, err := post(lctx, client, url, body)
				d := time.Since(start)
				if lctx.Err() != nil {
					return
				}
				total.Add(1)
				if err != nil || status != http.StatusAccepted {
					if measuring.Load() {
						errs.Add(1)
					}
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("POST /checkout: status %d, %v", status, err)
					}
					mu.Unlock()
					if err != nil {
						time.Sleep(10 * time.Millisecond) // do not spin on a dead system
					}
					continue
				}
				accepted.Add(1)
				if id, ok := sampledTrace(traceResponse); ok {
					mu.Lock()
					sampled[id] = true
					mu.Unlock()
				}
				if measuring.Load() {
					mine = append(mine, d)
				}
			}
		}()
	}
	rssAt := map[string]float64{}
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		next := 0
		for next < len(o.rssAt) && lctx.Err() == nil {
			if total.Load() >= o.rssAt[next] {
				mu.Lock()
				rssAt[strconv.FormatInt(o.rssAt[next], 10)] = rss()
				mu.Unlock()
				next++
				continue
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()

	sleepCtx(ctx, o.warmup)
	before, sinkBefore := sample(), sink.stats()
	start := time.Now()
	measuring.Store(true)
	profiled := func() error { return nil }
	if prof != nil {
		profiled = prof.during(ctx, o.duration)
	}
	sleepCtx(ctx, o.duration)
	measuring.Store(false)
	elapsed := time.Since(start)
	after, sinkAfter := sample(), sink.stats()
	// The profiles end with the window, give or take the second they are rounded to.
	profErr := profiled()
	cancel()
	wg.Wait()
	<-watchDone
	if ctx.Err() != nil {
		return loadRun{}, nil, ctx.Err()
	}
	if profErr != nil {
		return loadRun{}, nil, profErr
	}
	run := loadRun{
		Orders: int64(len(lats)), Errors: errs.Load(), Seconds: elapsed.Seconds(),
		Reserved:     after.reserved - before.reserved,
		SinkRequests: sinkAfter.requests - sinkBefore.requests, SinkBytes: sinkAfter.bytes - sinkBefore.bytes,
		Spans: sinkAfter.spans - sinkBefore.spans, Accepted: accepted.Load(),
	}
	if len(rssAt) > 0 {
		run.RSSAt = rssAt
	}
	run.Rate = float64(run.Orders) / elapsed.Seconds()
	if run.Orders > 0 {
		// Spans export in batches, a few seconds behind: over a window of seconds the
		// ratio is close, and a sampler's effect on it plain.
		run.SpansPerOrder = float64(run.Spans) / float64(run.Orders)
	}
	run.P50, run.P99 = percentileMS(lats, 0.50), percentileMS(lats, 0.99)
	if run.Orders > 0 && after.cpu > 0 {
		run.CPUPerOrder = float64((after.cpu - before.cpu).Microseconds()) / float64(run.Orders)
	}
	run.Budget = budget(after.cpu-before.cpu, before.machine, after.machine, run.Orders, elapsed)
	if run.Errors > 0 && run.Errors*100 > run.Orders {
		return run, nil, fmt.Errorf("%d of %d orders failed in the window; first: %v", run.Errors, run.Orders+run.Errors, firstErr)
	}
	return run, sampled, nil
}

// post places one order; it returns the status and the traceresponse header.
func post(ctx context.Context, client *http.Client, url string, body []byte) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("traceresponse"), nil
}

// sampledTrace reads a traceresponse header (00-TRACEID-SPANID-FLAGS): the trace ID,
// and whether the sampled flag is set.
func sampledTrace(h string) (string, bool) {
	parts := strings.Split(h, "-")
	if len(parts) != 4 || len(parts[1]) != 32 || len(parts[3]) != 2 {
		return "", false
	}
	flags, err := strconv.ParseUint(parts[3], 16, 8)
	if err != nil || flags&1 == 0 {
		return "", false
	}
	return parts[1], true
}

// caughtUp waits, up to limit, until stock has reserved as many as the orders accepted
// (each asks for one loadSKU).
func caughtUp(ctx context.Context, client *http.Client, stockURL string, accepted int64, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for ctx.Err() == nil && time.Now().Before(deadline) {
		if reserved(client, stockURL) >= accepted {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// reserved is how many of loadSKU stock has reserved, or -1 if it does not say.
func reserved(client *http.Client, url string) int64 {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return -1
	}
	for k, v := range fleet.NotSampled() { // stock's API is traced: the run's polls are no orders
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var item struct {
		Reserved int64 `json:"reserved"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&item) != nil {
		return -1
	}
	return item.Reserved
}

func waitHealthy(ctx context.Context, client *http.Client, url string, exited <-chan error) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-exited:
			return fmt.Errorf("the system exited while starting: %v", err)
		default:
		}
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s never answered 200 (last error: %v)", url, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// rawConfirmRate is RabbitMQ's own rate on the system's topology (a durable topic
// exchange, a quorum queue with its dead-letter exchange, persistent mandatory
// messages the size of an order event, a consumer acking each one), with inFlight
// publishers on one confirm-mode channel, each waiting for its own confirm before it
// sends its next message.
func rawConfirmRate(ctx context.Context, url string, inFlight int, warmup, duration time.Duration) (loadRun, error) {
	cfg := broker.Config{URL: url, Exchange: "load-raw-" + randomHex(6), ConnectTimeout: 10 * time.Second}
	cfg.Queue = cfg.Exchange
	// Dial declares the very topology the shop uses.
	b, err := broker.Dial(ctx, cfg, discardLogger())
	if err != nil {
		return loadRun{}, err
	}
	b.Close()
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = broker.DeleteTopology(dctx, cfg)
	}()

	pubConn, err := amqp.Dial(url)
	if err != nil {
		return loadRun{}, err
	}
	defer pubConn.Close()
	conConn, err := amqp.Dial(url)
	if err != nil {
		return loadRun{}, err
	}
	defer conConn.Close()
	cch, err := conConn.Channel()
	if err != nil {
		return loadRun{}, err
	}
	if err := cch.Qos(inFlight*2, 0, false); err != nil {
		return loadRun{}, err
	}
	deliveries, err := cch.Consume(cfg.Queue, "", false, false, false, false, nil)
	if err != nil {
		return loadRun{}, err
	}
	var consumed atomic.Int64
	go func() {
		for d := range deliveries {
			_ = d.Ack(false)
			consumed.Add(1)
		}
	}()
	ch, err := pubConn.Channel()
	if err != nil {
		return loadRun{}, err
	}
	if err := ch.Confirm(false); err != nil {
		return loadRun{}, err
	}
	body := bytes.Repeat([]byte("x"), 220) // about an order event
	var (
		measuring atomic.Bool
		errs      atomic.Int64
		mu        sync.Mutex
		lats      []time.Duration
		firstErr  error
	)
	lctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for range inFlight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			defer func() { mu.Lock(); lats = append(lats, mine...); mu.Unlock() }()
			for lctx.Err() == nil {
				start := time.Now()
				dc, err := ch.PublishWithDeferredConfirmWithContext(lctx, cfg.Exchange, broker.RoutingKey, true, false, amqp.Publishing{
					ContentType: "application/json", DeliveryMode: amqp.Persistent, MessageId: randomHex(16), Body: body,
					Headers: amqp.Table{"x-request-id": randomHex(8)},
				})
				if err == nil {
					var ok bool
					ok, err = dc.WaitContext(lctx)
					if err == nil && !ok {
						err = errors.New("nacked")
					}
				}
				if lctx.Err() != nil {
					return
				}
				if err != nil {
					errs.Add(1)
					mu.Lock()
					firstErr = err
					mu.Unlock()
					return
				}
				if measuring.Load() {
					mine = append(mine, time.Since(start))
				}
			}
		}()
	}
	sleepCtx(ctx, warmup)
	c0, m0 := consumed.Load(), sampleMachine()
	start := time.Now()
	measuring.Store(true)
	sleepCtx(ctx, duration)
	measuring.Store(false)
	elapsed := time.Since(start)
	c1, m1 := consumed.Load(), sampleMachine()
	cancel()
	wg.Wait()
	if firstErr != nil {
		return loadRun{}, fmt.Errorf("raw publish: %w", firstErr)
	}
	run := loadRun{Orders: int64(len(lats)), Errors: errs.Load(), Seconds: elapsed.Seconds(), Reserved: c1 - c0}
	run.Rate = float64(run.Orders) / elapsed.Seconds()
	run.P50, run.P99 = percentileMS(lats, 0.50), percentileMS(lats, 0.99)
	run.Budget = budget(0, m0, m1, run.Orders, elapsed)
	return run, nil
}

func freeLoopbackAddrs(n int) ([]string, error) {
	var addrs []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer ln.Close()
		addrs = append(addrs, ln.Addr().String())
	}
	return addrs, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
