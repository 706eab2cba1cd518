package jaegerspans

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/uber/jaeger-client-go/thrift"
	j "github.com/uber/jaeger-client-go/thrift-gen/jaeger"

	"github.com/ot2otel/workshop/shared/tracecheck"
	"github.com/ot2otel/workshop/shared/tracecheck/internal/receiver"
)

// maxBody bounds a request body so a bad client cannot make a test run out of memory.
const maxBody = 32 << 20

// Collector is a jaeger collector's HTTP endpoint for tests and demos, as jaeger-client's
// HTTP transport talks to it: POST /api/traces with a thrift Batch in the binary
// protocol, Content-Type application/x-thrift. Point a service's tracer at it (Env) and
// check the spans that arrive (Spans). It is safe for concurrent use.
type Collector struct {
	srv *receiver.Server
}

var _ tracecheck.Receiver = (*Collector)(nil)

// NewCollector starts a Collector on a free port of 127.0.0.1.
func NewCollector() (*Collector, error) {
	srv, err := receiver.Start("/api/traces", handleTraces)
	if err != nil {
		return nil, fmt.Errorf("jaegerspans: starting the jaeger collector: %w", err)
	}
	return &Collector{srv: srv}, nil
}

// Endpoint returns the URL spans are posted to, e.g. "http://127.0.0.1:41234/api/traces":
// what JAEGER_ENDPOINT and config.ReporterConfig.CollectorEndpoint take.
func (c *Collector) Endpoint() string {
	return "http://" + c.srv.Addr() + "/api/traces"
}

// Env returns the environment that points a jaeger-client tracer configured with
// config.FromEnv at the collector.
func (c *Collector) Env() map[string]string {
	return map[string]string{"JAEGER_ENDPOINT": c.Endpoint()}
}

// Spans returns a copy of every span received so far, in the order they arrived.
func (c *Collector) Spans() []tracecheck.Span {
	return c.srv.Spans()
}

// Requests returns the number of batches accepted so far. Rejected requests do not count.
func (c *Collector) Requests() int {
	return c.srv.Requests()
}

// Close stops the collector once the requests it is decoding are done. The spans
// received stay available. Closing twice is harmless.
func (c *Collector) Close() error {
	if err := c.srv.Close(); err != nil {
		return fmt.Errorf("jaegerspans: closing the jaeger collector: %w", err)
	}
	return nil
}

// handleTraces answers as jaeger's own collector does: 202 Accepted for a batch, 400 for
// a content type it does not speak or a body it cannot decode.
func handleTraces(w http.ResponseWriter, r *http.Request, keep func([]tracecheck.Span)) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "jaeger clients POST their spans", http.StatusMethodNotAllowed)
		return
	}
	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mediaType != "application/x-thrift" && mediaType != "application/vnd.apache.thrift.binary") {
		http.Error(w, fmt.Sprintf("unsupported Content-Type %q: want application/x-thrift",
			r.Header.Get("Content-Type")), http.StatusBadRequest)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		status := http.StatusBadRequest
		if tooBig := (*http.MaxBytesError)(nil); errors.As(err, &tooBig) {
			status = http.StatusRequestEntityTooLarge
		}
		http.Error(w, fmt.Sprintf("reading the body: %v", err), status)
		return
	}
	batch, err := decodeBatch(r.Context(), body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	keep(FromThrift(batch))
	w.WriteHeader(http.StatusAccepted)
}

// decodeBatch reads a thrift Batch in the binary protocol, the encoding jaeger-client's
// HTTP transport writes (TBinaryProtocol over a memory buffer, no message envelope).
func decodeBatch(ctx context.Context, body []byte) (batch *j.Batch, err error) {
	// The generated decoder trusts its input; a body it was never meant to see must cost
	// the sender a 400, not the test process.
	defer func() {
		if p := recover(); p != nil {
			batch, err = nil, fmt.Errorf("decoding the thrift Batch: %v", p)
		}
	}()
	buf := thrift.NewTMemoryBufferLen(len(body))
	if _, err := buf.Write(body); err != nil {
		return nil, fmt.Errorf("buffering the body: %w", err)
	}
	// No string in the body can be longer than the body.
	conf := &thrift.TConfiguration{MaxMessageSize: int32(len(body))}
	p := &guardedProtocol{TBinaryProtocol: thrift.NewTBinaryProtocolConf(buf, conf), buf: buf}
	batch = j.NewBatch()
	if err := batch.Read(ctx, p); err != nil {
		return nil, fmt.Errorf("decoding the thrift Batch: %w", err)
	}
	return batch, nil
}

// guardedProtocol is the binary protocol with a sanity check on collection sizes. The
// generated code allocates a slice as long as the count a list claims, so four bad bytes
// could ask for gigabytes. Every element takes at least one byte, so a count larger than
// what is left of the body is an error.
type guardedProtocol struct {
	*thrift.TBinaryProtocol
	buf *thrift.TMemoryBuffer
}

func (p *guardedProtocol) ReadListBegin(ctx context.Context) (thrift.TType, int, error) {
	t, n, err := p.TBinaryProtocol.ReadListBegin(ctx)
	if err == nil {
		err = p.check(n)
	}
	return t, n, err
}

func (p *guardedProtocol) ReadSetBegin(ctx context.Context) (thrift.TType, int, error) {
	t, n, err := p.TBinaryProtocol.ReadSetBegin(ctx)
	if err == nil {
		err = p.check(n)
	}
	return t, n, err
}

func (p *guardedProtocol) ReadMapBegin(ctx context.Context) (thrift.TType, thrift.TType, int, error) {
	kt, vt, n, err := p.TBinaryProtocol.ReadMapBegin(ctx)
	if err == nil {
		err = p.check(n)
	}
	return kt, vt, n, err
}

// Skip goes through the guard too; the embedded protocol's Skip would call its own
// unguarded methods.
func (p *guardedProtocol) Skip(ctx context.Context, fieldType thrift.TType) error {
	return thrift.SkipDefaultDepth(ctx, p, fieldType)
}

func (p *guardedProtocol) check(n int) error {
	if left := p.buf.RemainingBytes(); uint64(n) > left {
		return fmt.Errorf("a collection claims %d elements with %d bytes left", n, left)
	}
	return nil
}

// NewReceiver starts a Collector as a tracecheck.Receiver, for the workshop command's demo.
func NewReceiver() (tracecheck.Receiver, error) { return NewCollector() }

// SpansPerTrace returns how many spans of each trace (by its 32 hex digits, a 64-bit ID
// padded) a jaeger-client HTTP export body (a thrift Batch) holds: what a load test's
// sink counts.
func SpansPerTrace(ctx context.Context, body []byte) (map[string]int, error) {
	batch, err := decodeBatch(ctx, body)
	if err != nil {
		return nil, err
	}
	n := map[string]int{}
	for _, s := range batch.Spans {
		n[tracecheck.PadTraceID(uint64(s.TraceIdHigh), uint64(s.TraceIdLow))]++
	}
	return n, nil
}
