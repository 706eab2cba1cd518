package tracecheck

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"
)

// brokenFleet is fleet() with the context lost at RabbitMQ and a failed database call.
func brokenFleet() []Span {
	spans := consumerNewTrace()
	spans[3].Error = true
	return spans
}

// attrFleet has what the Attrs option shows: attributes, events, a link and an orphan.
func attrFleet() []Span {
	spans := fleet()[:5]
	spans[3].Error = true
	spans[3].Attrs = map[string]string{
		"span.kind":    "client",
		"error":        "true",
		"db.statement": "INSERT INTO orders (sku, qty)\nVALUES ($1, $2)",
	}
	spans[3].Events = []Event{{Name: "exception", Attrs: map[string]string{
		"exception.type":    "*pq.Error",
		"exception.message": "duplicate key",
	}}}
	consumer := mkSpan(traceA, "00000000000000c1", "", "stock", KindConsumer, "process stock", 13, 6)
	consumer.Links = []Link{{TraceID: traceA, SpanID: "00000000000000b3"}}
	consumer.Attrs = map[string]string{"messaging.system": "rabbitmq"}
	orphan := mkSpan(traceA, "00000000000000c2", "00000000000000ff", "stock", KindClient, "UPDATE stock", 14, 3)
	return append(spans, consumer, orphan)
}

func TestStringGolden(t *testing.T) {
	const want = `trace 0af7651916cd43dd8448eb211c80319c · 5 spans · 20.0ms
  service   span                    kind         took  0                       20.0ms
  gateway   GET /buy                server     20.0ms  ██████████████████████████████
  gateway   └─ HTTP POST            client     12.0ms  ▐██████████████████···········
  checkout     └─ POST /checkout    server     11.0ms  ·▐████████████████············
  checkout        ├─ INSERT orders  client      4.0ms  ···██████····················· ✗ error
  checkout        └─ publish shop   producer    1.0ms  ··········▐█··················

trace 4bf92f3577b34da6a3ce929d0e0e4736 · 2 spans · 6.0ms
  service   span                    kind         took  0                        6.0ms
  stock     process stock           consumer    6.0ms  ██████████████████████████████
  stock     └─ UPDATE stock         client      3.0ms  ·····███████████████··········
`
	if got := String(brokenFleet()); got != want {
		t.Errorf("String() =\n%s\nwant\n%s", got, want)
	}
}

func TestRenderAttrsGolden(t *testing.T) {
	const want = `trace 0af7651916cd43dd8448eb211c80319c · 7 spans · 20.0ms
  service   span                    kind         took  0                       20.0ms
  gateway   GET /buy                server     20.0ms  ██████████████████████████████
  gateway   └─ HTTP POST            client     12.0ms  ▐██████████████████···········
  checkout     └─ POST /checkout    server     11.0ms  ·▐████████████████············
  checkout        ├─ INSERT orders  client      4.0ms  ···██████····················· ✗ error
                  │     db.statement = INSERT INTO orders (sku, qty)\nVALUES ($1, $2)
                  │     error = true
                  │     span.kind = client
                  │     • exception  exception.message=duplicate key  exception.type=*pq.Error
  checkout        └─ publish shop   producer    1.0ms  ··········▐█··················
  stock     process stock           consumer    6.0ms  ···················▐████████▌·
               link → checkout producer "publish shop"
               messaging.system = rabbitmq
  stock     UPDATE stock            client      3.0ms  ·····················████▌····
               (parent 00000000000000ff missing)
`
	var b strings.Builder
	if err := Render(&b, attrFleet(), RenderOptions{Attrs: true}); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != want {
		t.Errorf("Render(Attrs) =\n%s\nwant\n%s", got, want)
	}
}

func TestRenderFitsWidth(t *testing.T) {
	spans := attrFleet()
	spans[6].Name = "UPDATE stock SET quantity = quantity - $1 WHERE sku = $2 AND warehouse = $3"
	spans[6].Service = "stock-consumer-eu-west-1"
	spans[6].Attrs = map[string]string{"db.statement": strings.Repeat("SELECT 1; ", 30)}
	for _, width := range []int{0, 76, 80, 100, 132} {
		var b strings.Builder
		if err := Render(&b, spans, RenderOptions{Width: width, Attrs: true, Color: true}); err != nil {
			t.Fatal(err)
		}
		limit := width
		if limit == 0 {
			limit = 100
		}
		for _, line := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
			if n := runeLen(stripANSI(line)); n > limit {
				t.Errorf("width %d: line is %d columns:\n%s", width, n, stripANSI(line))
			}
		}
		if !strings.Contains(b.String(), "…") {
			t.Errorf("width %d: nothing was cut short:\n%s", width, b.String())
		}
	}
}

func TestRenderColor(t *testing.T) {
	spans := brokenFleet()
	var b strings.Builder
	if err := Render(&b, spans, RenderOptions{Color: true}); err != nil {
		t.Fatal(err)
	}
	colored := b.String()
	if got, want := stripANSI(colored), String(spans); got != want {
		t.Errorf("colour changed the layout:\n%s\nwant\n%s", got, want)
	}
	// Services are coloured in alphabetical order: checkout, gateway, stock.
	for svc, code := range map[string]string{"checkout": serviceColor(0), "gateway": serviceColor(1), "stock": serviceColor(2)} {
		if !strings.Contains(colored, code+pad(svc, 8)+ansiReset) {
			t.Errorf("service %s is not painted %q:\n%q", svc, code, colored)
		}
	}
	if !strings.Contains(colored, ansiRed+"✗ error"+ansiReset) {
		t.Errorf("the error mark is not red:\n%q", colored)
	}
}

func TestRenderDeterministic(t *testing.T) {
	want := String(attrFleet())
	r := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		spans := attrFleet()
		r.Shuffle(len(spans), func(i, j int) { spans[i], spans[j] = spans[j], spans[i] })
		if got := String(spans); got != want {
			t.Fatalf("the order of the input changed the output:\n%s\nwant\n%s", got, want)
		}
	}
}

func TestRenderEdgeCases(t *testing.T) {
	if got := String(nil); got != "no spans\n" {
		t.Errorf("String(nil) = %q", got)
	}

	cycle := String([]Span{
		mkSpan(traceA, "0000000000000001", "0000000000000002", "a", KindInternal, "x", 0, 1),
		mkSpan(traceA, "0000000000000002", "0000000000000001", "a", KindInternal, "y", 0.5, 1),
	})
	for _, want := range []string{" x ", "└─ y", "(parent 0000000000000002: the parents form a cycle)"} {
		if !strings.Contains(cycle, want) {
			t.Errorf("cycle rendering lacks %q:\n%s", want, cycle)
		}
	}

	// Hand-built spans often have no times at all.
	zero := String([]Span{{TraceID: traceA, SpanID: "0000000000000001", Service: "a", Kind: KindInternal, Name: "x"}})
	if !strings.Contains(zero, "0s  "+strings.Repeat("█", barWidth)) {
		t.Errorf("a zero-length trace is not one full bar:\n%s", zero)
	}

	// A span ID used twice (a Zipkin-style shared span) must not loop or vanish.
	dup := fleet()
	dup = append(dup, mkSpan(traceA, "00000000000000b1", "00000000000000a2", "checkout", KindServer, "POST /checkout again", 1, 1))
	if got := strings.Count(String(dup), "\n  "); got != len(dup)+1 {
		t.Errorf("rendered %d lines for %d spans:\n%s", got, len(dup), String(dup))
	}
}

func TestRenderWriteError(t *testing.T) {
	err := Render(failingWriter{}, fleet(), RenderOptions{})
	if !errors.Is(err, errWrite) {
		t.Errorf("Render error = %v, want it to wrap %v", err, errWrite)
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                        "0s",
		500 * time.Nanosecond:    "500ns",
		850 * time.Microsecond:   "850µs",
		1200 * time.Microsecond:  "1.2ms",
		15249 * time.Microsecond: "15.2ms",
		1250 * time.Millisecond:  "1.25s",
		90 * time.Second:         "1m30s",
	} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

func stripANSI(s string) string { return ansi.ReplaceAllString(s, "") }

var errWrite = errors.New("disk full")

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errWrite }

func ExampleString() {
	spans := []Span{
		{TraceID: traceA, SpanID: "00000000000000a1", Service: "gateway", Kind: KindServer, Name: "GET /buy",
			Start: t0, Duration: 4 * time.Millisecond},
		{TraceID: traceA, SpanID: "00000000000000b1", ParentID: "00000000000000a1", Service: "checkout",
			Kind: KindServer, Name: "POST /checkout", Start: t0.Add(time.Millisecond), Duration: 2 * time.Millisecond},
	}
	fmt.Print(String(spans))
	// Output:
	// trace 0af7651916cd43dd8448eb211c80319c · 2 spans · 4.0ms
	//   service   span               kind         took  0                        4.0ms
	//   gateway   GET /buy           server      4.0ms  ██████████████████████████████
	//   checkout  └─ POST /checkout  server      2.0ms  ·······▐██████████████▌·······
}
