package workshoptest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ot2otel/workshop/shared/fleet"
	"github.com/ot2otel/workshop/shared/tracecheck"
)

// Post posts body (JSON-encoded unless it is a string) to url, and fails t unless the
// answer has the given status.
func Post(t *testing.T, url string, body any, status int) fleet.Response {
	t.Helper()
	raw, ok := body.(string)
	if !ok {
		data, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		raw = string(data)
	}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, url, strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != status {
		t.Fatalf("POST %s: %s %s, want %d", url, resp.Status, data, status)
	}
	return fleet.Response{Status: resp.StatusCode, Header: resp.Header, Body: data}
}

// FakeCheckout returns the URL of a checkout that answers with h until the test ends,
// or, when h is nil, of a checkout that is down: it reads each call and hangs up without
// an answer. (Not a closed port: another process may take a port the moment it is
// closed, and answer the call.)
func FakeCheckout(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	if h == nil {
		return startDownCollector(t).URL("")
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// HasEvent reports whether span has an event (OTel) or a log record (OpenTracing, its
// "event" field) named name.
func HasEvent(span tracecheck.Span, name string) bool {
	for _, e := range span.Events {
		if e.Name == name || e.Attrs["event"] == name {
			return true
		}
	}
	return false
}

// MustFind returns the span of hop, and fails t, naming the hop's TODO, when there is none.
func MustFind(t *testing.T, spans []tracecheck.Span, hop tracecheck.Hop) tracecheck.Span {
	t.Helper()
	span, ok := tracecheck.Find(spans, hop)
	if !ok {
		t.Fatalf("no %s span:\n%s\nLook at %s", hop, tracecheck.String(spans), hop.Todo)
	}
	return span
}

// CheckTags checks that span has each tag (OpenTracing) or attribute (OTel) of want,
// naming todo when one is missing or different.
func CheckTags(t *testing.T, span tracecheck.Span, want map[string]string, todo string) {
	t.Helper()
	for k, v := range want {
		if got, ok := span.Attrs[k]; !ok || got != v {
			t.Errorf("the %s %s span %q has %s=%q, want %q.\nLook at %s", span.Service, span.Kind, span.Name, k, got, v, todo)
		}
	}
}
