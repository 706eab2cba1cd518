package main

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/gorilla/mux"
	"github.com/opentracing/opentracing-go"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/ot2otel/workshop/shared/app"
	"github.com/ot2otel/workshop/shared/broker"
	"github.com/ot2otel/workshop/shared/shop"
)

// newCheckout returns checkout's routes: POST /orders accepts an order and publishes it.
func newCheckout(b broker.Broker, tracer opentracing.Tracer, logger *slog.Logger) http.Handler {
	r := mux.NewRouter()
	r.Handle("/orders", createOrder(b, tracer, logger)).Methods(http.MethodPost)
	r.Handle("/healthz", app.Healthz(b.Ready)).Methods(http.MethodGet)
	r.Use(serverSpans(tracer))
	return r
}

func createOrder(b broker.Broker, tracer opentracing.Tracer, logger *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		// Like the gateway, checkout bounds what a caller can put in every log line and
		// in the AMQP headers.
		requestID := shop.RequestIDFrom(r.Header.Get(requestIDHeader))
		logger := logger.With("request_id", requestID)
		// TODO(02.4): give the business logic below a span of its own, "place order": a child
		// of the request's span, tagged with the order's ID (order.id), an error where the order
		// fails (invalid, or not published), finished when the handler returns. Look up
		// opentracing.StartSpanFromContextWithTracer and ext.LogError. Pitfall: publish with the
		// context it returns, or what the broker does with the order (step 03) hangs beside
		// "place order" instead of under it.

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
			Headers:     amqp.Table{requestIDAMQPHeader: requestID},
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

// errInvalidOrder is what the business span records for an order that fails to decode
// or validate; the caller got the details in the 400 answer.
var errInvalidOrder = errors.New("invalid order: answered 400")

// requestIDAMQPHeader carries the correlation ID over AMQP.
const requestIDAMQPHeader = "x-request-id"
