package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// profiler takes a CPU and an allocation profile of a step's process over the measured
// window, from the net/http/pprof endpoint that WORKSHOP_PPROF_ADDR turns on (see
// shared/app), and writes them to dir as TARGET-rROUND.cpu.pprof and .allocs.pprof. The
// load process's own clients and sink are not in them.
type profiler struct {
	dir, addr, name string
}

// during starts both profiles for about d; wait returns once they are written.
func (p profiler) during(ctx context.Context, d time.Duration) (wait func() error) {
	secs := max(1, int(d.Round(time.Second)/time.Second))
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, kind := range []string{"profile", "allocs"} {
		wg.Go(func() {
			file := map[string]string{"profile": ".cpu.pprof", "allocs": ".allocs.pprof"}[kind]
			errs[i] = fetchProfile(ctx, fmt.Sprintf("http://%s/debug/pprof/%s?seconds=%d", p.addr, kind, secs),
				filepath.Join(p.dir, p.name+file), time.Duration(secs+30)*time.Second)
		})
	}
	return func() error {
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return err
			}
		}
		return nil
	}
}

func fetchProfile(ctx context.Context, url, path string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("profile %s: %s %s", url, resp.Status, body)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
