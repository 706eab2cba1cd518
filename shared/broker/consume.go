package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Consume delivers messages from the queue to h until ctx is done, then returns nil
// once the messages in flight have been handled and acked. Config.Workers messages
// are handled at once, in no promised order, each acked on its own; Config.Prefetch
// bounds those the consumer holds. Messages prefetched but not yet handled go back to
// the queue.
//
// A message whose handler fails or panics is nacked and delivered again, until it has
// been handled Config.MaxAttempts times; then it is dead-lettered. A lost channel or
// connection is logged and consuming resumes when it is back. After Close, Consume
// returns ErrClosed.
func (r *Rabbit) Consume(ctx context.Context, h Handler) error {
	if err := r.Ready(); errors.Is(err, ErrClosed) {
		return err
	}
	failures := 0
	for {
		started, err := r.consume(ctx, h, failures > 0)
		if ctx.Err() != nil {
			return nil
		}
		if r.ctx.Err() != nil {
			return ErrClosed
		}
		if started {
			failures = 0
		}
		failures++

		// A lost connection has been logged by the supervisor already.
		level := slog.LevelWarn
		if r.Ready() != nil {
			level = slog.LevelDebug
		}
		delay := backoff(failures, r.opts.minBackoff, r.opts.maxBackoff)
		r.log.Log(ctx, level, "RabbitMQ consumer interrupted; resuming", "queue", r.cfg.Queue, "retry_in", delay.Round(time.Millisecond), "error", err)
		if !sleep(ctx, delay) {
			return nil
		}
	}
}

// consume runs one consumer on its own channel until ctx is done or the channel
// fails. started reports whether it got as far as receiving deliveries.
func (r *Rabbit) consume(ctx context.Context, h Handler, redeclare bool) (started bool, err error) {
	conn, err := r.connection(ctx)
	if err != nil {
		return false, err
	}
	ch, err := conn.Channel()
	if err != nil {
		return false, fmt.Errorf("open consume channel: %w", err)
	}
	// Closing the channel returns the prefetched messages that were not handled.
	defer ch.Close()
	closes := ch.NotifyClose(make(chan *amqp.Error, 1))

	if redeclare {
		// The channel may have died because someone deleted the queue.
		if err := declare(ch, r.cfg); err != nil {
			return false, err
		}
	}
	if err := ch.Qos(r.cfg.Prefetch, 0, false); err != nil {
		return false, fmt.Errorf("set prefetch: %w", err)
	}
	// Confirms, for the messages deadLetter publishes on this channel.
	if err := ch.Confirm(false); err != nil {
		return false, fmt.Errorf("enable confirms on the consume channel: %w", err)
	}
	deliveries, err := ch.Consume(r.cfg.Queue, "", false, false, false, false, nil)
	if err != nil {
		return false, fmt.Errorf("consume from %s: %w", r.cfg.Queue, err)
	}
	if redeclare {
		r.log.Info("RabbitMQ consumer resumed", "queue", r.cfg.Queue)
	}

	// Workers take deliveries as they come, each acking its own: ordering is not
	// promised, and one slow message does not hold up the others.
	var wg sync.WaitGroup
	for range r.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case d, ok := <-deliveries:
					if !ok || ctx.Err() != nil {
						// Take no new work once cancelled; the channel close returns it.
						return
					}
					r.handle(ctx, ch, d, h)
				}
			}
		}()
	}
	workersDone := make(chan struct{})
	go func() { wg.Wait(); close(workersDone) }()
	select {
	case <-ctx.Done():
		<-workersDone // the messages in flight are handled and acked
		return true, nil
	case <-workersDone:
	}
	if ctx.Err() != nil {
		return true, nil
	}
	select {
	case amqpErr := <-closes:
		if amqpErr != nil {
			return true, fmt.Errorf("consume channel closed: %w", amqpErr)
		}
	default:
	}
	return true, errors.New("consumer cancelled or channel closed")
}

// handle calls h with d and settles d: ack on success; on a permanent failure,
// dead-letter it at once with the reason; on another failure, nack with requeue, or
// without on the last attempt so the queue dead-letters it. While h fails because its
// dependency is unavailable, d is tried again in place and no attempt is used up.
func (r *Rabbit) handle(ctx context.Context, ch *amqp.Channel, d amqp.Delivery, h Handler) {
	err := callHandlerPatiently(ctx, h, Message{
		RoutingKey:  d.RoutingKey,
		MessageID:   d.MessageId,
		ContentType: d.ContentType,
		Headers:     d.Headers,
		Body:        d.Body,
		Redelivered: d.Redelivered,
		Exchange:    d.Exchange,
	}, r.log)
	if err == nil {
		if err := d.Ack(false); err != nil {
			r.log.Warn("ack failed; the message will be delivered again", "message_id", d.MessageId, "error", err)
		}
		return
	}

	attrs := []any{"message_id", d.MessageId, "routing_key", d.RoutingKey, "error", err}
	var perr *panicError
	if errors.As(err, &perr) {
		attrs = append(attrs, "stack", string(perr.stack))
	}
	if IsPermanent(err) {
		r.log.Warn("handler failed permanently; dead-lettering the message without retrying",
			append(attrs, "dead_letter_queue", r.cfg.deadLetterQueue())...)
		r.deadLetter(ch, d, err)
		return
	}
	// The x-delivery-limit would dead-letter the message on this nack anyway; doing
	// it explicitly on the last attempt makes the log line say so.
	attempt := attempt(d.Redelivered, d.Headers)
	if attempt >= r.cfg.MaxAttempts {
		r.log.Warn("handler failed; dead-lettering the message",
			append(attrs, "attempt", attempt, "max_attempts", r.cfg.MaxAttempts, "dead_letter_queue", r.cfg.deadLetterQueue())...)
		if err := d.Nack(false, false); err != nil {
			r.log.Warn("nack failed; the message will be delivered again", "message_id", d.MessageId, "error", err)
		}
		return
	}
	r.log.Warn("handler failed; the message will be delivered again",
		append(attrs, "attempt", attempt, "max_attempts", r.cfg.MaxAttempts)...)
	if err := d.Nack(false, true); err != nil {
		r.log.Warn("nack failed; the message will be delivered again", "message_id", d.MessageId, "error", err)
	}
}

// deadLetter sends d to the dead-letter exchange with the handler's error in
// FailureReasonHeader, and acks it once the broker has confirmed the copy. A nack from
// RabbitMQ's dead-lettering could not carry the reason. If the copy cannot be sent,
// d is rejected and RabbitMQ dead-letters it without the reason: never lost.
func (r *Rabbit) deadLetter(ch *amqp.Channel, d amqp.Delivery, cause error) {
	headers := make(amqp.Table, len(d.Headers)+1)
	for k, v := range d.Headers {
		headers[k] = v
	}
	delete(headers, deliveryCountHeader) // the dead-letter queue counts afresh
	headers[FailureReasonHeader] = failureReason(cause)
	msg := amqp.Publishing{
		Headers: headers, ContentType: d.ContentType, DeliveryMode: amqp.Persistent,
		MessageId: d.MessageId, Body: d.Body,
	}
	err := checkHeaderSize(Message{Headers: headers, ContentType: d.ContentType, MessageID: d.MessageId}, r.frameMax())
	if err == nil {
		var dc *amqp.DeferredConfirmation
		dc, err = ch.PublishWithDeferredConfirm(r.cfg.deadLetterExchange(), d.RoutingKey, false, false, msg)
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			var acked bool
			acked, err = dc.WaitContext(ctx)
			cancel()
			if err == nil && !acked {
				err = ErrNotConfirmed
			}
		}
	}
	if err != nil {
		r.log.Warn("could not dead-letter the message with its reason; rejecting it instead", "message_id", d.MessageId, "error", err)
		if err := d.Nack(false, false); err != nil {
			r.log.Warn("nack failed; the message will be delivered again", "message_id", d.MessageId, "error", err)
		}
		return
	}
	if err := d.Ack(false); err != nil {
		r.log.Warn("ack failed; the message will be delivered again", "message_id", d.MessageId, "error", err)
	}
}

// deliveryCount reads the x-delivery-count header, 0 if absent.
func deliveryCount(h amqp.Table) int {
	switch v := h[deliveryCountHeader].(type) {
	case int64:
		return int(v)
	case int32:
		return int(v)
	case int16:
		return int(v)
	case int8:
		return int(v)
	case uint32:
		return int(v)
	case uint16:
		return int(v)
	case byte:
		return int(v)
	}
	return 0
}
