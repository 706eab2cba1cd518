package main

import (
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ot2otel/workshop/shared/tracecheck/jaegerspans"
	"github.com/ot2otel/workshop/shared/tracecheck/otelspans"
)

// sink is an HTTP server that takes span exports (OTLP/HTTP and jaeger-client's
// thrift over HTTP), counts them and throws them away: the load's spans go somewhere
// real over the network, and decoding them costs the system under test nothing.
type sink struct {
	url      string
	srv      *http.Server
	requests atomic.Int64
	bytes    atomic.Int64
	spans    atomic.Int64 // spans in the exports, counted, not kept
}

type sinkStats struct{ requests, bytes, spans int64 }

func newSink() (*sink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &sink{url: "http://" + ln.Addr().String()}
	s.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.requests.Add(1)
		s.bytes.Add(int64(len(body)))
		// Counting decodes the batch: a cost of the load process, not of the system
		// under test. A body that does not decode counts no span.
		if strings.HasPrefix(r.URL.Path, "/v1/") {
			if n, err := otelspans.CountSpans(r.Header.Get("Content-Type"), body); err == nil {
				s.spans.Add(int64(n))
			}
		} else if n, err := jaegerspans.CountSpans(r.Context(), body); err == nil {
			s.spans.Add(int64(n))
		}
		if strings.HasPrefix(r.URL.Path, "/v1/") {
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

func (s *sink) stats() sinkStats { return sinkStats{s.requests.Load(), s.bytes.Load(), s.spans.Load()} }
func (s *sink) Close() error     { return s.srv.Close() }
