package tracecheck

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Hop is one span a test expects to find in a trace.
type Hop struct {
	Service string // service.name; must match
	Kind    string // one of the Kind constants; must match
	Name    string // the operation name; matches exactly when non-empty, anything when empty
	// Todo is the exercise marker to blame when this hop is missing or disconnected, e.g.
	// "TODO(03.2): extract the span context from the AMQP headers". It is free text.
	Todo string
}

// String describes the hop the way failure messages do: service, kind and quoted name.
func (h Hop) String() string {
	if h.Name == "" {
		return h.Service + " " + h.Kind
	}
	return fmt.Sprintf("%s %s %q", h.Service, h.Kind, h.Name)
}

func (h Hop) matches(s Span) bool {
	return s.Service == h.Service && s.Kind == h.Kind && (h.Name == "" || s.Name == h.Name)
}

// Find returns the earliest span that matches h.
func Find(spans []Span, h Hop) (Span, bool) {
	all := findAll(spans, h)
	if len(all) == 0 {
		return Span{}, false
	}
	return all[0], true
}

// findAll returns every span that matches h, earliest first.
func findAll(spans []Span, h Hop) []Span {
	var out []Span
	for _, s := range spans {
		if h.matches(s) {
			out = append(out, s)
		}
	}
	sortByStart(out)
	return out
}

// BreakError is the error the checks return. Its message says in plain words where the
// trace broke, names the exercise to look at, and shows every span that was recorded, so
// a failing test explains itself without anyone reading the test.
type BreakError struct {
	// Hop is the hop that is missing or disconnected. It is zero for CheckContinuous.
	Hop Hop
	// Reason is the explanation, without the TODO and the spans.
	Reason string
	// Spans are the spans the check looked at.
	Spans []Span
}

// Error returns the reason, the exercise to look at and the rendered spans.
func (e *BreakError) Error() string {
	var b strings.Builder
	b.WriteString(e.Reason)
	if e.Hop.Todo != "" {
		b.WriteString("\nlook at ")
		b.WriteString(e.Hop.Todo)
	}
	b.WriteString("\n\n")
	if len(e.Spans) == 0 {
		b.WriteString("no spans were recorded at all\n")
		return b.String()
	}
	n := len(Traces(e.Spans))
	fmt.Fprintf(&b, "recorded spans (%d %s):\n", n, plural(n, "trace", "traces"))
	b.WriteString(String(e.Spans))
	return b.String()
}

// CheckContinuous returns nil when spans form exactly one trace with exactly one root
// and every span's parent among them. Otherwise it lists every problem it finds.
func CheckContinuous(spans []Span) error {
	if len(spans) == 0 {
		return &BreakError{Reason: "the trace is not continuous: there is no trace at all"}
	}
	var problems []string
	g := newGraph(spans)
	traces := Traces(spans)
	if len(traces) > 1 {
		var desc []string
		for _, t := range traces {
			desc = append(desc, fmt.Sprintf("%s starting at %s", t.ID, describe(t.Spans[0])))
		}
		problems = append(problems, fmt.Sprintf("the spans form %d traces instead of one: %s",
			len(traces), strings.Join(desc, "; ")))
	}
	for _, t := range traces {
		in := ""
		if len(traces) > 1 {
			in = " in trace " + t.ID
		}
		roots := t.Roots()
		switch {
		case len(roots) > 1:
			var desc []string
			for _, r := range roots {
				desc = append(desc, describe(r))
			}
			problems = append(problems, fmt.Sprintf("%d spans%s have no parent, only one should: %s",
				len(roots), in, strings.Join(desc, ", ")))
			for _, r := range roots {
				for _, l := range r.Links {
					if target, ok := g.byKey[l.TraceID+"/"+l.SpanID]; ok {
						problems = append(problems, fmt.Sprintf(
							"%s links to %s, but a link (an OpenTracing FollowsFrom) is not a parent",
							describe(r), describe(target)))
						break
					}
				}
			}
		case len(roots) == 0 && len(t.Orphans()) == 0:
			problems = append(problems, fmt.Sprintf("no span%s is a root: the parents form a cycle", in))
		}
		for _, o := range t.Orphans() {
			problems = append(problems, fmt.Sprintf("the parent %s of %s%s was never recorded",
				o.ParentID, describe(o), in))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	reason := "the trace is not continuous: " + problems[0]
	if len(problems) > 1 {
		reason = "the trace is not continuous:\n  - " + strings.Join(problems, "\n  - ")
	}
	return &BreakError{Reason: reason, Spans: spans}
}

// CheckChain checks that every hop has a span, and that each hop's span is a descendant
// (a child, or deeper) of the previous hop's span, which puts them all in one trace.
// When several spans match a hop (a test that sends two requests), any chain will do.
//
// The error names the first hop that cannot be reached and says why: no span matches
// it, or the span that does starts a new trace, has no parent, has a parent that was
// never recorded, or hangs somewhere else in the tree.
func CheckChain(spans []Span, hops ...Hop) error {
	if len(hops) == 0 {
		return errors.New("tracecheck: CheckChain needs at least one hop")
	}
	g := newGraph(spans)
	cands := make([][]Span, len(hops))
	for i, h := range hops {
		cands[i] = findAll(spans, h)
	}

	// Depth-first search over the candidates, remembering the longest chain found so the
	// error can name the first hop it could not reach. Whether a chain can be finished
	// from a span depends only on that span, so dead ends are remembered per hop.
	var best []Span
	dead := make([]map[string]bool, len(hops))
	for i := range dead {
		dead[i] = make(map[string]bool)
	}
	var walk func(chain []Span) bool
	walk = func(chain []Span) bool {
		if len(chain) > len(best) {
			best = slices.Clone(chain)
		}
		i := len(chain)
		if i == len(hops) {
			return true
		}
		for _, c := range cands[i] {
			if dead[i][key(c)] || (i > 0 && !g.isAncestor(chain[i-1], c)) {
				continue
			}
			if walk(append(chain, c)) {
				return true
			}
			dead[i][key(c)] = true
		}
		return false
	}
	if walk(make([]Span, 0, len(hops))) {
		return nil
	}

	k := len(best)
	hop := hops[k]
	if len(cands[k]) == 0 {
		reason := missingReason(spans, hop)
		if k > 0 {
			reason += fmt.Sprintf(" (the chain got as far as %s)", describe(best[k-1]))
		}
		return &BreakError{Hop: hop, Reason: reason, Spans: spans}
	}
	prev := best[k-1]
	c := pick(cands[k], prev.TraceID)
	if p, ok := g.parent(c); ok && g.isAncestor(p, prev) && !g.isAncestor(c, prev) {
		// c is beside prev, under one of prev's ancestors: the span was started from the
		// context prev's code was given, not from the one that carries prev. The fault
		// is in prev's code, which did not pass its span's context on.
		reason := fmt.Sprintf("the trace breaks between %s and %s: %s hangs under %s, beside %s instead of under it. "+
			"The code that starts %q went on with the context it was given (such as r.Context()), not the one its start "+
			"returned, which carries the span: pass that context on to what it calls",
			describe(prev), describe(c), label(c), describe(p), label(prev), prev.Name)
		return &BreakError{Hop: hops[k-1], Reason: reason, Spans: spans}
	}
	reason := fmt.Sprintf("the trace breaks between %s and %s: %s",
		describe(prev), describe(c), g.why(c, prev, false))
	return &BreakError{Hop: hop, Reason: reason, Spans: spans}
}

// CheckParent checks that a span matching parent is the direct parent of a span
// matching child. The error blames the child hop unless the parent hop has no span.
func CheckParent(spans []Span, child, parent Hop) error {
	g := newGraph(spans)
	children := findAll(spans, child)
	parents := findAll(spans, parent)
	for _, c := range children {
		for _, p := range parents {
			if c.TraceID == p.TraceID && c.ParentID == p.SpanID {
				return nil
			}
		}
	}
	if len(children) == 0 {
		return &BreakError{Hop: child, Reason: missingReason(spans, child), Spans: spans}
	}
	if len(parents) == 0 {
		return &BreakError{Hop: parent, Reason: missingReason(spans, parent), Spans: spans}
	}
	// Explain with the pair most likely meant: a child in the same trace as a parent.
	p, c := parents[0], children[0]
	found := false
	for _, cc := range children {
		for _, pp := range parents {
			if cc.TraceID == pp.TraceID {
				p, c, found = pp, cc, true
				break
			}
		}
		if found {
			break
		}
	}
	reason := fmt.Sprintf("%s is not a child of %s: %s", describe(c), describe(p), g.why(c, p, true))
	return &BreakError{Hop: child, Reason: reason, Spans: spans}
}

// missingReason explains that no span matches h. The near misses it points at are what a
// wrong span.kind or a renamed operation look like: a span with the right service and
// name but another kind, or else the spans the service did record.
func missingReason(spans []Span, h Hop) string {
	reason := "no span for " + h.String()
	var wrongKind, others []string
	lateKind := false // a bridge span of the right name and no kind: the kind was set after start
	seen := make(map[string]bool)
	fromService := false
	sorted := slices.Clone(spans)
	sortByStart(sorted)
	for _, s := range sorted {
		if s.Service != h.Service {
			continue
		}
		fromService = true
		if seen[s.Kind+s.Name] {
			continue
		}
		seen[s.Kind+s.Name] = true
		if h.Name != "" && s.Name == h.Name {
			wrongKind = append(wrongKind, fmt.Sprintf("the %s span %q has kind %s, not %s", s.Service, s.Name, s.Kind, h.Kind))
			lateKind = lateKind || (s.Kind == KindInternal && s.Source == "otel")
		} else {
			others = append(others, fmt.Sprintf("%s %q", s.Kind, s.Name))
		}
	}
	const most = 4
	switch {
	case len(wrongKind) > 0:
		reason += ": " + strings.Join(wrongKind, "; ")
		if lateKind {
			reason += ".\nThe span is there, only its kind is missing: a span kind is a start option, and OpenTelemetry's " +
				"OpenTracing bridge ignores a kind set after the span started (ext.SpanKind….Set(span), span.SetTag(\"span.kind\", …)): " +
				"pass it in StartSpan's options"
		}
	case len(others) > most:
		reason += fmt.Sprintf(": %s recorded only %s, …", h.Service, strings.Join(others[:most], ", "))
	case len(others) > 0:
		reason += fmt.Sprintf(": %s recorded only %s", h.Service, strings.Join(others, ", "))
	case len(spans) > 0 && !fromService:
		reason += fmt.Sprintf(": no span at all came from service %q", h.Service)
	}
	return reason
}

// pick returns the candidate to explain a break with: the earliest in the given trace,
// or the earliest of all.
func pick(cands []Span, traceID string) Span {
	for _, c := range cands {
		if c.TraceID == traceID {
			return c
		}
	}
	return cands[0]
}

// describe names a span the way an attendee thinks of it: service, kind and name.
func describe(s Span) string {
	return fmt.Sprintf("%s %s %q", s.Service, s.Kind, s.Name)
}

// label is the short form used once a span has been introduced: "the stock consumer span".
func label(s Span) string {
	return fmt.Sprintf("the %s %s span", s.Service, s.Kind)
}

func key(s Span) string {
	return s.TraceID + "/" + s.SpanID
}

// graph answers parent and ancestor questions across all traces.
type graph struct {
	byKey map[string]Span
}

func newGraph(spans []Span) *graph {
	g := &graph{byKey: make(map[string]Span, len(spans))}
	for _, s := range spans {
		if _, ok := g.byKey[key(s)]; !ok {
			g.byKey[key(s)] = s
		}
	}
	return g
}

func (g *graph) parent(s Span) (Span, bool) {
	if s.ParentID == "" {
		return Span{}, false
	}
	p, ok := g.byKey[s.TraceID+"/"+s.ParentID]
	return p, ok
}

// isAncestor reports whether anc is a strict ancestor of s. The walk is bounded by the
// number of spans so that a cycle of parents cannot hang a test.
func (g *graph) isAncestor(anc, s Span) bool {
	if anc.TraceID != s.TraceID {
		return false
	}
	for range len(g.byKey) + 1 {
		p, ok := g.parent(s)
		if !ok {
			return false
		}
		if p.SpanID == anc.SpanID {
			return true
		}
		s = p
	}
	return false
}

// why explains why c is not below want (a direct child when direct is set, a descendant
// otherwise).
func (g *graph) why(c, want Span, direct bool) string {
	var reason string
	p, hasParent := g.parent(c)
	switch {
	case c.TraceID != want.TraceID && c.ParentID == "":
		reason = fmt.Sprintf("%s starts a new trace (%s) instead of continuing %s",
			label(c), c.TraceID, want.TraceID)
	case c.TraceID != want.TraceID && !hasParent:
		reason = fmt.Sprintf("%s is in another trace (%s) instead of %s, under a parent %s that was never recorded",
			label(c), c.TraceID, want.TraceID, c.ParentID)
	case c.TraceID != want.TraceID:
		reason = fmt.Sprintf("%s is in another trace (%s, under %s) instead of %s",
			label(c), c.TraceID, describe(p), want.TraceID)
	case c.ParentID == "":
		reason = fmt.Sprintf("%s has no parent: it is a second root in trace %s", label(c), c.TraceID)
	case !hasParent:
		reason = fmt.Sprintf("the parent %s of %s was never recorded", c.ParentID, label(c))
	case key(c) == key(want) || g.isAncestor(c, want):
		reason = fmt.Sprintf("%s is above %s, not below it (are the hops in the right order?)",
			label(c), describe(want))
	case direct && g.isAncestor(want, c):
		reason = fmt.Sprintf("%s hangs under %s, a descendant of %s, instead of directly under it",
			label(c), describe(p), describe(want))
	default:
		// Name both spans in full: they may share a service and a kind.
		reason = fmt.Sprintf("%s hangs under %s instead of under %s", label(c), describe(p), describe(want))
	}
	for _, l := range c.Links {
		if l.TraceID == want.TraceID && l.SpanID == want.SpanID {
			reason += fmt.Sprintf("; it has a link to %s, but a link (an OpenTracing FollowsFrom) is not a parent", label(want))
			break
		}
	}
	return reason
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
