package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"

	"github.com/ot2otel/workshop/shared/demo"
	"github.com/ot2otel/workshop/shared/tracecheck"
	"github.com/ot2otel/workshop/shared/tracecheck/jaegerspans"
	"github.com/ot2otel/workshop/shared/tracecheck/otelspans"
)

// newReceivers start the receivers the demo collects spans with: one for the OTel
// services' OTLP exporters and one for jaeger-client's, so that every step, the mixed
// fleet included, sends its spans here without saying which tracers it has.
var newReceivers = []func() (tracecheck.Receiver, error){otelspans.NewReceiver, jaegerspans.NewReceiver}

// demo runs the step's solution, or with fromStep the attendee's step, with its demo
// command, which starts the system, places an order and prints what happened. The spans
// arrive at receivers in this process, not the step's, so that a step's binary links no
// collector; once the step's demo is done, demo draws the order's trace from them.
func (w *workshop) demo(ctx context.Context, s step, fromStep bool, opt demoOptions) error {
	spans, traceID, err := w.runDemo(ctx, s, fromStep, opt)
	if err != nil || opt.svgDir == "" {
		return err
	}
	return w.writePicture(opt.svgDir, s, opt.order(), spans, traceID)
}

// demoOptions are the demo command's flags beyond -step.
type demoOptions struct {
	outOfStock bool   // order more than stock holds (demo.OutOfStock)
	svgDir     string // draw the trace as an SVG in this directory
}

// order names the demo's order: "demo", or demo.OutOfStock.
func (o demoOptions) order() string {
	if o.outOfStock {
		return demo.OutOfStock
	}
	return "demo"
}

// runDemo runs the step's demo, draws the trace, and returns every span the receivers
// collected and the order's trace ID.
func (w *workshop) runDemo(ctx context.Context, s step, fromStep bool, opt demoOptions) ([]tracecheck.Span, string, error) {
	dir := "./solutions/" + s.Name
	if fromStep {
		dir = "./steps/" + s.Name
	}
	rs, err := startReceivers(newReceivers, os.Getenv)
	defer rs.close()
	if err != nil {
		return nil, "", err
	}
	fmt.Fprintf(w.out, "go run %s demo\n", dir)
	cmd := exec.CommandContext(ctx, "go", "run", dir, "demo")
	cmd.Dir = w.root
	cmd.Env = append(os.Environ(), demo.CollectedEnv+"=1")
	if opt.outOfStock {
		cmd.Env = append(cmd.Env, demo.OrderEnv+"="+demo.OutOfStock)
	}
	for k, v := range rs.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out := &traceIDWriter{w: w.out}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, out, w.errOut
	if err := cmd.Run(); err != nil {
		return nil, "", fmt.Errorf("demo of %s: %w", s.Name, err)
	}
	w.showTrace(rs, out.traceID)
	return rs.spans(), out.traceID, nil
}

// traceIDWriter copies the step's demo output to w and keeps the order's trace ID from it.
type traceIDWriter struct {
	w       io.Writer
	line    []byte // the line being written
	traceID string
}

func (t *traceIDWriter) Write(p []byte) (int, error) {
	t.line = append(t.line, p...)
	for {
		i := bytes.IndexByte(t.line, '\n')
		if i < 0 {
			break
		}
		if id := demo.TraceID(string(t.line[:i])); id != "" {
			t.traceID = id
		}
		t.line = t.line[i+1:]
	}
	return t.w.Write(p)
}

// receivers are the trace receivers a demo started, and the backends it did not start
// one for because the environment names them.
type receivers struct {
	started  []tracecheck.Receiver
	env      map[string]string // what points the tracers at started
	external []string          // KEY=value of each backend the environment names
}

// startReceivers starts a receiver with each of newReceivers, unless getenv already
// points its tracers elsewhere, and returns the environment that points the tracers at
// the ones it started.
func startReceivers(newReceivers []func() (tracecheck.Receiver, error), getenv func(string) string) (*receivers, error) {
	rs := &receivers{env: map[string]string{}}
	for _, newReceiver := range newReceivers {
		r, err := newReceiver()
		if err != nil {
			return rs, fmt.Errorf("start a trace receiver: %w", err)
		}
		if k := demo.Configured(r.Env(), getenv); k != "" {
			// The user pointed these tracers at Jaeger: send the spans there, not here.
			rs.external = append(rs.external, k+"="+getenv(k))
			r.Close()
			continue
		}
		rs.started = append(rs.started, r)
		for k, v := range r.Env() {
			rs.env[k] = v
		}
	}
	return rs, nil
}

// spans returns every span the started receivers collected.
func (rs *receivers) spans() []tracecheck.Span {
	var spans []tracecheck.Span
	for _, r := range rs.started {
		spans = append(spans, r.Spans()...)
	}
	return spans
}

func (rs *receivers) close() {
	for _, r := range rs.started {
		r.Close()
	}
}

// showTrace draws what the receivers collected, and says where the other spans went
// when the environment named a backend.
func (w *workshop) showTrace(rs *receivers, traceID string) {
	spans := rs.spans()
	if len(spans) > 0 || (traceID != "" && len(rs.external) == 0) {
		printTrace(w.out, spans, traceID, w.color)
		printCollectors(w.out, rs, traceID)
	}
	if len(rs.external) == 0 {
		return
	}
	fmt.Fprintf(w.out, "\nSpans went to %s", strings.Join(rs.external, ", "))
	switch {
	case len(spans) > 0:
		// Some tracers sent their spans here, so the trace in Jaeger lacks them: a
		// link would open a broken trace.
		var here []string
		for _, r := range rs.started {
			for k := range r.Env() {
				if strings.HasSuffix(k, "_ENDPOINT") {
					here = append(here, k)
				}
			}
		}
		sort.Strings(here)
		fmt.Fprintf(w.out, ", but %s was not set, so the spans shown above were collected here "+
			"and the trace in Jaeger is not whole: set %s too\n", strings.Join(here, ", "), strings.Join(here, " and "))
	case traceID != "":
		fmt.Fprintln(w.out, ".")
		demo.SeeTrace(w.out, traceID, os.Getenv)
	default:
		fmt.Fprintln(w.out, ".")
	}
}

// printCollectors says which collector received which of the order's spans, when more
// than one received some: in the mixed fleet (step 05) the legacy service sends jaeger
// thrift to one and the OTel services OTLP to the other, and one trace is still whole.
func printCollectors(stdout io.Writer, rs *receivers, traceID string) {
	type got struct {
		name  string
		spans []tracecheck.Span
	}
	var gots []got
	for _, r := range rs.started {
		spans := r.Spans()
		if traceID != "" {
			spans = tracecheck.Filter(spans, traceID)
		}
		if len(spans) == 0 {
			continue
		}
		var vars []string
		for k := range r.Env() {
			if strings.HasSuffix(k, "_ENDPOINT") {
				vars = append(vars, k)
			}
		}
		sort.Strings(vars)
		name := strings.Join(vars, ", ")
		switch {
		case slices.ContainsFunc(vars, func(v string) bool { return strings.HasPrefix(v, "JAEGER_") }):
			name += " (jaeger thrift)"
		case slices.ContainsFunc(vars, func(v string) bool { return strings.HasPrefix(v, "OTEL_") }):
			name += " (OTLP)"
		}
		gots = append(gots, got{name, spans})
	}
	if len(gots) < 2 {
		return
	}
	fmt.Fprintf(stdout, "\nWhich collector received which span:\n")
	for _, g := range gots {
		byService := map[string][]string{}
		var services []string
		for _, s := range g.spans {
			if _, ok := byService[s.Service]; !ok {
				services = append(services, s.Service)
			}
			byService[s.Service] = append(byService[s.Service], s.Name)
		}
		sort.Strings(services)
		var parts []string
		for _, svc := range services {
			parts = append(parts, svc+": "+strings.Join(byService[svc], ", "))
		}
		fmt.Fprintf(stdout, "  %s, %d span(s): %s\n", g.name, len(g.spans), strings.Join(parts, "; "))
	}
}

// printTrace draws the order's trace as a waterfall, and then the spans that are not in
// it: those are the broken hops a step is about.
func printTrace(stdout io.Writer, spans []tracecheck.Span, traceID string, color bool) {
	opt := tracecheck.RenderOptions{Color: color}
	order := spans
	if traceID != "" {
		order = tracecheck.Filter(spans, traceID)
	}
	fmt.Fprintf(stdout, "\nThe order's trace, %d spans:\n\n", len(order))
	if len(order) == 0 {
		fmt.Fprintln(stdout, "  (no spans arrived)")
	}
	tracecheck.Render(stdout, order, opt)
	if rest := len(spans) - len(order); rest > 0 {
		var others []tracecheck.Span
		for _, s := range spans {
			if s.TraceID != traceID {
				others = append(others, s)
			}
		}
		fmt.Fprintf(stdout, "\n%d more span(s), NOT in the order's trace:\n\n", rest)
		tracecheck.Render(stdout, others, opt)
	}
}
