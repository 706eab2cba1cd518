package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestScrapeMetrics: the load scrapes a step's /metrics as Prometheus does, in the
// OpenMetrics format, again and again until stopped; an address that refuses the first
// scrape (a step without metrics) is left alone.
func TestScrapeMetrics(t *testing.T) {
	var scrapes atomic.Int64
	var accept atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/metrics" {
			scrapes.Add(1)
			accept.Store(r.Header.Get("Accept"))
		}
	}))
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := ln.Addr().String()
	ln.Close()
	stop := scrapeMetrics(srv.Client(), []string{strings.TrimPrefix(srv.URL, "http://"), refused}, 10*time.Millisecond)
	deadline := time.Now().Add(10 * time.Second)
	for scrapes.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	n := scrapes.Load()
	if n < 3 {
		t.Fatalf("%d scrapes in 10 s at an interval of 10 ms, want them repeated", n)
	}
	if a, _ := accept.Load().(string); !strings.HasPrefix(a, "application/openmetrics-text") {
		t.Errorf("scraped with Accept %q, want OpenMetrics first, as Prometheus asks (it carries the exemplars)", a)
	}
	time.Sleep(50 * time.Millisecond)
	if scrapes.Load() != n {
		t.Error("scrapes went on after stop")
	}
}
