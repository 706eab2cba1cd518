package main

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/ot2otel/workshop/shared/workshoptest"
)

// TestClientKeepsItsConnections checks that the gateway's client, now traced by
// otelhttp, still calls checkout through app.NewTransport(), the pool tuned to keep a
// loaded service's connections: otelhttp.NewTransport wraps whatever transport it is
// given, and one built on http.DefaultTransport keeps two idle connections per host,
// so under load every other request of a burst opens a TCP connection and throws it
// away. Two bursts of concurrent orders: the second must reuse the first one's
// connections.
func TestClientKeepsItsConnections(t *testing.T) {
	const burst = 12
	type wave struct{ arrived, gate chan struct{} }
	var current atomic.Pointer[wave]
	var dialled atomic.Int32
	checkout := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wv := current.Load()
		wv.arrived <- struct{}{}
		select { // hold every call of the burst open at once, so each needs a connection
		case <-wv.gate:
		case <-time.After(10 * time.Second):
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		w.Write([]byte(`{"order_id":"ord_1"}`))
	}))
	checkout.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			dialled.Add(1)
		}
	}
	checkout.Start()
	defer checkout.Close()
	gateway := newGateway(checkout.URL, noop.NewTracerProvider(), metricnoop.NewMeterProvider(), newPropagator(), workshoptest.DiscardLogger())

	orders := func() {
		wv := &wave{make(chan struct{}, burst), make(chan struct{})}
		current.Store(wv)
		var wg sync.WaitGroup
		codes := make([]int, burst)
		for i := range burst {
			wg.Go(func() {
				rec := httptest.NewRecorder()
				req := httptest.NewRequest(http.MethodPost, "/checkout", bytes.NewReader(workshoptest.DemoOrder().Encode()))
				req.Header.Set("Content-Type", "application/json")
				gateway.ServeHTTP(rec, req)
				codes[i] = rec.Code
			})
		}
		for n := range burst {
			select {
			case <-wv.arrived:
			case <-time.After(10 * time.Second):
				close(wv.gate)
				wg.Wait()
				t.Fatalf("only %d of %d concurrent orders reached checkout within 10 s", n, burst)
			}
		}
		close(wv.gate)
		wg.Wait()
		for _, c := range codes {
			if c != http.StatusAccepted {
				t.Fatalf("an order of the burst was answered %d, want 202", c)
			}
		}
	}
	orders()
	first := dialled.Load()
	orders()
	// http.DefaultTransport keeps 2 idle connections per host: the second burst would
	// dial burst-2 new ones. The tuned pool keeps them all; a connection or two may be
	// on its way back to the pool as the second burst starts.
	if again := dialled.Load() - first; again >= burst-2 {
		t.Errorf("the first burst of %d concurrent orders opened %d connections to checkout, and the second opened %d more: "+
			"the gateway's client keeps too few idle connections, as http.DefaultTransport does (2 per host).\n"+
			"Look at TODO(06.1), clientSpans (gateway.go): otelhttp.NewTransport wraps the transport it is given; give it "+
			"app.NewTransport(), the tuned pool the client had, not http.DefaultTransport", burst, first, again)
	}
}
