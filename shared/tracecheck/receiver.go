package tracecheck

// Receiver is what the collectors in otelspans and jaegerspans have in common, so demo
// code can start either one, hand its environment to the services it runs, and check
// the spans that arrive, without importing the tracers' packages itself.
type Receiver interface {
	// Env returns the environment variables that point a service's tracer at the receiver.
	Env() map[string]string
	// Spans returns a copy of every span received so far.
	Spans() []Span
	// Close stops the receiver.
	Close() error
}
