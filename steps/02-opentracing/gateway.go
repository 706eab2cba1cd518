package main

import (
	"bytes"
	"log/slog"
	"net/http"
	"time"

	"github.com/gorilla/mux"
	"github.com/opentracing/opentracing-go"
	"github.com/ot2otel/workshop/shared/app"
	"github.com/ot2otel/workshop/shared/shop"
)

// newGateway returns the gateway's routes: the public POST /checkout, which checks the
// order and hands it to checkout.
func newGateway(checkoutURL string, tracer opentracing.Tracer, logger *slog.Logger) http.Handler {
	client := &http.Client{Timeout: 10 * time.Second, Transport: app.NewTransport()}
	r := mux.NewRouter()
	r.Handle("/checkout", placeOrder(client, checkoutURL, tracer, logger)).Methods(http.MethodPost)
	r.Handle("/healthz", app.Healthz(nil)).Methods(http.MethodGet)
	r.Use(serverSpans(tracer), traceResponse)
	return r
}

func placeOrder(client *http.Client, checkoutURL string, tracer opentracing.Tracer, logger *slog.Logger) http.HandlerFunc {
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
// context. The span's context travels in req's headers (uber-trace-id), so that
// checkout's server span continues the trace.
func callCheckout(client *http.Client, tracer opentracing.Tracer, req *http.Request) (*http.Response, error) {
	// TODO(02.3): a client span around the call to checkout, named req.Method + " " +
	// req.URL.Path, a child of the span in req's context, tagged as the OpenTracing
	// conventions say (the method, the URL, peer.service app.Checkout, the answer's status),
	// an error when there is no answer or a 5xx one; and its context injected into the
	// request's headers, so that checkout continues the trace. Look up
	// opentracing.StartSpanFromContextWithTracer, the ext package (SpanKindRPCClient,
	// HTTPMethod, ...) and Tracer.Inject with opentracing.HTTPHeaders. Pitfall: the kind is a
	// start option; a kind set afterwards is lost under step 04's bridge.
	return client.Do(req)
}

// requestIDHeader carries the correlation ID over HTTP.
const requestIDHeader = "X-Request-ID"
