// Package receiver is the HTTP plumbing the collectors in otelspans and jaegerspans
// share: a server on a free loopback port that keeps the spans its handler decodes.
package receiver

import (
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/ot2otel/workshop/shared/tracecheck"
)

// Handler decodes one request. When the request is good it calls keep with its spans
// before it writes the response, so that a client that has its answer finds the spans
// in Spans; otherwise it answers with an error and does not call keep.
type Handler func(w http.ResponseWriter, r *http.Request, keep func([]tracecheck.Span))

// Server serves one handler on 127.0.0.1 and keeps what it accepts. It is safe for
// concurrent use.
type Server struct {
	ln   net.Listener
	srv  *http.Server
	done chan struct{} // closed when Serve has returned

	closeOnce sync.Once
	closeErr  error

	mu       sync.Mutex
	closed   bool
	inflight sync.WaitGroup
	spans    []tracecheck.Span
	requests int
}

// Start listens on a free port of 127.0.0.1 and serves h at path.
func Start(path string, h Handler) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening on 127.0.0.1: %w", err)
	}
	s := &Server{ln: ln, done: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		if !s.enter() {
			http.Error(w, "the collector is closed", http.StatusServiceUnavailable)
			return
		}
		defer s.inflight.Done()
		h(w, r, s.keep)
	})
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(s.done)
		// Serve returns http.ErrServerClosed once Close has been called; anything else
		// would show up as spans that never arrive, which the checks report.
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

// enter counts a request in unless the server is closing. Counting under the lock that
// Close takes to set closed means Close's Wait never races with an Add.
func (s *Server) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.inflight.Add(1)
	return true
}

func (s *Server) keep(spans []tracecheck.Span) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.spans = append(s.spans, spans...)
	s.requests++
}

// Addr returns the host:port the server listens on.
func (s *Server) Addr() string {
	return s.ln.Addr().String()
}

// Spans returns a copy of every span kept so far, in the order they arrived.
func (s *Server) Spans() []tracecheck.Span {
	s.mu.Lock()
	defer s.mu.Unlock()
	return tracecheck.Clone(s.spans)
}

// Requests returns the number of requests whose spans were kept.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Close stops the server and waits for the handlers still running, so that the spans
// of a request that was being decoded are kept. It does not wait for idle connections:
// http.Server.Shutdown would, for up to five seconds per connection an HTTP client dialed
// and never used. Closing twice is harmless.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		if err := s.srv.Close(); err != nil {
			s.closeErr = fmt.Errorf("closing the server: %w", err)
		}
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.inflight.Wait()
		<-s.done
	})
	return s.closeErr
}
