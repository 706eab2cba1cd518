package main

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/gorilla/mux"
	"github.com/opentracing/opentracing-go"
	"github.com/opentracing/opentracing-go/ext"
	amqp "github.com/rabbitmq/amqp091-go"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/ot2otel/workshop/shared/app"
	"github.com/ot2otel/workshop/shared/broker"
	"github.com/ot2otel/workshop/shared/shop"
)

// newCheckout returns checkout's routes: POST /orders accepts an order and publishes it.
func newCheckout(b broker.Broker, tp trace.TracerProvider, prop propagation.TextMapPropagator, logger *slog.Logger) http.Handler {
	r := mux.NewRouter()
	r.Handle("/orders", createOrder(b, tp.Tracer(tracerName), logger)).Methods(http.MethodPost)
	r.Handle("/healthz", app.Healthz(b.Ready)).Methods(http.MethodGet)
	r.Use(serverSpans(app.Checkout, tp, prop))
	return r
}

func createOrder(b broker.Broker, tracer trace.Tracer, logger *slog.Logger) http.HandlerFunc {
	// TODO(06.3): "place order" on the OpenTelemetry API, as step 04's "submit order": a
	// child of the request's span, with the order's ID as an attribute, an error where
	// the order fails (recordError), ended when the handler returns; ot goes. Look up
	// trace.Tracer.Start (it returns the context first) and span.SetAttributes. Pitfall:
	// publish with the context Start returns, or the producer span hangs beside "place
	// order" instead of under it.
	ot := openTracer(tracer, nil)
	return func(w http.ResponseWriter, r *http.Request) {
		// Like the gateway, checkout bounds what a caller can put in every log line and
		// in the AMQP headers.
		requestID := shop.RequestIDFrom(r.Header.Get(requestIDHeader))
		logger := logger.With("request_id", requestID)
		// The business logic has a span of its own, under the server span, so the trace
		// shows what checkout did with the order and, when it failed, why.
		span, ctx := opentracing.StartSpanFromContextWithTracer(r.Context(), ot, "place order")
		defer span.Finish()

		order, ok := app.ReadOrder(w, r)
		if !ok {
			logger.Info("rejected an invalid order")
			ext.LogError(span, errInvalidOrder)
			return
		}
		orderID := shop.NewOrderID()
		span.SetTag("order.id", orderID)
		msg := broker.Message{
			RoutingKey:  broker.RoutingKey,
			MessageID:   orderID,
			ContentType: "application/json",
			Body:        shop.NewOrderPlaced(orderID, order).Encode(),
			Headers:     amqp.Table{requestIDAMQPHeader: requestID},
		}
		if err := b.Publish(ctx, msg); err != nil {
			logger.Error("could not publish the order", "order_id", orderID, "err", err)
			ext.LogError(span, err)
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
