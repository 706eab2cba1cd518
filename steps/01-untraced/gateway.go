package main

import (
	"bytes"
	"log/slog"
	"net/http"
	"time"

	"github.com/gorilla/mux"
	"github.com/ot2otel/workshop/shared/app"
)

// newGateway returns the gateway's routes: the public POST /checkout, which checks the
// order and hands it to checkout.
func newGateway(checkoutURL string, logger *slog.Logger) http.Handler {
	client := &http.Client{Timeout: 10 * time.Second, Transport: app.NewTransport()}
	r := mux.NewRouter()
	r.Handle("/checkout", placeOrder(client, checkoutURL, logger)).Methods(http.MethodPost)
	r.Handle("/healthz", app.Healthz(nil)).Methods(http.MethodGet)
	return r
}

func placeOrder(client *http.Client, checkoutURL string, logger *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		// TODO(01.1): take the caller's X-Request-ID (requestIDHeader) through
		// shop.RequestIDFrom, which makes a fresh one when there is none or it is unusable;
		// return it in the response's X-Request-ID header; log it on every line
		// (logger.With("request_id", ...)); and send it on to checkout in the request below.
		// Pitfall: never trust the caller's value as it is: it goes into every log line.

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
		resp, err := client.Do(req)
		if err != nil {
			app.CheckoutUnreachable(w, logger, err)
			return
		}
		logger.Info("checkout answered", "status", resp.StatusCode)
		app.RelayCheckout(w, logger, resp)
	}
}

// requestIDHeader carries the correlation ID over HTTP.
const requestIDHeader = "X-Request-ID"
