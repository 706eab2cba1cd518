package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/opentracing/opentracing-go"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/ot2otel/workshop/shared/broker"
	"github.com/ot2otel/workshop/shared/shop"
	"github.com/ot2otel/workshop/shared/workshoptest"
)

// These tests check the exercise: one correlation ID, carried by hand through HTTP and
// AMQP headers, on every log line of one checkout in all three services.

// hints name the TODO to look at when a service's log lines lack the ID.
var hints = map[string]string{
	"gateway":  "TODO(01.1): take X-Request-ID from the caller (or make one) and log it",
	"checkout": "TODO(01.1) sends X-Request-ID to checkout; TODO(01.2): read it there and log it",
	"stock":    "TODO(01.2) puts the ID in the AMQP header x-request-id; TODO(01.3): read it in stock and log it",
}

func TestCorrelationIDFromCaller(t *testing.T) {
	f := workshoptest.Start(t, run, nil)
	id := fmt.Sprintf("test-%d", time.Now().UnixNano())
	f.PlaceDemoOrder(http.Header{"X-Request-ID": {id}})
	f.WaitReserved(workshoptest.DemoSKU, 2)
	f.Stop()
	checkCorrelated(t, f.Logs(), id)
}

func TestCorrelationIDMadeByGateway(t *testing.T) {
	f := workshoptest.Start(t, run, nil)
	resp := f.PlaceDemoOrder(nil)
	id := resp.Header.Get("X-Request-ID")
	if id == "" {
		t.Fatalf("the gateway's response has no X-Request-ID header: when the caller sends none, " +
			"the gateway makes one and returns it, so the caller can quote it. Look at TODO(01.1).")
	}
	f.WaitReserved(workshoptest.DemoSKU, 2)
	f.Stop()
	checkCorrelated(t, f.Logs(), id)
}

// checkCorrelated checks that each service logged at least one line with the ID.
func checkCorrelated(t *testing.T, records []map[string]any, id string) {
	t.Helper()
	for _, service := range []string{"gateway", "checkout", "stock"} {
		var lines, withID int
		var sample map[string]any
		for _, rec := range records {
			if rec["service"] != service || rec["msg"] == "listening" || rec["msg"] == "stopped" {
				continue
			}
			lines++
			if rec["request_id"] == id {
				withID++
			} else if sample == nil {
				sample = rec
			}
		}
		if withID == 0 {
			t.Errorf("%s logged %d line(s) for this order, none with request_id=%q (for example %v).\nLook at %s",
				service, lines, id, sample, hints[service])
		}
	}
}

func TestCheckoutPutsRequestIDOnTheMessage(t *testing.T) {
	b := workshoptest.Broker(t)
	var logs bytes.Buffer
	srv := httptest.NewServer(newCheckout(b, opentracing.NoopTracer{}, slog.New(slog.NewJSONHandler(&logs, nil))))
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/orders", strings.NewReader(string(workshoptest.DemoOrder().Encode())))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Request-ID", "req-from-gateway")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /orders: %s, want 202", resp.Status)
	}
	msg := workshoptest.ReceiveOne(t, b)
	if got := msg.Headers["x-request-id"]; got != "req-from-gateway" {
		t.Errorf("the published message's x-request-id header = %#v, want %q.\nLook at TODO(01.2): put the ID in the AMQP headers",
			got, "req-from-gateway")
	}
	if !workshoptest.HasRecord(workshoptest.LogRecords(logs.String()), "request_id", "req-from-gateway") {
		t.Errorf("checkout logged no line with request_id=req-from-gateway:\n%s\nLook at TODO(01.2): log the ID", logs.String())
	}
}

func TestStockReadsRequestIDFromHeaders(t *testing.T) {
	// Our publisher sends a string; other AMQP clients send the same header as bytes.
	for name, value := range map[string]any{"string": "req-42", "bytes": []byte("req-42")} {
		t.Run(name, func(t *testing.T) {
			var logs bytes.Buffer
			handle := reserveStock(shop.NewLedger(shop.DemoCatalogue()), opentracing.NoopTracer{}, slog.New(slog.NewJSONHandler(&logs, nil)))
			msg := broker.Message{
				MessageID: "ord_1", Headers: amqp.Table{"x-request-id": value},
				Body: shop.NewOrderPlaced("ord_1", workshoptest.DemoOrder()).Encode(),
			}
			if err := handle(context.Background(), msg); err != nil {
				t.Fatal(err)
			}
			if !workshoptest.HasRecord(workshoptest.LogRecords(logs.String()), "request_id", "req-42") {
				t.Errorf("stock logged no line with request_id=req-42 for a message whose x-request-id header is %T:\n%s"+
					"Look at TODO(01.3): read the ID from the AMQP headers (string or []byte) and log it", value, logs.String())
			}
		})
	}
	t.Run("missing or mistyped", func(t *testing.T) {
		for _, headers := range []amqp.Table{nil, {"x-request-id": int32(7)}} {
			handle := reserveStock(shop.NewLedger(shop.DemoCatalogue()), opentracing.NoopTracer{}, workshoptest.DiscardLogger())
			msg := broker.Message{MessageID: "ord_2", Headers: headers, Body: shop.NewOrderPlaced("ord_2", workshoptest.DemoOrder()).Encode()}
			if err := handle(context.Background(), msg); err != nil {
				t.Errorf("headers %v: %v; a missing or odd correlation ID must not stop the order", headers, err)
			}
		}
	})
}
