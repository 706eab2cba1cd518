package main

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strings"

	"github.com/opentracing/opentracing-go"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
)

// Baggage in a mixed fleet. jaeger-client carries each baggage item in a header of its
// own, uberctx-<key>; OpenTelemetry carries them all in W3C's baggage header. The
// contrib Jaeger propagator carries the trace context only, so without jaegerBaggage
// a tenant or a feature flag set on a legacy service would vanish at the first
// OpenTelemetry service, and the other way round.
//
// How each format encodes (read in jaeger-client-go's propagation.go and W3C Baggage):
//
//   - W3C: key=value members, comma-separated; a key is an RFC 7230 token (no spaces,
//     no separators such as "=", ",", ";", "/", "@"), and the value is percent-encoded.
//     OpenTelemetry's Go API holds the decoded value.
//   - jaeger-client, HTTP headers: the value URL-encoded (url.QueryEscape: a space is
//     "+"), decoded with QueryUnescape, and kept as it came when it does not decode.
//     Over AMQP (opentracing.TextMap) it is written and read as it is.
//   - jaeger-client reads every key in lower case, whatever case it was sent in.
//   - jaeger-client also reads a jaeger-baggage header ("k1=v1, k2=v2", URL-encoded
//     whole), which a caller sends to give baggage to a trace that starts there.
//
// So, from W3C to jaeger (Inject): every member becomes uberctx-<key>, its value
// URL-encoded on HTTP, as it is over AMQP. Properties (;k=v after a W3C value) have no
// jaeger form and are dropped. From jaeger to W3C (Extract): every uberctx-<key> becomes
// a member <lower-case key>, decoded as jaeger-client decodes it; an item whose key W3C
// forbids is dropped (a baggage header could not carry it), as are the items beyond
// W3C's limits as OpenTelemetry enforces them: 64 members, 8,192 bytes (W3C asks every
// platform to propagate at least that much), the keys taken in sorted order so that the
// same headers always keep the same items. A uberctx- item and a baggage member with
// the same key: the propagator later in OTEL_PROPAGATORS wins (jaeger, by default).
// Nothing in baggage ever fails a request or a message.

// jaegerBaggagePrefix starts every jaeger-client baggage header; jaegerBaggageHeader is
// the header a caller sends baggage in without a trace context.
const (
	jaegerBaggagePrefix = "uberctx-"
	jaegerBaggageHeader = "jaeger-baggage"
)

// W3C's limits, as OpenTelemetry's baggage package enforces them.
const (
	maxBaggageMembers = 64
	maxBaggageBytes   = 8192
)

// jaegerBaggage is the propagator of jaeger-client's baggage, uberctx-* headers, to and
// from OpenTelemetry's baggage. newPropagator puts it next to the contrib Jaeger
// propagator wherever OTEL_PROPAGATORS names jaeger.
type jaegerBaggage struct{}

var _ propagation.TextMapPropagator = jaegerBaggage{}

// Inject writes each member of ctx's baggage as a uberctx-<key> header.
//
// TODO(05.3): a tenant or a feature flag set on an OpenTelemetry service must reach a
// jaeger-client service downstream, which reads uberctx-<key> headers only (Extract,
// below, is the other direction). Write each member of ctx's baggage (baggage.FromContext,
// Members) as jaeger-client would. Pitfall: jaeger-client URL-decodes the values of HTTP
// headers (url.QueryUnescape) and reads AMQP headers as they are: look at the carrier's
// type (propagation.HeaderCarrier is HTTP) and at the package comment above.
func (jaegerBaggage) Inject(ctx context.Context, carrier propagation.TextMapCarrier) {
}

// Extract adds every uberctx-<key> header of carrier to ctx's baggage, and the items of
// a jaeger-baggage header, which jaeger-client reads too: "k1=v1, k2=v2", the whole
// value URL-encoded, what a caller sends to start a trace with baggage. uberctx-* wins
// over jaeger-baggage for the same key.
func (jaegerBaggage) Extract(ctx context.Context, carrier propagation.TextMapCarrier) context.Context {
	_, http := carrier.(propagation.HeaderCarrier)
	type item struct{ key, value string }
	var items []item
	var keys []string
	for _, k := range carrier.Keys() {
		switch {
		case strings.EqualFold(k, jaegerBaggageHeader):
			// As jaeger-client parses it: decoded whole (or not at all), then each
			// key=value pair, the key trimmed; a pair that is not one is skipped.
			if v, err := url.QueryUnescape(carrier.Get(k)); err == nil {
				for _, pair := range strings.Split(v, ",") {
					if kv := strings.Split(strings.TrimSpace(pair), "="); len(kv) == 2 {
						items = append(items, item{strings.TrimSpace(kv[0]), kv[1]})
					}
				}
			}
		case len(k) > len(jaegerBaggagePrefix) && strings.EqualFold(k[:len(jaegerBaggagePrefix)], jaegerBaggagePrefix):
			keys = append(keys, k)
		}
	}
	if len(items) == 0 && len(keys) == 0 {
		return ctx
	}
	slices.SortFunc(items, func(a, b item) int { return strings.Compare(a.key, b.key) })
	slices.Sort(keys)
	for _, k := range keys {
		v := carrier.Get(k)
		if http {
			if d, err := url.QueryUnescape(v); err == nil {
				v = d
			}
		}
		items = append(items, item{strings.ToLower(k[len(jaegerBaggagePrefix):]), v})
	}
	bag := baggage.FromContext(ctx)
	for _, it := range items {
		if !isToken(it.key) {
			continue // a key W3C forbids: no baggage header could carry it on
		}
		m, err := baggage.NewMemberRaw(it.key, it.value)
		if err != nil {
			continue
		}
		next, err := bag.SetMember(m)
		if err != nil || next.Len() > maxBaggageMembers || len(next.String()) > maxBaggageBytes {
			continue
		}
		bag = next
	}
	return baggage.ContextWithBaggage(ctx, bag)
}

// isToken reports whether key is an RFC 7230 token, as W3C Baggage wants its keys.
// OpenTelemetry's baggage accepts other keys, and leaves them out of the header.
func isToken(key string) bool {
	if key == "" {
		return false
	}
	for _, c := range []byte(key) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// Fields are the headers Inject writes whatever the baggage: none, since each item
// has a header of its own, named after its key.
func (jaegerBaggage) Fields() []string { return nil }

// keepBaggage returns the bridge tracer, which extracts with prop, keeping the baggage
// of a request or message that carries baggage but no trace context. The bridge's
// Extract returns opentracing.ErrSpanContextNotFound for it and drops the baggage it
// read, where jaeger-client returns a span context that holds only the baggage, from
// which a new trace starts with it: the legacy services keep such baggage, so the
// migrated ones must too.
func keepBaggage(bridge opentracing.Tracer, prop propagation.TextMapPropagator) opentracing.Tracer {
	return baggageKeeper{bridge, prop}
}

type baggageKeeper struct {
	opentracing.Tracer
	prop propagation.TextMapPropagator
}

// baggageOnly is the span context of a request or message that carries baggage and no
// trace context.
type baggageOnly struct{ bag baggage.Baggage }

func (b baggageOnly) ForeachBaggageItem(handler func(k, v string) bool) {
	for _, m := range b.bag.Members() {
		if !handler(m.Key(), m.Value()) {
			return
		}
	}
}

// Extract is the bridge's, but for a carrier with baggage and no trace context.
func (t baggageKeeper) Extract(format, carrier any) (opentracing.SpanContext, error) {
	sc, err := t.Tracer.Extract(format, carrier)
	if !errors.Is(err, opentracing.ErrSpanContextNotFound) {
		return sc, err
	}
	var c propagation.TextMapCarrier
	switch cr := carrier.(type) {
	case opentracing.HTTPHeadersCarrier:
		c = propagation.HeaderCarrier(cr)
	case propagation.TextMapCarrier:
		c = cr
	case opentracing.TextMapReader:
		c = readerCarrier{cr}
	default:
		return sc, err
	}
	if bag := baggage.FromContext(t.prop.Extract(context.Background(), c)); bag.Len() > 0 {
		return baggageOnly{bag}, nil
	}
	return sc, err
}

// StartSpan is the bridge's, but a reference to a baggageOnly context starts a new
// trace that carries its baggage, as jaeger-client does.
func (t baggageKeeper) StartSpan(name string, opts ...opentracing.StartSpanOption) opentracing.Span {
	var o opentracing.StartSpanOptions
	for _, opt := range opts {
		opt.Apply(&o)
	}
	var carried []baggage.Member
	refs := o.References[:0:0]
	for _, r := range o.References {
		if b, ok := r.ReferencedContext.(baggageOnly); ok {
			carried = append(carried, b.bag.Members()...)
			continue
		}
		refs = append(refs, r)
	}
	if len(carried) == 0 {
		return t.Tracer.StartSpan(name, opts...)
	}
	o.References = refs
	span := t.Tracer.StartSpan(name, startOptions(o))
	for _, m := range carried {
		span.SetBaggageItem(m.Key(), m.Value())
	}
	return span
}

// startOptions applies options already gathered.
type startOptions opentracing.StartSpanOptions

func (s startOptions) Apply(o *opentracing.StartSpanOptions) { *o = opentracing.StartSpanOptions(s) }

// readerCarrier reads an opentracing.TextMapReader, such as the AMQP headers, as a
// propagation.TextMapCarrier.
type readerCarrier struct{ r opentracing.TextMapReader }

func (c readerCarrier) Get(key string) string {
	var v string
	_ = c.r.ForeachKey(func(k, val string) error {
		if k == key {
			v = val
		}
		return nil
	})
	return v
}

func (c readerCarrier) Set(string, string) {}

func (c readerCarrier) Keys() []string {
	var keys []string
	_ = c.r.ForeachKey(func(k, _ string) error {
		keys = append(keys, k)
		return nil
	})
	return keys
}
