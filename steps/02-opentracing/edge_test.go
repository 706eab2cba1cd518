package main

import (
	"testing"

	"github.com/ot2otel/workshop/shared/workshoptest"
)

// TestPublicEdge checks what the gateway takes from a caller it does not know: the
// caller's trace continued and sampled, its baggage dropped but for the allowed keys.
func TestPublicEdge(t *testing.T) {
	c := collect(t)
	workshoptest.CheckEdge(t, workshoptest.EdgeStep{
		Run: run, Spans: c.Spans, HTTPFormat: "uber-trace-id",
		BaggageToCheckout: true, BaggageToAMQP: false, // the broker hop is not traced yet
		Todo: "TODO(02.2) and TODO(02.3): the server spans, and the client span injected into the request"})
}
