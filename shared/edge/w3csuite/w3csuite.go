// Package w3csuite holds the cases of the W3C Trace Context test suite
// (github.com/w3c/trace-context, test/test.py, strict level 2) as facts: the headers a
// caller sends a service, and what the trace context the service sends on must say.
// The suite itself is a Python harness that a service calls back; here the gateway's
// request to checkout is the callback. The edge's unit tests (shared/edge) and the
// contract suite (workshoptest.CheckEdge, at the gateways of steps 04-06) run them.
package w3csuite

import (
	"fmt"
	"regexp"
	"strings"
)

// Caller is the trace ID of the suite's valid traceparent, and CallerSpan its parent ID.
const (
	Caller     = "12345678901234567890123456789012"
	CallerSpan = "1234567890123456"
)

// Trace is what a case expects of the outgoing traceparent's trace ID.
type Trace int

const (
	// Any: a valid traceparent, whatever its trace ID.
	Any Trace = iota
	// Kept: the caller's trace ID (Caller), under a new parent ID.
	Kept
	// New: a trace ID that is none of those the caller sent.
	New
)

// Case is one request of the suite: a test of test.py may send several.
type Case struct {
	// Name is test.py's test name and, after a slash, the request's number in it.
	Name string
	// Headers are sent in this order, names as written (casing included).
	Headers [][2]string
	Trace   Trace
	// Has lists tracestate members the outgoing tracestate must carry; Absent, keys it
	// must not. Order lists members that must appear in this order.
	Has    map[string]string
	Absent []string
	Order  []string
	// Members, when above 0, is the number of members the outgoing tracestate must
	// have; Empty, that it has none.
	Members int
	Empty   bool
}

// tp is the suite's valid traceparent with the given flags.
func tp(flags string) [2]string {
	return [2]string{"traceparent", "00-" + Caller + "-" + CallerSpan + "-" + flags}
}

func ts(v string) [2]string { return [2]string{"tracestate", v} }

func raw(name, v string) [2]string { return [2]string{name, v} }

// Cases returns every case of the suite, in test.py's order.
func Cases() []Case {
	var cs []Case
	add := func(name string, c Case) {
		n := 1
		for _, prev := range cs {
			if strings.HasPrefix(prev.Name, name+"/") {
				n++
			}
		}
		c.Name = name + "/" + string(rune('0'+n))
		cs = append(cs, c)
	}
	kept := func(name string, h ...[2]string) { add(name, Case{Headers: h, Trace: Kept}) }
	restart := func(name, v string) {
		add(name, Case{Headers: [][2]string{{"traceparent", v}}, Trace: New})
	}
	const id = Caller + "-" + CallerSpan

	add("test_both_traceparent_and_tracestate_missing", Case{Trace: Any})
	kept("test_traceparent_included_tracestate_missing", tp("01"))
	add("test_traceparent_duplicated", Case{Trace: New, Headers: [][2]string{
		{"traceparent", "00-12345678901234567890123456789011-" + CallerSpan + "-01"}, tp("01")}})
	add("test_traceparent_header_name", Case{Trace: New, Headers: [][2]string{raw("trace-parent", "00-"+id+"-01")}})
	add("test_traceparent_header_name", Case{Trace: New, Headers: [][2]string{raw("trace.parent", "00-"+id+"-01")}})
	for _, name := range []string{"TraceParent", "TrAcEpArEnT", "TRACEPARENT"} {
		kept("test_traceparent_header_name_valid_casing", raw(name, "00-"+id+"-01"))
	}
	restart("test_traceparent_version_0x00", "00-"+id+"-01.")
	restart("test_traceparent_version_0x00", "00-"+id+"-01-what-the-future-will-be-like")
	kept("test_traceparent_version_0xcc", raw("traceparent", "cc-"+id+"-01"))
	kept("test_traceparent_version_0xcc", raw("traceparent", "cc-"+id+"-01-what-the-future-will-be-like"))
	restart("test_traceparent_version_0xcc", "cc-"+id+"-01.what-the-future-will-be-like")
	restart("test_traceparent_version_0xff", "ff-"+id+"-01")
	restart("test_traceparent_version_illegal_characters", ".0-"+id+"-01")
	restart("test_traceparent_version_illegal_characters", "0.-"+id+"-01")
	restart("test_traceparent_version_too_long", "000-"+id+"-01")
	restart("test_traceparent_version_too_long", "0000-"+id+"-01")
	restart("test_traceparent_version_too_short", "0-"+id+"-01")
	restart("test_traceparent_trace_id_all_zero", "00-00000000000000000000000000000000-"+CallerSpan+"-01")
	restart("test_traceparent_trace_id_illegal_characters", "00-.2345678901234567890123456789012-"+CallerSpan+"-01")
	restart("test_traceparent_trace_id_illegal_characters", "00-1234567890123456789012345678901.-"+CallerSpan+"-01")
	restart("test_traceparent_trace_id_too_long", "00-123456789012345678901234567890123-"+CallerSpan+"-01")
	restart("test_traceparent_trace_id_too_short", "00-1234567890123456789012345678901-"+CallerSpan+"-01")
	restart("test_traceparent_parent_id_all_zero", "00-"+Caller+"-0000000000000000-01")
	restart("test_traceparent_parent_id_illegal_characters", "00-"+Caller+"-.234567890123456-01")
	restart("test_traceparent_parent_id_illegal_characters", "00-"+Caller+"-123456789012345.-01")
	restart("test_traceparent_parent_id_too_long", "00-"+Caller+"-12345678901234567-01")
	restart("test_traceparent_parent_id_too_short", "00-"+Caller+"-123456789012345-01")
	restart("test_traceparent_trace_flags_illegal_characters", "00-"+id+"-.0")
	restart("test_traceparent_trace_flags_illegal_characters", "00-"+id+"-0.")
	restart("test_traceparent_trace_flags_too_long", "00-"+id+"-001")
	restart("test_traceparent_trace_flags_too_short", "00-"+id+"-1")
	for _, v := range []string{" 00-" + id + "-01", "\t00-" + id + "-01", "00-" + id + "-01 ", "00-" + id + "-01\t", "\t 00-" + id + "-01 \t"} {
		kept("test_traceparent_ows_handling", raw("traceparent", v))
	}

	// tracestate without traceparent: discarded (test.py compares two such requests'
	// lengths; a new trace carries no caller's member).
	add("test_tracestate_included_traceparent_missing", Case{Trace: Any, Headers: [][2]string{ts("foo=1")}, Empty: true, Absent: []string{"foo"}})
	add("test_tracestate_included_traceparent_missing", Case{Trace: Any, Headers: [][2]string{ts("foo=1,bar=2")}, Empty: true, Absent: []string{"foo", "bar"}})
	add("test_tracestate_included_traceparent_included", Case{Trace: Kept, Headers: [][2]string{tp("00"), ts("foo=1,bar=2")},
		Has: map[string]string{"foo": "1", "bar": "2"}})
	for _, name := range []string{"trace-state", "trace.state"} {
		add("test_tracestate_header_name", Case{Trace: Kept, Headers: [][2]string{tp("00"), raw(name, "foo=1")}, Absent: []string{"foo"}})
	}
	for _, name := range []string{"TraceState", "TrAcEsTaTe", "TRACESTATE"} {
		add("test_tracestate_header_name_valid_casing", Case{Trace: Kept, Headers: [][2]string{tp("00"), raw(name, "foo=1")}, Has: map[string]string{"foo": "1"}})
	}
	add("test_tracestate_empty_header", Case{Trace: Kept, Headers: [][2]string{tp("00"), ts("")}, Empty: true})
	add("test_tracestate_empty_header", Case{Trace: Kept, Headers: [][2]string{tp("00"), ts("foo=1"), ts("")}, Has: map[string]string{"foo": "1"}})
	add("test_tracestate_empty_header", Case{Trace: Kept, Headers: [][2]string{tp("00"), ts(""), ts("foo=1")}, Has: map[string]string{"foo": "1"}})
	add("test_tracestate_multiple_headers_different_keys", Case{Trace: Kept,
		Headers: [][2]string{tp("00"), ts("foo=1,bar=2"), ts("rojo=1,congo=2"), ts("baz=3")},
		Order:   []string{"foo=1", "bar=2", "rojo=1", "congo=2", "baz=3"}})
	for _, h := range [][][2]string{{ts("foo=1,foo=1")}, {ts("foo=1,foo=2")}, {ts("foo=1"), ts("foo=1")}, {ts("foo=1"), ts("foo=2")}} {
		add("test_tracestate_duplicated_keys", Case{Trace: Kept, Headers: append([][2]string{tp("00")}, h...), Absent: []string{"foo"}})
	}
	simpleKey := "abcdefghijklmnopqrstuvwxyz0123456789_-*/"
	var value []byte
	for c := byte(0x20); c <= 0x7e; c++ {
		if c != ',' && c != '=' {
			value = append(value, c)
		}
	}
	for _, key := range []string{simpleKey, simpleKey + "@a-z0-9_-*/"} {
		add("test_tracestate_all_allowed_characters", Case{Trace: Kept, Headers: [][2]string{tp("00"), ts(key + "=" + string(value))},
			Has: map[string]string{key: string(value)}})
	}
	for _, v := range []string{"foo=1 \t , \t bar=2, \t baz=3", "foo=1\t \t,\t \tbar=2,\t \tbaz=3"} {
		add("test_tracestate_ows_handling", Case{Trace: Any, Headers: [][2]string{tp("00"), ts(v)}, Has: map[string]string{"foo": "1", "bar": "2", "baz": "3"}})
	}
	for _, v := range []string{" foo=1", "\tfoo=1", "foo=1 ", "foo=1\t", "\t foo=1 \t"} {
		add("test_tracestate_ows_handling", Case{Trace: Kept, Headers: [][2]string{tp("00"), ts(v)}, Has: map[string]string{"foo": "1"}})
	}
	for _, c := range [][2]string{{"foo =1", "foo "}, {"FOO=1", "FOO"}, {"foo.bar=1", "foo.bar"}} {
		add("test_tracestate_key_illegal_characters", Case{Trace: Any, Headers: [][2]string{tp("00"), ts(c[0])}, Absent: []string{c[1]}})
	}
	for _, v := range []string{"foo@=1,bar=2", "@foo=1,bar=2", "foo@@bar=1,bar=2", "foo@bar@baz=1,bar=2"} {
		add("test_tracestate_key_illegal_vendor_format", Case{Trace: Any, Headers: [][2]string{tp("00"), ts(v)}, Absent: []string{"bar"}})
	}
	var bars []string
	for i := 1; i <= 33; i++ {
		bars = append(bars, "bar"+two(i)+"="+two(i))
	}
	thirtyTwo := [][2]string{tp("00"), ts(strings.Join(bars[0:10], ",")), ts(strings.Join(bars[10:20], ",")), ts(strings.Join(bars[20:30], ","))}
	add("test_tracestate_member_count_limit", Case{Trace: Any, Headers: append(thirtyTwo[:4:4], ts(strings.Join(bars[30:32], ","))),
		Has: map[string]string{"bar01": "01"}, Members: 32})
	add("test_tracestate_member_count_limit", Case{Trace: Any, Headers: append(thirtyTwo[:4:4], ts(strings.Join(bars[30:33], ","))),
		Absent: []string{"bar01"}})
	for _, c := range []struct {
		key  string
		keep bool
	}{
		{strings.Repeat("z", 256), true},
		{strings.Repeat("z", 257), false},
		{strings.Repeat("t", 241) + "@" + strings.Repeat("v", 14), true},
		{strings.Repeat("t", 242) + "@v", false},
		{"t@" + strings.Repeat("v", 15), false},
	} {
		k := Case{Trace: Any, Headers: [][2]string{tp("00"), ts("foo=1"), ts(c.key + "=1")}}
		if c.keep {
			k.Has = map[string]string{"foo": "1"}
		} else {
			k.Absent = []string{"foo"}
		}
		add("test_tracestate_key_length_limit", k)
	}
	add("test_tracestate_value_illegal_characters", Case{Trace: Any, Headers: [][2]string{tp("00"), ts("foo=bar=baz")}, Absent: []string{"foo"}})
	add("test_tracestate_value_illegal_characters", Case{Trace: Any, Headers: [][2]string{tp("00"), ts("foo=,bar=3")}, Absent: []string{"foo", "bar"}})
	return cs
}

func two(i int) string { return string(rune('0'+i/10)) + string(rune('0'+i%10)) }

// Members parses an outgoing tracestate (every header, in order) into its members.
func Members(values []string) (keys []string, vals map[string]string, members []string) {
	vals = map[string]string{}
	for _, v := range values {
		for _, m := range strings.Split(v, ",") {
			if m = strings.Trim(m, " \t"); m == "" {
				continue
			}
			k, val, _ := strings.Cut(m, "=")
			if _, dup := vals[k]; !dup {
				keys = append(keys, k)
			}
			vals[k] = val
			members = append(members, m)
		}
	}
	return keys, vals, members
}

var traceparentRE = regexp.MustCompile(`^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$`)

// Check returns what is wrong with the trace context a service sent on after receiving
// c's headers: its traceparent headers and tracestate headers, in order.
func (c Case) Check(traceparent, tracestate []string) []string {
	var problems []string
	if len(traceparent) != 1 {
		return []string{fmt.Sprintf("%d traceparent headers %q, want one", len(traceparent), traceparent)}
	}
	m := traceparentRE.FindStringSubmatch(traceparent[0])
	if m == nil || m[1] == strings.Repeat("0", 32) || m[2] == strings.Repeat("0", 16) {
		return []string{fmt.Sprintf("traceparent %q is not a valid version 00 traceparent", traceparent[0])}
	}
	switch c.Trace {
	case Kept:
		if m[1] != Caller {
			problems = append(problems, fmt.Sprintf("trace ID %s, want the caller's %s continued", m[1], Caller))
		}
		if m[2] == CallerSpan {
			problems = append(problems, fmt.Sprintf("parent ID %s is the caller's, want a span of the service's own", m[2]))
		}
	case New:
		for _, h := range c.Headers {
			if strings.EqualFold(h[0], "traceparent") && strings.Contains(h[1], m[1]) || m[1] == Caller {
				problems = append(problems, fmt.Sprintf("trace ID %s is the caller's, want a new trace (the caller's traceparent is invalid)", m[1]))
				break
			}
		}
	}
	keys, vals, members := Members(tracestate)
	for k, v := range c.Has {
		if got, ok := vals[k]; !ok || got != v {
			problems = append(problems, fmt.Sprintf("tracestate %q lacks %s=%s", tracestate, k, v))
		}
	}
	for _, k := range c.Absent {
		if _, ok := vals[k]; ok {
			problems = append(problems, fmt.Sprintf("tracestate %q has the key %q, want the caller's tracestate discarded", tracestate, k))
		}
	}
	if c.Empty && len(members) > 0 {
		problems = append(problems, fmt.Sprintf("tracestate %q, want none of the caller's", tracestate))
	}
	if c.Members > 0 && len(keys) != c.Members {
		problems = append(problems, fmt.Sprintf("tracestate has %d members, want %d", len(keys), c.Members))
	}
	last := -1
	for _, want := range c.Order {
		i := strings.Index(strings.Join(members, ","), want)
		if i < last {
			problems = append(problems, fmt.Sprintf("tracestate %q: want the members in the order %q", tracestate, c.Order))
			break
		}
		last = i
	}
	return problems
}
