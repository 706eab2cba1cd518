package main

import (
	"bytes"
	"log/slog"
	"net/http"
	"time"

	"github.com/gorilla/mux"
	"github.com/opentracing/opentracing-go"
	"github.com/opentracing/opentracing-go/ext"
	"github.com/opentracing/opentracing-go/log"
	"go.opentelemetry.io/otel/attribute"
	otelbridge "go.opentelemetry.io/otel/bridge/opentracing"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/ot2otel/workshop/shared/app"
	"github.com/ot2otel/workshop/shared/edge"
	"github.com/ot2otel/workshop/shared/shop"
)

// newGateway returns the gateway's routes: the public POST /checkout, which checks the
// order and hands it to checkout.
func newGateway(checkoutURL string, tp trace.TracerProvider, prop propagation.TextMapPropagator, logger *slog.Logger) http.Handler {
	// TODO(06.1): give the client a transport that traces each call (clientSpans, below)
	// and let placeOrder call client.Do: the transport starts the client span, a child
	// of "submit order", and injects its context. Then no bridge is left here: "submit
	// order" starts with the service's own tracer. Leave the Timeout out then: the
	// request's context already has the server's deadline, and over a transport net/http
	// does not know, a client's Timeout costs a goroutine and a timer per call.
	client := &http.Client{Timeout: 10 * time.Second, Transport: app.NewTransport()}
	// The OpenTelemetry span "submit order" and the OpenTracing client span nest only
	// when the OTel tracer comes from the bridge's wrapped provider (step 04).
	tracer, wrapped := otelbridge.NewTracerPair(tp.Tracer(tracerName))
	tracer.SetTextMapPropagator(prop)
	r := mux.NewRouter()
	r.Handle("/checkout", placeOrder(client, checkoutURL, tracer, wrapped.Tracer(tracerName), logger)).Methods(http.MethodPost)
	r.Handle("/healthz", app.Healthz(nil)).Methods(http.MethodGet)
	// edge.LinkCaller links the server span to the caller's trace when the gateway is a
	// public endpoint (main wraps the routes in edge.Guard, which sets that up).
	r.Use(serverSpans(app.Gateway, tp, prop), edge.LinkCaller, traceResponse)
	return r
}

func placeOrder(client *http.Client, checkoutURL string, tracer opentracing.Tracer, otelTracer trace.Tracer, logger *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		// The correlation ID is ours to give when the caller did not bring a usable one.
		requestID := shop.RequestIDFrom(r.Header.Get(requestIDHeader))
		w.Header().Set(requestIDHeader, requestID)
		logger := logger.With("request_id", requestID)

		order, ok := app.ReadOrder(w, r)
		if !ok {
			logger.Info("rejected an invalid order")
			return
		}
		// The gateway's own span sits between the server span, its parent in r's context,
		// and the client span, which callCheckout starts from req's context.
		quantity := 0
		for _, it := range order.Items {
			quantity += it.Quantity
		}
		ctx, span := otelTracer.Start(r.Context(), "submit order", trace.WithAttributes(
			attribute.Int("order.lines", len(order.Items)), attribute.Int("order.quantity", quantity)))
		defer span.End()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, checkoutURL+"/orders", bytes.NewReader(order.Encode()))
		if err != nil {
			app.CheckoutUnreachable(w, logger, err)
			return
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(requestIDHeader, requestID)
		resp, err := callCheckout(client, tracer, req)
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, "checkout unreachable")
			app.CheckoutUnreachable(w, logger, err)
			return
		}
		if resp.StatusCode != http.StatusAccepted {
			span.SetStatus(codes.Error, "checkout answered "+resp.Status)
		}
		logger.Info("checkout answered", "status", resp.StatusCode)
		app.RelayCheckout(w, logger, resp)
	}
}

// callCheckout sends req to checkout inside a client span, a child of the span in req's
// context. The span's context travels in req's headers, so that checkout's server span
// continues the trace.
//
// TODO(06.1): replace callCheckout with clientSpans(tp, prop) http.RoundTripper: a
// transport that starts the client span from the request's context and injects its
// context, which is what otelhttp does (look up otelhttp.NewTransport and its options;
// keep the span's name, method + " " + path). Pitfalls: otelhttp wraps the transport you
// give it, so give it app.NewTransport(), the tuned pool the client has now, not
// http.DefaultTransport (2 idle connections per host: under load every other call
// dials); and give it the service's provider and propagator, or it uses the globals.
func callCheckout(client *http.Client, tracer opentracing.Tracer, req *http.Request) (*http.Response, error) {
	span, _ := opentracing.StartSpanFromContextWithTracer(req.Context(), tracer,
		req.Method+" "+req.URL.Path, ext.SpanKindRPCClient)
	defer span.Finish()
	ext.HTTPMethod.Set(span, req.Method)
	ext.HTTPUrl.Set(span, req.URL.String())
	ext.PeerService.Set(span, app.Checkout)
	if err := tracer.Inject(span.Context(), opentracing.HTTPHeaders, opentracing.HTTPHeadersCarrier(req.Header)); err != nil {
		// The call goes ahead untraced: tracing must never fail an order.
		span.LogFields(log.String("event", "inject failed"), log.Error(err))
	}

	resp, err := client.Do(req)
	if err != nil {
		ext.LogError(span, err)
		return nil, err
	}
	ext.HTTPStatusCode.Set(span, uint16(resp.StatusCode))
	if resp.StatusCode >= http.StatusInternalServerError {
		ext.Error.Set(span, true)
	}
	return resp, nil
}

// requestIDHeader carries the correlation ID over HTTP.
const requestIDHeader = "X-Request-ID"
