package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opentracing/opentracing-go"

	"github.com/ot2otel/workshop/shared/broker"
	"github.com/ot2otel/workshop/shared/shop"
	"github.com/ot2otel/workshop/shared/workshoptest"
)

// These tests pin the behaviour every step keeps: the contract of the three services.

func TestOrderFlow(t *testing.T) {
	f := workshoptest.Start(t, run, nil)
	resp := f.PlaceDemoOrder(nil)
	if !strings.HasPrefix(resp.OrderID(), "ord_") {
		t.Errorf("order_id = %q, want an ID starting with ord_", resp.OrderID())
	}
	f.WaitReserved(workshoptest.DemoSKU, 2)
	item, err := f.Stock(context.Background(), workshoptest.DemoSKU)
	if err != nil {
		t.Fatal(err)
	}
	if item.Reserved != 2 || item.Available != 98 {
		t.Errorf("stock after one order of 2 = %+v, want 98 available and 2 reserved", item)
	}
}

func TestBadOrders(t *testing.T) {
	f := workshoptest.Start(t, run, nil)
	for _, tc := range []struct {
		name, body, wantErr string
	}{
		{"malformed JSON", `{"customer_id": "c1", "items": [`, "malformed JSON"},
		{"not an object", `[1, 2, 3]`, "malformed JSON"},
		{"unknown field", `{"customer_id": "c1", "items": [{"sku": "trace-mug", "quantity": 1}], "coupon": "FREE"}`, "coupon is not a field of an order"},
		{"trailing data", `{"customer_id": "c1", "items": [{"sku": "trace-mug", "quantity": 1}]} {}`, "malformed JSON"},
		{"mistyped quantity", `{"customer_id": "c1", "items": [{"sku": "trace-mug", "quantity": "two"}]}`, "items[0].quantity must be a whole number"},
		{"mistyped customer", `{"customer_id": 7, "items": [{"sku": "trace-mug", "quantity": 1}]}`, "customer_id must be a string"},
		{"unknown SKU", `{"customer_id": "c1", "items": [{"sku": "unicorn", "quantity": 1}]}`, `items[0].sku "unicorn" is not in the catalogue`},
		{"no customer", `{"items": [{"sku": "trace-mug", "quantity": 1}]}`, "customer_id is required"},
		{"no items", `{"customer_id": "c1", "items": []}`, "items must list at least one item"},
		{"zero quantity", `{"customer_id": "c1", "items": [{"sku": "trace-mug", "quantity": 0}]}`, "items[0].quantity must be between 1 and 1000"},
		{"no sku", `{"customer_id": "c1", "items": [{"quantity": 1}]}`, "items[0].sku is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, url := range []string{f.GatewayURL + "/checkout", f.CheckoutURL + "/orders"} {
				resp, err := f.Post(context.Background(), url, tc.body, nil)
				if err != nil {
					t.Fatal(err)
				}
				if resp.Status != http.StatusBadRequest {
					t.Errorf("POST %s: status %d, want 400", url, resp.Status)
				}
				if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("POST %s: Content-Type %q, want application/json", url, ct)
				}
				if !strings.Contains(resp.Error(), tc.wantErr) || strings.Contains(resp.Error(), "Go ") {
					t.Errorf("POST %s: error %q, want it to say %q, and no Go type", url, resp.Error(), tc.wantErr)
				}
			}
		})
	}
}

func TestCheckoutUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()

	f := workshoptest.Start(t, run, map[string]string{"CHECKOUT_URL": closed})
	resp := f.PlaceOrder(workshoptest.DemoOrder(), nil)
	if resp.Status != http.StatusBadGateway || resp.Error() == "" {
		t.Errorf("with checkout down: got %d %s, want 502 with a JSON error", resp.Status, resp.Body)
	}
}

// TestCheckoutTimesOut: a checkout that takes the call and never answers is a 504.
func TestCheckoutTimesOut(t *testing.T) {
	t.Parallel()
	workshoptest.CheckoutTimesOut(t, run)
}

// TestOversizedRequestID: a 200 KB X-Request-ID neither fails the order nor closes
// checkout's connection to the broker.
func TestOversizedRequestID(t *testing.T) {
	t.Parallel()
	workshoptest.OversizedRequestID(t, run)
}

func TestRedeliveryReservesOnce(t *testing.T) {
	b := workshoptest.Broker(t)
	ledger := shop.NewLedger(shop.DemoCatalogue())
	order := workshoptest.DemoOrder()
	msg := broker.Message{
		RoutingKey: broker.RoutingKey, MessageID: "ord_redelivered", ContentType: "application/json",
		Body: shop.NewOrderPlaced("ord_redelivered", order).Encode(),
	}
	// The same event twice is what a redelivery looks like to the consumer.
	for range 2 {
		if err := b.Publish(context.Background(), msg); err != nil {
			t.Fatal(err)
		}
	}
	var handled atomic.Int32
	reserve := reserveStock(ledger, opentracing.NoopTracer{}, workshoptest.DiscardLogger())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- b.Consume(ctx, func(ctx context.Context, m broker.Message) error {
			defer handled.Add(1)
			return reserve(ctx, m)
		})
	}()
	deadline := time.Now().Add(10 * time.Second)
	for handled.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("consume: %v", err)
	}
	if handled.Load() != 2 {
		t.Fatalf("handled %d deliveries, want 2", handled.Load())
	}
	if item, _ := ledger.Item(workshoptest.DemoSKU); item.Reserved != 2 {
		t.Errorf("after the same event twice, reserved = %d, want 2 (reserved once)", item.Reserved)
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{{"shop"}, {"shop", "nope"}, {"shop", "all", "extra"}} {
		err := run(context.Background(), args, func(string) string { return "" }, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), "usage:") {
			t.Errorf("run(%q) = %v, want a usage error", args, err)
		}
	}
}

func TestSeparateProcesses(t *testing.T) {
	f := workshoptest.StartProcesses(t, nil)
	f.PlaceDemoOrder(nil)
	f.WaitReserved(workshoptest.DemoSKU, 2)
	f.Stop() // fails the test unless each process exits 0 on SIGTERM
}
