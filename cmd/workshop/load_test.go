package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/ot2otel/workshop/shared/broker"
)

func TestParseStatCPU(t *testing.T) {
	// utime 250 and stime 50 ticks: 3 s. The command name has a space and a ")".
	stat := "1234 (shop all) x) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 100 0 0"
	if got := parseStatCPU(stat); got != 3*time.Second {
		t.Errorf("parseStatCPU = %v, want 3s", got)
	}
	if got := parseStatCPU("garbage"); got != 0 {
		t.Errorf("parseStatCPU(garbage) = %v, want 0", got)
	}
	// Burn CPU until /proc counts a clock tick of it (or give up after 5s).
	for deadline := time.Now().Add(5 * time.Second); processCPU(os.Getpid()) == 0 && time.Now().Before(deadline); {
		for start := time.Now(); time.Since(start) < 10*time.Millisecond; {
		}
	}
	if self := processCPU(os.Getpid()); self <= 0 {
		t.Errorf("processCPU of this test = %v, want some CPU time", self)
	}
	if rss := processRSS(os.Getpid()); rss <= 1 {
		t.Errorf("processRSS of this test = %.1f MB, want more than 1", rss)
	}
}

func TestParseBusy(t *testing.T) {
	// user 100, nice 10, system 50, idle 1000, iowait 40, irq 5, softirq 15, steal 20 ticks:
	// busy is all but idle and iowait, 200 ticks, 2 s.
	if got := parseBusy("cpu  100 10 50 1000 40 5 15 20 0 0"); got != 2*time.Second {
		t.Errorf("parseBusy = %v, want 2s", got)
	}
	for _, bad := range []string{"", "cpu0 1 2 3 4 5 6 7 8", "cpu 1 2 x 4 5 6 7 8", "cpu 1 2 3"} {
		if got := parseBusy(bad); got != 0 {
			t.Errorf("parseBusy(%q) = %v, want 0", bad, got)
		}
	}
	if machineBusy() <= 0 {
		t.Error("machineBusy() = 0: /proc/stat unread")
	}
	before := machineSample{rabbitmq: time.Second, load: time.Second, busy: 10 * time.Second}
	after := machineSample{rabbitmq: 3 * time.Second, redis: time.Second / 2, load: 2 * time.Second, busy: 18 * time.Second}
	got := budget(2*time.Second, before, after, 1000, 4*time.Second)
	want := cpuBudget{System: 2000, RabbitMQ: 2000, Redis: 500, Load: 1000, All: 8000, Busy: 2}
	if got != want {
		t.Errorf("budget = %+v, want %+v", got, want)
	}
	if got := budget(time.Second, before, after, 0, time.Second); got != (cpuBudget{}) {
		t.Errorf("budget of no orders = %+v, want zero", got)
	}
}

func TestPercentileAndMedian(t *testing.T) {
	var lats []time.Duration
	for i := 100; i >= 1; i-- {
		lats = append(lats, time.Duration(i)*time.Millisecond)
	}
	if p50, p99 := percentileMS(lats, 0.5), percentileMS(lats, 0.99); p50 != 50 || p99 != 99 {
		t.Errorf("p50, p99 of 1..100 ms = %v, %v; want 50, 99", p50, p99)
	}
	if percentileMS(nil, 0.5) != 0 {
		t.Error("percentile of nothing is not 0")
	}
	if m := median([]float64{3, 1, 2}); m != 2 {
		t.Errorf("median(3,1,2) = %v", m)
	}
	if m := median([]float64{4, 1, 2, 3}); m != 2.5 {
		t.Errorf("median(4,1,2,3) = %v", m)
	}
}

func TestReportRatios(t *testing.T) {
	runs := []loadRun{
		{Target: rawTarget, Round: 1, Rate: 1000, Seconds: 1},
		{Target: "01-untraced", Round: 1, Rate: 600, P99: 10, CPUPerOrder: 100, Reserved: 600, Seconds: 1},
		{Target: "06-native-otel", Round: 1, Rate: 540, P99: 12, CPUPerOrder: 150, Reserved: 540, Seconds: 1},
		{Target: "01-untraced", Round: 2, Rate: 500, P99: 30, CPUPerOrder: 120, Reserved: 500, Seconds: 1},
		{Target: "06-native-otel", Round: 2, Rate: 460, P99: 14, CPUPerOrder: 170, Reserved: 460, Seconds: 1},
		{Target: "01-untraced", Round: 3, Rate: 400, P99: 20, CPUPerOrder: 110, Reserved: 400, Seconds: 1},
		{Target: "06-native-otel", Round: 3, Rate: 450, P99: 26, CPUPerOrder: 160, Reserved: 450, Seconds: 1,
			SpansPerOrder: 9, Spans: 4050, SinkBytes: 4050 * 300, SampledOrders: 450, SpansPerTrace: 9, Dropped: 7},
	}
	for i := range runs {
		runs[i].Budget = cpuBudget{System: runs[i].CPUPerOrder, RabbitMQ: 50, Load: 20, All: runs[i].CPUPerOrder + 100, Busy: 1.9}
	}
	sums := summarize([]string{rawTarget, "01-untraced", "06-native-otel"}, runs)
	if s := sums[1]; s.Rate != 500 || s.P99 != 20 || s.CPUPerOrder != 110 {
		t.Errorf("01's medians = %+v, want 500 orders/s, p99 20, 110 µs", s)
	}
	var out bytes.Buffer
	writeReport(&out, loadOptions{clients: 16, rounds: 3, command: "workshop load"}, sums, runs)
	// 06: median 460 orders/s, 0.92 of 01's and 0.46 of raw; p99 median 14, 0.70 of 20.
	// 06's budget: system 160 µs (the median), other 100-50-20 = 30, machine 260.
	for _, want := range []string{"06-native-otel       460   0.92    0.46", "p99 vs 01", "0.70", "command:  workshop load", "machine:",
		"06-native-otel     160        50      -         20     30      260        1.90",
		// Spans per order (the median of 0, 0 and 9) and the drops (their sum) in the
		// summary, bytes per span in the rounds, and a line that says spans were lost.
		"spans/order  dropped", "1.00         0.00        0", "1.45         0.00        7", "bytes/span", "   300  ",
		"06-native-otel: 7 spans of its sampled orders never reached the sink"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

// TestLoadRunsAStep runs the load command for a second on step 01, against the real
// RabbitMQ, and reads the files it writes.
func TestLoadRunsAStep(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a step")
	}
	url := envOr("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	err := broker.Reachable(ctx, url)
	cancel()
	if err != nil {
		if os.Getenv("WORKSHOP_REQUIRE_RABBITMQ") == "1" {
			t.Fatalf("RabbitMQ is required (WORKSHOP_REQUIRE_RABBITMQ=1): %v", err)
		}
		t.Skipf("RabbitMQ not reachable: %v", err)
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	w := &workshop{root: root, out: &stdout, errOut: &stdout}
	outFile := filepath.Join(t.TempDir(), "load.txt")
	profDir := t.TempDir()
	o, err := w.parseLoad([]string{"-clients", "4", "-duration", "1s", "-warmup", "300ms", "-rounds", "1",
		"-amqp", url, "-out", outFile, "-rss-at", "10", "-profile", profDir, "01"})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.load(context.Background(), o); err != nil {
		t.Fatalf("load: %v\n%s", err, stdout.String())
	}
	var res struct {
		Summary []loadSummary
		Runs    []loadRun
	}
	data, err := os.ReadFile(strings.TrimSuffix(outFile, ".txt") + ".json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Summary) != 2 || res.Summary[0].Target != rawTarget || res.Summary[1].Target != "01-untraced" {
		t.Fatalf("summary %+v, want the raw rate and 01", res.Summary)
	}
	step := res.Summary[1]
	if step.Rate <= 0 || step.P99 < step.P50 || step.P50 <= 0 || step.CPUPerOrder <= 0 || step.RSSMB <= 0 || step.Errors != 0 {
		t.Errorf("01's figures do not add up: %+v", step)
	}
	if step.Reserved <= 0 {
		t.Errorf("stock reserved nothing during the window: %+v", step)
	}
	if res.Summary[0].Rate <= 0 {
		t.Errorf("no raw confirm rate: %+v", res.Summary[0])
	}
	// The machine's CPU, by process: RabbitMQ runs here in every test run, Redis too
	// (01's ledger), and this process drove the load.
	for _, s := range res.Summary {
		b := s.Budget
		if b.RabbitMQ <= 0 || b.Load <= 0 || b.All < b.System+b.Load || b.Busy <= 0 {
			t.Errorf("%s: CPU per order by process does not add up: %+v", s.Target, b)
		}
	}
	if b := step.Budget; b.System != step.CPUPerOrder || b.Redis <= 0 {
		t.Errorf("01's budget %+v: want the system's CPU (%v µs) and some of Redis's", b, step.CPUPerOrder)
	}
	if _, ok := res.Runs[1].RSSAt["10"]; !ok {
		t.Errorf("no RSS sample after 10 orders: %+v", res.Runs[1])
	}
	// -profile: the step's process served pprof on WORKSHOP_PPROF_ADDR, and both
	// profiles of the window were written.
	for _, f := range []string{"01-untraced-r1.cpu.pprof", "01-untraced-r1.allocs.pprof"} {
		if fi, err := os.Stat(filepath.Join(profDir, f)); err != nil || fi.Size() == 0 {
			t.Errorf("-profile: %s: %v", f, err)
		}
	}
	if text, _ := os.ReadFile(outFile); !strings.Contains(string(text), "01-untraced") {
		t.Errorf("%s:\n%s", outFile, text)
	}
}

// TestLoadSamplingFlag: -sampling sets both worlds' variables; -env still wins, and a
// ratio out of range is refused.
func TestLoadSamplingFlag(t *testing.T) {
	var out bytes.Buffer
	w := &workshop{root: "../..", out: &out, errOut: &out}
	o, err := w.parseLoad([]string{"-sampling", "0.1", "-env", "JAEGER_SAMPLER_TYPE=const", "04"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"OTEL_TRACES_SAMPLER=parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG=0.1",
		"JAEGER_SAMPLER_TYPE=probabilistic", "JAEGER_SAMPLER_PARAM=0.1"}
	if strings.Join(o.sampling, " ") != strings.Join(want, " ") || strings.Join(o.env, " ") != "JAEGER_SAMPLER_TYPE=const" {
		t.Errorf("-sampling 0.1: sampling %q env %q, want %q", o.sampling, o.env, want)
	}
	for _, bad := range []string{"1.5", "-1", "abc", "NaN"} {
		if _, err := w.parseLoad([]string{"-sampling", bad, "04"}); err == nil {
			t.Errorf("-sampling %s accepted", bad)
		}
	}
}

// TestSinkCountsSpans: the sink counts the spans of an OTLP/HTTP export, and none of a
// body it cannot read.
func TestSinkCountsSpans(t *testing.T) {
	s, err := newSink()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(s.url+"/v1/traces"))
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	for range 3 {
		_, span := tp.Tracer("load").Start(context.Background(), "order")
		span.End()
	}
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(s.url+"/api/traces", "application/x-thrift", strings.NewReader("not thrift"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if st := s.stats(); st.spans != 3 || st.requests != 4 {
		t.Errorf("sink stats %+v, want 3 spans in 4 requests", st)
	}
}

// TestDroppedSpans: a sampled order's trace that lacks spans of what most traces have
// counts them as dropped; unsampled traces and traces with all their spans count none.
func TestDroppedSpans(t *testing.T) {
	sampled := map[string]bool{"a": true, "b": true, "c": true, "d": true, "e": true}
	received := map[string]int{"a": 9, "b": 9, "c": 7, "d": 9, "x": 3} // e: none arrived, x: not sampled
	perTrace, lost := dropped(sampled, received)
	if perTrace != 9 || lost != 2+9 {
		t.Errorf("dropped = %d per trace, %d lost; want 9 and 11", perTrace, lost)
	}
	if perTrace, lost := dropped(map[string]bool{}, received); perTrace != 0 || lost != 0 {
		t.Errorf("no sampled order: %d per trace, %d lost; want 0, 0", perTrace, lost)
	}
	for h, want := range map[string]string{
		"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01": "0af7651916cd43dd8448eb211c80319c",
		"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00": "",
		"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-03": "0af7651916cd43dd8448eb211c80319c",
		"": "", "00-short-b7ad6b7169203331-01": "",
	} {
		if id, ok := sampledTrace(h); id != want || ok != (want != "") {
			t.Errorf("sampledTrace(%q) = %q, %v; want %q", h, id, ok, want)
		}
	}
}

// TestLoadVariants: a step named with variables after a colon is a target of its own,
// built once with the plain step, and its variables reach only its process; a malformed
// or repeated variant is refused.
func TestLoadVariants(t *testing.T) {
	var out bytes.Buffer
	w := &workshop{root: "../..", out: &out, errOut: &out}
	o, err := w.parseLoad([]string{"-sampling", "0", "01", "06", "6:OTEL_SDK_DISABLED=true",
		"06:OTEL_PROPAGATORS=none:OTEL_TRACES_EXPORTER=none"})
	if err != nil {
		t.Fatal(err)
	}
	var built []string
	for _, s := range o.steps {
		built = append(built, s.Name)
	}
	if strings.Join(built, " ") != "01-untraced 06-native-otel" {
		t.Errorf("built %q, want 01 and 06 once each", built)
	}
	want := []loadTarget{
		{name: "01-untraced"}, {name: "06-native-otel"},
		{name: "06-native-otel:OTEL_SDK_DISABLED=true", env: []string{"OTEL_SDK_DISABLED=true"}},
		{name: "06-native-otel:OTEL_PROPAGATORS=none:OTEL_TRACES_EXPORTER=none",
			env: []string{"OTEL_PROPAGATORS=none", "OTEL_TRACES_EXPORTER=none"}},
	}
	if len(o.targets) != len(want) {
		t.Fatalf("targets %+v, want %+v", o.targets, want)
	}
	for i, tg := range o.targets {
		if tg.name != want[i].name || !slices.Equal(tg.env, want[i].env) || !strings.HasPrefix(tg.name, tg.step.Name) {
			t.Errorf("target %d = %+v, want %+v", i, tg, want[i])
		}
	}
	if got := fileName(o.targets[2].name + "-r1"); got != "06-native-otel+OTEL_SDK_DISABLED=true-r1" {
		t.Errorf("profile name %q", got)
	}
	for _, bad := range [][]string{{"06:"}, {"06:=x"}, {"06:NOEQUALS"}, {"06:A=1", "06:A=1"}, {"06", "6"}, {"99:A=1"}} {
		if _, err := w.parseLoad(bad); err == nil {
			t.Errorf("load %q accepted", bad)
		}
	}
}
