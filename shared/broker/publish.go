package broker

import (
	"context"
	"errors"
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Publish sends msg to the exchange with the mandatory flag and persistent delivery
// mode, and waits for the broker's confirm. A nack, or a return because no queue is
// bound for the routing key, fails with an error wrapping ErrNotConfirmed. While the
// connection is being re-established, Publish waits for it, for at most
// Config.ConnectTimeout.
//
// Publish is safe for concurrent use: concurrent publishes are in flight together on
// one channel, each waiting for its own confirm (see confirmWindow).
func (r *Rabbit) Publish(ctx context.Context, msg Message) error {
	if msg.MessageID == "" {
		msg.MessageID = NewMessageID()
	}
	if err := r.publish(ctx, msg); err != nil {
		return fmt.Errorf("publish %s to %s: %w", msg.MessageID, r.cfg.Exchange, err)
	}
	return nil
}

func (r *Rabbit) publish(ctx context.Context, msg Message) error {
	// amqp091-go validates too, but its error does not wrap amqp.ErrFieldType, and
	// checkHeaders (NormalizeHeaders' checks, without its copy) also catches what would
	// only fail on delivery. Checking here keeps Publish's errors the same as Memory's.
	if err := checkHeaders(msg.Headers); err != nil {
		return err
	}
	// RabbitMQ closes the whole connection on a header frame beyond frame_max.
	if err := checkHeaderSize(msg, r.frameMax()); err != nil {
		return err
	}
	if err := r.Ready(); errors.Is(err, ErrClosed) {
		return err
	}

	var f *inFlight
	for attempt := 1; ; attempt++ {
		w, err := r.publisher(ctx)
		if err != nil {
			return err
		}
		if f, err = w.send(ctx, r.cfg.Exchange, msg); err == nil {
			break
		}
		// The channel or connection died between our look at it and the send, so
		// nothing went out: wait for the reconnect and send again.
		if !errors.Is(err, errWindowGone) && !errors.Is(err, amqp.ErrClosed) {
			return err
		}
		w.close()
		if attempt == 3 {
			return err
		}
	}

	var res confirmResult
	select {
	case res = <-f.done:
	case <-ctx.Done():
		// The confirm, or a return, may still come; the window settles it then.
		return fmt.Errorf("waiting for the broker's confirm (the message may still be delivered): %w", ctx.Err())
	case <-r.ctx.Done():
		return ErrClosed
	}
	switch {
	case res.lost:
		return fmt.Errorf("%w: channel closed before the broker confirmed", ErrNotConfirmed)
	case !res.acked:
		return fmt.Errorf("%w: broker nacked", ErrNotConfirmed)
	case res.returned != nil:
		return fmt.Errorf("%w: returned as unroutable: %d %s (routing key %q)", ErrNotConfirmed, res.returned.ReplyCode, res.returned.ReplyText, msg.RoutingKey)
	}
	return nil
}

// frameMax is the frame_max of the current connection, or DefaultFrameMax while there
// is none.
func (r *Rabbit) frameMax() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conn != nil && r.conn.Config.FrameSize > 0 {
		return r.conn.Config.FrameSize
	}
	return DefaultFrameMax
}

// publisher returns the confirm window, opening one on the current connection if
// there is none or its channel is gone.
func (r *Rabbit) publisher(ctx context.Context) (*confirmWindow, error) {
	select {
	case r.pubSem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-r.ctx.Done():
		return nil, ErrClosed
	}
	defer func() { <-r.pubSem }()
	if w := r.pub; w != nil && w.usable() {
		return w, nil
	}
	r.pub = nil

	waitCtx, cancel := context.WithTimeout(ctx, r.cfg.ConnectTimeout)
	defer cancel()
	conn, err := r.connection(waitCtx)
	if err != nil {
		return nil, err
	}
	ch, err := conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("open publish channel: %w", err)
	}
	w, err := newConfirmWindow(conn, ch)
	if err != nil {
		_ = ch.Close()
		return nil, fmt.Errorf("enable publisher confirms: %w", err)
	}
	r.pub = w
	return w, nil
}
