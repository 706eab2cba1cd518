package otsuite

import (
	"log/slog"
	"net/http"

	"github.com/opentracing/opentracing-go"

	"github.com/ot2otel/workshop/shared/broker"
	"github.com/ot2otel/workshop/shared/fleet"
	"github.com/ot2otel/workshop/shared/shop"
	"github.com/ot2otel/workshop/shared/workshoptest"
	"github.com/ot2otel/workshop/shared/workshoptest/otglobal"
)

// Step completes s, an OpenTracing step (02–05) as the contract suite sees it, with run,
// and its checkout and stock handlers built on a tracer that records nothing. Its
// services must leave OpenTracing's global tracer alone, and the other globals in
// s.Globals.Sentinels.
func Step(run fleet.RunFunc,
	newCheckout func(broker.Broker, opentracing.Tracer, *slog.Logger) http.Handler,
	reserveStock func(shop.Stock, opentracing.Tracer, *slog.Logger) broker.Handler,
	s workshoptest.Step) workshoptest.Step {
	s.Globals.Sentinels = append(s.Globals.Sentinels, otglobal.Tracer())
	s.Run = run
	s.NewCheckout = func(b broker.Broker, logger *slog.Logger) http.Handler {
		return newCheckout(b, opentracing.NoopTracer{}, logger)
	}
	s.NewReserve = func(ledger shop.Stock, logger *slog.Logger) broker.Handler {
		return reserveStock(ledger, opentracing.NoopTracer{}, logger)
	}
	return s
}
