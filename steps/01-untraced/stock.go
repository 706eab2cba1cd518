package main

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/ot2otel/workshop/shared/app"
	"github.com/ot2otel/workshop/shared/broker"
	"github.com/ot2otel/workshop/shared/shop"
)

// newStockAPI returns stock's routes: GET /stock and GET /stock/{sku}.
func newStockAPI(ledger shop.Stock, b broker.Broker) http.Handler {
	r := mux.NewRouter()
	r.Handle("/stock", app.ListStock(ledger)).Methods(http.MethodGet)
	r.Handle("/stock/{sku}", app.GetStock(ledger)).Methods(http.MethodGet)
	r.Handle("/healthz", app.Healthz(b.Ready)).Methods(http.MethodGet)
	return r
}

// reserveStock handles checkout.processed: it reserves the order's items, once per order.
func reserveStock(ledger shop.Stock, logger *slog.Logger) broker.Handler {
	return func(ctx context.Context, msg broker.Message) error {
		// TODO(01.3): read the correlation ID from msg.Headers[requestIDAMQPHeader] (a
		// string from our checkout; other AMQP clients send []byte) and log it on every line.

		event, err := shop.DecodeOrderPlaced(msg.Body)
		if err != nil {
			logger.Error("unreadable order event", "message_id", msg.MessageID, "err", err)
			return err
		}
		duplicate, err := ledger.Reserve(ctx, event.OrderID, event.Items)
		switch {
		case err != nil:
			logger.Error("could not reserve stock", "order_id", event.OrderID, "err", err)
			return err
		case duplicate:
			logger.Info("order already reserved; ignoring the redelivery", "order_id", event.OrderID)
		default:
			logger.Info("stock reserved", "order_id", event.OrderID)
		}
		return nil
	}
}
