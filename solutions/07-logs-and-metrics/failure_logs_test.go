package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ot2otel/workshop/shared/app"
	"github.com/ot2otel/workshop/shared/workshoptest"
)

// TestFailureLogsOnTheTrace: the lines the gateway logs for an order that failed, the
// ones a person on call reads first, carry the order's trace ID too: checkout could not
// be reached (502), and checkout answered 500 (502 to the caller).
func TestFailureLogsOnTheTrace(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprint(w, `{"error": "the ledger is on fire"}`)
	}))
	defer failing.Close()

	for _, c := range []struct{ name, checkoutURL, msg string }{
		{"checkout unreachable", closed, "checkout unreachable"},
		{"checkout answers 500", failing.URL, "checkout failed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := workshoptest.Start(t, run, map[string]string{"CHECKOUT_URL": c.checkoutURL})
			requestID := fmt.Sprintf("failed-%d", time.Now().UnixNano())
			resp := f.PlaceOrder(workshoptest.DemoOrder(), http.Header{"X-Request-ID": {requestID}})
			if resp.Status != http.StatusBadGateway {
				t.Fatalf("the gateway answered %d %s, want 502", resp.Status, resp.Body)
			}
			traceID := orderTraceID(t, resp)
			f.Stop()
			found := false
			for _, rec := range f.Logs() {
				if rec["service"] != app.Gateway || rec["request_id"] != requestID {
					continue
				}
				if rec["trace_id"] != traceID {
					t.Errorf("the gateway logged %v for the failed order with trace_id=%v, want the order's %s.\nLook at %s "+
						"(the gateway's failures are logged by app.CheckoutUnreachableContext with the request's context, "+
						"and by app.RelayCheckout with the call's)", rec, rec["trace_id"], traceID, todoLogger)
				}
				found = found || rec["msg"] == c.msg
			}
			if !found {
				t.Errorf("the gateway logged no %q line with request_id=%s:\n%s", c.msg, requestID, f.LogText())
			}
		})
	}
}
