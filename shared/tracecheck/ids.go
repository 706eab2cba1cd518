package tracecheck

import "fmt"

// PadTraceID formats a trace ID as 32 lowercase hex digits. A jaeger-client tracer that
// does not generate 128-bit IDs has high 0, so its IDs become 16 zeros followed by the low
// half: the same digits an OTel tracer uses when it continues a trace jaeger started.
func PadTraceID(high, low uint64) string {
	return fmt.Sprintf("%016x%016x", high, low)
}

// SpanIDHex formats a span ID as 16 lowercase hex digits.
func SpanIDHex(id uint64) string {
	return fmt.Sprintf("%016x", id)
}
