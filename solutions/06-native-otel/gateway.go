package main

import (
	"bytes"
	"log/slog"
	"net/http"

	"github.com/gorilla/mux"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
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
	// No Timeout: the call's deadline is its request's, which app.Serve bounds by
	// RequestTimeout. Over a transport net/http does not know, such as otelhttp's, a
	// client's Timeout costs a goroutine, a timer and two channels per call to cancel it
	// the pre-Go-1.5 way, even when the context's deadline comes first.
	client := &http.Client{Transport: clientSpans(tp, prop)}
	r := mux.NewRouter()
	r.Handle("/checkout", placeOrder(client, checkoutURL, tp.Tracer(tracerName), logger)).Methods(http.MethodPost)
	r.Handle("/healthz", app.Healthz(nil)).Methods(http.MethodGet)
	// edge.LinkCaller links the server span to the caller's trace when the gateway is a
	// public endpoint (main wraps the routes in edge.Guard, which sets that up).
	r.Use(serverSpans(app.Gateway, tp, prop), edge.LinkCaller, traceResponse)
	return r
}

func placeOrder(client *http.Client, checkoutURL string, tracer trace.Tracer, logger *slog.Logger) http.HandlerFunc {
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
		// and the client span, which the transport starts from req's context.
		quantity := 0
		for _, it := range order.Items {
			quantity += it.Quantity
		}
		ctx, span := tracer.Start(r.Context(), "submit order", trace.WithAttributes(
			attribute.Int("order.lines", len(order.Items)), attribute.Int("order.quantity", quantity)))
		defer span.End()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, checkoutURL+"/orders", bytes.NewReader(order.Encode()))
		if err != nil {
			app.CheckoutUnreachable(w, logger, err)
			return
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(requestIDHeader, requestID)
		resp, err := client.Do(req)
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

// clientSpans is an HTTP transport that sends each request inside a client span, a
// child of the span in the request's context, named like the server span it calls
// ("POST /orders"). The span's context travels in the request's headers (traceparent),
// so that the server continues the trace. The span is an error when there is no answer,
// or a 4xx or 5xx one.
func clientSpans(tp trace.TracerProvider, prop propagation.TextMapPropagator) http.RoundTripper {
	// Without the two options otelhttp would use the global provider and propagator.
	return otelhttp.NewTransport(app.NewTransport(),
		otelhttp.WithTracerProvider(tp),
		otelhttp.WithPropagators(prop),
		otelhttp.WithMeterProvider(noMetrics),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			return r.Method + " " + r.URL.Path
		}),
	)
}

// requestIDHeader carries the correlation ID over HTTP.
const requestIDHeader = "X-Request-ID"
