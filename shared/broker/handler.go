package broker

import (
	"context"
	"fmt"
	"runtime/debug"
)

// deliveryCountHeader is the header in which a RabbitMQ quorum queue counts how often
// a message was returned to the queue before this delivery; it is absent on the
// first delivery.
const deliveryCountHeader = "x-delivery-count"

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
