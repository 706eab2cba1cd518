package main

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/gorilla/mux"
	amqp "github.com/rabbitmq/amqp091-go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/ot2otel/workshop/shared/app"
	"github.com/ot2otel/workshop/shared/broker"
	"github.com/ot2otel/workshop/shared/shop"
)

// newCheckout returns checkout's routes: POST /orders accepts an order and publishes it.
func newCheckout(b broker.Broker, tp trace.TracerProvider, mp metric.MeterProvider, prop propagation.TextMapPropagator, logger *slog.Logger) http.Handler {
	r := mux.NewRouter()
	r.Handle("/orders", createOrder(b, tp.Tracer(tracerName), logger)).Methods(http.MethodPost)
	r.Handle("/healthz", app.Healthz(b.Ready)).Methods(http.MethodGet)
	r.Use(serverSpans(app.Checkout, tp, mp, prop))
	return r
}

func createOrder(b broker.Broker, tracer trace.Tracer, logger *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		// Like the gateway, checkout bounds what a caller can put in every log line and
		// in the AMQP headers.
		requestID := shop.RequestIDFrom(r.Header.Get(requestIDHeader))
		logger := logger.With("request_id", requestID)
		// The business logic has a span of its own, under the server span, so the trace
		// shows what checkout did with the order and, when it failed, why.
		ctx, span := tracer.Start(r.Context(), "place order")
		defer span.End()

		order, ok := app.ReadOrder(w, r)
		if !ok {
			logger.Info("rejected an invalid order")
			recordError(span, errInvalidOrder)
			return
		}
		orderID := shop.NewOrderID()
		span.SetAttributes(attribute.String("order.id", orderID))
		msg := broker.Message{
			RoutingKey:  broker.RoutingKey,
			MessageID:   orderID,
			ContentType: "application/json",
			Body:        shop.NewOrderPlaced(orderID, order).Encode(),
			Headers:     amqp.Table{requestIDAMQPHeader: requestID},
		}
		if err := b.Publish(ctx, msg); err != nil {
			logger.Error("could not publish the order", "order_id", orderID, "err", err)
			recordError(span, err)
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
