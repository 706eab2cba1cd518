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
	"go.opentelemetry.io/otel/trace"

	"github.com/ot2otel/workshop/shared/app"
	"github.com/ot2otel/workshop/shared/edge"
	"github.com/ot2otel/workshop/shared/shop"
)

// newGateway returns the gateway's routes: the public POST /checkout, which checks the
// order and hands it to checkout. tp is for the code written against the OpenTelemetry
// API: the bridge's wrapped provider.
func newGateway(checkoutURL string, tracer opentracing.Tracer, tp trace.TracerProvider, logger *slog.Logger) http.Handler {
	client := &http.Client{Timeout: 10 * time.Second, Transport: app.NewTransport()}
	r := mux.NewRouter()
	r.Handle("/checkout", placeOrder(client, checkoutURL, tracer, tp.Tracer(tracerName), logger)).Methods(http.MethodPost)
	r.Handle("/healthz", app.Healthz(nil)).Methods(http.MethodGet)
	// edge.LinkCaller links the server span to the caller's trace when the gateway is a
	// public endpoint (main wraps the routes in edge.Guard, which sets that up).
	r.Use(serverSpans(tracer), edge.LinkCaller, traceResponse)
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
		// TODO(04.3): write the shop's first OpenTelemetry-native span, "submit order", inside
		// the OpenTracing spans: a child of the server span in r's context, with the attributes
		// order.lines (the order's lines) and order.quantity (their sum), an error when checkout
		// cannot be reached or does not answer 202, ended on return. Look up trace.Tracer.Start,
		// attribute.Int, span.RecordError and span.SetStatus with codes.Error. Pitfall: build the
		// request to checkout from the context Start returns, so that callCheckout's OpenTracing
		// client span is its child; otelTracer comes from the bridge's wrapped provider, which is
		// what lets the two kinds of span nest.
		req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, checkoutURL+"/orders", bytes.NewReader(order.Encode()))
		if err != nil {
			app.CheckoutUnreachable(w, logger, err)
			return
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(requestIDHeader, requestID)
		resp, err := callCheckout(client, tracer, req)
		if err != nil {
			app.CheckoutUnreachable(w, logger, err)
			return
		}
		logger.Info("checkout answered", "status", resp.StatusCode)
		app.RelayCheckout(w, logger, resp)
	}
}

// callCheckout sends req to checkout inside a client span, a child of the span in req's
// context. The span's context travels in req's headers, in the tracer's format
// (traceparent under the bridge), so that checkout's server span continues the trace.
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
