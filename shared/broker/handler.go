package broker

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"

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
