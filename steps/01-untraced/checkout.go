package main

import (
	"log/slog"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/ot2otel/workshop/shared/app"
	"github.com/ot2otel/workshop/shared/broker"
	"github.com/ot2otel/workshop/shared/shop"
)

// newCheckout returns checkout's routes: POST /orders accepts an order and publishes it.
func newCheckout(b broker.Broker, logger *slog.Logger) http.Handler {
	r := mux.NewRouter()
	r.Handle("/orders", createOrder(b, logger)).Methods(http.MethodPost)
	r.Handle("/healthz", app.Healthz(b.Ready)).Methods(http.MethodGet)
	return r
}

func createOrder(b broker.Broker, logger *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		// TODO(01.2): read the X-Request-ID header through shop.RequestIDFrom (a caller
		// could send one too large for the AMQP headers), log it on every line, and put it
		// in the message's AMQP headers (requestIDAMQPHeader) so that stock can log it too.
		// Pitfalls: a logger with the ID is this request's own (logger := ...): reassigning
		// the service's shared logger adds every request's ID to all later lines; and the
		// header's value is a string, which every AMQP client reads as text.

		order, ok := app.ReadOrder(w, r)
		if !ok {
			logger.Info("rejected an invalid order")
			return
		}
		orderID := shop.NewOrderID()
		msg := broker.Message{
			RoutingKey:  broker.RoutingKey,
			MessageID:   orderID,
			ContentType: "application/json",
			Body:        shop.NewOrderPlaced(orderID, order).Encode(),
		}
		if err := b.Publish(r.Context(), msg); err != nil {
			logger.Error("could not publish the order", "order_id", orderID, "err", err)
			app.PublishFailed(w, err)
			return
		}
		logger.Info("order accepted", "order_id", orderID)
		app.WriteJSON(w, http.StatusAccepted, map[string]string{"order_id": orderID})
	}
}

// requestIDAMQPHeader carries the correlation ID over AMQP.
const requestIDAMQPHeader = "x-request-id"
