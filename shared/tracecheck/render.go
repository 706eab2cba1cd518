package tracecheck

import (
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// RenderOptions control Render.
type RenderOptions struct {
	// Color gives each service its own ANSI colour, marks errors in red and dims the
	// scaffolding. Leave it off for test output, which ends up in files and CI logs.
	Color bool
	// Width is the width of the terminal in columns; 0 means 100. Lines fit in it down to
	// about 75 columns: long names and attribute values are cut short with "…" and the
	// bar narrows. Below that the name column and the bar stop shrinking.
	Width int
	// Attrs prints each span's attributes, sorted by key, and its events under it.
	Attrs bool
}

// Layout of a span line, in columns. The name column takes what is left of the width.
const (
	defaultWidth = 100
	barWidth     = 30 // the timeline, at half-cell resolution
	minBarWidth  = 10 // in a narrow terminal
	kindWidth    = 8  // "consumer"
	durWidth     = 7  // "123.4ms"
	markWidth    = 7  // "✗ error"
	maxSvcWidth  = 14
	minNameWidth = 16
)

// ANSI escapes. Red is kept for errors, so no service gets it.
const (
	ansiReset = "\x1b[0m"
	ansiBold  = "\x1b[1m"
	ansiDim   = "\x1b[2m"
	ansiRed   = "\x1b[1;31m"
)

// serviceColor returns the colour of the i-th service: the basic ANSI colours and their
// bright variants, which projectors show well. Red is kept for errors.
func serviceColor(i int) string {
	colors := [...]string{
		"\x1b[36m", // cyan
		"\x1b[35m", // magenta
		"\x1b[33m", // yellow
		"\x1b[32m", // green
		"\x1b[34m", // blue
		"\x1b[96m", // bright cyan
		"\x1b[95m", // bright magenta
		"\x1b[93m", // bright yellow
		"\x1b[92m", // bright green
		"\x1b[94m", // bright blue
	}
	return colors[i%len(colors)]
}

// IsTerminal reports whether w is a terminal, and NO_COLOR is not set: whether Render
// should be asked for colour.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0 && os.Getenv("NO_COLOR") == ""
}

// String renders spans as Render does with no colour and no attributes: the form failure
// messages use.
func String(spans []Span) string {
	var b strings.Builder
	newRenderer(spans, RenderOptions{}).render(&b)
	return b.String()
}

// Render writes spans as one waterfall per trace: a header with the trace ID, the
// number of spans and the trace's duration, then one line per span in tree order
// (children by start time), with its service, name indented under its parent, kind,
// duration and a bar placing it on the trace's timeline. Error spans are marked
// "✗ error"; spans whose parent is missing are shown at the top level with a note
// "(parent <id> missing)" under them; links are noted under their span.
func Render(w io.Writer, spans []Span, opt RenderOptions) error {
	var b strings.Builder
	newRenderer(spans, opt).render(&b)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("tracecheck: writing the rendered spans: %w", err)
	}
	return nil
}

type renderer struct {
	opt    RenderOptions
	width  int
	traces []Trace
	rows   [][]row // per trace, in tree order
	all    *graph  // to name the targets of links
	colors map[string]string

	svcW, nameW, barW int
}

// row is one span in tree order.
type row struct {
	span    Span
	prefix  string // tree drawing before the name, e.g. "│  └─ "
	cont    string // tree drawing that continues below the span, e.g. "│     "
	hasKids bool
	orphan  bool // the parent is not among the spans
	cycle   bool // the parents loop without reaching a root
}

func newRenderer(spans []Span, opt RenderOptions) *renderer {
	r := &renderer{opt: opt, width: opt.Width, traces: Traces(spans), all: newGraph(spans)}
	if r.width <= 0 {
		r.width = defaultWidth
	}

	// Colours go to services in alphabetical order, so they stay put between renders of
	// the same fleet, and no two share one unless there are more than ten services.
	var services []string
	for _, s := range spans {
		services = append(services, s.Service)
	}
	slices.Sort(services)
	services = slices.Compact(services)
	r.colors = make(map[string]string, len(services))
	for i, s := range services {
		r.colors[s] = serviceColor(i)
	}

	r.svcW = len("service")
	needName := len("span")
	for _, t := range r.traces {
		rows := treeRows(t)
		r.rows = append(r.rows, rows)
		for _, rw := range rows {
			r.svcW = max(r.svcW, runeLen(rw.span.Service))
			needName = max(needName, runeLen(rw.prefix)+runeLen(rw.span.Name))
		}
	}
	r.svcW = min(r.svcW, maxSvcWidth)

	// Everything but the name and the bar: indent, service, the gaps, kind, duration, mark.
	fixed := 2 + r.svcW + 2 + 2 + kindWidth + 2 + durWidth + 2 + 1 + markWidth
	avail := r.width - fixed
	// The names matter more than the bar's resolution: the bar gives up its last ten
	// columns before a name is cut, and a narrow terminal shrinks it further.
	r.barW = min(max(avail-needName, barWidth-10), barWidth)
	r.nameW = min(needName, avail-r.barW)
	if want := min(needName, minNameWidth); r.nameW < want {
		r.nameW = want
		r.barW = max(minBarWidth, avail-r.nameW)
	}
	return r
}

// treeRows orders a trace's spans depth first, children by start time. Roots and spans
// whose parent is missing make the top level; spans caught in a cycle of parents, which
// no walk from the top reaches, are added at the end so that nothing is hidden.
func treeRows(t Trace) []row {
	ids := t.spanIDs()
	children := make(map[string][]int)
	var top []int
	for i, s := range t.Spans {
		if s.ParentID == "" || !ids[s.ParentID] {
			top = append(top, i)
		} else {
			children[s.ParentID] = append(children[s.ParentID], i)
		}
	}
	visited := make([]bool, len(t.Spans))
	var rows []row
	var walk func(i int, prefix, cont string, cycle bool)
	walk = func(i int, prefix, cont string, cycle bool) {
		visited[i] = true
		s := t.Spans[i]
		var kids []int
		for _, k := range children[s.SpanID] {
			if !visited[k] {
				kids = append(kids, k)
			}
		}
		rows = append(rows, row{
			span:    s,
			prefix:  prefix,
			cont:    cont,
			hasKids: len(kids) > 0,
			orphan:  s.ParentID != "" && !ids[s.ParentID],
			cycle:   cycle,
		})
		for j, k := range kids {
			if visited[k] {
				continue // a duplicate span ID reached it first
			}
			if j == len(kids)-1 {
				walk(k, cont+"└─ ", cont+"   ", false)
			} else {
				walk(k, cont+"├─ ", cont+"│  ", false)
			}
		}
	}
	for _, i := range top {
		walk(i, "", "", false)
	}
	for i := range t.Spans {
		if !visited[i] {
			walk(i, "", "", true)
		}
	}
	return rows
}

func (r *renderer) render(b *strings.Builder) {
	if len(r.traces) == 0 {
		b.WriteString(r.paint(ansiDim, "no spans") + "\n")
		return
	}
	for i, t := range r.traces {
		if i > 0 {
			b.WriteString("\n")
		}
		r.renderTrace(b, t, r.rows[i])
	}
}

func (r *renderer) renderTrace(b *strings.Builder, t Trace, rows []row) {
	t0, end := t.Spans[0].Start, t.Spans[0].Start.Add(t.Spans[0].Duration)
	for _, s := range t.Spans {
		if s.Start.Before(t0) {
			t0 = s.Start
		}
		if e := s.Start.Add(s.Duration); e.After(end) {
			end = e
		}
	}
	total := end.Sub(t0)

	n := len(t.Spans)
	header := fmt.Sprintf("trace %s · %d %s · %s", t.ID, n, plural(n, "span", "spans"), formatDuration(total))
	b.WriteString(r.paint(ansiBold, header) + "\n")

	axisEnd := formatDuration(total)
	axis := "0" + strings.Repeat(" ", max(1, r.barW-1-runeLen(axisEnd))) + axisEnd
	columns := "  " + pad("service", r.svcW) + "  " + pad("span", r.nameW) + "  " +
		pad("kind", kindWidth) + "  " + lpad("took", durWidth) + "  " + axis
	b.WriteString(r.paint(ansiDim, strings.TrimRight(columns, " ")) + "\n")

	for _, rw := range rows {
		r.renderRow(b, rw, t0, total)
	}
}

func (r *renderer) renderRow(b *strings.Builder, rw row, t0 time.Time, total time.Duration) {
	s := rw.span
	name := truncate(rw.prefix+s.Name, r.nameW)
	// The tree drawing is scaffolding, the name is what people read.
	drawn := min(len(rw.prefix), len(name))
	if !strings.HasPrefix(name, rw.prefix) {
		drawn = 0
	}
	nameCol := r.paint(ansiDim, name[:drawn]) + name[drawn:] + strings.Repeat(" ", r.nameW-runeLen(name))

	var line strings.Builder
	line.WriteString("  ")
	line.WriteString(r.paint(r.colors[s.Service], pad(truncate(s.Service, r.svcW), r.svcW)))
	line.WriteString("  ")
	line.WriteString(nameCol)
	line.WriteString("  ")
	line.WriteString(r.paint(ansiDim, pad(s.Kind, kindWidth)))
	line.WriteString("  ")
	line.WriteString(lpad(formatDuration(s.Duration), durWidth))
	line.WriteString("  ")
	line.WriteString(r.bar(s, t0, total))
	if s.Error {
		line.WriteString(" " + r.paint(ansiRed, "✗ error"))
	}
	b.WriteString(strings.TrimRight(line.String(), " ") + "\n")

	// Notes go under the span's name, inside the tree, so they read as part of it.
	below := rw.cont + "   "
	if rw.hasKids {
		below = rw.cont + "│  "
	}
	note := func(text string) {
		indent := "  " + strings.Repeat(" ", r.svcW) + "  "
		room := r.width - runeLen(indent) - runeLen(below)
		b.WriteString(indent + r.paint(ansiDim, below) + r.paint(ansiDim, truncate(text, room)) + "\n")
	}
	switch {
	case rw.cycle:
		note(fmt.Sprintf("(parent %s: the parents form a cycle)", s.ParentID))
	case rw.orphan:
		note(fmt.Sprintf("(parent %s missing)", s.ParentID))
	}
	for _, l := range s.Links {
		note("link → " + r.linkTarget(s, l))
	}
	if !r.opt.Attrs {
		return
	}
	for _, k := range sortedKeys(s.Attrs) {
		note(k + " = " + oneLine(s.Attrs[k]))
	}
	for _, e := range s.Events {
		text := "• " + e.Name
		for _, k := range sortedKeys(e.Attrs) {
			text += "  " + k + "=" + oneLine(e.Attrs[k])
		}
		note(text)
	}
}

// linkTarget names the span a link points at: by service and name when it was recorded,
// by ID otherwise.
func (r *renderer) linkTarget(from Span, l Link) string {
	if target, ok := r.all.byKey[l.TraceID+"/"+l.SpanID]; ok {
		return describe(target)
	}
	if l.TraceID == from.TraceID {
		return "span " + l.SpanID + " (not recorded)"
	}
	return "trace " + l.TraceID + " span " + l.SpanID
}

// bar draws the span on the trace's timeline. Each cell has two halves, so a span that
// starts or ends mid-cell still lands in the right place.
func (r *renderer) bar(s Span, t0 time.Time, total time.Duration) string {
	units := 2 * r.barW
	from, to := 0, units
	if total > 0 {
		from = int(float64(s.Start.Sub(t0)) / float64(total) * float64(units))
		to = int(math.Ceil(float64(s.Start.Add(s.Duration).Sub(t0)) / float64(total) * float64(units)))
	}
	from = min(max(from, 0), units-1)
	to = min(max(to, from+1), units)

	var before, filled, after strings.Builder
	for i := range r.barW {
		left := 2*i >= from && 2*i < to
		right := 2*i+1 >= from && 2*i+1 < to
		switch {
		case left && right:
			filled.WriteString("█")
		case left:
			filled.WriteString("▌")
		case right:
			filled.WriteString("▐")
		case 2*i < from:
			before.WriteString("·")
		default:
			after.WriteString("·")
		}
	}
	return r.paint(ansiDim, before.String()) + r.paint(r.colors[s.Service], filled.String()) +
		r.paint(ansiDim, after.String())
}

// paint wraps text in an ANSI escape when colour is on.
func (r *renderer) paint(code, text string) string {
	if !r.opt.Color || code == "" || text == "" {
		return text
	}
	return code + text + ansiReset
}

// formatDuration keeps durations short and readable: 850µs, 1.2ms, 1.25s.
func formatDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Microsecond:
		return fmt.Sprintf("%dns", d.Nanoseconds())
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Round(time.Microsecond).Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	case d < time.Minute:
		return fmt.Sprintf("%.2fs", d.Seconds())
	default:
		return d.Round(time.Second).String()
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// oneLine keeps a multi-line value (a stack trace, a SQL statement) on its line.
func oneLine(s string) string {
	return strings.NewReplacer("\r", `\r`, "\n", `\n`, "\t", `\t`).Replace(s)
}

func runeLen(s string) int {
	return utf8.RuneCountInString(s)
}

// truncate cuts s to n runes, ending in "…" when it had to cut.
func truncate(s string, n int) string {
	if runeLen(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	runes := []rune(s)
	return string(runes[:n-1]) + "…"
}

func pad(s string, n int) string {
	return s + strings.Repeat(" ", max(0, n-runeLen(s)))
}

func lpad(s string, n int) string {
	return strings.Repeat(" ", max(0, n-runeLen(s))) + s
}
