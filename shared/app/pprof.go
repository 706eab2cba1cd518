package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// PprofAddrVar names the variable that turns the Go profiler's HTTP endpoint on:
// WORKSHOP_PPROF_ADDR=127.0.0.1:6060 serves /debug/pprof/ there, on a listener of its
// own, never on a service's port. Unset (the default), nothing listens. `workshop load
// -profile` sets it to profile a step under load.
const PprofAddrVar = "WORKSHOP_PPROF_ADDR"

// startPprof serves net/http/pprof on addr, which must be a loopback address: the
// profiler shows the process's memory and costs CPU while it runs, so it is for the
// machine's own user. It returns the server to close, or nil when addr is empty.
func startPprof(logger *slog.Logger, addr string) (*http.Server, error) {
	if addr == "" {
		return nil, nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("%s %q: want host:port: %w", PprofAddrVar, addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("%s %q: want a loopback address (127.0.0.1, ::1 or localhost): the profiler is not for the network", PprofAddrVar, addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s: listen on %s: %w", PprofAddrVar, addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: ReadHeaderTimeout}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("pprof: serve", "err", err)
		}
	}()
	logger.Info("profiler listening", "addr", ln.Addr().String(), "variable", PprofAddrVar)
	return srv, nil
}

// stopPprof closes the profiler's server, if any, without waiting for a profile in
// progress.
func stopPprof(srv *http.Server) {
	if srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_ = srv.Shutdown(ctx)
	_ = srv.Close()
}
