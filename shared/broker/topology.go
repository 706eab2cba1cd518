package broker

import (
	"context"
	"errors"
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"
)

// declareTopology declares the exchanges and queues on a channel of its own.
func declareTopology(conn *amqp.Connection, cfg Config) error {
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("open channel to declare topology: %w", err)
	}
	defer ch.Close()
	return declare(ch, cfg)
}

// declare declares the topology on ch. Redeclaring is harmless; redeclaring with
// other arguments fails with PRECONDITION_FAILED, which isPermanent recognises.
func declare(ch *amqp.Channel, cfg Config) error {
	dlx, dlq := cfg.deadLetterExchange(), cfg.deadLetterQueue()
	if err := ch.ExchangeDeclare(cfg.Exchange, amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare exchange %q: %w", cfg.Exchange, err)
	}
	if err := ch.ExchangeDeclare(dlx, amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare dead-letter exchange %q: %w", dlx, err)
	}
	if _, err := ch.QueueDeclare(dlq, true, false, false, false, amqp.Table{
		amqp.QueueTypeArg: amqp.QueueTypeQuorum,
	}); err != nil {
		return fmt.Errorf("declare dead-letter queue %q: %w", dlq, err)
	}
	// Dead-lettered messages keep their routing key; take them all.
	if err := ch.QueueBind(dlq, "#", dlx, false, nil); err != nil {
		return fmt.Errorf("bind dead-letter queue %q to %q: %w", dlq, dlx, err)
	}
	if _, err := ch.QueueDeclare(cfg.Queue, true, false, false, false, amqp.Table{
		amqp.QueueTypeArg:        amqp.QueueTypeQuorum,
		"x-delivery-limit":       int32(cfg.MaxAttempts - 1),
		"x-dead-letter-exchange": dlx,
		"x-dead-letter-strategy": "at-least-once",
		amqp.QueueOverflowArg:    amqp.QueueOverflowRejectPublish,
	}); err != nil {
		return fmt.Errorf("declare queue %q: %w", cfg.Queue, err)
	}
	if err := ch.QueueBind(cfg.Queue, cfg.BindingKey, cfg.Exchange, false, nil); err != nil {
		return fmt.Errorf("bind queue %q to %q with %q: %w", cfg.Queue, cfg.Exchange, cfg.BindingKey, err)
	}
	return nil
}

// DeleteTopology deletes the queues and exchanges Dial declares for cfg, with the
// messages in them. Deleting what does not exist is not an error.
func DeleteTopology(ctx context.Context, cfg Config) error {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return err
	}
	conn, err := dialConn(ctx, cfg.URL, defaultDialOptions().handshakeTimeout)
	if err != nil {
		return fmt.Errorf("delete topology: connect to RabbitMQ at %s: %w", redactURL(cfg.URL), err)
	}
	defer conn.Close()
	// amqp091-go's calls take no context; closing the connection ends them.
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()

	steps := []struct {
		what string
		do   func(*amqp.Channel) error
	}{
		{"queue " + cfg.Queue, func(ch *amqp.Channel) error {
			_, err := ch.QueueDelete(cfg.Queue, false, false, false)
			return err
		}},
		{"queue " + cfg.deadLetterQueue(), func(ch *amqp.Channel) error {
			_, err := ch.QueueDelete(cfg.deadLetterQueue(), false, false, false)
			return err
		}},
		{"exchange " + cfg.Exchange, func(ch *amqp.Channel) error {
			return ch.ExchangeDelete(cfg.Exchange, false, false)
		}},
		{"exchange " + cfg.deadLetterExchange(), func(ch *amqp.Channel) error {
			return ch.ExchangeDelete(cfg.deadLetterExchange(), false, false)
		}},
	}
	var errs []error
	for _, s := range steps {
		// A failed step closes its channel, so each gets its own.
		ch, err := conn.Channel()
		if err != nil {
			errs = append(errs, fmt.Errorf("delete %s: %w", s.what, err))
			break
		}
		err = s.do(ch)
		var amqpErr *amqp.Error
		if err != nil && !(errors.As(err, &amqpErr) && amqpErr.Code == amqp.NotFound) {
			errs = append(errs, fmt.Errorf("delete %s: %w", s.what, err))
		}
		_ = ch.Close()
	}
	if ctx.Err() != nil {
		errs = append(errs, ctx.Err())
	}
	return errors.Join(errs...)
}
