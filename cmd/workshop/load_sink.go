package main

import (
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ot2otel/workshop/shared/tracecheck/jaegerspans"
	"github.com/ot2otel/workshop/shared/tracecheck/otelspans"
)

// sink is an HTTP server that takes span exports (OTLP/HTTP and jaeger-client's
// thrift over HTTP), counts them and throws them away: the load's spans go somewhere
// real over the network, and decoding them costs the system under test nothing.
// It also counts the spans of each trace, so a run can say how many of the spans its
// sampled orders made never arrived (see dropped).
type sink struct {
	url      string
	srv      *http.Server
	requests atomic.Int64
	bytes    atomic.Int64
	spans    atomic.Int64 // spans in the exports, counted, not kept

	mu     sync.Mutex
	traces map[string]int // spans per trace ID, since the last takeTraces
}

type sinkStats struct{ requests, bytes, spans int64 }

func newSink() (*sink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &sink{url: "http://" + ln.Addr().String(), traces: map[string]int{}}
	s.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.requests.Add(1)
		s.bytes.Add(int64(len(body)))
		// Counting decodes the batch: a cost of the load process, not of the system
		// under test. A body that does not decode counts no span.
		// Only the two trace endpoints hold spans (step 07 could send logs and metrics
		// to /v1/logs and /v1/metrics).
		otlp := strings.HasPrefix(r.URL.Path, "/v1/")
		var perTrace map[string]int
		switch r.URL.Path {
		case "/v1/traces":
			perTrace, _ = otelspans.SpansPerTrace(r.Header.Get("Content-Type"), body)
		case "/api/traces":
			perTrace, _ = jaegerspans.SpansPerTrace(r.Context(), body)
		}
		s.add(perTrace)
		if otlp {
			// An empty ExportTraceServiceResponse: everything accepted.
			w.Header().Set("Content-Type", "application/x-protobuf")
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}), ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(ln)
	return s, nil
}

func (s *sink) add(perTrace map[string]int) {
	n := 0
	s.mu.Lock()
	for id, c := range perTrace {
		s.traces[id] += c
		n += c
	}
	s.mu.Unlock()
	s.spans.Add(int64(n))
}

// takeTraces returns the spans per trace received since the last call, and starts over.
func (s *sink) takeTraces() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.traces
	s.traces = map[string]int{}
	return t
}

func (s *sink) stats() sinkStats { return sinkStats{s.requests.Load(), s.bytes.Load(), s.spans.Load()} }
func (s *sink) Close() error     { return s.srv.Close() }

// dropped compares the spans that arrived with what the sampled orders made: sampled
// holds the trace ID of every order the gateway accepted with its traceresponse saying
// sampled, and received the spans per trace the sink took in over the process's life,
// its flush at shutdown included. A complete trace has as many spans as most traces
// have (perTrace, the mode); dropped is what the sampled traces lack of it, wherever
// it was lost: a full batch processor's queue, a failed export, a span never ended.
func dropped(sampled map[string]bool, received map[string]int) (perTrace int, lost int64) {
	freq := map[int]int{}
	for id := range sampled {
		if n := received[id]; n > 0 {
			freq[n]++
		}
	}
	for n, f := range freq {
		if f > freq[perTrace] || (f == freq[perTrace] && n > perTrace) {
			perTrace = n
		}
	}
	for id := range sampled {
		if n := received[id]; n < perTrace {
			lost += int64(perTrace - n)
		}
	}
	return perTrace, lost
}
