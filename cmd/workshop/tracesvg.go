package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/ot2otel/workshop/shared/tracecheck"
)

// The slides show each step's order trace as a picture (slides/img/traces/), drawn from
// a real run of the step's demo (make slides-traces: workshop demo -svg DIR NN). Beside
// each SVG is the normalised record it is drawn from: the spans' services, names, kinds,
// parents, errors and what the picture notes of them, with timings rounded. Drawing
// again from a new run keeps the stored record, timings included, unless the trace's
// shape changed, so the files change only when the trace does; TestTracePictures runs
// each demo again and fails when a picture is stale.

// traceRecord is the normalised trace a picture is drawn from.
type traceRecord struct {
	Step  string       `json:"step"`  // "06-native-otel"
	Order string       `json:"order"` // "demo", or demo.OutOfStock
	Spans []recordSpan `json:"spans"`
}

// recordSpan is one span of a traceRecord. Spans are listed trace by trace (the order's
// first, then the others by start), each trace depth first, children by start.
type recordSpan struct {
	Trace   int    `json:"trace"`  // 0: the order's trace; 1, 2, ...: traces of their own
	Parent  int    `json:"parent"` // the parent's index in Spans; -1: a root
	Service string `json:"service"`
	Name    string `json:"name"`
	Kind    string `json:"kind"`
	Error   bool   `json:"error,omitempty"`
	Via     string `json:"via"`            // the collector it reached: "OTLP" or "jaeger thrift"
	Note    string `json:"note,omitempty"` // why it failed
	// StartMS and DurMS are milliseconds from the first span's start, rounded to 0.1.
	StartMS float64 `json:"start_ms"`
	DurMS   float64 `json:"dur_ms"`
}

// shape is r without its timings: what a new run must reproduce.
func (r traceRecord) shape() traceRecord {
	s := r
	s.Spans = slices.Clone(r.Spans)
	for i := range s.Spans {
		s.Spans[i].StartMS, s.Spans[i].DurMS = 0, 0
	}
	return s
}

func (r traceRecord) encode() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "{\n  \"step\": %q,\n  \"order\": %q,\n  \"spans\": [\n", r.Step, r.Order)
	for i, s := range r.Spans {
		line, _ := json.Marshal(s)
		b.Write(line)
		if i < len(r.Spans)-1 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString("  ]\n}\n")
	// Indent the span lines for a reader.
	return bytes.ReplaceAll(b.Bytes(), []byte("\n{\"trace\""), []byte("\n    {\"trace\""))
}

// The demo's fleet publishes on an exchange and consumes from a queue of its own
// (ws-<hex>, ws-stock-<hex>), so that it never meets another system on the broker; the
// record names them as a deployment does (AMQP_EXCHANGE shop, AMQP_QUEUE stock).
var (
	demoQueue    = regexp.MustCompile(`\bws-stock-[0-9a-f]+\b`)
	demoExchange = regexp.MustCompile(`\bws-[0-9a-f]+\b`)
)

func normaliseName(name string) string {
	return demoExchange.ReplaceAllString(demoQueue.ReplaceAllString(name, "stock"), "shop")
}

// normaliseTrace makes the record of the spans a demo collected, the order's trace
// (traceID) first.
func normaliseTrace(stepName, order string, spans []tracecheck.Span, traceID string) traceRecord {
	rec := traceRecord{Step: stepName, Order: order, Spans: []recordSpan{}}
	if len(spans) == 0 {
		return rec
	}
	t0 := spans[0].Start
	byTrace := map[string][]tracecheck.Span{}
	var traces []string
	for _, s := range spans {
		if s.Start.Before(t0) {
			t0 = s.Start
		}
		if _, ok := byTrace[s.TraceID]; !ok {
			traces = append(traces, s.TraceID)
		}
		byTrace[s.TraceID] = append(byTrace[s.TraceID], s)
	}
	first := func(id string) time.Time {
		return slices.MinFunc(byTrace[id], func(a, b tracecheck.Span) int { return a.Start.Compare(b.Start) }).Start
	}
	slices.SortFunc(traces, func(a, b string) int {
		switch {
		case a == traceID:
			return -1
		case b == traceID:
			return 1
		}
		return first(a).Compare(first(b))
	})
	ms := func(d time.Duration) float64 { return math.Round(float64(d)/float64(100*time.Microsecond)) / 10 }
	for ti, id := range traces {
		ts := byTrace[id]
		ids := map[string]bool{}
		for _, s := range ts {
			ids[s.SpanID] = true
		}
		children := map[string][]tracecheck.Span{}
		var roots []tracecheck.Span
		for _, s := range ts {
			if s.ParentID == "" || !ids[s.ParentID] {
				roots = append(roots, s)
			} else {
				children[s.ParentID] = append(children[s.ParentID], s)
			}
		}
		byStart := func(a, b tracecheck.Span) int {
			if c := a.Start.Compare(b.Start); c != 0 {
				return c
			}
			return strings.Compare(a.Name, b.Name)
		}
		var walk func(s tracecheck.Span, parent int)
		walk = func(s tracecheck.Span, parent int) {
			rs := recordSpan{Trace: ti, Parent: parent, Service: s.Service, Name: normaliseName(s.Name), Kind: s.Kind,
				Error: s.Error, Via: via(s.Source), Note: note(s),
				StartMS: ms(s.Start.Sub(t0)), DurMS: ms(s.Duration)}
			rec.Spans = append(rec.Spans, rs)
			me := len(rec.Spans) - 1
			kids := children[s.SpanID]
			slices.SortFunc(kids, byStart)
			for _, k := range kids {
				walk(k, me)
			}
		}
		slices.SortFunc(roots, byStart)
		for _, r := range roots {
			walk(r, -1)
		}
	}
	return rec
}

func via(source string) string {
	switch source {
	case "otel":
		return "OTLP"
	case "jaeger":
		return "jaeger thrift"
	}
	return source
}

// note is what a picture says of a span: why it failed, without the order's ID and
// counts.
func note(s tracecheck.Span) string {
	if !s.Error {
		return ""
	}
	for _, text := range errorTexts(s) {
		for _, known := range []string{"not enough stock", "unknown SKU", "bad quantity"} {
			if strings.Contains(text, known) {
				return known
			}
		}
	}
	return "error"
}

// errorTexts are the messages of a span's error: the exception events of OTel, the
// error logs of OpenTracing.
func errorTexts(s tracecheck.Span) []string {
	var texts []string
	for _, e := range s.Events {
		for _, k := range []string{"exception.message", "error.object", "message"} {
			if v := e.Attrs[k]; v != "" {
				texts = append(texts, v)
			}
		}
	}
	return texts
}

// The picture's layout, in the SVG's own units. It is drawn to be shown full width on
// a slide, about as wide as its viewBox: at 1024×768 present scales a slide by 0.82, so
// 30-unit text is about 25 px on the projector.
const (
	svgWidth   = 1100
	svgFont    = 30
	svgRow     = 42
	svgIndent  = 22
	svgPad     = 8
	svgCharW   = 0.62 // an average character of DejaVu Sans, in ems (bold: svgBoldW)
	svgBoldW   = 0.70
	svgMinBar  = 240
	svgErrRed  = "#c62828"
	svgTextCol = "#212121"
)

// serviceColors: the bar and the name of each service's spans; red is kept for errors.
var serviceColors = map[string]string{"gateway": "#1565c0", "checkout": "#6a1b9a", "stock": "#2e7d32"}

func serviceColor(service string) string {
	if c, ok := serviceColors[service]; ok {
		return c
	}
	return "#455a64"
}

func textWidth(s string, font float64) float64 { return float64(len([]rune(s))) * font * svgCharW }

// renderSVG draws rec as a waterfall: a legend, then a row per span, its name indented
// under its parent and coloured after its service, its bar on a timeline shared by every
// trace, its note on the right; a trace of its own starts under a line that says so.
func renderSVG(rec traceRecord) []byte {
	depth := make([]int, len(rec.Spans))
	nameW := 0.0
	end := 0.0
	for i, s := range rec.Spans {
		if s.Parent >= 0 {
			depth[i] = depth[s.Parent] + 1
		}
		label := s.Name
		if s.Error {
			label += " ✗"
		}
		nameW = max(nameW, float64(depth[i]*svgIndent)+textWidth(label, svgFont))
		end = max(end, s.StartMS+s.DurMS)
	}
	if end == 0 {
		end = 1
	}
	// A fleet whose spans reached two collectors shows which got each span.
	var vias []string
	for _, s := range rec.Spans {
		if !slices.Contains(vias, s.Via) {
			vias = append(vias, s.Via)
		}
	}
	viaW := 0.0
	if len(vias) > 1 {
		for _, v := range vias {
			viaW = max(viaW, textWidth(viaLabel(v), svgFont)+16)
		}
	}
	barX := svgPad + nameW + 16 + viaW
	if svgWidth-svgPad-barX < svgMinBar {
		barX = svgWidth - svgPad - svgMinBar
	}
	barW := svgWidth - svgPad - barX

	type row struct {
		y    float64
		span int // -1: a trace's heading
	}
	var rows []row
	y := float64(svgRow) + 6 // under the legend
	for i, s := range rec.Spans {
		if s.Trace > 0 && (i == 0 || rec.Spans[i-1].Trace != s.Trace) {
			rows = append(rows, row{y, -1 - s.Trace})
			y += svgRow
		}
		rows = append(rows, row{y, i})
		y += svgRow
	}
	height := y + svgPad

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %.0f" width="%d" height="%.0f" font-family="DejaVu Sans, Arial, Helvetica, sans-serif" font-size="%d">`+"\n",
		svgWidth, height, svgWidth, height, svgFont)
	fmt.Fprintf(&b, "<title>%s</title>\n", html.EscapeString(pictureTitle(rec)))
	b.WriteString(`<rect width="100%" height="100%" fill="#ffffff"/>` + "\n")

	// The legend: each service's colour, and the span count and time span.
	x := float64(svgPad)
	var services []string
	for _, s := range rec.Spans {
		if !slices.Contains(services, s.Service) {
			services = append(services, s.Service)
		}
	}
	for _, svc := range services {
		fmt.Fprintf(&b, `<rect x="%.0f" y="8" width="24" height="24" rx="4" fill="%s"/>`, x, serviceColor(svc))
		fmt.Fprintf(&b, `<text x="%.0f" y="30" fill="%s" font-weight="bold">%s</text>`+"\n", x+30, serviceColor(svc), html.EscapeString(svc))
		x += 30 + float64(len(svc))*svgFont*svgBoldW + 24
	}
	summary, scol := fmt.Sprintf("%d spans · %s", len(rec.Spans), formatMS(end)), svgTextCol
	for _, s := range rec.Spans {
		if s.Error && s.Note != "" {
			summary, scol = "✗ "+s.Note, svgErrRed
			break
		}
	}
	fmt.Fprintf(&b, `<text x="%d" y="30" fill="%s" text-anchor="end" font-weight="bold">%s</text>`+"\n", svgWidth-svgPad, scol, html.EscapeString(summary))

	for _, r := range rows {
		base := r.y + svgRow*0.72
		if r.span < 0 {
			fmt.Fprintf(&b, `<line x1="%d" y1="%.0f" x2="%d" y2="%.0f" stroke="#9e9e9e" stroke-width="2" stroke-dasharray="8 6"/>`+"\n",
				svgPad, r.y+4, svgWidth-svgPad, r.y+4)
			fmt.Fprintf(&b, `<text x="%d" y="%.0f" fill="%s" font-style="italic">a trace of its own, not the order's:</text>`+"\n", svgPad, base+4, svgErrRed)
			continue
		}
		s := rec.Spans[r.span]
		i := r.span
		if i%2 == 0 {
			fmt.Fprintf(&b, `<rect x="0" y="%.0f" width="%d" height="%d" fill="#f5f5f5"/>`+"\n", r.y, svgWidth, svgRow)
		}
		col := serviceColor(s.Service)
		nx := float64(svgPad + depth[i]*svgIndent)
		if s.Parent >= 0 {
			// A corner from the parent's row.
			px := float64(svgPad+depth[s.Parent]*svgIndent) + 6
			fmt.Fprintf(&b, `<path d="M%.0f %.0f V%.0f H%.0f" fill="none" stroke="#9e9e9e" stroke-width="2"/>`+"\n", px, r.y-4, r.y+svgRow/2, nx-2)
		}
		label := html.EscapeString(s.Name)
		if s.Error {
			label += fmt.Sprintf(` <tspan fill="%s" font-weight="bold">✗</tspan>`, svgErrRed)
		}
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" fill="%s">%s</text>`+"\n", nx+4, base, col, label)
		bx := barX + s.StartMS/end*barW
		bw := max(s.DurMS/end*barW, 4)
		fill := col
		if s.Error {
			fill = svgErrRed
		}
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.0f" width="%.1f" height="%d" rx="3" fill="%s" fill-opacity="0.85"/>`+"\n", bx, r.y+8, bw, svgRow-16, fill)
		if viaW > 0 {
			fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" fill="%s" font-size="%.0f">%s</text>`+"\n",
				barX-viaW, base, svgTextCol, float64(svgFont), html.EscapeString(viaLabel(s.Via)))
		}
	}
	b.WriteString("</svg>\n")
	return []byte(b.String())
}

func formatMS(ms float64) string {
	if ms >= 10 {
		return fmt.Sprintf("%.0f ms", ms)
	}
	return fmt.Sprintf("%.1f ms", ms)
}

func pictureTitle(rec traceRecord) string {
	what := "the order's trace"
	if rec.Order != "demo" {
		what = "the trace of an order stock could not fill"
	}
	return fmt.Sprintf("%s: %s (make demo STEP=%s)", rec.Step, what, rec.Step[:2])
}

// pictureBase is the path of a picture and its record, without the extension.
func pictureBase(dir, stepName, order string) string {
	name := stepName
	if order != "demo" {
		name += "-" + order
	}
	return filepath.Join(dir, name)
}

// readRecord reads the record stored at base+".json".
func readRecord(base string) (traceRecord, error) {
	data, err := os.ReadFile(base + ".json")
	if err != nil {
		return traceRecord{}, err
	}
	var rec traceRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return traceRecord{}, fmt.Errorf("%s.json: %w", base, err)
	}
	return rec, nil
}

// writePicture stores the record of a demo's trace and draws it. A stored record of the
// same shape is kept, timings included, so a picture changes only when its trace does.
func (w *workshop) writePicture(dir string, s step, order string, spans []tracecheck.Span, traceID string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	base := pictureBase(dir, s.Name, order)
	rec := normaliseTrace(s.Name, order, spans, traceID)
	kept := false
	if old, err := readRecord(base); err == nil && equalShape(old, rec) {
		rec, kept = old, true
	}
	if !kept {
		if err := os.WriteFile(base+".json", rec.encode(), 0o644); err != nil {
			return err
		}
	}
	if err := os.WriteFile(base+".svg", renderSVG(rec), 0o644); err != nil {
		return err
	}
	if kept {
		fmt.Fprintf(w.out, "\n%s.svg: the trace has the shape of %s.json, which is kept\n", base, base)
	} else {
		fmt.Fprintf(w.out, "\nwrote %s.json and %s.svg\n", base, base)
	}
	return nil
}

func equalShape(a, b traceRecord) bool {
	return bytes.Equal(a.shape().encode(), b.shape().encode())
}

// viaLabel is the short name of a collector in a picture.
func viaLabel(via string) string {
	if via == "jaeger thrift" {
		return "thrift"
	}
	return via
}
