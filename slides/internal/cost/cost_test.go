package cost

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeRun writes a load JSON file with the given CPU per order, by target.
func writeRun(t *testing.T, dir, name, machine, command string, cpu map[string]float64, order []string) {
	t.Helper()
	var summary []map[string]any
	for _, target := range order {
		s := map[string]any{"target": target, "orders_per_second": 1000.0}
		if v, ok := cpu[target]; ok {
			s["cpu_us_per_order"] = v
		}
		summary = append(summary, s)
	}
	data, _ := json.Marshal(map[string]any{"machine": machine, "date": "2026-12-05T10:00:00Z", "command": command, "summary": summary})
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

const hops = `tracer                           ns/hop   B/hop  allocs/hop  time vs native  allocs vs native
jaeger-client-go                   3703    3001          38            2.2x              2.5x
OTel SDK, OpenTracing bridge       4031    4136          50            2.4x              3.3x
OTel SDK, native API               1680    1712          15            1.0x              1.0x
`

func fixture(t *testing.T, sampledMachine string) string {
	dir := t.TempDir()
	order := []string{"rabbitmq-raw", "01-untraced", "03-traced-rabbit-broker", "06-native-otel"}
	writeRun(t, dir, FullJSON, "AMD EPYC, 2 cores", "go run ./cmd/workshop load",
		map[string]float64{"01-untraced": 400, "03-traced-rabbit-broker": 560, "06-native-otel": 700}, order)
	if sampledMachine != "" {
		writeRun(t, dir, SampledJSON, sampledMachine, "go run ./cmd/workshop load -env OTEL_TRACES_SAMPLER_ARG=0.1 01 06",
			map[string]float64{"01-untraced": 400, "06-native-otel": 500}, []string{"01-untraced", "06-native-otel"})
	}
	if err := os.WriteFile(filepath.Join(dir, HopsText), []byte(hops), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// The chart and the sentences follow the figures: change one, and they say so.
func TestGenerateFollowsTheFigures(t *testing.T) {
	files, err := Generate(fixture(t, "AMD EPYC, 2 cores"))
	if err != nil {
		t.Fatal(err)
	}
	chart, text := string(files[ChartFile]), string(files[TextFile])
	for _, want := range []string{"µs of CPU per order", ">700<", ">560<", ">500<", "every order traced", "1 in 10 traced", ">native<"} {
		if !strings.Contains(chart, want) {
			t.Errorf("the chart has no %q:\n%s", want, chart)
		}
	}
	if strings.Contains(chart, ">rabbitmq-raw<") || strings.Contains(chart, ">raw<") {
		t.Errorf("the chart draws rabbitmq-raw, which has no CPU per order")
	}
	for _, want := range []string{"03 <b>1.40×</b> · 06 <b>1.75×</b>", "(06, native) adds <b>75 %</b>", "at 1 in 10, <b>25 %</b>"} {
		if !strings.Contains(text, want) {
			t.Errorf("the text has no %q:\n%s", want, text)
		}
	}
	if strings.Contains(chart, "two machines") {
		t.Errorf("one machine, and the chart says two:\n%s", chart)
	}
	if h := string(files[HopsFile]); !strings.Contains(h, "<b>2.4×</b> the time and <b>3.3×</b>") || !strings.Contains(h, "no cheaper than") {
		t.Errorf("the hop text does not follow hops.txt:\n%s", h)
	}
}

// Runs from two machines compare as ratios to their own untraced step, and say so.
func TestTwoMachinesCompareAsRatios(t *testing.T) {
	files, err := Generate(fixture(t, "Intel Xeon, 2 cores"))
	if err != nil {
		t.Fatal(err)
	}
	chart, text := string(files[ChartFile]), string(files[TextFile])
	for _, want := range []string{"× 01&#39;s in the same run", ">1.75<", ">1.25<", ">1.00<"} {
		if !strings.Contains(chart, want) {
			t.Errorf("the chart has no %q:\n%s", want, chart)
		}
	}
	if strings.Contains(chart, ">700<") {
		t.Errorf("two machines, and the chart compares their µs:\n%s", chart)
	}
	if !strings.Contains(chart, "(two machines)") {
		t.Errorf("the chart does not say the runs are from two machines:\n%s", chart)
	}
	if !strings.Contains(text, "06 <b>1.75×</b>") || !strings.Contains(text, "at 1 in 10, <b>25 %</b>") {
		t.Errorf("the text does not give each run's ratios:\n%s", text)
	}
}

// Without the sampled run, one series and no sentence about sampling.
func TestWithoutTheSampledRun(t *testing.T) {
	files, err := Generate(fixture(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	if c := string(files[ChartFile]); strings.Contains(c, "1 in 10") || strings.Count(c, "<rect x=") != 1+3 {
		t.Errorf("without load-sampled.json the chart should have one legend box and three bars:\n%s", c)
	}
	if s := string(files[TextFile]); strings.Contains(s, "1 in 10") {
		t.Errorf("without load-sampled.json the text speaks of sampling:\n%s", s)
	}
}

// A run without the untraced baseline, or without figures, is an error, not a chart.
func TestBadRuns(t *testing.T) {
	dir := fixture(t, "")
	writeRun(t, dir, FullJSON, "m", "c", map[string]float64{"06-native-otel": 700}, []string{"06-native-otel"})
	if _, err := Generate(dir); err == nil || !strings.Contains(err.Error(), "01-untraced") {
		t.Errorf("a run without 01-untraced: %v", err)
	}
	os.WriteFile(filepath.Join(dir, FullJSON), []byte("{"), 0o644)
	if _, err := Generate(dir); err == nil {
		t.Errorf("a broken JSON file made a chart")
	}
	os.Remove(filepath.Join(dir, FullJSON))
	if _, err := Generate(dir); err == nil || !strings.Contains(err.Error(), "workshop load") {
		t.Errorf("no load.json: %v", err)
	}
}
