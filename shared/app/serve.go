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

// The HTTP servers' timeouts, the same for every service, so that no client can hold a
// connection or a handler for long.
const (
	// ReadHeaderTimeout bounds reading a request's headers.
	ReadHeaderTimeout = 5 * time.Second
	// ReadTimeout bounds reading a whole request, headers and body: a client that
	// declares a body and sends it slowly gets 408 when it runs out.
	ReadTimeout = 10 * time.Second
	// RequestTimeout is the deadline of every handler's context: what the handler waits
	// for (checkout, the broker) gives up then, and it answers with an error. The
	// gateway's call to checkout carries its request's context, so this deadline bounds
	// that call too, before any client timeout (steps 01-05 keep a 10 s one; 06 and 07
	// drop it, see their gateway). WithRequestTimeout shortens it for one Serve.
	RequestTimeout = 8 * time.Second
	// WriteTimeout bounds a request from the end of its headers to the end of its
	// answer: reading the body, the handler and writing the answer. It must leave room
	// for the 408 a slow body gets at ReadTimeout.
	WriteTimeout = ReadTimeout + RequestTimeout + 2*time.Second
	// IdleTimeout bounds how long a keep-alive connection waits for the next request.
	IdleTimeout = 60 * time.Second
)

// ShutdownTimeout bounds a whole graceful shutdown: draining the HTTP servers, the
// consumers, flushing spans (every service's at once) and closing the broker.
const ShutdownTimeout = 10 * time.Second

// drainTimeout is the part of ShutdownTimeout that requests in flight have to finish
// by themselves. Then their contexts are cancelled, and they have abortGrace to answer
// (a JSON 503, say) before their connections are closed.
const (
	drainTimeout = ShutdownTimeout / 2
	abortGrace   = time.Second
)

// requestTimeoutKey is the context key of WithRequestTimeout's deadline.
type requestTimeoutKey struct{}

// WithRequestTimeout returns ctx carrying d, the deadline Serve, called with it, gives
// each handler in place of RequestTimeout. It is a test's knob: the workshop's tests
// wait for a gateway to give up on a checkout that never answers, and 8 s of that wait
// is most of a step's test time. It travels in the context run passes to Serve because
// no step's code hands Serve a configuration, and the services a test starts in its own
// process share that process's environment. Serve refuses, at start, a d that is not
// above 0 and at most RequestTimeout: a longer one would outlast the gateway's 10 s
// client timeout and the servers' WriteTimeout.
func WithRequestTimeout(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, requestTimeoutKey{}, d)
}

// requestTimeout returns the handlers' deadline for a Serve called with ctx:
// WithRequestTimeout's, or RequestTimeout.
func requestTimeout(ctx context.Context) (time.Duration, error) {
	d, ok := ctx.Value(requestTimeoutKey{}).(time.Duration)
	if !ok {
		return RequestTimeout, nil
	}
	if d <= 0 || d > RequestTimeout {
		return 0, fmt.Errorf("app.WithRequestTimeout(%s): want a deadline above 0 and at most app.RequestTimeout (%s)", d, RequestTimeout)
	}
	return d, nil
}

// Service is one of the shop's services as Serve runs it.
type Service struct {
	Name    string
	Addr    string       // where Handler listens
	Handler http.Handler // the service's routes
	// Consume, if set, consumes messages until its context is cancelled, and returns
	// after the message in flight is handled.
	Consume func(ctx context.Context) error
	// Close, if set, runs once the service has stopped serving and consuming: it is
	// where a service flushes its spans and closes its tracer. It should return when
	// ctx is done; Serve stops waiting for it then.
	Close func(ctx context.Context) error
}

type running struct {
	Service
	srv *http.Server
	// abort cancels the contexts of the requests in flight, when they did not finish
	// in time during a shutdown.
	abort       context.CancelFunc
	stopConsume context.CancelFunc
	consuming   sync.WaitGroup
}

// Serve runs the services until ctx is done or one of them fails, then shuts down in
// order, within ShutdownTimeout: stop accepting HTTP requests and finish those in
// flight (cancelling the ones that take too long, so that each still gets an answer),
// stop consuming and finish the message in flight, run every Close at once (flushing
// spans), close the broker (b may be nil). It returns nil after a shutdown that ctx
// asked for and that answered every request and handled every message in flight; a
// Close that fails (a collector that is down) is logged, not returned.
//
// Every service's HTTP server has the timeouts above, answers 404 and 405 in JSON (for
// a *mux.Router, see ErrorsInJSON), and gives each handler a context with a deadline
// of RequestTimeout (WithRequestTimeout's, when ctx carries one).
func Serve(ctx context.Context, logger *slog.Logger, b broker.Broker, services ...Service) (err error) {
	errc := make(chan error, 2*len(services))
	var started []*running
	defer func() {
		err = errors.Join(err, shutdown(logger, b, started))
	}()
	timeout, err := requestTimeout(ctx)
	if err != nil {
		return err
	}
	// The profiler, when WORKSHOP_PPROF_ADDR asks for it: a process's setting, read
	// here like exportsSpans below, on a loopback listener of its own.
	prof, err := startPprof(logger, os.Getenv(PprofAddrVar))
	if err != nil {
		return err
	}
	defer stopPprof(prof)

	for _, s := range services {
		ln, err := net.Listen("tcp", s.Addr)
		if err != nil {
			return fmt.Errorf("%s: listen on %s: %w", s.Name, s.Addr, err)
		}
		base, abort := context.WithCancel(context.Background())
		r := &running{Service: s, abort: abort, srv: &http.Server{
			Handler:           withDeadline(ErrorsInJSON(s.Handler), timeout),
			ReadHeaderTimeout: ReadHeaderTimeout,
			ReadTimeout:       ReadTimeout,
			WriteTimeout:      WriteTimeout,
			IdleTimeout:       IdleTimeout,
			BaseContext:       func(net.Listener) context.Context { return base },
		}}
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

// withDeadline gives each request's context a deadline of timeout.
func withDeadline(h http.Handler, timeout time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// exportsSpans reports whether the environment sends spans to a backend such as Jaeger,
// where `workshop trace` can read them back.
func exportsSpans() bool { return len(SpanBackends(os.Getenv)) > 0 }

// SpanBackends returns KEY=value for each variable of getenv that sends a tracer's spans
// to a backend of the user's: the OTLP exporter's endpoints, jaeger-client's collector
// endpoint and agent address.
func SpanBackends(getenv func(string) string) []string {
	var set []string
	for _, k := range []string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT",
		"JAEGER_ENDPOINT", "JAEGER_AGENT_HOST", "JAEGER_AGENT_PORT"} {
		if v := getenv(k); v != "" {
			set = append(set, k+"="+v)
		}
	}
	return set
}

// shutdown stops the started services, upstream first (the reverse of start order), so
// that a request in flight can still reach the service downstream of it, all within
// ShutdownTimeout.
func shutdown(logger *slog.Logger, b broker.Broker, started []*running) error {
	start := time.Now()
	deadline := start.Add(ShutdownTimeout)
	drainBy := start.Add(drainTimeout)
	var errs []error
	for i := len(started) - 1; i >= 0; i-- {
		r := started[i]
		if err := drain(logger, r, drainBy); err != nil {
			errs = append(errs, fmt.Errorf("%s: stop serving: %w", r.Name, err))
		}
		if r.stopConsume != nil {
			r.stopConsume()
			if !waitUntil(deadline, r.consuming.Wait) {
				errs = append(errs, fmt.Errorf("%s: the message in flight was not handled within the shutdown timeout", r.Name))
			}
		}
	}
	// The tracer providers flush at once: a collector that hangs costs the rest of the
	// budget once, not once per service. A Close that fails loses telemetry, not
	// orders: it is logged as an error, and does not make the shutdown fail.
	// The broker gets the last abortGrace of the budget.
	closeBy := deadline.Add(-abortGrace)
	ctx, cancel := context.WithDeadline(context.Background(), closeBy)
	defer cancel()
	var closing sync.WaitGroup
	for _, r := range started {
		if r.Close == nil {
			continue
		}
		closing.Go(func() {
			if err := r.Close(ctx); err != nil {
				logger.Error("close failed: spans may be lost", "service", r.Name, "err", err)
			}
		})
	}
	if !waitUntil(closeBy.Add(abortGrace/4), closing.Wait) {
		logger.Error("closing the services (flushing spans) did not finish within the shutdown timeout: spans may be lost")
	}
	if b != nil {
		errc := make(chan error, 1)
		go func() { errc <- b.Close() }()
		var err error
		select {
		case err = <-errc:
		case <-time.After(max(time.Until(deadline), abortGrace/2)):
			err = errors.New("did not finish within the shutdown timeout")
		}
		if err != nil && !errors.Is(err, broker.ErrClosed) {
			errs = append(errs, fmt.Errorf("close broker: %w", err))
		}
	}
	if len(errs) == 0 && len(started) > 0 {
		logger.Info("stopped", "after", time.Since(start).Round(time.Millisecond))
	}
	return errors.Join(errs...)
}

// drain stops r's server from accepting requests and waits, until drainBy, for those in
// flight to finish; then it cancels their contexts and gives them abortGrace to answer
// before it closes their connections.
func drain(logger *slog.Logger, r *running, drainBy time.Time) error {
	ctx, cancel := context.WithDeadline(context.Background(), drainBy)
	err := r.srv.Shutdown(ctx)
	cancel()
	if err == nil {
		r.abort() // nothing is left to cancel; this releases the context
		return nil
	}
	logger.Warn("requests still in flight at the shutdown deadline; cancelling them", "service", r.Name)
	r.abort()
	ctx, cancel = context.WithTimeout(context.Background(), abortGrace)
	defer cancel()
	if err := r.srv.Shutdown(ctx); err != nil {
		_ = r.srv.Close()
		return fmt.Errorf("requests still running %s after they were cancelled: %w", abortGrace, err)
	}
	return nil
}

// waitUntil runs wait and reports whether it returned by deadline.
func waitUntil(deadline time.Time, wait func()) bool {
	done := make(chan struct{})
	go func() {
		wait()
		close(done)
	}()
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// CloseAll closes what a run function had built when it failed to build the rest: the
// Close of each service (its tracer or tracer provider, which flushes its spans), then
// the broker b, which may be nil.
func CloseAll(services []Service, b broker.Broker) error {
	var errs []error
	for _, s := range services {
		if s.Close != nil {
			errs = append(errs, s.Close(context.Background()))
		}
	}
	if b != nil {
		errs = append(errs, b.Close())
	}
	return errors.Join(errs...)
}
