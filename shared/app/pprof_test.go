package app

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

func TestPprofOnlyOnLoopback(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, addr := range []string{"0.0.0.0:0", ":0", "10.1.2.3:6060", "example.com:6060", "nonsense"} {
		srv, err := startPprof(logger, addr)
		if err == nil {
			stopPprof(srv)
			t.Errorf("startPprof(%q) served; want an error naming %s", addr, PprofAddrVar)
		} else if !strings.Contains(err.Error(), PprofAddrVar) {
			t.Errorf("startPprof(%q): %v; want the error to name %s", addr, err, PprofAddrVar)
		}
	}
	if srv, err := startPprof(logger, ""); srv != nil || err != nil {
		t.Fatalf("startPprof(\"\") = %v, %v; want nothing started", srv, err)
	}
}

func TestPprofServesProfiles(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	addr := freeAddr(t)
	srv, err := startPprof(logger, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer stopPprof(srv)
	resp, err := http.Get("http://" + addr + "/debug/pprof/allocs")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || len(body) == 0 {
		t.Fatalf("GET /debug/pprof/allocs: %s, %d bytes", resp.Status, len(body))
	}
}
