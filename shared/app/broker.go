package app

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/ot2otel/workshop/shared/broker"
)

// OpenBroker connects to RabbitMQ for the services of cmd, or returns nil when none of
// them needs a broker.
//
// When every service runs in this process (all, demo) and RabbitMQ cannot be reached,
// it falls back to the in-memory broker and says so (broker.Fallback decides), unless
// cfg.RequireRabbitMQ is set.
// A single service always needs RabbitMQ, because its peers are in other processes;
// it retries the connection for a while, since RabbitMQ may still be starting.
func OpenBroker(ctx context.Context, cfg Config, cmd Command, logger *slog.Logger) (broker.Broker, error) {
	if !cmd.NeedsBroker() {
		return nil, nil
	}
	if cmd.Runs(Checkout) && cmd.Runs(Stock) {
		// Every service that uses the broker is in this process: the in-memory broker
		// can stand in for RabbitMQ.
		why, err := broker.Fallback(ctx, cfg.Broker.URL, cfg.RequireRabbitMQ)
		if err != nil {
			return nil, err
		}
		if why != nil {
			logger.Warn("RabbitMQ is not reachable; using the in-memory broker for this process",
				"err", why, "hint", "start RabbitMQ (docker compose up -d rabbitmq, or rabbitmq-server -detached) to use it")
			return broker.NewMemory(cfg.Broker), nil
		}
	}
	b, err := broker.Dial(ctx, cfg.Broker, logger)
	if err != nil {
		return nil, fmt.Errorf("%w (is RabbitMQ running? docker compose up -d rabbitmq, or rabbitmq-server -detached)", err)
	}
	logger.Info("connected to RabbitMQ", "exchange", cfg.Broker.Exchange, "queue", cfg.Broker.Queue)
	return b, nil
}
