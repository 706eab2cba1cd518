// Package benchmarks measures what one traced hop costs with each tracer the workshop
// uses: jaeger-client-go, the OpenTelemetry SDK behind the OpenTracing bridge, and the
// OpenTelemetry SDK used natively.
//
// A hop is what every service boundary in the workshop does: start a span, inject its
// context into a carrier, extract it on the other side, start a child span, finish both.
// Spans are recorded but exported nowhere, so the numbers are the API's and the SDK's
// own cost, not an exporter's.
//
//	go test -bench . -benchmem ./benchmarks
package benchmarks
