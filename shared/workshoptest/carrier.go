package workshoptest

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/ot2otel/workshop/shared/tracecheck"
)

// Carrier is a step's AMQP header carrier over one table, seen through its methods, so
// that one check serves OpenTracing's TextMap carriers and OTel's TextMapCarrier.
type Carrier struct {
	Get func(key string) string
	Set func(key, val string)
	// Keys lists the headers the carrier offers a propagator: ForeachKey's (OpenTracing)
	// or Keys' (OTel).
	Keys func() []string
	// Foreach is ForeachKey, for an OpenTracing carrier; nil for an OTel one.
	Foreach func(handler func(key, val string) error) error
}

// CarrierHints name what to look at: Read for Get, ForeachKey and Keys, Write for Set.
type CarrierHints struct{ Read, Write string }

// CheckCarrier checks pitfall 6 on the carrier newCarrier makes of a table: Get reads a
// string or []byte header as text and "" for anything else (keys are case-sensitive),
// the keys it offers are the text headers, nil headers read as none, Set stores under
// the key. A carrier method that panics fails the check, saying on what value.
func CheckCarrier(t *testing.T, newCarrier func(amqp.Table) Carrier, traceHeader string, hints CarrierHints) {
	t.Helper()
	headers := amqp.Table{
		"text": "a", "bytes": []byte("b"), "number": int32(7), "table": amqp.Table{"c": "d"}, "nothing": nil,
	}
	c := newCarrier(headers)
	for key, want := range map[string]string{"text": "a", "bytes": "b", "number": "", "table": "", "nothing": "", "missing": "", "TEXT": ""} {
		var got string
		if err := CarrierCall("Get", headers[key], hints.Read, func() { got = c.Get(key) }); err != nil {
			t.Error(err)
			continue
		}
		if got != want {
			t.Errorf("Get(%q) = %q on %v, want %q.\nLook at %s: Get returns a string or []byte header as text, "+
				"and \"\" for a missing key or any other type (keys are case-sensitive)", key, got, headers, want, hints.Read)
		}
	}
	var keys []string
	if err := CarrierCall("Keys", headers, hints.Read, func() { keys = c.Keys() }); err != nil {
		t.Error(err)
	} else if slices.Sort(keys); !slices.Equal(keys, []string{"bytes", "text"}) {
		t.Errorf("the carrier offers the keys %v of %v, want [bytes text].\nLook at %s: offer every string and []byte header, "+
			"skip the other types", keys, headers, hints.Read)
	}
	if c.Foreach != nil {
		stop := errors.New("stop")
		var err error
		if perr := CarrierCall("ForeachKey", headers, hints.Read, func() { err = c.Foreach(func(string, string) error { return stop }) }); perr != nil {
			t.Error(perr)
		} else if err != stop {
			t.Errorf("ForeachKey returned %v when its handler returned %v.\nLook at %s: stop at the handler's first error and return it",
				err, stop, hints.Read)
		}
	}

	none := newCarrier(nil) // a message without headers
	var got string
	if err := CarrierCall("Get", nil, hints.Read, func() { got = none.Get(traceHeader) }); err != nil {
		t.Error(err)
	} else if got != "" {
		t.Errorf("Get on nil headers = %q, want \"\".\nLook at %s", got, hints.Read)
	}
	if err := CarrierCall("Keys", nil, hints.Read, func() { keys = none.Keys() }); err != nil {
		t.Error(err)
	} else if len(keys) != 0 {
		t.Errorf("the carrier of nil headers offers the keys %v, want none.\nLook at %s", keys, hints.Read)
	}

	w := amqp.Table{"x-request-id": "req-1"}
	if err := CarrierCall("Set", nil, hints.Write, func() { newCarrier(w).Set(traceHeader, "ctx") }); err != nil {
		t.Error(err)
	} else if want := (amqp.Table{"x-request-id": "req-1", traceHeader: "ctx"}); !maps.Equal(w, want) {
		t.Errorf("after Set(%q, \"ctx\") the headers are %v, want %v.\nLook at %s: Set stores the value under the key",
			traceHeader, w, want, hints.Write)
	}
}

// CarrierCall calls call, one call of a carrier's method on a header value v, and turns
// a panic into an error that says on what value, so that the test goes on and names
// todo, instead of the test binary dying with a stack trace.
func CarrierCall(method string, v any, todo string, call func()) (err error) {
	defer func() {
		if p := recover(); p != nil {
			if h, ok := v.(amqp.Table); ok {
				err = fmt.Errorf("%s panicked on the headers %v: use a type switch (%s). The panic: %v", method, h, todo, p)
				return
			}
			err = fmt.Errorf("%s panicked on a %s value: use a type switch (%s). The panic: %v", method, typeName(v), todo, p)
		}
	}()
	call()
	return nil
}

func typeName(v any) string {
	switch v.(type) {
	case []byte:
		return "[]byte"
	case nil:
		return "nil"
	}
	return fmt.Sprintf("%T", v)
}

// Why a consumer's handler missed a message, by what the message was: each names one of
// the three ways a consume wrapper goes wrong.
const (
	MissedTraced = "A message that carries a trace context must be handled: the consumer returned early when " +
		"Extract SUCCEEDED (the talk's `if err == nil { return err }`), acking the message unhandled."
	MissedUntraced = "A message whose trace context is missing or unreadable must be handled too, in a span that " +
		"starts a new trace: the consumer skipped the handler when extraction FAILED (`if err != nil { return ... }`)."
	MissedRedelivery = "A message whose handler failed must be delivered again: the consumer swallowed the " +
		"handler's error (called h without returning its error), so the broker acked the message."
)

// ContinueHint says why consumer does not continue its message's trace: a link where a
// parent belongs (an OpenTracing FollowsFrom, which the OTel bridge turns into a new
// trace) is named as such, with todo; any other cause is otherwise.
func ContinueHint(consumer tracecheck.Span, todo, otherwise string) string {
	if len(consumer.Links) > 0 {
		return "The consumer span references the producer with FollowsFrom, a link, not a parent: " +
			"continue the trace with opentracing.ChildOf(parent). Look at " + todo
	}
	return otherwise
}
