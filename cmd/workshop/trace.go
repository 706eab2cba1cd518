package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/ot2otel/workshop/shared/tracecheck"
	"github.com/ot2otel/workshop/shared/tracecheck/otelspans"
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
	q := &queryAPI{base: strings.TrimRight(*base, "/"), client: &http.Client{Timeout: 10 * time.Second}}

	var id string
	switch {
	case *last && fs.NArg() == 0:
		var err error
		if id, err = q.lastTrace(ctx, "gateway", time.Hour); err != nil {
			return err
		}
	case !*last && fs.NArg() == 1:
		var err error
		if id, err = parseTraceID(fs.Arg(0)); err != nil {
			return err
		}
	default:
		return errors.New("usage: workshop trace [-query URL] [-attrs] (TRACE-ID | --last)")
	}
	spans, err := q.trace(ctx, id)
	if err != nil {
		return err
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

// queryAPI is Jaeger's query API, version 3, which answers in OTLP/JSON.
type queryAPI struct {
	base   string
	client *http.Client
}

// trace returns the spans of one trace.
func (q *queryAPI) trace(ctx context.Context, id string) ([]tracecheck.Span, error) {
	body, err := q.get(ctx, "/api/v3/traces/"+id, nil)
	if err != nil {
		return nil, err
	}
	return decodeResult(body)
}

// lastTrace returns the ID of the newest trace with a root span in service, among the
// traces that started within the last window.
func (q *queryAPI) lastTrace(ctx context.Context, service string, window time.Duration) (string, error) {
	now := time.Now().UTC()
	body, err := q.get(ctx, "/api/v3/traces", url.Values{
		"query.service_name":   {service},
		"query.start_time_min": {now.Add(-window).Format(time.RFC3339Nano)},
		"query.start_time_max": {now.Add(time.Minute).Format(time.RFC3339Nano)},
		"query.num_traces":     {"20"},
	})
	if err != nil {
		return "", err
	}
	spans, err := decodeResult(body)
	if err != nil {
		return "", err
	}
	var newest tracecheck.Span
	for _, s := range spans {
		if s.Service == service && s.ParentID == "" && s.Start.After(newest.Start) {
			newest = s
		}
	}
	if newest.TraceID == "" {
		return "", fmt.Errorf("trace --last: no trace starts at %s in the last %s", service, window)
	}
	return newest.TraceID, nil
}

func (q *queryAPI) get(ctx context.Context, path string, query url.Values) ([]byte, error) {
	u := q.base + path
	if query != nil {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("trace: %w", err)
	}
	resp, err := q.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("trace: is Jaeger running (make jaeger)? %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("trace: GET %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		msg := strings.TrimSpace(string(body))
		var e struct {
			Error struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(body, &e) == nil && e.Error.Message != "" {
			msg = e.Error.Message
		}
		if resp.StatusCode == http.StatusNotFound {
			return nil, fmt.Errorf("trace: Jaeger at %s has no such trace (%s): the spans may not have arrived yet, or went to another Jaeger", q.base, msg)
		}
		return nil, fmt.Errorf("trace: GET %s: %s: %s", u, resp.Status, msg)
	}
	return body, nil
}

// decodeResult decodes an answer of the query API: {"result": <OTLP/JSON TracesData>},
// possibly several of them one after the other, as a streaming gateway sends chunks.
func decodeResult(body []byte) ([]tracecheck.Span, error) {
	dec := json.NewDecoder(strings.NewReader(string(body)))
	var spans []tracecheck.Span
	for {
		var chunk struct {
			Result json.RawMessage `json:"result"`
		}
		err := dec.Decode(&chunk)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("trace: Jaeger's answer is not JSON: %w", err)
		}
		if len(chunk.Result) == 0 {
			return nil, errors.New("trace: Jaeger's answer has no result")
		}
		s, err := otelspans.FromJSON(chunk.Result)
		if err != nil {
			return nil, fmt.Errorf("trace: %w", err)
		}
		spans = append(spans, s...)
	}
	return spans, nil
}
