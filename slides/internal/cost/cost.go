// Package cost turns the figures the workshop measured into what the talk shows: the
// chart of CPU per order, step by step, from `workshop load`'s JSON (benchmarks/load.json,
// every order traced, and benchmarks/load-sampled.json, 1 trace in 10, when it exists),
// the sentences the cost slides say about it, and those about one traced hop, from
// benchmarks/hops.txt. Nothing on the cost slides is typed: cmd/cost-chart writes these
// files into img/, and cost_test.go fails when a committed file differs from what the
// committed figures make.
package cost

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// The files Generate makes, in the slides' img/ directory.
const (
	ChartFile = "cost.svg"  // the chart, on the slide "What it costs: CPU per order"
	TextFile  = "cost.html" // what that slide says about it
	HopsFile  = "hops.html" // what the slide "One traced hop, three tracers" says
)

// The inputs, in the benchmarks/ directory.
const (
	FullJSON    = "load.json"         // go run ./cmd/workshop load
	SampledJSON = "load-sampled.json" // the same, with the samplers at a ratio
	HopsText    = "hops.txt"          // go test -run TestHopsFile ./benchmarks -hops.write
)

// Run is what a cost slide needs of one `workshop load` JSON file.
type Run struct {
	File    string
	Machine string   `json:"machine"`
	Date    string   `json:"date"`
	Command string   `json:"command"`
	Summary []Target `json:"summary"`
}

// Target is one step's medians in a run.
type Target struct {
	Target string  `json:"target"`
	CPU    float64 `json:"cpu_us_per_order"` // the step's own processes, µs per order
}

// ReadRun reads a load JSON file; a file that does not exist is a nil Run.
func ReadRun(path string) (*Run, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	r := &Run{File: filepath.Base(path)}
	if err := json.Unmarshal(data, r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(r.steps()) == 0 {
		return nil, fmt.Errorf("%s: no step with cpu_us_per_order", path)
	}
	if r.cpu("01-untraced") == 0 {
		return nil, fmt.Errorf("%s: no 01-untraced, the baseline every ratio needs", path)
	}
	return r, nil
}

// steps are the run's steps with a CPU figure (rabbitmq-raw has none), in its order.
func (r *Run) steps() []Target {
	if r == nil {
		return nil
	}
	var out []Target
	for _, t := range r.Summary {
		if t.CPU > 0 {
			out = append(out, t)
		}
	}
	return out
}

func (r *Run) cpu(target string) float64 {
	for _, t := range r.steps() {
		if t.Target == target {
			return t.CPU
		}
	}
	return 0
}

// ratio is a step's CPU per order over the same run's 01-untraced.
func (r *Run) ratio(target string) float64 { return r.cpu(target) / r.cpu("01-untraced") }

var sampleArgRE = regexp.MustCompile(`OTEL_TRACES_SAMPLER_ARG=([0-9.]+)`)

// rate says how many orders the run traced: "every order", or "1 in 10".
func (r *Run) rate() string {
	m := sampleArgRE.FindStringSubmatch(r.Command)
	if m == nil {
		return "every order"
	}
	f, err := strconv.ParseFloat(m[1], 64)
	if err != nil || f <= 0 || f >= 1 {
		return "a ratio of " + m[1]
	}
	return fmt.Sprintf("1 in %.0f", 1/f)
}

// where is the run's machine and day, short: "AMD EPYC, 2026-12-02".
func (r *Run) where() string {
	m := strings.SplitN(r.Machine, ",", 2)[0]
	m = strings.NewReplacer("(R)", "", "(TM)", "", " Processor", "", " CPU", "").Replace(m)
	return strings.TrimSpace(m) + ", " + strings.SplitN(r.Date, "T", 2)[0]
}

// names are the steps' names as the chart labels them, short enough for a bar.
var names = map[string]string{
	"01-untraced":             "untraced",
	"02-opentracing":          "jaeger-client",
	"03-traced-rabbit-broker": "+ broker",
	"04-otel-bridge":          "bridge",
	"05-mixed-fleet":          "mixed",
	"06-native-otel":          "native",
	"07-logs-and-metrics":     "logs, metrics",
}

func label(target string) (num, name string) {
	num, name, _ = strings.Cut(target, "-")
	if n, ok := names[target]; ok {
		name = n
	}
	return num, name
}

// nameLines breaks a step's name over two lines when it is wider than a bar's group
// (seven steps share the chart): after its first space or hyphen.
func nameLines(name string) []string {
	if len(name) <= 9 {
		return []string{name}
	}
	if i := strings.IndexAny(name, " -"); i > 0 {
		if name[i] == '-' {
			return []string{name[:i+1], name[i+1:]}
		}
		return []string{name[:i], name[i+1:]}
	}
	return []string{name}
}

// Generate reads the figures in benchDir and returns the files for img/, by name.
func Generate(benchDir string) (map[string][]byte, error) {
	full, err := ReadRun(filepath.Join(benchDir, FullJSON))
	if err != nil {
		return nil, err
	}
	if full == nil {
		return nil, fmt.Errorf("%s: no %s: run go run ./cmd/workshop load", benchDir, FullJSON)
	}
	sampled, err := ReadRun(filepath.Join(benchDir, SampledJSON))
	if err != nil {
		return nil, err
	}
	hops, err := os.ReadFile(filepath.Join(benchDir, HopsText))
	if err != nil {
		return nil, err
	}
	hopsHTML, err := HopsHTML(hops)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", HopsText, err)
	}
	return map[string][]byte{
		ChartFile: Chart(full, sampled),
		TextFile:  Text(full, sampled),
		HopsFile:  hopsHTML,
	}, nil
}

// Chart draws CPU µs per order for each step of full, and beside it the same step in
// sampled when sampled has it. Two runs from different machines do not compare in µs:
// then each bar is the step's CPU per order over its own run's 01-untraced.
func Chart(full, sampled *Run) []byte {
	const (
		w, h                          = 960, 420
		left, right, top, bottom      = 76, 24, 118, 96
		fullColour, sampledColour     = "#1f4e8c", "#e08a1e"
		font                          = "font-family='DejaVu Sans, Arial, sans-serif'"
		plotW, plotH              int = w - left - right, h - top - bottom
	)
	relative := sampled != nil && sampled.Machine != full.Machine
	value := func(r *Run, target string) float64 {
		if r.cpu(target) == 0 {
			return 0
		}
		if relative {
			return r.ratio(target)
		}
		return r.cpu(target)
	}
	format, grid, title := "%.0f", 100.0, "µs of CPU per order, the shop's own processes"
	if relative {
		format, grid, title = "%.2f", 0.5, "CPU per order, × 01's in the same run (two machines)"
	}
	steps := full.steps()
	max := 0.0
	for _, t := range steps {
		max = math.Max(max, value(full, t.Target))
		max = math.Max(max, value(sampled, t.Target))
	}
	if max > 10*grid {
		grid *= 2
	}
	yMax := math.Ceil(max/grid) * grid
	y := func(v float64) float64 { return float64(top+plotH) - v/yMax*float64(plotH) }

	var b bytes.Buffer
	fmt.Fprintf(&b, "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' viewBox='0 0 %d %d' %s>\n", w, h, w, h, font)
	fmt.Fprintf(&b, "<!-- Generated by slides/cmd/cost-chart from benchmarks/%s", full.File)
	if sampled != nil {
		fmt.Fprintf(&b, " and benchmarks/%s", sampled.File)
	}
	b.WriteString(": do not edit. -->\n")
	fmt.Fprintf(&b, "<rect width='%d' height='%d' fill='white'/>\n", w, h)
	for v := 0.0; v <= yMax+grid/1000; v += grid {
		fmt.Fprintf(&b, "<line x1='%d' x2='%d' y1='%.1f' y2='%.1f' stroke='#ccc'/>\n", left, w-right, y(v), y(v))
		tick := fmt.Sprintf("%.0f", v)
		if relative {
			tick = fmt.Sprintf("%.1f", v)
		}
		fmt.Fprintf(&b, "<text x='%d' y='%.1f' font-size='24' text-anchor='end' fill='#444'>%s</text>\n", left-8, y(v)+8, tick)
	}
	fmt.Fprintf(&b, "<text x='%d' y='%d' font-size='26' font-weight='bold' fill='#222'>%s</text>\n", 4, 28, html.EscapeString(title))
	// The legend, under the title, a line each.
	legend := []struct{ colour, text string }{{fullColour, full.rate() + " traced (" + full.where() + ")"}}
	if sampled != nil {
		legend = append(legend, struct{ colour, text string }{sampledColour, sampled.rate() + " traced (" + sampled.where() + ")"})
	}
	for i, l := range legend {
		const lx = 4
		ly := 62 + 32*i
		fmt.Fprintf(&b, "<rect x='%d' y='%d' width='22' height='22' fill='%s'/>\n", lx, ly-19, l.colour)
		fmt.Fprintf(&b, "<text x='%d' y='%d' font-size='24' fill='#222'>%s</text>\n", lx+32, ly+2, html.EscapeString(l.text))
	}
	gw := float64(plotW) / float64(len(steps))
	bw := gw * 0.44
	for i, t := range steps {
		gx := float64(left) + gw*float64(i)
		bars := []struct {
			v      float64
			colour string
		}{{value(full, t.Target), fullColour}}
		if v := value(sampled, t.Target); v > 0 {
			bars = append(bars, struct {
				v      float64
				colour string
			}{v, sampledColour})
		}
		x0 := gx + (gw-bw*float64(len(bars)))/2
		for j, bar := range bars {
			x := x0 + bw*float64(j)
			fmt.Fprintf(&b, "<rect x='%.1f' y='%.1f' width='%.1f' height='%.1f' fill='%s'/>\n", x+2, y(bar.v), bw-4, y(0)-y(bar.v), bar.colour)
			text, size := fmt.Sprintf(format, bar.v), 24
			if len(text) > 3 && !strings.Contains(text, ".") {
				size = 21 // four digits of µs, beside another bar's
			}
			fmt.Fprintf(&b, "<text x='%.1f' y='%.1f' font-size='%d' text-anchor='middle' fill='#222'>%s</text>\n", x+bw/2, y(bar.v)-6, size, text)
		}
		num, name := label(t.Target)
		fmt.Fprintf(&b, "<text x='%.1f' y='%d' font-size='26' font-weight='bold' text-anchor='middle' fill='#222'>%s</text>\n", gx+gw/2, top+plotH+30, html.EscapeString(num))
		for k, line := range nameLines(name) {
			fmt.Fprintf(&b, "<text x='%.1f' y='%d' font-size='22' text-anchor='middle' fill='#222'>%s</text>\n", gx+gw/2, top+plotH+56+k*25, html.EscapeString(line))
		}
	}
	fmt.Fprintf(&b, "<line x1='%d' x2='%d' y1='%.1f' y2='%.1f' stroke='#222'/>\n", left, w-right, y(0), y(0))
	b.WriteString("</svg>\n")
	return b.Bytes()
}

// traced is the step the sentences compare: native OTel (06), the migration's end, when
// both runs have it; otherwise the last traced step they both have.
func traced(full, sampled *Run) string {
	last := ""
	for _, t := range full.steps() {
		if t.Target != "01-untraced" && (sampled == nil || sampled.cpu(t.Target) > 0) {
			last = t.Target
			if last == "06-native-otel" {
				break
			}
		}
	}
	return last
}

// Text is what the chart's slide says, as an HTML list: each figure a ratio to the
// same run's untraced step, so runs on different machines still compare (the chart's
// title says when they are).
func Text(full, sampled *Run) []byte {
	var b bytes.Buffer
	b.WriteString("<!-- Generated by slides/cmd/cost-chart from benchmarks/" + full.File)
	if sampled != nil {
		b.WriteString(" and benchmarks/" + sampled.File)
	}
	b.WriteString(": do not edit. -->\n<ul class=\"cost\">\n")
	var parts []string
	for _, t := range full.steps() {
		if t.Target == "01-untraced" {
			continue
		}
		num, _ := label(t.Target)
		parts = append(parts, fmt.Sprintf("%s <b>%.2f×</b>", num, full.ratio(t.Target)))
	}
	fmt.Fprintf(&b, "<li>CPU per order, %s traced, against 01's: %s</li>\n", full.rate(), strings.Join(parts, " · "))
	if last := traced(full, sampled); last != "" {
		num, name := label(last)
		fmt.Fprintf(&b, "<li>Tracing %s (%s, %s) adds <b>%.0f %%</b> to the untraced shop's CPU", full.rate(), num, name, (full.ratio(last)-1)*100)
		if sampled != nil {
			rs := sampled.ratio(last)
			fmt.Fprintf(&b, "; at %s, <b>%.0f %%</b>: the instrumentation still runs for every request", sampled.rate(), (rs-1)*100)
		}
		b.WriteString("</li>\n")
	}
	b.WriteString("</ul>\n")
	return b.Bytes()
}

// hopRow is one tracer's line in hops.txt.
type hopRow struct {
	name         string
	time, allocs float64 // vs native
}

var hopRE = regexp.MustCompile(`^(.*?)\s{2,}\d+\s+\d+\s+\d+\s+([0-9.]+)x\s+([0-9.]+)x\s*$`)

// HopsHTML is what the hop slide says, from hops.txt: the bridge and jaeger-client
// against native OpenTelemetry, in time and allocations per hop.
func HopsHTML(hops []byte) ([]byte, error) {
	rows := map[string]hopRow{}
	sc := bufio.NewScanner(bytes.NewReader(hops))
	for sc.Scan() {
		m := hopRE.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		t, _ := strconv.ParseFloat(m[2], 64)
		a, _ := strconv.ParseFloat(m[3], 64)
		rows[strings.TrimSpace(m[1])] = hopRow{name: m[1], time: t, allocs: a}
	}
	bridge, okB := rows["OTel SDK, OpenTracing bridge"]
	jaeger, okJ := rows["jaeger-client-go"]
	if !okB || !okJ {
		return nil, errors.New("no rows for \"OTel SDK, OpenTracing bridge\" and \"jaeger-client-go\"")
	}
	var b bytes.Buffer
	b.WriteString("<!-- Generated by slides/cmd/cost-chart from benchmarks/hops.txt: do not edit. -->\n<ul class=\"cost\">\n")
	fmt.Fprintf(&b, "<li>The <b>bridge</b> takes <b>%.1f×</b> the time and <b>%.1f×</b> the allocations of native OTel</li>\n", bridge.time, bridge.allocs)
	cmp := "no cheaper than"
	if bridge.time < jaeger.time {
		cmp = "cheaper than"
	}
	fmt.Fprintf(&b, "<li>and is %s the jaeger-client it replaces (%.1f×, %.1f×)</li>\n", cmp, jaeger.time, jaeger.allocs)
	b.WriteString("</ul>\n")
	return b.Bytes(), nil
}
