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
		Run: run, Spans: c.Spans, HTTPFormat: "traceparent", AMQPFormat: "traceparent", OTel: true,
		BaggageToCheckout: true, BaggageToAMQP: true,
		Todo: "TODO(04.1) and TODO(04.2): the bridge, with the W3C propagators"})
}
