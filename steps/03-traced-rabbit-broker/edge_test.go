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
		Run: run, Spans: c.Spans, HTTPFormat: "uber-trace-id", AMQPFormat: "uber-trace-id",
		BaggageToCheckout: true, BaggageToAMQP: true,
		Todo: "TODO(03.1): inject the producer span's context into the AMQP headers"})
}
