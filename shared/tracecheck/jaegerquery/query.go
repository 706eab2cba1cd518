// Package jaegerquery reads traces back from Jaeger's query API, version 3, which
// answers in OTLP/JSON, as tracecheck spans: what `workshop trace` draws and what the
// end-to-end tests check.
package jaegerquery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ot2otel/workshop/shared/tracecheck"
	"github.com/ot2otel/workshop/shared/tracecheck/otelspans"
)

// ErrNotFound is wrapped by the errors of a query Jaeger has no trace for.
var ErrNotFound = errors.New("no such trace")

// Client talks to one Jaeger's query API.
type Client struct {
	// Base is the query API's base URL, such as http://localhost:16686.
	Base string
	// HTTP is the client to use; nil means one with a 10s timeout.
	HTTP *http.Client
}

// Trace returns the spans of the trace with the given ID, 32 lowercase hex digits.
func (c *Client) Trace(ctx context.Context, id string) ([]tracecheck.Span, error) {
	body, err := c.get(ctx, "/api/v3/traces/"+id, nil)
	if err != nil {
		return nil, err
	}
	return decodeResult(body)
}

// LastTrace returns the ID of the newest trace with a root span in service, among the
// traces that started within the last window.
func (c *Client) LastTrace(ctx context.Context, service string, window time.Duration) (string, error) {
	now := time.Now().UTC()
	body, err := c.get(ctx, "/api/v3/traces", url.Values{
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
		return "", fmt.Errorf("jaeger at %s: %w starts at %s in the last %s", c.Base, ErrNotFound, service, window)
	}
	return newest.TraceID, nil
}

func (c *Client) get(ctx context.Context, path string, query url.Values) ([]byte, error) {
	u := strings.TrimRight(c.Base, "/") + path
	if query != nil {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("jaeger's query API: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		// Errors come as {"error": {"httpCode": 404, "message": "..."}}.
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
			return nil, fmt.Errorf("jaeger at %s: %w (%s)", c.Base, ErrNotFound, msg)
		}
		return nil, fmt.Errorf("GET %s: %s: %s", u, resp.Status, msg)
	}
	return body, nil
}

// decodeResult decodes an answer of the query API: {"result": <OTLP/JSON TracesData>},
// or several of them one after the other, as a gateway that streams sends its chunks.
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
			return nil, fmt.Errorf("jaeger's answer is not JSON: %w", err)
		}
		if len(chunk.Result) == 0 {
			return nil, errors.New("jaeger's answer has no result")
		}
		s, err := otelspans.FromJSON(chunk.Result)
		if err != nil {
			return nil, err
		}
		spans = append(spans, s...)
	}
	return spans, nil
}
