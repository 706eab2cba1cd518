package main

import (
	"testing"

	"github.com/ot2otel/workshop/shared/workshoptest"
)

// TestPublicEdge checks what the gateway takes from a caller it does not know: the
// caller's trace continued and sampled, its baggage dropped but for the allowed keys,
// W3C Trace Context's rules for repeated headers, and the public endpoint.
func TestPublicEdge(t *testing.T) {
	c := collect(t)
	workshoptest.CheckEdge(t, workshoptest.EdgeStep{
		Run: run, Spans: c.spans, HTTPFormat: "traceparent", AMQPFormat: "uber-trace-id", OTel: true,
		// W3C baggage does not cross the legacy checkout (see "What does not cross").
		BaggageToCheckout: true, BaggageToAMQP: false,
		Todo: propagatorHint("the Jaeger propagator next to the W3C ones")})
}
