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
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/ot2otel/workshop/shared/app"
	"github.com/ot2otel/workshop/shared/broker"
	"github.com/ot2otel/workshop/shared/fleet"
	"github.com/ot2otel/workshop/shared/tracecheck/jaegerspans"
	"github.com/ot2otel/workshop/shared/tracecheck/otelspans"
)

// rawTarget is the name the raw RabbitMQ measurement goes by among the steps.
const rawTarget = "rabbitmq-raw"

// loadOptions is what `workshop load` was asked to do.
type loadOptions struct {
	src      string // the tree whose solutions are built (the repository by default)
	steps    []step
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
	command  string   // the command line, for the results file
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
}

const loadUsage = `usage: workshop load [flags] [NN ...]

Runs each named step's "all" (default: every step) as a process of its own against the
real RabbitMQ, with spans exported to a sink in this process, and drives it with a closed
loop of clients placing orders. Rounds interleave the steps, and RabbitMQ's own
publish-with-confirm rate on the same topology, so that a noisy machine treats them alike.`

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
	var err error
	src := &workshop{root: o.src}
	if o.steps, err = src.stepsArg(fs.Args()); err != nil {
		return o, err
	}
	o.command = "go run ./cmd/workshop load " + strings.Join(args, " ")
	return o, nil
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
	for _, s := range o.steps {
		targets = append(targets, s.Name)
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
				run, err = runStep(ctx, binaries[target], o, sink)
			}
			if err != nil {
				return fmt.Errorf("round %d, %s: %w", round, target, err)
			}
			run.Target, run.Round = target, round
			runs = append(runs, run)
			fmt.Fprintf(w.out, "round %d  %-26s %8.0f orders/s  %5.2f spans/order  p50 %6.2f ms  p99 %6.2f ms  cpu %6.0f µs/order  rss %5.1f MB  reserved %d/%d  errors %d\n",
				round, target, run.Rate, run.SpansPerOrder, run.P50, run.P99, run.CPUPerOrder, run.RSSMB, run.Reserved, run.Orders, run.Errors)
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
func runStep(ctx context.Context, binary string, o loadOptions, sink *sink) (loadRun, error) {
	// The services' three addresses, and the three of their /metrics (step 07).
	addrs, err := freeLoopbackAddrs(6)
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
	env = append(env, o.sampling...)
	env = append(env, o.env...) // later entries win
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
	pid := cmd.Process.Pid
	stockURL := "http://" + addrs[2] + "/stock/" + loadSKU
	res, err := drive(ctx, client, "http://"+addrs[0]+"/checkout", o, func() procSample {
		return procSample{cpu: processCPU(pid), reserved: reserved(client, stockURL), machine: sampleMachine()}
	}, func() float64 { return processRSS(pid) }, sink)
	if err != nil {
		return loadRun{}, fmt.Errorf("%w\nlogs:\n%s", err, logs())
	}
	res.RSSMB = processRSS(pid)
	if err := stop(); err != nil {
		return loadRun{}, fmt.Errorf("shutdown: %w\nlogs:\n%s", err, logs())
	}
	if res.Orders == 0 {
		return loadRun{}, fmt.Errorf("no order succeeded\nlogs:\n%s", logs())
	}
	return res, nil
}

// loadSKU is the SKU every order asks for.
const loadSKU = "span-sticker"

// procSample is what the run looks at in the system at the edges of the window.
type procSample struct {
	cpu      time.Duration
	reserved int64
	machine  machineSample
}

// machineSample is the CPU time used so far by the processes that share the machine
// with the system under load, and by the machine as a whole.
type machineSample struct {
	rabbitmq, redis, load, busy time.Duration
}

// sampleMachine reads the CPU of RabbitMQ (beam.smp) and Redis when they run on this
// machine (0 when they run elsewhere, in a container of another host, say), of this
// process (the load's clients and the span sink), and of every CPU of the machine.
func sampleMachine() machineSample {
	m := machineSample{load: processCPU(os.Getpid()), busy: machineBusy()}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err != nil {
			continue
		}
		switch strings.TrimSpace(string(comm)) {
		case "beam.smp":
			m.rabbitmq += processCPU(pid)
		case "redis-server":
			m.redis += processCPU(pid)
		}
	}
	return m
}

// machineBusy is the CPU time every CPU of the machine has spent other than idle or
// waiting for I/O, from /proc/stat.
func machineBusy() time.Duration {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(data), "\n")
	return parseBusy(line)
}

// parseBusy reads /proc/stat's "cpu" line: user, nice, system, idle, iowait, irq,
// softirq and steal, in USER_HZ; busy is all but idle and iowait (steal is included:
// it is CPU the machine wanted and its host gave to someone else).
func parseBusy(line string) time.Duration {
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0
	}
	var busy int64
	for i, v := range f[1:9] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0
		}
		if i != 3 && i != 4 {
			busy += n
		}
	}
	return time.Duration(busy) * time.Second / clockTick
}

// cpuBudget is CPU time per order, in microseconds, by process: the system under load
// (the step's all), RabbitMQ, Redis, the load command itself (clients and span sink),
// and the whole machine (All; what is not in the others is the kernel's work for them
// and anything else running). Busy is how many of the machine's cores were busy.
type cpuBudget struct {
	System   float64 `json:"system"`
	RabbitMQ float64 `json:"rabbitmq"`
	Redis    float64 `json:"redis"`
	Load     float64 `json:"load_and_sink"`
	All      float64 `json:"machine"`
	Busy     float64 `json:"busy_cores"`
}

func (b cpuBudget) fields() [6]float64 {
	return [6]float64{b.System, b.RabbitMQ, b.Redis, b.Load, b.All, b.Busy}
}

// budget divides the CPU used between two samples by the orders done between them.
func budget(system time.Duration, before, after machineSample, orders int64, elapsed time.Duration) cpuBudget {
	if orders <= 0 || elapsed <= 0 {
		return cpuBudget{}
	}
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(orders) }
	busy := after.busy - before.busy
	return cpuBudget{
		System: per(system), RabbitMQ: per(after.rabbitmq - before.rabbitmq), Redis: per(after.redis - before.redis),
		Load: per(after.load - before.load), All: per(busy), Busy: busy.Seconds() / elapsed.Seconds(),
	}
}

// drive runs the closed loop: warm-up, then the measured window.
func drive(ctx context.Context, client *http.Client, url string, o loadOptions, sample func() procSample, rss func() float64, sink *sink) (loadRun, error) {
	body := []byte(`{"customer_id": "load", "items": [{"sku": "` + loadSKU + `", "quantity": 1}]}`)
	var (
		measuring atomic.Bool
		total     atomic.Int64
		errs      atomic.Int64
		mu        sync.Mutex
		lats      []time.Duration
		firstErr  error
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
				status, err := post(lctx, client, url, body)
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
	sleepCtx(ctx, o.duration)
	measuring.Store(false)
	elapsed := time.Since(start)
	after, sinkAfter := sample(), sink.stats()
	cancel()
	wg.Wait()
	<-watchDone
	if ctx.Err() != nil {
		return loadRun{}, ctx.Err()
	}
	run := loadRun{
		Orders: int64(len(lats)), Errors: errs.Load(), Seconds: elapsed.Seconds(),
		Reserved:     after.reserved - before.reserved,
		SinkRequests: sinkAfter.requests - sinkBefore.requests, SinkBytes: sinkAfter.bytes - sinkBefore.bytes,
		Spans: sinkAfter.spans - sinkBefore.spans,
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
		return run, fmt.Errorf("%d of %d orders failed in the window; first: %v", run.Errors, run.Orders+run.Errors, firstErr)
	}
	return run, nil
}

func post(ctx context.Context, client *http.Client, url string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
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

// sink is an HTTP server that takes span exports (OTLP/HTTP and jaeger-client's
// thrift over HTTP), counts them and throws them away: the load's spans go somewhere
// real over the network, and decoding them costs the system under test nothing.
type sink struct {
	url      string
	srv      *http.Server
	requests atomic.Int64
	bytes    atomic.Int64
	spans    atomic.Int64 // spans in the exports, counted, not kept
}

type sinkStats struct{ requests, bytes, spans int64 }

func newSink() (*sink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &sink{url: "http://" + ln.Addr().String()}
	s.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.requests.Add(1)
		s.bytes.Add(int64(len(body)))
		// Counting decodes the batch: a cost of the load process, not of the system
		// under test. A body that does not decode counts no span.
		if strings.HasPrefix(r.URL.Path, "/v1/") {
			if n, err := otelspans.CountSpans(r.Header.Get("Content-Type"), body); err == nil {
				s.spans.Add(int64(n))
			}
		} else if n, err := jaegerspans.CountSpans(r.Context(), body); err == nil {
			s.spans.Add(int64(n))
		}
		if strings.HasPrefix(r.URL.Path, "/v1/") {
			// An empty ExportTraceServiceResponse: everything accepted.
			w.Header().Set("Content-Type", "application/x-protobuf")
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}), ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(ln)
	return s, nil
}

func (s *sink) stats() sinkStats { return sinkStats{s.requests.Load(), s.bytes.Load(), s.spans.Load()} }
func (s *sink) Close() error     { return s.srv.Close() }

// summarize takes each target's median over the rounds.
func summarize(targets []string, runs []loadRun) []loadSummary {
	var out []loadSummary
	for _, t := range targets {
		var rate, p50, p99, cpu, rss, res []float64
		var b [6][]float64 // the budget's fields, in order
		at := map[string][]float64{}
		s := loadSummary{Target: t}
		for _, r := range runs {
			if r.Target != t {
				continue
			}
			rate, p50, p99 = append(rate, r.Rate), append(p50, r.P50), append(p99, r.P99)
			cpu, rss, res = append(cpu, r.CPUPerOrder), append(rss, r.RSSMB), append(res, float64(r.Reserved)/r.Seconds)
			for k, v := range r.RSSAt {
				at[k] = append(at[k], v)
			}
			s.Errors += r.Errors
			for i, v := range r.Budget.fields() {
				b[i] = append(b[i], v)
			}
		}
		s.Budget = cpuBudget{median(b[0]), median(b[1]), median(b[2]), median(b[3]), median(b[4]), median(b[5])}
		s.Rate, s.P50, s.P99, s.CPUPerOrder, s.RSSMB, s.Reserved = median(rate), median(p50), median(p99), median(cpu), median(rss), median(res)
		if len(at) > 0 {
			s.RSSAt = map[string]float64{}
			for k, v := range at {
				s.RSSAt[k] = median(v)
			}
		}
		out = append(out, s)
	}
	return out
}

// writeReport writes the summary table, with what it was measured on and how.
func writeReport(w io.Writer, o loadOptions, sums []loadSummary, runs []loadRun) {
	fmt.Fprintf(w, "# workshop load: what an order costs, step by step\n\n")
	fmt.Fprintf(w, "date:     %s\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(w, "machine:  %s\n", machine())
	fmt.Fprintf(w, "commit:   %s\n", gitCommit(o.src))
	fmt.Fprintf(w, "command:  %s\n", o.command)
	if len(o.sampling) > 0 {
		fmt.Fprintf(w, "sampling: %s\n", strings.Join(o.sampling, " "))
	}
	if len(o.env) > 0 {
		fmt.Fprintf(w, "env:      %s\n", strings.Join(o.env, " "))
	}
	fmt.Fprintf(w, "load:     %d clients, closed loop, %s warm-up + %s measured, %d interleaved rounds; medians over the rounds\n",
		o.clients, o.warmup, o.duration, o.rounds)
	fmt.Fprintf(w, "system:   each step's `all` as a process of its own, real RabbitMQ, spans exported over HTTP to a discarding sink\n")
	fmt.Fprintf(w, "%s:  %d publishers on one confirm channel, each waiting for its own confirm, same topology, a consumer acking\n\n", rawTarget, o.clients)

	var base, raw *loadSummary
	for i := range sums {
		switch {
		case sums[i].Target == rawTarget:
			raw = &sums[i]
		case base == nil:
			base = &sums[i]
		}
	}
	// The summary is narrow enough for the talk's cost slide, which quotes it; RSS,
	// reserved orders and errors are in the rounds below.
	vs := "vs first"
	if base != nil {
		vs = "vs " + strings.SplitN(base.Target, "-", 2)[0]
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	width := len("target")
	for _, s := range sums {
		width = max(width, len(s.Target))
	}
	fmt.Fprintf(tw, "%-*s\torders/s\t%s\tof raw\tp50 ms\tp99 ms\tp99 %s\tCPU µs\tCPU %s\t\n", width, "target", vs, vs, vs)
	ratio := func(a, b float64) string {
		if b == 0 || a == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f", a/b)
	}
	for _, s := range sums {
		vsRate, vsP99, vsCPU, ofRaw := "-", "-", "-", "-"
		if s.Target != rawTarget && base != nil {
			vsRate, vsP99, vsCPU = ratio(s.Rate, base.Rate), ratio(s.P99, base.P99), ratio(s.CPUPerOrder, base.CPUPerOrder)
		}
		if raw != nil {
			ofRaw = ratio(s.Rate, raw.Rate)
		}
		cpu := "-"
		if s.CPUPerOrder > 0 {
			cpu = fmt.Sprintf("%.0f", s.CPUPerOrder)
		}
		fmt.Fprintf(tw, "%-*s\t%.0f\t%s\t%s\t%.2f\t%.2f\t%s\t%s\t%s\t\n",
			width, s.Target, s.Rate, vsRate, ofRaw, s.P50, s.P99, vsP99, cpu, vsCPU)
	}
	tw.Flush()
	for _, s := range sums {
		if s.Errors > 0 {
			fmt.Fprintf(w, "\n%s: %d failed orders in its windows (see the rounds)\n", s.Target, s.Errors)
		}
		// Orders accepted faster than stock reserves them pile up in the queue: the
		// rate is then the front's, not one the whole system keeps up.
		if s.Target != rawTarget && s.Rate > 0 && s.Reserved < 0.95*s.Rate {
			fmt.Fprintf(w, "\n%s: stock reserved %.0f orders/s, %.0f %% of those accepted: it fell behind\n",
				s.Target, s.Reserved, 100*s.Reserved/s.Rate)
		}
	}
	writeBudget(w, sums, width)
	for _, s := range sums {
		if len(s.RSSAt) == 0 {
			continue
		}
		keys := make([]string, 0, len(s.RSSAt))
		for k := range s.RSSAt {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { a, _ := strconv.Atoi(keys[i]); b, _ := strconv.Atoi(keys[j]); return a < b })
		var parts []string
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%.1f MB after %s orders", s.RSSAt[k], k))
		}
		fmt.Fprintf(w, "\nRSS of %s: %s\n", s.Target, strings.Join(parts, ", "))
	}
	fmt.Fprintf(w, "\nper round:\n")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "round\ttarget\torders/s\tspans/order\tp50 ms\tp99 ms\tCPU µs/order\tRSS MB\treserved\terrors\tspan exports\t")
	for _, r := range runs {
		fmt.Fprintf(tw, "%d\t%s\t%.0f\t%.2f\t%.2f\t%.2f\t%.0f\t%.1f\t%d/%d\t%d\t%d\t\n", r.Round, r.Target, r.Rate, r.SpansPerOrder, r.P50, r.P99, r.CPUPerOrder, r.RSSMB, r.Reserved, r.Orders, r.Errors, r.SinkRequests)
	}
	tw.Flush()
}

// writeBudget says where the machine's CPU went, per order: the system's share is what
// tracing can change, the rest (RabbitMQ, Redis, the load itself, the kernel's work for
// them) is the same for every step.
func writeBudget(w io.Writer, sums []loadSummary, width int) {
	fmt.Fprintf(w, "\nCPU µs per order, by process (medians); other: the kernel's and anything else's, 0 when the\nsamples, taken a moment apart, leave less:\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%-*s\tsystem\trabbitmq\tredis\tload+sink\tother\tmachine\tbusy cores\t\n", width, "target")
	num := func(v float64) string {
		if v <= 0 {
			return "-"
		}
		return fmt.Sprintf("%.0f", v)
	}
	for _, s := range sums {
		b := s.Budget
		if b.All <= 0 {
			continue
		}
		other := max(0, b.All-b.System-b.RabbitMQ-b.Redis-b.Load)
		fmt.Fprintf(tw, "%-*s\t%s\t%s\t%s\t%s\t%.0f\t%s\t%.2f\t\n", width, s.Target,
			num(b.System), num(b.RabbitMQ), num(b.Redis), num(b.Load), other, num(b.All), b.Busy)
	}
	tw.Flush()
}

// percentileMS is the q-quantile of lats in milliseconds (nearest rank); it sorts lats.
func percentileMS(lats []time.Duration, q float64) float64 {
	if len(lats) == 0 {
		return 0
	}
	slices.Sort(lats)
	i := int(math.Ceil(q*float64(len(lats)))) - 1
	i = max(0, min(i, len(lats)-1))
	return float64(lats[i].Microseconds()) / 1000
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// clockTick is USER_HZ, the unit of /proc/PID/stat's CPU times: 100 on Linux.
const clockTick = 100

// processCPU is the user+system CPU time pid has used, 0 if /proc does not say.
func processCPU(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	return parseStatCPU(string(data))
}

// parseStatCPU reads utime and stime (fields 14 and 15) from a /proc/PID/stat line.
// The command name, field 2, is in parentheses and may contain spaces.
func parseStatCPU(stat string) time.Duration {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(stat[i+1:]) // from field 3
	if len(f) < 13 {
		return 0
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return time.Duration(u+s) * time.Second / clockTick
}

// processRSS is pid's resident set in MB, 0 if /proc does not say.
func processRSS(pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// machine describes where the load ran.
func machine() string {
	model := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	host, _ := os.Hostname()
	return fmt.Sprintf("%s, %d cores (%s), %s/%s, %s, host %s", model, runtime.NumCPU(), "shared", runtime.GOOS, runtime.GOARCH, runtime.Version(), host)
}

func gitCommit(dir string) string {
	out, err := exec.Command("git", "-C", dir, "describe", "--always", "--dirty").Output()
	if err != nil {
		if data, err := os.ReadFile(filepath.Join(dir, "COMMIT")); err == nil {
			return strings.TrimSpace(string(data))
		}
		return "unknown"
	}
	return strings.TrimSpace(string(out))
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
