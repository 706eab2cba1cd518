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
// def when it is unset or blank: each step's own choice, its newPropagator. A name it
// cannot honour is an error that names the variable and the names it takes (Propagators).
func PropagatorsFromEnv(getenv func(string) string, def propagation.TextMapPropagator) (propagation.TextMapPropagator, error) {
	if strings.TrimSpace(getenv(PropagatorsVar)) == "" {
		return def, nil
	}
	return Propagators(getenv, "", nil)
}

// Propagators returns the composite of the propagators OTEL_PROPAGATORS names, in its
// order, or those defaults names when it is unset or blank. Each name is looked up with
// contrib's autoprop, which on its own would log an unknown name and carry on with the
// others (autoprop.NewTextMapPropagator), and read none next to other names as none
// alone: a service that does not speak what its operator asked for breaks traces
// silently. So an unknown name is an error, and so is none with anything else. wrap,
// when not nil, may replace the propagator of a name with one of its own (step 05's
// jaeger, which also bridges jaeger-client's baggage).
func Propagators(getenv func(string) string, defaults string, wrap func(name string, p propagation.TextMapPropagator) propagation.TextMapPropagator) (propagation.TextMapPropagator, error) {
	value := getenv(PropagatorsVar)
	list, what := value, fmt.Sprintf("%s %q", PropagatorsVar, value)
	if strings.TrimSpace(list) == "" {
		list, what = defaults, fmt.Sprintf("the default propagators %q (%s is unset)", defaults, PropagatorsVar)
	}
	var names []string
	for _, name := range strings.Split(list, ",") {
		if name = strings.ToLower(strings.TrimSpace(name)); name != "" {
			names = append(names, name)
		}
	}
	var props []propagation.TextMapPropagator
	for _, name := range names {
		p, err := autoprop.TextMapPropagator(name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w: want a comma-separated list of %s", what, err, KnownPropagators)
		}
		if name == "none" && len(names) > 1 {
			return nil, fmt.Errorf("%s: none means no propagation at all: want it alone, or a list of %s", what, KnownPropagators)
		}
		if wrap != nil {
			p = wrap(name, p)
		}
		props = append(props, p)
	}
	return propagation.NewCompositeTextMapPropagator(props...), nil
}
