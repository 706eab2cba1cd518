package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"runtime/debug"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// deliveryCountHeader is the header in which a RabbitMQ quorum queue counts how often
// a message was returned to the queue before this delivery. The broker sets it on a
// redelivery; on a first delivery it is absent, or whatever the publisher put there.
const deliveryCountHeader = "x-delivery-count"

// FailureReasonHeader is the header in which a message dead-lettered for a permanent
// failure carries the handler's error.
const FailureReasonHeader = "x-workshop-failure-reason"

// maxReasonBytes bounds FailureReasonHeader, so the reason cannot make the message too
// large to dead-letter.
const maxReasonBytes = 1024

// Permanent marks err as a failure that retrying cannot fix: a Handler that returns it
// (or an error wrapping it) has its message dead-lettered at once. Permanent(nil) is
// nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

type permanentError struct{ err error }

func (e *permanentError) Error() string   { return e.err.Error() }
func (e *permanentError) Unwrap() error   { return e.err }
func (e *permanentError) Permanent() bool { return true }

// IsPermanent reports whether err, or an error in its chain, has a method
// Permanent() bool that returns true: Permanent's errors do, and so can a domain's own
// (shop's out-of-stock error does), without importing this package.
func IsPermanent(err error) bool {
	var p interface{ Permanent() bool }
	return errors.As(err, &p) && p.Permanent()
}

// IsUnavailable reports whether err, or an error in its chain, has a method
// Unavailable() bool that returns true: the handler failed because something it depends
// on is down (stock's ledger in Redis, say), not because of the message. The consumer
// then tries the message again in place, after a pause that grows, without using up an
// attempt (see callHandlerPatiently), so an outage holds orders back instead of
// dead-lettering them.
func IsUnavailable(err error) bool {
	var u interface{ Unavailable() bool }
	return errors.As(err, &u) && u.Unavailable()
}

// The pauses between tries of a message whose handler's dependency is unavailable.
var (
	firstUnavailablePause = 100 * time.Millisecond
	maxUnavailablePause   = 5 * time.Second
)

// callHandlerPatiently calls h with msg, and again, in place, for as long as it fails
// with an unavailable dependency (IsUnavailable) and ctx is not done. It returns the
// last error; each try gets its own copy of msg's headers, as a redelivery would.
func callHandlerPatiently(ctx context.Context, h Handler, msg Message, log *slog.Logger) error {
	pause := firstUnavailablePause
	for {
		try := msg
		try.Headers = maps.Clone(msg.Headers)
		err := callHandler(ctx, h, try)
		if err == nil || IsPermanent(err) || !IsUnavailable(err) {
			return err
		}
		log.Warn("handler's dependency is unavailable; trying the message again in place",
			"message_id", msg.MessageID, "error", err, "pause", pause)
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		pause = min(2*pause, maxUnavailablePause)
	}
}

// attempt says which attempt at handling a message a delivery is, from RabbitMQ's own
// count: 1 on a first delivery, whatever the publisher put in x-delivery-count, and
// x-delivery-count+1 on a redelivery, where the broker has overwritten it. Only the
// logs and the choice to dead-letter explicitly on the last attempt rely on it; the
// queue's x-delivery-limit, counted inside RabbitMQ, bounds the attempts regardless.
func attempt(redelivered bool, headers amqp.Table) int {
	if !redelivered {
		return 1
	}
	return deliveryCount(headers) + 1
}

// failureReason is the FailureReasonHeader value for err.
func failureReason(err error) string {
	reason := err.Error()
	if len(reason) > maxReasonBytes {
		reason = reason[:maxReasonBytes-3] + "..."
	}
	return reason
}

// panicError is a recovered Handler panic.
type panicError struct {
	value any
	stack []byte
}

func (e *panicError) Error() string { return fmt.Sprintf("handler panicked: %v", e.value) }

// callHandler calls h, turning a panic into an error so that one bad message cannot
// take the consumer down.
func callHandler(ctx context.Context, h Handler, msg Message) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &panicError{value: p, stack: debug.Stack()}
		}
	}()
	return h(ctx, msg)
}
