package main

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/gorilla/mux"
	"github.com/opentracing/opentracing-go"
	"github.com/opentracing/opentracing-go/ext"

	"github.com/ot2otel/workshop/shared/app"
	"github.com/ot2otel/workshop/shared/broker"
	"github.com/ot2otel/workshop/shared/shop"
)

// newStockAPI returns stock's routes: GET /stock and GET /stock/{sku}, each in a server
// span like the other services' routes, so the ledger's Redis calls sit under it.
func newStockAPI(ledger shop.Stock, b broker.Broker, tracer opentracing.Tracer) http.Handler {
	r := mux.NewRouter()
	r.Handle("/stock", app.ListStock(ledger)).Methods(http.MethodGet)
	r.Handle("/stock/{sku}", app.GetStock(ledger)).Methods(http.MethodGet)
	r.Handle("/healthz", app.Healthz(b.Ready)).Methods(http.MethodGet)
	r.Use(serverSpans(tracer))
	return r
}

// reserveStock handles checkout.processed: it reserves the order's items, once per order.
func reserveStock(ledger shop.Stock, tracer opentracing.Tracer, logger *slog.Logger) broker.Handler {
	return func(ctx context.Context, msg broker.Message) error {
		// Nothing carries the trace context across RabbitMQ yet, so each message starts
		// a trace of its own: stock's work is not in the order's trace. Step 03 fixes it.
		span := tracer.StartSpan("reserve stock", ext.SpanKindConsumer)
		defer span.Finish()
		ctx = opentracing.ContextWithSpan(ctx, span) // the ledger's Redis calls are its children

		// Other AMQP clients send header strings as byte arrays.
		var requestID string
		switch v := msg.Headers[requestIDAMQPHeader].(type) {
		case string:
			requestID = v
		case []byte:
			requestID = string(v)
		}
		logger := logger.With("request_id", requestID)

		event, err := shop.DecodeOrderPlaced(msg.Body)
		if err != nil {
			logger.Error("unreadable order event", "message_id", msg.MessageID, "err", err)
			ext.LogError(span, err)
			return err
		}
		span.SetTag("order.id", event.OrderID)
		duplicate, err := ledger.Reserve(ctx, event.OrderID, event.Items)
		switch {
		case err != nil:
			logger.Error("could not reserve stock", "order_id", event.OrderID, "err", err)
			ext.LogError(span, err)
			return err
		case duplicate:
			logger.Info("order already reserved; ignoring the redelivery", "order_id", event.OrderID)
		default:
			logger.Info("stock reserved", "order_id", event.OrderID)
		}
		return nil
	}
}
