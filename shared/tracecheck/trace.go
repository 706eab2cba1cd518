package tracecheck

import (
	"maps"
	"slices"
	"strings"
)

// Trace is the spans that share one trace ID, ordered by start time.
type Trace struct {
	ID    string
	Spans []Span
}

// Traces groups spans by trace ID. The traces are ordered by their earliest span's start
// time and the spans of each trace by start time, so the result does not depend on the
// order in which spans were exported.
func Traces(spans []Span) []Trace {
	byID := make(map[string]int)
	var traces []Trace
	for _, s := range spans {
		i, ok := byID[s.TraceID]
		if !ok {
			i = len(traces)
			byID[s.TraceID] = i
			traces = append(traces, Trace{ID: s.TraceID})
		}
		traces[i].Spans = append(traces[i].Spans, s)
	}
	for _, t := range traces {
		sortByStart(t.Spans)
	}
	slices.SortStableFunc(traces, func(a, b Trace) int {
		if c := a.Spans[0].Start.Compare(b.Spans[0].Start); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return traces
}

// sortByStart sorts spans by start time, breaking ties by span ID so that hand-built
// spans with equal times still come out in a fixed order.
func sortByStart(spans []Span) {
	slices.SortStableFunc(spans, func(a, b Span) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return strings.Compare(a.SpanID, b.SpanID)
	})
}

// Filter returns the spans of one trace, in their original order.
func Filter(spans []Span, traceID string) []Span {
	var out []Span
	for _, s := range spans {
		if s.TraceID == traceID {
			out = append(out, s)
		}
	}
	return out
}

// Roots returns the spans that have no parent at all. Spans whose parent is merely
// missing are not roots; Orphans returns those.
func (t Trace) Roots() []Span {
	var out []Span
	for _, s := range t.Spans {
		if s.ParentID == "" {
			out = append(out, s)
		}
	}
	return out
}

// Orphans returns the spans whose parent is not among the trace's spans: the parent was
// never exported, or the span continued a context whose span belongs to someone else.
func (t Trace) Orphans() []Span {
	ids := t.spanIDs()
	var out []Span
	for _, s := range t.Spans {
		if s.ParentID != "" && !ids[s.ParentID] {
			out = append(out, s)
		}
	}
	return out
}

// Children returns the direct children of the span with the given ID, by start time.
func (t Trace) Children(spanID string) []Span {
	var out []Span
	for _, s := range t.Spans {
		if s.ParentID == spanID && spanID != "" {
			out = append(out, s)
		}
	}
	return out
}

// Parent returns the parent of s, if s has one and it is in the trace.
func (t Trace) Parent(s Span) (Span, bool) {
	if s.ParentID == "" {
		return Span{}, false
	}
	for _, p := range t.Spans {
		if p.SpanID == s.ParentID {
			return p, true
		}
	}
	return Span{}, false
}

func (t Trace) spanIDs() map[string]bool {
	ids := make(map[string]bool, len(t.Spans))
	for _, s := range t.Spans {
		ids[s.SpanID] = true
	}
	return ids
}

// Clone returns a deep copy of spans, so a collector can hand out what it received
// without the caller's changes reaching it.
func Clone(spans []Span) []Span {
	if spans == nil {
		return nil
	}
	out := make([]Span, len(spans))
	for i, s := range spans {
		s.Attrs = maps.Clone(s.Attrs)
		if s.Events != nil {
			events := make([]Event, len(s.Events))
			for j, e := range s.Events {
				events[j] = Event{Name: e.Name, Attrs: maps.Clone(e.Attrs)}
			}
			s.Events = events
		}
		s.Links = slices.Clone(s.Links)
		out[i] = s
	}
	return out
}
