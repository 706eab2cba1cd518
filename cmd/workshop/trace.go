package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/ot2otel/workshop/shared/tracecheck"
	"github.com/ot2otel/workshop/shared/tracecheck/jaegerquery"
)

// defaultQueryURL is where `make jaeger` and the compose file serve Jaeger's query API.
const defaultQueryURL = "http://localhost:16686"

var traceIDForm = regexp.MustCompile(`^(?:[0-9a-f]{16}|[0-9a-f]{32})$`)

// trace fetches one trace from Jaeger's query API and draws it as a waterfall: the
// terminal's view of a trace, for a Jaeger built from source, which has no UI.
func trace(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer, color bool) error {
	fs := flag.NewFlagSet("trace", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	base := fs.String("query", "", "Jaeger's query API (default $JAEGER_QUERY_URL or "+defaultQueryURL+")")
	last := fs.Bool("last", false, "show the newest trace that starts at the gateway")
	attrs := fs.Bool("attrs", false, "print each span's attributes and events")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("trace: %w\nusage: workshop trace [-query URL] [-attrs] (TRACE-ID | --last)", err)
	}
	if *base == "" {
		*base = getenv("JAEGER_QUERY_URL")
	}
	if *base == "" {
		*base = defaultQueryURL
	}
	q := &jaegerquery.Client{Base: *base}

	var id string
	switch {
	case *last && fs.NArg() == 0:
		var err error
		if id, err = q.LastTrace(ctx, "gateway", time.Hour); err != nil {
			return fmt.Errorf("trace --last: %w", err)
		}
	case !*last && fs.NArg() == 1:
		var err error
		if id, err = parseTraceID(fs.Arg(0)); err != nil {
			return err
		}
	default:
		return errors.New("usage: workshop trace [-query URL] [-attrs] (TRACE-ID | --last)")
	}
	spans, err := q.Trace(ctx, id)
	switch {
	case errors.Is(err, jaegerquery.ErrNotFound):
		return fmt.Errorf("trace: %w: the spans may not have arrived yet, or went to another Jaeger", err)
	case err != nil:
		return fmt.Errorf("trace: is Jaeger running (make jaeger)? %w", err)
	}
	if err := tracecheck.Render(stdout, spans, tracecheck.RenderOptions{Color: color, Attrs: *attrs}); err != nil {
		return err
	}
	// The waterfall marks each missing parent; say in words whether the trace is whole.
	var broken *tracecheck.BreakError
	if err := tracecheck.CheckContinuous(spans); errors.As(err, &broken) {
		fmt.Fprintf(stdout, "\n%s\n", broken.Reason)
	} else if err == nil {
		fmt.Fprintf(stdout, "\none trace, one root, every parent present\n")
	}
	return nil
}

// parseTraceID accepts a trace ID as 32 hex digits, or the 16 of a 64-bit jaeger-client
// trace, or a whole traceresponse/traceparent header, and returns it as 32 hex digits,
// the form Jaeger stores.
func parseTraceID(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if parts := strings.Split(s, "-"); len(parts) == 4 {
		s = parts[1] // 00-<trace id>-<span id>-<flags>
	}
	if !traceIDForm.MatchString(s) || strings.Trim(s, "0") == "" {
		return "", fmt.Errorf("trace: %q is not a trace ID: want 32 hex digits (or 16, from jaeger-client)", s)
	}
	return fmt.Sprintf("%032s", s), nil
}
