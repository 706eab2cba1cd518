package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/ot2otel/workshop/shared/broker"
)

// ShutdownTimeout bounds each phase of a graceful shutdown.
const ShutdownTimeout = 10 * time.Second

// Service is one of the shop's services as Serve runs it.
type Service struct {
	Name    string
	Addr    string       // where Handler listens
	Handler http.Handler // the service's routes
	// Consume, if set, consumes messages until its context is cancelled, and returns
	// after the message in flight is handled.
	Consume func(ctx context.Context) error
	// Close, if set, runs once the service has stopped serving and consuming: it is
	// where a service flushes its spans and closes its tracer.
	Close func(ctx context.Context) error
}

type running struct {
	Service
	srv         *http.Server
	stopConsume context.CancelFunc
	consuming   sync.WaitGroup
}

// Serve runs the services until ctx is done or one of them fails, then shuts down in
// order: stop accepting HTTP requests and finish those in flight, stop consuming and
// finish the message in flight, run each Close (flushing spans), close the broker
// (b may be nil). It returns nil after a shutdown that ctx asked for.
func Serve(ctx context.Context, logger *slog.Logger, b broker.Broker, services ...Service) (err error) {
	errc := make(chan error, 2*len(services))
	var started []*running
	defer func() {
		err = errors.Join(err, shutdown(logger, b, started))
	}()

	for _, s := range services {
		ln, err := net.Listen("tcp", s.Addr)
		if err != nil {
			return fmt.Errorf("%s: listen on %s: %w", s.Name, s.Addr, err)
		}
		r := &running{Service: s, srv: &http.Server{Handler: s.Handler, ReadHeaderTimeout: 10 * time.Second}}
		go func() {
			if err := r.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("%s: serve: %w", s.Name, err)
			}
		}()
		if s.Consume != nil {
			// Consumers stop when shutdown says so, not when ctx ends: the HTTP
			// servers must drain first, or an accepted order could go unpublished.
			cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
			r.stopConsume = cancel
			r.consuming.Add(1)
			go func() {
				defer r.consuming.Done()
				if err := s.Consume(cctx); err != nil {
					errc <- fmt.Errorf("%s: consume: %w", s.Name, err)
				}
			}()
		}
		started = append(started, r)
		logger.Info("listening", "service", s.Name, "addr", ln.Addr().String())
		if s.Name == Gateway && exportsSpans() {
			logger.Info("each answer's traceresponse header names its trace", "see the newest", "go run ./cmd/workshop trace --last")
		}
	}

	select {
	case <-ctx.Done():
		logger.Info("shutting down", "reason", context.Cause(ctx).Error())
		return nil
	case err := <-errc:
		logger.Error("stopping after a failure", "err", err)
		return err
	}
}

// exportsSpans reports whether the environment sends spans to a backend such as Jaeger,
// where `workshop trace` can read them back.
func exportsSpans() bool {
	for _, k := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "JAEGER_ENDPOINT", "JAEGER_AGENT_HOST"} {
		if os.Getenv(k) != "" {
			return true
		}
	}
	return false
}

// shutdown stops the started services, upstream first (the reverse of start order), so
// that a request in flight can still reach the service downstream of it.
func shutdown(logger *slog.Logger, b broker.Broker, started []*running) error {
	var errs []error
	for i := len(started) - 1; i >= 0; i-- {
		r := started[i]
		ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
		if err := r.srv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("%s: stop serving: %w", r.Name, err))
		}
		if r.stopConsume != nil {
			r.stopConsume()
			r.consuming.Wait()
		}
		cancel()
	}
	for _, r := range started {
		if r.Close == nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
		if err := r.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("%s: close: %w", r.Name, err))
		}
		cancel()
	}
	if b != nil {
		if err := b.Close(); err != nil && !errors.Is(err, broker.ErrClosed) {
			errs = append(errs, fmt.Errorf("close broker: %w", err))
		}
	}
	if len(errs) == 0 && len(started) > 0 {
		logger.Info("stopped")
	}
	return errors.Join(errs...)
}
