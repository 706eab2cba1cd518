package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// fakeSpan is one span in the OTLP/JSON that Jaeger's /api/v3 answers with: IDs in hex,
// kinds as numbers, times as strings of nanoseconds.
func fakeSpan(trace, id, parent, name string, kind int, startMS int) string {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Add(time.Duration(startMS) * time.Millisecond)
	p := ""
	if parent != "" {
		p = fmt.Sprintf(`"parentSpanId":%q,`, parent)
	}
	return fmt.Sprintf(`{"traceId":%q,"spanId":%q,%s"name":%q,"kind":%d,"startTimeUnixNano":"%d","endTimeUnixNano":"%d","status":{}}`,
		trace, id, p, name, kind, start.UnixNano(), start.Add(5*time.Millisecond).UnixNano())
}

func fakeResult(service string, spans ...string) string {
	return fmt.Sprintf(`{"result":{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":%q}}]},"scopeSpans":[{"scope":{},"spans":[%s]}]}]}}`,
		service, strings.Join(spans, ","))
}

const (
	wholeID  = "4bf92f3577b34da6a3ce929d0e0e4736"
	legacyID = "0000000000000000a3ce929d0e0e4736" // a 64-bit jaeger-client trace, as Jaeger stores it
)

// fakeJaeger answers like Jaeger's query API: the whole trace as one result, the
// legacy trace in two chunks with checkout's parent missing, a search, and 404s.
func fakeJaeger(t *testing.T) (*httptest.Server, *[]string) {
	t.Helper()
	var queries []string
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v3/traces/{id}", func(w http.ResponseWriter, r *http.Request) {
		switch r.PathValue("id") {
		case wholeID:
			fmt.Fprint(w, fakeResult("gateway",
				fakeSpan(wholeID, "00f067aa0ba902b7", "", "POST /checkout", 2, 0),
				fakeSpan(wholeID, "00f067aa0ba902b8", "00f067aa0ba902b7", "POST /orders", 3, 1)))
		case legacyID:
			fmt.Fprint(w, fakeResult("gateway", fakeSpan(legacyID, "1111111111111111", "", "POST /checkout", 2, 0)))
			fmt.Fprint(w, fakeResult("checkout", fakeSpan(legacyID, "2222222222222222", "3333333333333333", "POST /orders", 2, 2)))
		default:
			http.Error(w, `{"error":{"httpCode":404,"message":"trace not found"}}`, http.StatusNotFound)
		}
	})
	mux.HandleFunc("GET /api/v3/traces", func(w http.ResponseWriter, r *http.Request) {
		queries = append(queries, r.URL.RawQuery)
		if r.URL.Query().Get("query.service_name") != "gateway" {
			http.Error(w, `{"error":{"httpCode":404,"message":"No traces found"}}`, http.StatusNotFound)
			return
		}
		for _, q := range []string{"query.start_time_min", "query.start_time_max"} {
			if _, err := time.Parse(time.RFC3339Nano, r.URL.Query().Get(q)); err != nil {
				http.Error(w, `{"error":{"httpCode":400,"message":"malformed parameter"}}`, http.StatusBadRequest)
				return
			}
		}
		// An older trace, then the newest, each with its root.
		fmt.Fprint(w, fakeResult("gateway",
			fakeSpan(legacyID, "1111111111111111", "", "POST /checkout", 2, 0),
			fakeSpan(wholeID, "00f067aa0ba902b7", "", "POST /checkout", 2, 500),
			fakeSpan(wholeID, "00f067aa0ba902b8", "00f067aa0ba902b7", "POST /orders", 3, 501)))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, &queries
}

func runTrace(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := trace(context.Background(), args, func(k string) string { return env[k] }, &out, false)
	return out.String(), err
}

func TestTraceByID(t *testing.T) {
	srv, _ := fakeJaeger(t)
	for _, id := range []string{wholeID, strings.ToUpper(wholeID), "00-" + wholeID + "-00f067aa0ba902b7-01"} {
		out, err := runTrace(t, map[string]string{"JAEGER_QUERY_URL": srv.URL}, id)
		if err != nil {
			t.Fatalf("trace %s: %v", id, err)
		}
		for _, want := range []string{"trace " + wholeID, "2 spans", "gateway", "POST /checkout", "POST /orders", "server", "client",
			"one trace, one root, every parent present"} {
			if !strings.Contains(out, want) {
				t.Errorf("trace %s: output lacks %q:\n%s", id, want, out)
			}
		}
	}
}

func TestTraceLegacyIDAndBrokenParent(t *testing.T) {
	srv, _ := fakeJaeger(t)
	// The 16 hex digits of a jaeger-client trace ID, with the flag rather than the variable.
	out, err := runTrace(t, nil, "-query", srv.URL+"/", legacyID[16:])
	if err != nil {
		t.Fatalf("trace: %v", err)
	}
	for _, want := range []string{"trace " + legacyID, "2 spans", "checkout", "(parent 3333333333333333 missing)",
		"the parent 3333333333333333 of checkout server \"POST /orders\" was never recorded"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestTraceLast(t *testing.T) {
	srv, queries := fakeJaeger(t)
	out, err := runTrace(t, map[string]string{"JAEGER_QUERY_URL": srv.URL}, "--last")
	if err != nil {
		t.Fatalf("trace --last: %v", err)
	}
	if !strings.Contains(out, "trace "+wholeID) || strings.Contains(out, legacyID) {
		t.Errorf("trace --last did not draw the newest gateway trace %s:\n%s", wholeID, out)
	}
	if len(*queries) != 1 || !strings.Contains((*queries)[0], "query.service_name=gateway") {
		t.Errorf("search queries = %q, want one for service gateway", *queries)
	}
}

func TestTraceErrors(t *testing.T) {
	srv, _ := fakeJaeger(t)
	env := map[string]string{"JAEGER_QUERY_URL": srv.URL}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "usage: workshop trace"},
		{[]string{"--last", wholeID}, "usage: workshop trace"},
		{[]string{"xyz"}, "not a trace ID"},
		{[]string{"123"}, "not a trace ID"},
		{[]string{strings.Repeat("0", 32)}, "not a trace ID"},
		{[]string{"ffffffffffffffffffffffffffffffff"}, "no such trace (trace not found)"},
	} {
		_, err := runTrace(t, env, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("trace %q: err = %v, want it to say %q", tc.args, err, tc.want)
		}
	}
	// Nothing listens on the port of a closed server.
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	if _, err := runTrace(t, map[string]string{"JAEGER_QUERY_URL": closed.URL}, wholeID); err == nil || !strings.Contains(err.Error(), "make jaeger") {
		t.Errorf("trace with Jaeger down: err = %v, want a hint to run make jaeger", err)
	}
}
