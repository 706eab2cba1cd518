package otelspans

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/ot2otel/workshop/shared/tracecheck"
	"github.com/ot2otel/workshop/shared/tracecheck/internal/receiver"
)

const (
	contentTypeProtobuf = "application/x-protobuf"
	contentTypeJSON     = "application/json"

	// maxBody bounds a request body, after decompression, so a bad client cannot make a
	// test run out of memory.
	maxBody = 32 << 20
)

// Collector is an OTLP/HTTP trace receiver for tests and demos: point a service's OTel
// exporter at it (Env) and check the spans that arrive (Spans). It accepts POST
// /v1/traces with protobuf or JSON bodies, optionally gzip-compressed, and answers 200
// with an empty ExportTraceServiceResponse. It is safe for concurrent use.
type Collector struct {
	srv *receiver.Server
}

var _ tracecheck.Receiver = (*Collector)(nil)

// NewCollector starts a Collector on a free port of 127.0.0.1.
func NewCollector() (*Collector, error) {
	srv, err := receiver.Start("/v1/traces", handleTraces)
	if err != nil {
		return nil, fmt.Errorf("otelspans: starting the OTLP collector: %w", err)
	}
	return &Collector{srv: srv}, nil
}

// Endpoint returns the collector's base URL, e.g. "http://127.0.0.1:41234", which is what
// OTEL_EXPORTER_OTLP_ENDPOINT takes: the exporter appends /v1/traces itself. The
// otlptracehttp.WithEndpointURL option and OTEL_EXPORTER_OTLP_TRACES_ENDPOINT take the
// full URL instead, Endpoint() + "/v1/traces".
func (c *Collector) Endpoint() string {
	return "http://" + c.srv.Addr()
}

// Env returns the environment that points an OTel SDK's OTLP/HTTP exporter at the
// collector.
func (c *Collector) Env() map[string]string {
	return map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": c.Endpoint(),
		"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
	}
}

// Spans returns a copy of every span received so far, in the order they arrived.
func (c *Collector) Spans() []tracecheck.Span {
	return c.srv.Spans()
}

// Requests returns the number of export requests accepted so far. Rejected requests do
// not count.
func (c *Collector) Requests() int {
	return c.srv.Requests()
}

// Close stops the collector once the requests it is decoding are done. The spans
// received stay available. Closing twice is harmless.
func (c *Collector) Close() error {
	if err := c.srv.Close(); err != nil {
		return fmt.Errorf("otelspans: closing the OTLP collector: %w", err)
	}
	return nil
}

func handleTraces(w http.ResponseWriter, r *http.Request, keep func([]tracecheck.Span)) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "OTLP/HTTP exports traces with POST", http.StatusMethodNotAllowed)
		return
	}
	// The OTLP spec asks for 415 when the content type is not one the server speaks.
	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mediaType != contentTypeProtobuf && mediaType != contentTypeJSON) {
		http.Error(w, fmt.Sprintf("unsupported Content-Type %q: want %s or %s",
			r.Header.Get("Content-Type"), contentTypeProtobuf, contentTypeJSON), http.StatusUnsupportedMediaType)
		return
	}
	body, status, err := readBody(w, r)
	if err != nil {
		http.Error(w, err.Error(), status)
		return
	}

	var req coltracepb.ExportTraceServiceRequest
	if mediaType == contentTypeJSON {
		err = unmarshalJSON(body, &req)
	} else {
		err = proto.Unmarshal(body, &req)
	}
	if err != nil {
		http.Error(w, fmt.Sprintf("decoding the %s body: %v", mediaType, err), http.StatusBadRequest)
		return
	}

	// Reply in the request's encoding: the exporter decodes the response by its
	// Content-Type to look for a partial success.
	var resp []byte
	if mediaType == contentTypeJSON {
		resp = []byte("{}")
	} else if resp, err = proto.Marshal(&coltracepb.ExportTraceServiceResponse{}); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	keep(FromOTLP(&req))
	w.Header().Set("Content-Type", mediaType)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(resp)
}

// readBody reads the request body, undoing a gzip Content-Encoding, and returns the
// status to answer with when it cannot.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, int, error) {
	var body io.Reader = http.MaxBytesReader(w, r.Body, maxBody)
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip":
		gz, err := gzip.NewReader(body)
		if err != nil {
			return nil, http.StatusBadRequest, fmt.Errorf("reading the gzip body: %w", err)
		}
		defer gz.Close()
		// The limit applies to what the body inflates to as well.
		body = io.LimitReader(gz, maxBody+1)
	default:
		return nil, http.StatusUnsupportedMediaType, fmt.Errorf("unsupported Content-Encoding %q: want gzip or none", enc)
	}
	data, err := io.ReadAll(body)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig) || len(data) > maxBody:
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("the body is larger than %d bytes", maxBody)
	case err != nil:
		return nil, http.StatusBadRequest, fmt.Errorf("reading the body: %w", err)
	}
	return data, 0, nil
}

// unmarshalJSON decodes OTLP/JSON. It is protojson with one difference the OTLP spec
// makes: trace and span IDs are hex strings, not the base64 protojson uses for bytes.
// So the IDs are rewritten to base64 before protojson sees them.
func unmarshalJSON(body []byte, req *coltracepb.ExportTraceServiceRequest) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // keep 64-bit integers exact on the way through
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return err
	}
	hexIDsToBase64(doc)
	fixed, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	// The spec asks receivers to ignore fields they do not know.
	return protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(fixed, req)
}

func hexIDsToBase64(v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			switch k {
			case "traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id":
				if s, ok := val.(string); ok {
					if b, err := hex.DecodeString(s); err == nil {
						x[k] = base64.StdEncoding.EncodeToString(b)
					}
				}
			default:
				hexIDsToBase64(val)
			}
		}
	case []any:
		for _, e := range x {
			hexIDsToBase64(e)
		}
	}
}

// NewReceiver starts a Collector as a tracecheck.Receiver, for the workshop command's demo.
func NewReceiver() (tracecheck.Receiver, error) { return NewCollector() }

// FromJSON decodes OTLP/JSON trace data, whose top-level field is resourceSpans (a
// TracesData or an ExportTraceServiceRequest: the same message on the wire), and converts
// its spans as FromOTLP does. Jaeger's query API (/api/v3) answers with this, wrapped in
// {"result": ...}.
func FromJSON(data []byte) ([]tracecheck.Span, error) {
	var req coltracepb.ExportTraceServiceRequest
	if err := unmarshalJSON(data, &req); err != nil {
		return nil, fmt.Errorf("decode OTLP/JSON traces: %w", err)
	}
	return FromOTLP(&req), nil
}

// SpansPerTrace returns how many spans of each trace (by its 32 hex digits) an OTLP/HTTP
// export body (protobuf, or JSON when contentType says so) holds, without converting
// them: what a load test's sink counts.
func SpansPerTrace(contentType string, body []byte) (map[string]int, error) {
	var req coltracepb.ExportTraceServiceRequest
	var err error
	if mt, _, _ := mime.ParseMediaType(contentType); mt == contentTypeJSON {
		err = unmarshalJSON(body, &req)
	} else {
		err = proto.Unmarshal(body, &req)
	}
	if err != nil {
		return nil, err
	}
	n := map[string]int{}
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, sp := range ss.Spans {
				n[hex.EncodeToString(sp.TraceId)]++
			}
		}
	}
	return n, nil
}
