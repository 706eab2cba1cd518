package tracecheck

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

const (
	traceA = "0af7651916cd43dd8448eb211c80319c"
	traceB = "4bf92f3577b34da6a3ce929d0e0e4736"
)

var t0 = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

func ms(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }

func mkSpan(trace, id, parent, service, kind, name string, start, dur float64) Span {
	return Span{
		TraceID: trace, SpanID: id, ParentID: parent,
		Service: service, Kind: kind, Name: name,
		Start: t0.Add(ms(start)), Duration: ms(dur),
		Source: "otel",
	}
}

// fleet is the workshop's happy path: gateway → checkout over HTTP → RabbitMQ → stock.
func fleet() []Span {
	return []Span{
		mkSpan(traceA, "00000000000000a1", "", "gateway", KindServer, "GET /buy", 0, 20),
		mkSpan(traceA, "00000000000000a2", "00000000000000a1", "gateway", KindClient, "HTTP POST", 0.5, 12),
		mkSpan(traceA, "00000000000000b1", "00000000000000a2", "checkout", KindServer, "POST /checkout", 1, 11),
		mkSpan(traceA, "00000000000000b2", "00000000000000b1", "checkout", KindClient, "INSERT orders", 2, 4),
		mkSpan(traceA, "00000000000000b3", "00000000000000b1", "checkout", KindProducer, "publish shop", 7, 1),
		mkSpan(traceA, "00000000000000c1", "00000000000000b3", "stock", KindConsumer, "process stock", 13, 6),
		mkSpan(traceA, "00000000000000c2", "00000000000000c1", "stock", KindClient, "UPDATE stock", 14, 3),
	}
}

// consumerNewTrace is fleet() with the context lost on the way through RabbitMQ: the
// stock consumer starts trace B and its database call follows it there.
func consumerNewTrace() []Span {
	spans := fleet()
	spans[5].TraceID, spans[5].ParentID = traceB, ""
	spans[6].TraceID = traceB
	return spans
}

// edit returns fleet() with the span of the given ID changed by f.
func edit(id string, f func(*Span)) []Span {
	spans := fleet()
	for i := range spans {
		if spans[i].SpanID == id {
			f(&spans[i])
		}
	}
	return spans
}

var (
	hopGateway  = Hop{Service: "gateway", Kind: KindServer, Name: "GET /buy", Todo: "TODO(01.1): start a server span"}
	hopCheckout = Hop{Service: "checkout", Kind: KindServer, Name: "POST /checkout", Todo: "TODO(02.1): extract the HTTP headers"}
	hopProducer = Hop{Service: "checkout", Kind: KindProducer, Name: "publish shop", Todo: "TODO(03.1): inject into the AMQP headers"}
	hopConsumer = Hop{Service: "stock", Kind: KindConsumer, Name: "process stock", Todo: "TODO(03.2): extract the span context from the AMQP headers"}
	hopUpdate   = Hop{Service: "stock", Kind: KindClient, Todo: "TODO(03.3): pass ctx to the database call"}
)

func TestPadTraceID(t *testing.T) {
	if got, want := PadTraceID(0, 0x00f067aa0ba902b7), "000000000000000000f067aa0ba902b7"; got != want {
		t.Errorf("PadTraceID(0, low) = %q, want %q", got, want)
	}
	if got, want := PadTraceID(0x4bf92f3577b34da6, 0xa3ce929d0e0e4736), traceB; got != want {
		t.Errorf("PadTraceID(high, low) = %q, want %q", got, want)
	}
	if got, want := SpanIDHex(0xa1), "00000000000000a1"; got != want {
		t.Errorf("SpanIDHex = %q, want %q", got, want)
	}
}

func TestTraces(t *testing.T) {
	later := mkSpan(traceB, "00000000000000e1", "", "gateway", KindServer, "GET /later", 50, 1)
	spans := append([]Span{later}, fleet()...)
	// Export order is arbitrary; reverse the fleet to prove the result does not depend on it.
	for i, j := 1, len(spans)-1; i < j; i, j = i+1, j-1 {
		spans[i], spans[j] = spans[j], spans[i]
	}
	traces := Traces(spans)
	if len(traces) != 2 || traces[0].ID != traceA || traces[1].ID != traceB {
		t.Fatalf("Traces = %v, want %s then %s", traceIDs(traces), traceA, traceB)
	}
	a := traces[0]
	if len(a.Spans) != 7 || a.Spans[0].SpanID != "00000000000000a1" || a.Spans[6].SpanID != "00000000000000c2" {
		t.Errorf("trace A spans not sorted by start: %v", spanIDs(a.Spans))
	}
	if roots := a.Roots(); len(roots) != 1 || roots[0].Name != "GET /buy" {
		t.Errorf("Roots = %v", spanIDs(roots))
	}
	if kids := a.Children("00000000000000b1"); len(kids) != 2 || kids[0].Name != "INSERT orders" || kids[1].Name != "publish shop" {
		t.Errorf("Children(b1) = %v", spanIDs(kids))
	}
	if kids := a.Children(""); len(kids) != 0 {
		t.Errorf("Children(\"\") = %v, want none: roots are not children of anything", spanIDs(kids))
	}
	c1 := a.Spans[5]
	if p, ok := a.Parent(c1); !ok || p.Name != "publish shop" {
		t.Errorf("Parent(process stock) = %v, %v", p.Name, ok)
	}
	if _, ok := a.Parent(a.Spans[0]); ok {
		t.Error("Parent(root) found a parent")
	}
	if got := Filter(spans, traceB); len(got) != 1 || got[0].Name != "GET /later" {
		t.Errorf("Filter(traceB) = %v", spanIDs(got))
	}
	if got := Filter(spans, "nope"); got != nil {
		t.Errorf("Filter(unknown) = %v, want nil", got)
	}
}

func TestOrphans(t *testing.T) {
	spans := edit("00000000000000b1", func(s *Span) { s.ParentID = "00000000000000ff" })
	a := Traces(spans)[0]
	if o := a.Orphans(); len(o) != 1 || o[0].Name != "POST /checkout" {
		t.Errorf("Orphans = %v", spanIDs(o))
	}
	if r := a.Roots(); len(r) != 1 {
		t.Errorf("Roots = %v: an orphan is not a root", spanIDs(r))
	}
}

func TestClone(t *testing.T) {
	spans := fleet()
	spans[0].Attrs = map[string]string{"k": "v"}
	spans[0].Events = []Event{{Name: "e", Attrs: map[string]string{"a": "b"}}}
	spans[0].Links = []Link{{TraceID: traceB, SpanID: "00000000000000e1"}}
	c := Clone(spans)
	c[0].Attrs["k"] = "changed"
	c[0].Events[0].Attrs["a"] = "changed"
	c[0].Links[0].SpanID = "changed"
	if spans[0].Attrs["k"] != "v" || spans[0].Events[0].Attrs["a"] != "b" || spans[0].Links[0].SpanID != "00000000000000e1" {
		t.Error("Clone shares maps or slices with the original")
	}
}

func TestFind(t *testing.T) {
	spans := fleet()
	if s, ok := Find(spans, Hop{Service: "checkout", Kind: KindClient}); !ok || s.Name != "INSERT orders" {
		t.Errorf("Find(checkout client) = %q, %v", s.Name, ok)
	}
	if _, ok := Find(spans, Hop{Service: "checkout", Kind: KindClient, Name: "nope"}); ok {
		t.Error("Find matched a different name")
	}
	if _, ok := Find(spans, Hop{Service: "stock", Kind: KindProducer}); ok {
		t.Error("Find matched a different kind")
	}
	// Two requests: the earliest wins, whatever the order the spans arrived in.
	second := mkSpan(traceB, "00000000000000e1", "", "gateway", KindServer, "GET /buy", 40, 1)
	if s, _ := Find(append([]Span{second}, spans...), hopGateway); s.TraceID != traceA {
		t.Errorf("Find returned the later span of trace %s", s.TraceID)
	}
}

func TestCheckContinuous(t *testing.T) {
	tests := []struct {
		name  string
		spans []Span
		want  []string // substrings of the error; none means no error
	}{
		{name: "happy path", spans: fleet()},
		{name: "no spans", spans: nil, want: []string{"no trace at all", "no spans were recorded at all"}},
		{
			name:  "new trace",
			spans: consumerNewTrace(),
			want: []string{"2 traces instead of one", traceA + ` starting at gateway server "GET /buy"`,
				traceB + ` starting at stock consumer "process stock"`},
		},
		{
			name:  "two roots",
			spans: edit("00000000000000c1", func(s *Span) { s.ParentID = "" }),
			want:  []string{`2 spans have no parent, only one should: gateway server "GET /buy", stock consumer "process stock"`},
		},
		{
			name: "FollowsFrom",
			spans: edit("00000000000000c1", func(s *Span) {
				s.ParentID = ""
				s.Links = []Link{{TraceID: traceA, SpanID: "00000000000000b3"}}
			}),
			want: []string{"\n  - " + `stock consumer "process stock" links to checkout producer "publish shop", but a link (an OpenTracing FollowsFrom) is not a parent`},
		},
		{
			name:  "orphan",
			spans: edit("00000000000000b1", func(s *Span) { s.ParentID = "00000000000000ff" }),
			want:  []string{`the parent 00000000000000ff of checkout server "POST /checkout" was never recorded`},
		},
		{
			name: "cycle",
			spans: []Span{
				mkSpan(traceA, "0000000000000001", "0000000000000002", "a", KindInternal, "x", 0, 1),
				mkSpan(traceA, "0000000000000002", "0000000000000001", "a", KindInternal, "y", 0, 1),
			},
			want: []string{"the parents form a cycle"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckContinuous(tt.spans)
			checkErr(t, err, tt.want...)
		})
	}
}

func TestCheckContinuousListsEveryProblem(t *testing.T) {
	spans := consumerNewTrace()
	spans = append(spans, mkSpan(traceB, "00000000000000d1", "00000000000000ff", "stock", KindClient, "UPDATE stock", 15, 1))
	checkErr(t, CheckContinuous(spans),
		"the trace is not continuous:\n  - the spans form 2 traces",
		"\n  - the parent 00000000000000ff of stock client \"UPDATE stock\" in trace "+traceB+" was never recorded")
}

func TestCheckChain(t *testing.T) {
	chain := []Hop{hopGateway, hopCheckout, hopProducer, hopConsumer, hopUpdate}
	tests := []struct {
		name    string
		spans   []Span
		hops    []Hop
		blame   string   // the Todo of the hop the error must blame
		want    []string // substrings of the error; none means no error
		notWant []string
	}{
		{name: "happy path", spans: fleet(), hops: chain},
		{name: "one hop", spans: fleet(), hops: []Hop{hopConsumer}},
		{name: "descendants, not only children", spans: fleet(), hops: []Hop{hopGateway, hopUpdate}},
		{
			name:  "no spans",
			hops:  chain,
			blame: hopGateway.Todo,
			want:  []string{`no span for gateway server "GET /buy"`, "no spans were recorded at all"},
		},
		{
			name:  "hop missing, service silent",
			spans: fleet()[:5],
			hops:  chain,
			blame: hopConsumer.Todo,
			want: []string{
				`no span for stock consumer "process stock": no span at all came from service "stock"`,
				`(the chain got as far as checkout producer "publish shop")`,
				"\nlook at TODO(03.2): extract the span context from the AMQP headers\n",
			},
		},
		{
			name:  "renamed",
			spans: edit("00000000000000c1", func(s *Span) { s.Name = "consume stock" }),
			hops:  chain,
			blame: hopConsumer.Todo,
			want:  []string{`no span for stock consumer "process stock": stock recorded only consumer "consume stock", client "UPDATE stock"`},
		},
		{
			name:  "wrong kind",
			spans: edit("00000000000000c1", func(s *Span) { s.Kind = KindInternal }),
			hops:  chain,
			blame: hopConsumer.Todo,
			want:  []string{`no span for stock consumer "process stock": the stock span "process stock" has kind internal, not consumer`},
		},
		{
			name:  "new trace",
			spans: consumerNewTrace(),
			hops:  chain,
			blame: hopConsumer.Todo,
			want: []string{
				`the trace breaks between checkout producer "publish shop" and stock consumer "process stock": ` +
					`the stock consumer span starts a new trace (` + traceB + `) instead of continuing ` + traceA,
				"look at TODO(03.2)",
				"recorded spans (2 traces):",
				"trace " + traceB + " · 2 spans",
			},
			notWant: []string{"link"},
		},
		{
			name:  "HTTP hop breaks",
			spans: edit("00000000000000b1", func(s *Span) { s.ParentID = "" }),
			hops:  chain,
			blame: hopCheckout.Todo,
			want: []string{
				`the trace breaks between gateway server "GET /buy" and checkout server "POST /checkout": ` +
					`the checkout server span has no parent: it is a second root in trace ` + traceA,
				"look at TODO(02.1): extract the HTTP headers",
			},
		},
		{
			name: "FollowsFrom is not a parent",
			spans: edit("00000000000000c1", func(s *Span) {
				s.ParentID = ""
				s.Links = []Link{{TraceID: traceA, SpanID: "00000000000000b3"}}
			}),
			hops:  chain,
			blame: hopConsumer.Todo,
			want: []string{
				"the stock consumer span has no parent: it is a second root in trace " + traceA,
				"; it has a link to the checkout producer span, but a link (an OpenTracing FollowsFrom) is not a parent",
			},
		},
		{
			name:  "parent never recorded",
			spans: edit("00000000000000c1", func(s *Span) { s.ParentID = "00000000000000ff" }),
			hops:  chain,
			blame: hopConsumer.Todo,
			want:  []string{"the parent 00000000000000ff of the stock consumer span was never recorded"},
		},
		{
			name: "in another trace under an unrecorded parent",
			spans: edit("00000000000000c1", func(s *Span) {
				s.TraceID, s.ParentID = traceB, "00000000000000ff"
			}),
			hops:  chain,
			blame: hopConsumer.Todo,
			want: []string{"the stock consumer span is in another trace (" + traceB + ") instead of " + traceA +
				", under a parent 00000000000000ff that was never recorded"},
		},
		{
			name: "hangs elsewhere",
			// The consumer continued the checkout server span, not the producer span: the
			// producer injected the wrong context: the fault is the producer's.
			spans: edit("00000000000000c1", func(s *Span) { s.ParentID = "00000000000000b1" }),
			hops:  chain,
			blame: hopProducer.Todo,
			want: []string{`the stock consumer span hangs under checkout server "POST /checkout", beside the checkout producer span instead of under it`,
				`The code that starts "publish shop" went on with the context it was given`},
		},
		{
			name:  "hops out of order",
			spans: fleet(),
			hops:  []Hop{hopConsumer, hopProducer},
			blame: hopProducer.Todo,
			want:  []string{`the checkout producer span is above stock consumer "process stock", not below it (are the hops in the right order?)`},
		},
		{
			name: "second request is continuous",
			// The first request's consumer lost the context; the second one's did not.
			// Any complete chain passes.
			spans: append(
				consumerNewTrace(),
				mkSpan("11111111111111111111111111111111", "00000000000000f1", "", "gateway", KindServer, "GET /buy", 30, 10),
				mkSpan("11111111111111111111111111111111", "00000000000000f2", "00000000000000f1", "checkout", KindServer, "POST /checkout", 31, 8),
				mkSpan("11111111111111111111111111111111", "00000000000000f3", "00000000000000f2", "checkout", KindProducer, "publish shop", 32, 1),
				mkSpan("11111111111111111111111111111111", "00000000000000f4", "00000000000000f3", "stock", KindConsumer, "process stock", 34, 3),
				mkSpan("11111111111111111111111111111111", "00000000000000f5", "00000000000000f4", "stock", KindClient, "UPDATE stock", 35, 1),
			),
			hops: chain,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckChain(tt.spans, tt.hops...)
			checkErr(t, err, tt.want...)
			for _, s := range tt.notWant {
				if err != nil && strings.Contains(err.Error(), s) {
					t.Errorf("error mentions %q:\n%v", s, err)
				}
			}
			checkBlame(t, err, tt.blame)
		})
	}
}

func TestCheckChainNeedsHops(t *testing.T) {
	if err := CheckChain(fleet()); err == nil {
		t.Error("CheckChain with no hops passed")
	}
}

func TestCheckParent(t *testing.T) {
	tests := []struct {
		name          string
		spans         []Span
		child, parent Hop
		blame         string
		want          []string
	}{
		{name: "happy path", spans: fleet(), child: hopConsumer, parent: hopProducer},
		{
			name: "grandchild", spans: fleet(), child: hopConsumer, parent: hopCheckout,
			blame: hopConsumer.Todo,
			want: []string{`stock consumer "process stock" is not a child of checkout server "POST /checkout": ` +
				`the stock consumer span hangs under checkout producer "publish shop", a descendant of checkout server "POST /checkout", instead of directly under it`},
		},
		{
			name:   "new trace",
			spans:  consumerNewTrace(),
			child:  hopConsumer,
			parent: hopProducer,
			blame:  hopConsumer.Todo,
			want:   []string{"the stock consumer span starts a new trace (" + traceB + ") instead of continuing " + traceA},
		},
		{
			name:   "in another trace under a recorded span",
			spans:  append(edit("00000000000000c1", func(s *Span) { s.TraceID, s.ParentID = traceB, "00000000000000e1" }), mkSpan(traceB, "00000000000000e1", "", "stock", KindInternal, "poll", 12, 8)),
			child:  hopConsumer,
			parent: hopProducer,
			blame:  hopConsumer.Todo,
			want:   []string{`the stock consumer span is in another trace (` + traceB + `, under stock internal "poll") instead of ` + traceA},
		},
		{
			name: "parent hop missing", spans: fleet()[:4], child: hopCheckout, parent: hopProducer,
			blame: hopProducer.Todo,
			want:  []string{`no span for checkout producer "publish shop"`, "look at TODO(03.1)"},
		},
		{
			name: "child hop missing", spans: fleet()[:5], child: hopConsumer, parent: hopProducer,
			blame: hopConsumer.Todo,
			want:  []string{`no span for stock consumer "process stock"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckParent(tt.spans, tt.child, tt.parent)
			checkErr(t, err, tt.want...)
			checkBlame(t, err, tt.blame)
		})
	}
}

// checkErr fails unless err is nil when want is empty, or contains every string of want.
func checkErr(t *testing.T, err error, want ...string) {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("unexpected error:\n%v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("no error, want one mentioning %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not mention %q:\n%v", w, err)
		}
	}
}

func checkBlame(t *testing.T, err error, todo string) {
	t.Helper()
	if err == nil || todo == "" {
		return
	}
	var brk *BreakError
	if !errors.As(err, &brk) {
		t.Fatalf("error is a %T, not a *BreakError", err)
	}
	if brk.Hop.Todo != todo {
		t.Errorf("error blames %q, want %q", brk.Hop.Todo, todo)
	}
	if !strings.Contains(err.Error(), "\nlook at "+todo+"\n") {
		t.Errorf("error does not say look at %q:\n%v", todo, err)
	}
}

func traceIDs(traces []Trace) []string {
	var ids []string
	for _, t := range traces {
		ids = append(ids, t.ID)
	}
	return ids
}

func spanIDs(spans []Span) []string {
	var ids []string
	for _, s := range spans {
		ids = append(ids, s.SpanID)
	}
	return ids
}

func ExampleCheckChain() {
	spans := []Span{
		{TraceID: traceA, SpanID: "00000000000000b3", Service: "checkout", Kind: KindProducer,
			Name: "publish shop", Start: t0, Duration: time.Millisecond},
		{TraceID: traceB, SpanID: "00000000000000c1", Service: "stock", Kind: KindConsumer,
			Name: "process stock", Start: t0.Add(2 * time.Millisecond), Duration: 3 * time.Millisecond},
	}
	err := CheckChain(spans,
		Hop{Service: "checkout", Kind: KindProducer, Name: "publish shop"},
		Hop{Service: "stock", Kind: KindConsumer, Name: "process stock",
			Todo: "TODO(03.2): extract the span context from the AMQP headers"})
	fmt.Println(err)
	// Output:
	// the trace breaks between checkout producer "publish shop" and stock consumer "process stock": the stock consumer span starts a new trace (4bf92f3577b34da6a3ce929d0e0e4736) instead of continuing 0af7651916cd43dd8448eb211c80319c
	// look at TODO(03.2): extract the span context from the AMQP headers
	//
	// recorded spans (2 traces):
	// trace 0af7651916cd43dd8448eb211c80319c · 1 span · 1.0ms
	//   service   span           kind         took  0                        1.0ms
	//   checkout  publish shop   producer    1.0ms  ██████████████████████████████
	//
	// trace 4bf92f3577b34da6a3ce929d0e0e4736 · 1 span · 3.0ms
	//   service   span           kind         took  0                        3.0ms
	//   stock     process stock  consumer    3.0ms  ██████████████████████████████
}
