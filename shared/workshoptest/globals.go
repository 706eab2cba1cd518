package workshoptest

import "testing"

// Globals says which tracing globals a step's services must leave alone, and what to
// look at when they do not. main may set OpenTelemetry's error handler and logger
// (telemetry.HandleOTelErrors); tracer providers, propagators and tracers are the
// services' own.
type Globals struct {
	// Sentinels stand in for the globals: otelglobal.Sentinel() for OpenTelemetry's
	// tracer provider and propagator, otglobal.Tracer() for OpenTracing's tracer. They
	// live in packages of their own so that a step depends only on the tracing
	// libraries it uses.
	Sentinels []Sentinel
	Todo      string
}

// A Sentinel stands in for one tracing global while checkNoGlobals runs.
type Sentinel interface {
	// Install sets the global to the sentinel, and restores it when t ends.
	Install(t *testing.T)
	// Problems says what the services did to the global: replaced it, used it.
	Problems() []string
}

// checkNoGlobals starts the step's system with every global s.Globals names set to a
// sentinel that counts its use, places an order, and fails unless the services neither
// replaced a sentinel nor used one: in one process a global lets a service's context
// reach another without crossing the wire, so in-process tests pass where the real
// deployment breaks.
func checkNoGlobals(t *testing.T, s Step) {
	for _, g := range s.Globals.Sentinels {
		g.Install(t)
	}
	f := Start(t, s.Run, nil)
	f.PlaceDemoOrder(nil)
	f.WaitReserved(DemoSKU, 2)
	f.Stop()
	for _, g := range s.Globals.Sentinels {
		for _, p := range g.Problems() {
			t.Errorf("the services %s. Each service is built with its own tracer or provider and propagator, "+
				"and never reaches for a global: in one process a global lets one service's context reach another "+
				"without crossing the wire.\nLook at %s", p, s.Globals.Todo)
		}
	}
}
