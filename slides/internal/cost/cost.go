// Package cost turns the figures the workshop measured into what the talk shows: the
// chart of CPU per order, step by step, from `workshop load`'s JSON (benchmarks/load.json,
// every order sampled; benchmarks/load-sampled.json, 1 in 10, and
// benchmarks/load-unsampled.json, nothing sampled at the root, each when it exists), the
// sentences the cost slide says about it, and those about one traced hop, from
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
	"slices"
	"strconv"
	"strings"
)

// The files Generate makes, in the slides' img/ directory.
const (
	ChartFile = "cost.svg"  // the chart, on the slide "What a whole order costs, step by step"
	TextFile  = "cost.html" // what that slide says about it
	HopsFile  = "hops.html" // what the slide "One traced hop, three tracers" says
)

// The inputs, in the benchmarks/ directory.
const (
	FullJSON      = "load.json"           // workshop load -sampling 1 (or no sampler at all)
	SampledJSON   = "load-sampled.json"   // workshop load -sampling 0.1
	UnsampledJSON = "load-unsampled.json" // workshop load -sampling 0: the root samples nothing
	HopsText      = "hops.txt"            // go test -run TestHopsFile ./benchmarks -hops.write
)

// Run is what a cost slide needs of one `workshop load` JSON file (cmd/workshop's
// load_report.go and load.go write it).
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
	// Spans is the median of spans exported per order, Dropped the spans of sampled
	// orders that never reached the sink, summed over the rounds; nil in files written
	// before workshop load counted them.
	Spans   *float64 `json:"spans_per_order"`
	Dropped *int64   `json:"spans_dropped"`
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

func (r *Run) step(target string) (Target, bool) {
	for _, t := range r.steps() {
		if t.Target == target {
			return t, true
		}
	}
	return Target{}, false
}

func (r *Run) cpu(target string) float64 {
	t, _ := r.step(target)
	return t.CPU
}

// ratio is a step's CPU per order over the same run's 01-untraced.
func (r *Run) ratio(target string) float64 { return r.cpu(target) / r.cpu("01-untraced") }

var (
	// -env entries win over -sampling in workshop load, so they are looked at first.
	samplerArgRE = regexp.MustCompile(`OTEL_TRACES_SAMPLER_ARG=([0-9.]+)`)
	samplingRE   = regexp.MustCompile(`(?:^|\s)--?sampling[= ]+([0-9.]+)`)
)

// sampling is the ratio the run's roots sampled, from its command: 1 when it names none
// (every order is then sampled).
func (r *Run) sampling() float64 {
	m := samplerArgRE.FindStringSubmatch(r.Command)
	if m == nil {
		m = samplingRE.FindStringSubmatch(r.Command)
	}
	if m == nil {
		return 1
	}
	f, err := strconv.ParseFloat(m[1], 64)
	if err != nil || f < 0 || f > 1 {
		return math.NaN()
	}
	return f
}

// rate says how many orders the run sampled: "every order", "1 in 10", "nothing".
func (r *Run) rate() string {
	f := r.sampling()
	switch {
	case math.IsNaN(f):
		return "an unknown ratio"
	case f == 1:
		return "every order"
	case f == 0:
		return "nothing"
	case math.Abs(1/f-math.Round(1/f)) < 1e-9:
		return fmt.Sprintf("1 in %.0f", 1/f)
	}
	return strconv.FormatFloat(f*100, 'f', -1, 64) + " %"
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
	var runs []*Run
	for _, name := range []string{FullJSON, SampledJSON, UnsampledJSON} {
		r, err := ReadRun(filepath.Join(benchDir, name))
		if err != nil {
			return nil, err
		}
		if r == nil && name == FullJSON {
			return nil, fmt.Errorf("%s: no %s: run go run ./cmd/workshop load (make load-figures)", benchDir, FullJSON)
		}
		if r != nil {
			runs = append(runs, r)
		}
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
		ChartFile: Chart(runs...),
		TextFile:  Text(runs...),
		HopsFile:  hopsHTML,
	}, nil
}

// machines counts the runs' machines.
func machines(runs []*Run) int {
	seen := map[string]bool{}
	for _, r := range runs {
		seen[r.Machine] = true
	}
	return len(seen)
}

// allSteps are the steps with a CPU figure in any run, in the steps' order.
func allSteps(runs []*Run) []string {
	var out []string
	for _, r := range runs {
		for _, t := range r.steps() {
			if !slices.Contains(out, t.Target) {
				out = append(out, t.Target)
			}
		}
	}
	slices.Sort(out)
	return out
}

// generatedFrom is the comment that opens each generated file.
func generatedFrom(runs []*Run) string {
	var files []string
	for _, r := range runs {
		files = append(files, "benchmarks/"+r.File)
	}
	list := files[len(files)-1]
	if len(files) > 1 {
		list = strings.Join(files[:len(files)-1], ", ") + " and " + list
	}
	return "Generated by slides/cmd/cost-chart from " + list + ": do not edit."
}

// textWidth is about how wide DejaVu Sans draws s at size px, a little more for words
// (0.62 em a letter), exactly for numbers (a digit is 0.636 em, a point 0.318).
func textWidth(s string, size float64) float64 {
	em := 0.0
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9':
			em += 0.636
		case c == '.':
			em += 0.318
		default:
			em += 0.62
		}
	}
	return em * size
}

var colours = []string{"#1f4e8c", "#e08a1e", "#3a9b5c"}

var numberWords = []string{"", "one", "two", "three"}

// Chart draws CPU µs per order for each step, a bar for each run that has it, side by side
// in the runs' order (every order sampled, 1 in 10, nothing). Runs from different machines
// do not compare in µs: then each bar is the step's CPU per order over its own run's
// 01-untraced. The chart keeps its size whatever the legend needs: the plot gives way.
func Chart(runs ...*Run) []byte {
	const (
		w, h                      = 960, 420
		left, right, bottom       = 76, 24, 96
		font                      = "font-family='DejaVu Sans, Arial, sans-serif'"
		plotW                 int = w - left - right
		legendSize, labelSize     = 24, 24
	)
	relative := machines(runs) > 1
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
		n := machines(runs)
		word := strconv.Itoa(n)
		if n < len(numberWords) {
			word = numberWords[n]
		}
		format, grid, title = "%.2f", 0.5, "CPU per order, × 01's in the same run ("+word+" machines)"
	}

	// The legend: a box and a run's rate (and machine, when they differ), packed in rows
	// under the title; on one machine, the machine and day on a row of their own.
	type item struct{ colour, text string }
	var items []item
	var wheres []string
	for i, r := range runs {
		text := r.rate() + " sampled"
		if relative {
			text += " (" + r.where() + ")"
		}
		items = append(items, item{colours[i%len(colours)], text})
		if !slices.Contains(wheres, r.where()) {
			wheres = append(wheres, r.where())
		}
	}
	var rows [][]item
	rowW := 0.0
	for _, it := range items {
		iw := 32 + textWidth(it.text, legendSize) + 28
		if len(rows) == 0 || rowW+iw > w-8 {
			rows, rowW = append(rows, nil), 0
		}
		rows[len(rows)-1] = append(rows[len(rows)-1], it)
		rowW += iw
	}
	note := ""
	if !relative {
		note = "measured on " + strings.Join(wheres, "; ")
	}
	lines := len(rows)
	if note != "" {
		lines++
	}
	top := 62 + 32*(lines-1) + 24
	plotH := h - top - bottom

	steps := allSteps(runs)
	max := 0.0
	for _, t := range steps {
		for _, r := range runs {
			max = math.Max(max, value(r, t))
		}
	}
	if max > 10*grid {
		grid *= 2
	}
	yMax := math.Ceil(max/grid) * grid
	if (yMax-max)/yMax*float64(plotH) < 8 {
		yMax += grid // room for the tallest bar's figure under the legend
	}
	y := func(v float64) float64 { return float64(top+plotH) - v/yMax*float64(plotH) }

	var b bytes.Buffer
	fmt.Fprintf(&b, "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' viewBox='0 0 %d %d' %s>\n", w, h, w, h, font)
	fmt.Fprintf(&b, "<!-- %s -->\n", generatedFrom(runs))
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
	for i, row := range rows {
		lx, ly := 4.0, 62+32*i
		for _, it := range row {
			fmt.Fprintf(&b, "<rect x='%.1f' y='%d' width='22' height='22' fill='%s'/>\n", lx, ly-19, it.colour)
			fmt.Fprintf(&b, "<text x='%.1f' y='%d' font-size='%d' fill='#222'>%s</text>\n", lx+32, ly+2, legendSize, html.EscapeString(it.text))
			lx += 32 + textWidth(it.text, legendSize) + 28
		}
	}
	if note != "" {
		fmt.Fprintf(&b, "<text x='%d' y='%d' font-size='%d' fill='#555'>%s</text>\n", 4, 62+32*len(rows)+2, legendSize, html.EscapeString(note))
	}
	gw := float64(plotW) / float64(len(steps))
	for i, t := range steps {
		gx := float64(left) + gw*float64(i)
		type bar struct {
			v      float64
			colour string
		}
		var bars []bar
		for k, r := range runs {
			if v := value(r, t); v > 0 {
				bars = append(bars, bar{v, colours[k%len(colours)]})
			}
		}
		// A bar is 44 % of its group when two share it, less when three do; its label
		// shrinks only when it would cross into the next bar's.
		bw := math.Min(gw*0.44, gw*0.92/float64(len(bars)))
		x0 := gx + (gw-bw*float64(len(bars)))/2
		for j, bar := range bars {
			x := x0 + bw*float64(j)
			fmt.Fprintf(&b, "<rect x='%.1f' y='%.1f' width='%.1f' height='%.1f' fill='%s'/>\n", x+2, y(bar.v), bw-4, y(0)-y(bar.v), bar.colour)
			text, size := fmt.Sprintf(format, bar.v), labelSize
			for size > 16 && len(bars) > 1 && textWidth(text, float64(size)) > bw+2 {
				size--
			}
			fmt.Fprintf(&b, "<text x='%.1f' y='%.1f' font-size='%d' text-anchor='middle' fill='#222'>%s</text>\n", x+bw/2, y(bar.v)-6, size, text)
		}
		num, name := label(t)
		fmt.Fprintf(&b, "<text x='%.1f' y='%d' font-size='26' font-weight='bold' text-anchor='middle' fill='#222'>%s</text>\n", gx+gw/2, top+plotH+30, html.EscapeString(num))
		for k, line := range nameLines(name) {
			fmt.Fprintf(&b, "<text x='%.1f' y='%d' font-size='22' text-anchor='middle' fill='#222'>%s</text>\n", gx+gw/2, top+plotH+56+k*25, html.EscapeString(line))
		}
	}
	fmt.Fprintf(&b, "<line x1='%d' x2='%d' y1='%.1f' y2='%.1f' stroke='#222'/>\n", left, w-right, y(0), y(0))
	b.WriteString("</svg>\n")
	return b.Bytes()
}

// Step names the sentences compare.
const (
	untraced = "01-untraced"
	broker   = "03-traced-rabbit-broker"
	bridge   = "04-otel-bridge"
	native   = "06-native-otel"
	metrics  = "07-logs-and-metrics"
)

// over is "<b>1.15×</b>": a's CPU per order over b's, in run r; "" when r lacks either.
func over(r *Run, a, b string) string {
	if r.cpu(a) == 0 || r.cpu(b) == 0 {
		return ""
	}
	return fmt.Sprintf("<b>%.2f×</b>", r.cpu(a)/r.cpu(b))
}

// capital is s with its first letter in capitals.
func capital(s string) string { return strings.ToUpper(s[:1]) + s[1:] }

// Text is what the chart's slide says, as an HTML list of at most four short lines, each
// figure a ratio of two steps of one run, so runs on different machines still compare:
// every order sampled, 06 and the bridge (04) against 03; at a ratio, 06 and 03 against
// 01; nothing sampled, 06 against 01; then 07 against 06 and the spans exported per order
// at every order sampled, when the files have them. A comparison whose steps a run lacks
// is left out; when none is left, each step against 01.
func Text(runs ...*Run) []byte {
	var full, ratio, none *Run
	for _, r := range runs {
		switch f := r.sampling(); {
		case f == 1 && full == nil:
			full = r
		case f == 0 && none == nil:
			none = r
		case f > 0 && f < 1 && ratio == nil:
			ratio = r
		}
	}
	var lines []string
	if full != nil {
		n, br := over(full, native, broker), over(full, bridge, broker)
		switch {
		case n != "" && br != "":
			lines = append(lines, fmt.Sprintf("Every order sampled: 06 %s 03's CPU per order, the bridge (04) %s", n, br))
		case n != "":
			lines = append(lines, fmt.Sprintf("Every order sampled: 06 %s 03's CPU per order", n))
		case br != "":
			lines = append(lines, fmt.Sprintf("Every order sampled: the bridge (04) %s 03's CPU per order", br))
		}
	}
	var low []string
	if ratio != nil {
		var parts []string
		for _, t := range []string{native, broker} {
			if v := over(ratio, t, untraced); v != "" {
				num, _ := label(t)
				parts = append(parts, num+" "+v)
			}
		}
		if len(parts) > 0 {
			low = append(low, fmt.Sprintf("%s sampled: %s 01's", ratio.rate(), strings.Join(parts, ", ")))
		}
	}
	if none != nil {
		if v := over(none, native, untraced); v != "" {
			low = append(low, "nothing sampled: 06 "+v+" 01's")
		}
	}
	if len(low) > 0 {
		lines = append(lines, capital(strings.Join(low, "; ")))
	}
	if full != nil {
		if v := over(full, metrics, native); v != "" {
			lines = append(lines, "Metrics and log correlation (07): "+v+" 06's, every order sampled")
		}
		// Spans: 06's, the migration's end, or the last step that exported any.
		var spans *Target
		var dropped int64
		counted := false
		for _, t := range full.steps() {
			if t.Dropped != nil {
				dropped += *t.Dropped
				counted = true
			}
			if t.Spans != nil && *t.Spans > 0 && (spans == nil || spans.Target != native) {
				spans = &t
			}
		}
		if spans != nil {
			num, _ := label(spans.Target)
			line := fmt.Sprintf("Every order sampled, %s exports <b>%.1f</b> spans per order", num, *spans.Spans)
			if counted {
				line += fmt.Sprintf("; <b>%d</b> dropped in the run", dropped)
			}
			lines = append(lines, line)
		}
	}
	if len(lines) == 0 {
		// Nothing to compare as the slide means to: each step against the baseline.
		for _, r := range runs {
			var parts []string
			for _, t := range r.steps() {
				if t.Target != untraced {
					num, _ := label(t.Target)
					parts = append(parts, num+" "+over(r, t.Target, untraced))
				}
			}
			if len(parts) > 0 {
				lines = append(lines, fmt.Sprintf("%s sampled, against 01's: %s", capital(r.rate()), strings.Join(parts, " · ")))
			}
		}
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "<!-- %s -->\n<ul class=\"cost\">\n", generatedFrom(runs))
	for _, l := range lines {
		fmt.Fprintf(&b, "<li>%s</li>\n", l)
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
