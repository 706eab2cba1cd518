package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ot2otel/workshop/shared/app"
	"github.com/ot2otel/workshop/shared/demo"
	"github.com/ot2otel/workshop/shared/tracecheck"
)

// tracePictures is where the slides' trace pictures are, from this package.
const tracePictures = "../../slides/img/traces"

// wantPictures are the pictures the slides show: each traced step's order, and the
// opening story's order, which stock could not fill.
var wantPictures = []struct{ step, order string }{
	{"02-opentracing", "demo"}, {"03-traced-rabbit-broker", "demo"}, {"04-otel-bridge", "demo"},
	{"05-mixed-fleet", "demo"}, {"06-native-otel", "demo"}, {"07-logs-and-metrics", "demo"},
	{"06-native-otel", demo.OutOfStock},
}

// TestTracePicturesDrawn: each picture is what the renderer draws from the record beside
// it, and the record is as writePicture writes it.
func TestTracePicturesDrawn(t *testing.T) {
	for _, p := range wantPictures {
		base := pictureBase(tracePictures, p.step, p.order)
		rec, err := readRecord(base)
		if err != nil {
			t.Errorf("%v: run make slides-traces", err)
			continue
		}
		stored, _ := os.ReadFile(base + ".json")
		if !bytes.Equal(stored, rec.encode()) {
			t.Errorf("%s.json is not as make slides-traces writes it: run it again", base)
		}
		if rec.Step != p.step || rec.Order != p.order {
			t.Errorf("%s.json records %s/%s", base, rec.Step, rec.Order)
		}
		svg, err := os.ReadFile(base + ".svg")
		if err != nil || !bytes.Equal(svg, renderSVG(rec)) {
			t.Errorf("%s.svg is not what its record draws (%v): run make slides-traces", base, err)
		}
	}
}

// TestTracePicturesReadable: a trace picture on a slide is shown wide enough that its
// text is 24 px or more on a 1024×768 projector (present scales the 1240×740 slide by
// 0.8192 there), and no taller than the slides' style lets an image be (560 px), which
// would shrink it.
func TestTracePicturesReadable(t *testing.T) {
	deck, err := os.ReadFile("../../slides/workshop.slide")
	if err != nil {
		t.Fatal(err)
	}
	placed := regexp.MustCompile(`(?m)^\.image img/traces/(\S+)\.svg (\S+) (\S+)$`).FindAllStringSubmatch(string(deck), -1)
	if len(placed) == 0 {
		t.Fatal("no trace picture on a slide of workshop.slide (.image img/traces/NAME.svg _ WIDTH)")
	}
	for _, m := range placed {
		width, err := strconv.Atoi(m[3])
		if m[2] != "_" || err != nil {
			t.Errorf(".image img/traces/%s.svg %s %s: give the width alone (_ WIDTH), so the text's size is known", m[1], m[2], m[3])
			continue
		}
		if px := svgFont * float64(width) / svgWidth * 0.8192; px < 24 {
			t.Errorf("img/traces/%s.svg at width %d: its text is %.1f px at 1024×768, less than 24", m[1], width, px)
		}
		rec, err := readRecord(filepath.Join(tracePictures, m[1]))
		if err != nil {
			t.Error(err)
			continue
		}
		svg := string(renderSVG(rec))
		var h float64
		if _, err := fmt.Sscanf(svg[strings.Index(svg, `viewBox="0 0 `):], `viewBox="0 0 1100 %g"`, &h); err != nil {
			t.Fatalf("img/traces/%s.svg: no viewBox: %v", m[1], err)
		}
		if shown := h * float64(width) / svgWidth; shown > 560 {
			t.Errorf("img/traces/%s.svg at width %d is %.0f px tall: more than the 560 the slides' style allows an image", m[1], width, shown)
		}
	}
}

// TestTracePicturesFresh runs each picture's demo again and fails when the trace it
// collects has another shape than the stored record: the picture is stale (make
// slides-traces). Step 05's run is TestDemoDrawsTheTrace's. A span outside the order's
// trace is a trace of its own in the record, so a stray span fails here too.
func TestTracePicturesFresh(t *testing.T) {
	clearSpanBackends(t)
	for _, p := range wantPictures {
		if p.step == "05-mixed-fleet" && p.order == "demo" {
			continue
		}
		t.Run(p.step+"/"+p.order, func(t *testing.T) {
			t.Parallel()
			spans, traceID, out := runDemoForTest(t, p.step, demoOptions{outOfStock: p.order == demo.OutOfStock})
			checkPicture(t, p.step, p.order, spans, traceID, out)
		})
	}
}

// clearSpanBackends makes the demos use the test's own receivers, never a backend of
// the caller's.
func clearSpanBackends(t *testing.T) {
	for _, kv := range app.SpanBackends(os.Getenv) {
		k, _, _ := strings.Cut(kv, "=")
		t.Setenv(k, "")
	}
}

// runDemoForTest runs a solution's demo as the demo command does and returns what its
// receivers collected, the order's trace ID and the demo's output.
func runDemoForTest(t *testing.T, stepName string, opt demoOptions) ([]tracecheck.Span, string, string) {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	w := &workshop{root: root, out: &out, errOut: &errOut}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	spans, traceID, err := w.runDemo(ctx, step{Name: stepName, Number: stepName[:2]}, false, opt)
	if err != nil {
		t.Fatalf("demo: %v\n%s\n%s", err, out.String(), errOut.String())
	}
	return spans, traceID, out.String()
}

// checkPicture compares the trace a demo collected with the stored record of its picture.
func checkPicture(t *testing.T, stepName, order string, spans []tracecheck.Span, traceID, out string) {
	t.Helper()
	base := pictureBase(tracePictures, stepName, order)
	stored, err := readRecord(base)
	if err != nil {
		t.Fatalf("%v: run make slides-traces", err)
	}
	if strings.Contains(out, "using an in-memory ledger") {
		// CI sets WORKSHOP_REQUIRE_REDIS=1, with which the demo fails instead.
		t.Skipf("Redis does not answer, so stock's ledger is in memory and makes no Redis span: %s.svg, drawn with Redis, is not compared", base)
	}
	fresh := normaliseTrace(stepName, order, spans, traceID)
	if !equalShape(stored, fresh) {
		t.Errorf("%s.svg is stale: the demo's trace now has another shape. Run make slides-traces and look at the pictures.\n"+
			"stored:\n%s\nnow:\n%s\nthe demo said:\n%s", base, stored.shape().encode(), fresh.shape().encode(), out)
	}
}

// TestNormaliseTrace: the record lists the order's trace first, depth first, names the
// demo's own exchange and queue as deployed, and keeps only the error's kind.
func TestNormaliseTrace(t *testing.T) {
	const order, other = "661303a4cb1777165c2341c7b73364ce", "0000000000000000000000000000beef"
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	spans := []tracecheck.Span{
		{TraceID: other, SpanID: "0000000000000009", Service: "stock", Name: "reserve stock", Start: t0.Add(-time.Millisecond), Duration: time.Millisecond, Source: "jaeger"},
		{TraceID: order, SpanID: "0000000000000002", ParentID: "0000000000000001", Service: "checkout", Name: "publish ws-3ada37e20a0e:checkout.processed",
			Kind: tracecheck.KindProducer, Start: t0.Add(1234 * time.Microsecond), Duration: 2 * time.Millisecond, Source: "otel"},
		{TraceID: order, SpanID: "0000000000000001", Service: "gateway", Name: "POST /checkout", Kind: tracecheck.KindServer, Start: t0, Duration: 5 * time.Millisecond, Source: "otel"},
		{TraceID: order, SpanID: "0000000000000003", ParentID: "0000000000000002", Service: "stock", Name: "process ws-3ada37e20a0e:checkout.processed:ws-stock-3ada37e20a0e",
			Kind: tracecheck.KindConsumer, Start: t0.Add(4 * time.Millisecond), Duration: time.Millisecond, Error: true, Source: "otel",
			Events: []tracecheck.Event{{Name: "exception", Attrs: map[string]string{"exception.message": `reserve order ord_1: not enough stock for "gopher-plush": want 1000 more, have 98`}}}},
	}
	rec := normaliseTrace("06-native-otel", "demo", spans, order)
	want := []recordSpan{
		{Trace: 0, Parent: -1, Service: "gateway", Name: "POST /checkout", Kind: "server", Via: "OTLP", StartMS: 1, DurMS: 5},
		{Trace: 0, Parent: 0, Service: "checkout", Name: "publish shop:checkout.processed", Kind: "producer", Via: "OTLP", StartMS: 2.2, DurMS: 2},
		{Trace: 0, Parent: 1, Service: "stock", Name: "process shop:checkout.processed:stock", Kind: "consumer", Via: "OTLP", Error: true, Note: "not enough stock", StartMS: 5, DurMS: 1},
		{Trace: 1, Parent: -1, Service: "stock", Name: "reserve stock", Kind: "", Via: "jaeger thrift", StartMS: 0, DurMS: 1},
	}
	if len(rec.Spans) != len(want) {
		t.Fatalf("record:\n%s", rec.encode())
	}
	for i := range want {
		if rec.Spans[i] != want[i] {
			t.Errorf("span %d = %+v, want %+v", i, rec.Spans[i], want[i])
		}
	}
	svg := string(renderSVG(rec))
	for _, s := range []string{"a trace of its own, not the order's", "✗ not enough stock", ">thrift<", `font-size="30"`} {
		if !strings.Contains(svg, s) {
			t.Errorf("the picture lacks %q:\n%s", s, svg)
		}
	}
}
