package otelenv

import (
	"fmt"
	"strings"

	"go.opentelemetry.io/contrib/propagators/autoprop"
	"go.opentelemetry.io/otel/propagation"
)

// PropagatorsVar names the propagators an OpenTelemetry service speaks on the wire,
// comma-separated, in order: OpenTelemetry's standard variable.
const PropagatorsVar = "OTEL_PROPAGATORS"

// KnownPropagators are the names OTEL_PROPAGATORS takes, as contrib's autoprop knows
// them.
const KnownPropagators = "tracecontext, baggage, jaeger, b3, b3multi, xray, ottrace (or none, alone)"

// PropagatorsFromEnv returns the propagators OTEL_PROPAGATORS names, in its order, and
// def when it is unset or blank: each step's own choice, its newPropagator. Each name is
// looked up with contrib's autoprop, which on its own would log an unknown name and
// carry on with the others (autoprop.NewTextMapPropagator), and read none next to other
// names as none alone: a service that does not speak what its operator asked for breaks
// traces silently. So an unknown name is an error, and so is none with anything else,
// naming the variable and the names it takes. (Step 05's newPropagator reads the
// variable the same way, and adds jaeger-client's baggage to jaeger.)
func PropagatorsFromEnv(getenv func(string) string, def propagation.TextMapPropagator) (propagation.TextMapPropagator, error) {
	value := getenv(PropagatorsVar)
	if strings.TrimSpace(value) == "" {
		return def, nil
	}
	var names []string
	for _, name := range strings.Split(value, ",") {
		if name = strings.ToLower(strings.TrimSpace(name)); name != "" {
			names = append(names, name)
		}
	}
	var props []propagation.TextMapPropagator
	for _, name := range names {
		p, err := autoprop.TextMapPropagator(name)
		if err != nil {
			return nil, fmt.Errorf("%s %q: %w: want a comma-separated list of %s", PropagatorsVar, value, err, KnownPropagators)
		}
		if name == "none" && len(names) > 1 {
			return nil, fmt.Errorf("%s %q: none means no propagation at all: want it alone, or a list of %s", PropagatorsVar, value, KnownPropagators)
		}
		props = append(props, p)
	}
	return propagation.NewCompositeTextMapPropagator(props...), nil
}
