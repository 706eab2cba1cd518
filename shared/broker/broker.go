// Package broker is the workshop's message bus: a RabbitMQ implementation on amqp091-go
// and an in-memory stand-in with the same behaviour, behind one small interface that
// the steps decorate with tracing.
//
// Headers pass through both implementations untouched (apart from the value types the
// AMQP wire gives them on delivery), so a decorator can inject a trace context on
// Publish and extract it in the Handler it wraps.
package broker

import (
	"context"
	"errors"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Message is one event on the bus.
type Message struct {
	// RoutingKey routes the message from the exchange to the queue.
	RoutingKey string
	// MessageID identifies the message; Publish fills it in when empty.
	MessageID string
	// ContentType is the MIME type of Body, "application/json" for the shop's events.
	ContentType string
	// Headers are the AMQP application headers. They may be nil.
	Headers amqp.Table
	// Body is the payload.
	Body []byte

	// Redelivered is set on delivery when the broker has delivered the message before.
	Redelivered bool
	// Exchange is set on delivery: the exchange the message was published to.
	Exchange string
}

// Handler processes one delivered message. When it returns nil the message is acked;
// when it returns an error the message is delivered again, and after Config.MaxAttempts
// failed attempts it goes to the dead-letter queue instead of looping forever. An error
// that retrying cannot fix (see IsPermanent) sends it to the dead-letter queue at once,
// with the error in the FailureReasonHeader header. An error that says a dependency is
// unavailable (see IsUnavailable) has the message tried again in place, with growing
// pauses, and uses up no attempt.
type Handler func(ctx context.Context, msg Message) error

// Broker publishes to the configured exchange and consumes from the configured queue.
type Broker interface {
	// Publish sends msg to the exchange and returns once the broker has confirmed it,
	// or with an error saying why it did not. Messages are persistent.
	Publish(ctx context.Context, msg Message) error
	// Consume delivers messages from the queue to h, up to Config.Workers at a time and
	// in no promised order, until ctx is done; it survives lost channels and
	// connections by reconnecting. It returns nil when ctx is cancelled, after the
	// messages in flight (if any) were handled and acked. Each message is acked, or
	// nacked, on its own.
	Consume(ctx context.Context, h Handler) error
	// Ready reports nil while the broker is connected, or why it is not.
	Ready() error
	// Info describes where messages go, for span tags.
	Info() Info
	// Close closes the connection. Publish and Consume fail after Close.
	Close() error
}

// Info describes a broker for instrumentation.
type Info struct {
	// System is "rabbitmq" or "in-memory".
	System string
	// Host and Port are the broker's address ("" and 0 for the in-memory broker).
	Host string
	Port int
	// Exchange, Queue and DeadLetterQueue are the declared topology.
	Exchange        string
	Queue           string
	DeadLetterQueue string
}

// Config says where the broker is and what topology to declare.
type Config struct {
	// URL is the AMQP URL, for example amqp://guest:guest@localhost:5672/.
	URL string
	// Exchange is the topic exchange events are published to.
	Exchange string
	// Queue is the queue Consume reads; it is bound to Exchange with BindingKey.
	Queue string
	// BindingKey binds Queue to Exchange; defaults to "checkout.processed".
	BindingKey string
	// Workers is how many messages Consume handles at once; defaults to 8. Messages
	// are handled in no particular order: with more than one worker, a message may be
	// handled before one published earlier.
	Workers int
	// Prefetch bounds the unacked messages a consumer holds; defaults to 8 times Workers.
	Prefetch int
	// MaxAttempts is how often a message is handled before it is dead-lettered;
	// defaults to 3.
	MaxAttempts int
	// ConnectTimeout bounds how long Dial keeps retrying; defaults to 30s.
	ConnectTimeout time.Duration
}

// RoutingKey is the routing key of the event checkout publishes and stock consumes.
const RoutingKey = "checkout.processed"

// ErrClosed is returned by a broker's methods after Close.
var ErrClosed = errors.New("broker closed")

// ErrNotConfirmed is returned by Publish when the broker nacked the message, or
// returned it as unroutable.
var ErrNotConfirmed = errors.New("broker did not confirm the message")

// ErrHeadersTooLarge is returned by Publish, before anything is sent, when a message's
// headers are larger than the broker accepts (see MaxHeaderBytes). The connection is
// not affected; the caller can only send smaller headers.
var ErrHeadersTooLarge = errors.New("message headers larger than the broker accepts")
