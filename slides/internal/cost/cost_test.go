package cost

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The fixtures in testdata/ are `workshop load` JSON files cut to what the generator reads,
// with figures chosen for round ratios:
//
//	three: load.json (-sampling 1, with spans per order and spans dropped), load-sampled.json
//	       (-sampling 0.1) and load-unsampled.json (-sampling 0), one machine, steps 01 03 04 06 07
//	mixed: the same, but load-unsampled.json from another machine
//	two:   load.json and load-sampled.json as workshop load wrote them before it counted
//	       spans (no -sampling: the ratio is in an -env), steps 01 to 06, no 07
//	one:   load.json alone, 01 03 04 06, 12 spans dropped

func generate(t *testing.T, dir string) (chart, text string) {
	t.Helper()
	files, err := Generate(filepath.Join("testdata", dir))
	if err != nil {
		t.Fatal(err)
	}
	return string(files[ChartFile]), string(files[TextFile])
}

func contains(t *testing.T, what, s string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(s, w) {
			t.Errorf("the %s has no %q:\n%s", what, w, s)
		}
	}
}

func lacks(t *testing.T, what, s string, unwanted ...string) {
	t.Helper()
	for _, w := range unwanted {
		if strings.Contains(s, w) {
			t.Errorf("the %s has %q:\n%s", what, w, s)
		}
	}
}

// bars counts the chart's bars of each run's colour.
func bars(chart string) (n [3]int) {
	for i, c := range colours {
		for _, line := range strings.Split(chart, "\n") {
			if strings.HasPrefix(line, "<rect x=") && strings.Contains(line, "fill='"+c+"'") && !strings.Contains(line, "width='22'") {
				n[i]++
			}
		}
	}
	return n
}

// lines are the sentences under the chart.
func lines(text string) []string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, "<li>") {
			out = append(out, l)
		}
	}
	return out
}

// Three runs from one machine: three bars a step in µs, 07 among them, and the four
// sentences the slide needs, each from the run it names.
func TestThreeRuns(t *testing.T) {
	chart, text := generate(t, "three")
	contains(t, "chart", chart, "µs of CPU per order", "every order sampled", "1 in 10 sampled", "nothing sampled",
		"measured on AMD EPYC 7B13, 2026-12-05", ">708<", ">500<", ">430<", ">412<", ">07<", ">logs,<",
		"load.json, benchmarks/load-sampled.json and benchmarks/load-unsampled.json")
	lacks(t, "chart", chart, "machines", ">rabbitmq-raw<", ">raw<")
	if n := bars(chart); n != [3]int{5, 5, 5} {
		t.Errorf("the chart has %v bars of each run, want 5 each:\n%s", n, chart)
	}
	want := []string{
		"<li>Every order sampled: 06 <b>1.15×</b> 03's CPU per order, the bridge (04) <b>1.10×</b></li>",
		"<li>1 in 10 sampled: 06 <b>1.20×</b>, 03 <b>1.10×</b> 01's; nothing sampled: 06 <b>1.03×</b> 01's</li>",
		"<li>Metrics and log correlation (07): <b>1.10×</b> 06's, every order sampled</li>",
		"<li>Every order sampled, 06 exports <b>9.0</b> spans per order; <b>0</b> dropped in the run</li>",
	}
	if got := lines(text); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("the sentences are\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A run from another machine turns every bar into a ratio to its own run's 01, and the
// chart says so; the sentences, ratios within a run, stay as they are.
func TestMixedMachinesCompareAsRatios(t *testing.T) {
	chart, text := generate(t, "mixed")
	contains(t, "chart", chart, "× 01&#39;s in the same run (two machines)",
		"every order sampled (AMD EPYC 7B13, 2026-12-05)", "nothing sampled (Intel Xeon, 2026-12-03)",
		">1.77<", ">1.25<", ">1.03<", ">1.00<")
	lacks(t, "chart", chart, ">708<", ">412<", "measured on")
	if n := bars(chart); n != [3]int{5, 5, 5} {
		t.Errorf("the chart has %v bars of each run, want 5 each", n)
	}
	if _, three := generate(t, "three"); text != three {
		t.Errorf("another machine changed the sentences:\n%s", text)
	}
}

// Two runs as workshop load wrote them before it counted spans: the sampling ratio read
// from -env, steps the sampled run lacks drawn with one bar, no 07, no spans.
func TestTwoRunsNoStep07(t *testing.T) {
	chart, text := generate(t, "two")
	contains(t, "chart", chart, "every order sampled", "1 in 10 sampled", ">480<", ">620<", ">05<", ">mixed<")
	lacks(t, "chart", chart, "nothing sampled", ">07<", "machines")
	if n := bars(chart); n != [3]int{6, 4, 0} {
		t.Errorf("the chart has %v bars of each run, want 6, 4 and 0", n)
	}
	contains(t, "text", text, "06 <b>1.15×</b> 03's", "the bridge (04) <b>1.10×</b>", "1 in 10 sampled: 06 <b>1.20×</b>, 03 <b>1.10×</b> 01's</li>")
	lacks(t, "text", text, "07", "spans", "nothing sampled")
	if n := len(lines(text)); n != 2 {
		t.Errorf("%d sentences, want 2:\n%s", n, text)
	}
}

// One run: one bar a step, the sentences about it alone, and the dropped spans it counted.
func TestOneRun(t *testing.T) {
	chart, text := generate(t, "one")
	if n := bars(chart); n != [3]int{4, 0, 0} {
		t.Errorf("the chart has %v bars of each run, want 4, 0 and 0", n)
	}
	lacks(t, "chart", chart, "1 in 10", "nothing sampled", ">07<")
	contains(t, "text", text, "Every order sampled: 06 <b>1.15×</b>", "06 exports <b>9.0</b> spans per order; <b>12</b> dropped")
	lacks(t, "text", text, "1 in 10", "nothing sampled", "(07)")
}

// Every figure comes from the files: change one, and the chart and the sentences follow.
func TestGenerateFollowsTheFigures(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{FullJSON, SampledJSON, UnsampledJSON, HopsText} {
		data, err := os.ReadFile(filepath.Join("testdata", "three", name))
		if err != nil {
			t.Fatal(err)
		}
		if name == FullJSON {
			var run map[string]any
			json.Unmarshal(data, &run)
			for _, s := range run["summary"].([]any) {
				if s := s.(map[string]any); s["target"] == "07-logs-and-metrics" {
					s["cpu_us_per_order"] = 966.0
				}
			}
			data, _ = json.Marshal(run)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	files, err := Generate(dir)
	if err != nil {
		t.Fatal(err)
	}
	contains(t, "chart", string(files[ChartFile]), ">966<")
	contains(t, "text", string(files[TextFile]), "(07): <b>1.50×</b> 06's")
	if h := string(files[HopsFile]); !strings.Contains(h, "<b>2.4×</b> the time and <b>3.3×</b>") || !strings.Contains(h, "no cheaper than") {
		t.Errorf("the hop text does not follow hops.txt:\n%s", h)
	}
}

// The ratio a run sampled is read from its command: -env wins, as in workshop load.
func TestRate(t *testing.T) {
	for cmd, want := range map[string]string{
		"go run ./cmd/workshop load 01 06":                                        "every order",
		"go run ./cmd/workshop load -sampling 1 01":                               "every order",
		"go run ./cmd/workshop load -sampling 0 01":                               "nothing",
		"go run ./cmd/workshop load -sampling=0.25 01":                            "1 in 4",
		"go run ./cmd/workshop load -sampling 0.3 01":                             "30 %",
		"go run ./cmd/workshop load -sampling 1 -env OTEL_TRACES_SAMPLER_ARG=0.1": "1 in 10",
	} {
		if got := (&Run{Command: cmd}).rate(); got != want {
			t.Errorf("%s: rate %q, want %q", cmd, got, want)
		}
	}
}

// A run without the untraced baseline, or without figures, is an error, not a chart.
func TestBadRuns(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	hops, _ := os.ReadFile(filepath.Join("testdata", "one", HopsText))
	write(HopsText, string(hops))
	write(FullJSON, `{"summary": [{"target": "06-native-otel", "cpu_us_per_order": 700}]}`)
	if _, err := Generate(dir); err == nil || !strings.Contains(err.Error(), "01-untraced") {
		t.Errorf("a run without 01-untraced: %v", err)
	}
	write(FullJSON, `{"summary": [{"target": "01-untraced", "cpu_us_per_order": 400}]}`)
	write(UnsampledJSON, "{")
	if _, err := Generate(dir); err == nil || !strings.Contains(err.Error(), UnsampledJSON) {
		t.Errorf("a broken load-unsampled.json made a chart: %v", err)
	}
	os.Remove(filepath.Join(dir, UnsampledJSON))
	os.Remove(filepath.Join(dir, FullJSON))
	if _, err := Generate(dir); err == nil || !strings.Contains(err.Error(), "workshop load") {
		t.Errorf("no load.json: %v", err)
	}
}
