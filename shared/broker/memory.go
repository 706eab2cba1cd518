package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Memory is an in-process Broker with the semantics of the RabbitMQ one: one topic
// exchange bound to one queue, persistent-until-acked messages, at most
// Config.MaxAttempts deliveries before a message is dead-lettered.
//
// Only what crosses the AMQP wire crosses Memory: Publish deep-copies the body and
// converts the headers to the types amqp091-go hands back on delivery (see
// NormalizeHeaders), and a Handler sees the consumer's context, never the
// publisher's. Anything else, such as a trace context smuggled in a context.Context,
// would make in-process tests pass where a real deployment breaks.
type Memory struct {
	cfg Config

	mu     sync.Mutex
	queue  []*memoryMessage // ready messages, head first
	dead   []Message
	closed bool
	// wake is closed, and replaced, whenever a message becomes ready or the broker
	// closes, so that waiting consumers look again.
	wake chan struct{}
}

// memoryMessage is a queued message and its delivery count.
type memoryMessage struct {
	msg        Message // Headers already normalised, Body already copied
	deliveries int
}

var _ Broker = (*Memory)(nil)

// quiet is the in-memory broker's logger, which has nowhere to log to: it stands in for
// RabbitMQ in tests and on laptops, and its callers log what their handlers return.
var quiet = slog.New(slog.DiscardHandler)

// NewMemory returns an in-memory broker for cfg. Only Exchange, Queue, BindingKey and
// MaxAttempts matter; the URL and the timeouts are ignored.
func NewMemory(cfg Config) *Memory {
	return &Memory{cfg: cfg.withDefaults(), wake: make(chan struct{})}
}

// Publish queues msg if its routing key matches the binding key. Like an unroutable
// mandatory publish on RabbitMQ, a message no binding matches fails with an error
// wrapping ErrNotConfirmed.
func (m *Memory) Publish(ctx context.Context, msg Message) error {
	if msg.MessageID == "" {
		msg.MessageID = NewMessageID()
	}
	if err := m.publish(ctx, msg); err != nil {
		return fmt.Errorf("publish %s to %s: %w", msg.MessageID, m.cfg.Exchange, err)
	}
	return nil
}

func (m *Memory) publish(ctx context.Context, msg Message) error {
	headers, err := NormalizeHeaders(msg.Headers)
	if err != nil {
		return err
	}
	if err := checkHeaderSize(msg, DefaultFrameMax); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if !topicMatch(m.cfg.BindingKey, msg.RoutingKey) {
		return fmt.Errorf("%w: returned as unroutable: 312 NO_ROUTE (routing key %q)", ErrNotConfirmed, msg.RoutingKey)
	}
	queued := Message{
		RoutingKey:  msg.RoutingKey,
		MessageID:   msg.MessageID,
		ContentType: msg.ContentType,
		Headers:     headers,
		Body:        copyBody(msg.Body),
		Exchange:    m.cfg.Exchange,
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	m.queue = append(m.queue, &memoryMessage{msg: queued})
	m.wakeLocked()
	return nil
}

// Consume hands queued messages to h, Config.Workers at a time and in no promised
// order, until ctx is done. A message whose
// handler fails or panics is delivered again, ahead of the rest of the queue as a
// quorum queue does, until it has been handled Config.MaxAttempts times; then it
// moves to DeadLetters.
func (m *Memory) Consume(ctx context.Context, h Handler) error {
	errs := make(chan error, m.cfg.Workers)
	for range m.cfg.Workers {
		go func() { errs <- m.work(ctx, h) }()
	}
	var err error
	for range m.cfg.Workers {
		err = errors.Join(err, <-errs)
	}
	if errors.Is(err, ErrClosed) {
		return ErrClosed
	}
	return err
}

// work is one of Consume's workers.
func (m *Memory) work(ctx context.Context, h Handler) error {
	for {
		qm, err := m.next(ctx)
		if err != nil {
			if errors.Is(err, ErrClosed) {
				return err
			}
			return nil // ctx is done
		}
		m.handle(ctx, qm, h)
	}
}

// next takes the head of the queue, waiting for one if the queue is empty.
func (m *Memory) next(ctx context.Context) (*memoryMessage, error) {
	for {
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			return nil, ErrClosed
		}
		if err := ctx.Err(); err != nil {
			m.mu.Unlock()
			return nil, err
		}
		if len(m.queue) > 0 {
			qm := m.queue[0]
			m.queue[0] = nil
			m.queue = m.queue[1:]
			m.mu.Unlock()
			return qm, nil
		}
		wake := m.wake
		m.mu.Unlock()

		select {
		case <-wake:
		case <-ctx.Done():
		}
	}
}

// handle delivers qm to h and settles it: dropped when h succeeds, requeued or
// dead-lettered when it fails.
func (m *Memory) handle(ctx context.Context, qm *memoryMessage, h Handler) {
	qm.deliveries++
	delivery, err := m.delivery(qm)
	if err == nil {
		err = callHandlerPatiently(ctx, h, delivery, quiet)
	}
	if err == nil {
		return
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	if IsPermanent(err) {
		// As Rabbit does: a copy with the reason, published to the dead-letter exchange.
		msg, _ := m.delivery(qm)
		msg.Redelivered = false
		msg.Exchange = m.cfg.deadLetterExchange()
		if msg.Headers == nil {
			msg.Headers = amqp.Table{}
		}
		delete(msg.Headers, deliveryCountHeader)
		msg.Headers[FailureReasonHeader] = failureReason(err)
		m.dead = append(m.dead, msg)
		return
	}
	if qm.deliveries >= m.cfg.MaxAttempts {
		m.dead = append(m.dead, m.deadLetter(qm))
		return
	}
	// Requeue at the head, even after Close: nothing is lost that was not acked.
	m.queue = append([]*memoryMessage{qm}, m.queue...)
	m.wakeLocked()
}

// delivery builds the Message a consumer sees for qm: fresh copies, so that a handler
// mutating its message does not change what the next attempt sees, and, from the
// second delivery on, the x-delivery-count header a quorum queue adds.
func (m *Memory) delivery(qm *memoryMessage) (Message, error) {
	msg := qm.msg
	headers, err := NormalizeHeaders(msg.Headers)
	if err != nil {
		// Unreachable: the headers were normalised when published.
		return Message{}, err
	}
	if qm.deliveries > 1 {
		if headers == nil {
			headers = amqp.Table{}
		}
		headers[deliveryCountHeader] = int64(qm.deliveries - 1)
		msg.Redelivered = true
	}
	msg.Headers = headers
	msg.Body = copyBody(msg.Body)
	return msg, nil
}

// deadLetter returns qm as RabbitMQ puts it in the dead-letter queue when a consumer
// rejects it: routed through the dead-letter exchange with its routing key, and with
// the x-death and x-first-death-* headers added and x-delivery-count reset.
func (m *Memory) deadLetter(qm *memoryMessage) Message {
	msg, _ := m.delivery(qm)
	msg.Redelivered = false
	msg.Exchange = m.cfg.deadLetterExchange()
	if msg.Headers == nil {
		msg.Headers = amqp.Table{}
	}
	msg.Headers["x-death"] = []any{amqp.Table{
		"count":        int64(1),
		"exchange":     m.cfg.Exchange,
		"queue":        m.cfg.Queue,
		"reason":       "rejected",
		"routing-keys": []any{msg.RoutingKey},
		"time":         time.Unix(time.Now().Unix(), 0),
	}}
	// The dead-letter queue counts deliveries afresh, and RabbitMQ 3.10 says so.
	msg.Headers[deliveryCountHeader] = int64(0)
	msg.Headers["x-first-death-exchange"] = m.cfg.Exchange
	msg.Headers["x-first-death-queue"] = m.cfg.Queue
	msg.Headers["x-first-death-reason"] = "rejected"
	return msg
}

// wakeLocked tells waiting consumers to look at the queue again. m.mu must be held.
func (m *Memory) wakeLocked() {
	close(m.wake)
	m.wake = make(chan struct{})
}

// DeadLetters returns the messages that were dead-lettered, oldest first, as their
// last delivery saw them apart from Exchange, which names the dead-letter exchange.
func (m *Memory) DeadLetters() []Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Message, len(m.dead))
	for i, msg := range m.dead {
		msg.Headers, _ = NormalizeHeaders(msg.Headers)
		msg.Body = copyBody(msg.Body)
		out[i] = msg
	}
	return out
}

// queued reports how many messages wait in the queue, for tests.
func (m *Memory) queued() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.queue)
}

// Ready reports nil until Close.
func (m *Memory) Ready() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	return nil
}

// Info describes the in-memory topology.
func (m *Memory) Info() Info {
	return Info{
		System:          "in-memory",
		Exchange:        m.cfg.Exchange,
		Queue:           m.cfg.Queue,
		DeadLetterQueue: m.cfg.deadLetterQueue(),
	}
}

// Close stops the broker: Consume returns ErrClosed and Publish fails. It is
// idempotent.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.closed {
		m.closed = true
		m.wakeLocked()
	}
	return nil
}

func copyBody(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}

// topicMatch reports whether routingKey matches the topic binding key, using
// RabbitMQ's rules: words are separated by dots, "*" matches exactly one word and
// "#" matches zero or more.
func topicMatch(bindingKey, routingKey string) bool {
	return matchWords(strings.Split(bindingKey, "."), strings.Split(routingKey, "."))
}

func matchWords(pattern, words []string) bool {
	for len(pattern) > 0 {
		switch p := pattern[0]; p {
		case "#":
			rest := pattern[1:]
			for i := 0; i <= len(words); i++ {
				if matchWords(rest, words[i:]) {
					return true
				}
			}
			return false
		default:
			if len(words) == 0 || (p != "*" && p != words[0]) {
				return false
			}
			pattern, words = pattern[1:], words[1:]
		}
	}
	return len(words) == 0
}

// Limits amqp091-go enforces when it reads a field table; a table beyond them does
// not survive a trip through RabbitMQ.
const (
	maxFieldDepth        = 32
	maxContainerElements = 8192
	maxShortStringLength = 255
)

// NormalizeHeaders returns a deep copy of t in which every value has the Go type
// amqp091-go produces when it reads the value back off the wire, so comparing a
// header before publishing and after delivery is meaningful without RabbitMQ:
//
//   - int becomes int32 (amqp091-go writes int as a 32-bit 'I' field, truncating it);
//   - time.Time is truncated to whole seconds in the local time zone;
//   - []byte is copied, and an empty or nil one comes back as an empty, non-nil slice;
//   - an empty []interface{} comes back nil, an empty Table as an empty Table;
//   - nested Table and []interface{} values are converted recursively;
//   - every other supported type (bool, byte, int8, int16, int32, int64, uint16,
//     uint32, float32, float64, string, amqp.Decimal and nil) is unchanged.
//
// A nil or empty t yields nil, because amqp091-go omits empty headers from the
// message properties. An unsupported value type yields an error wrapping
// amqp.ErrFieldType, as publishing it would; a key longer than 255 bytes, or tables
// nested or sized beyond what amqp091-go accepts on delivery, yield an error too.
func NormalizeHeaders(t amqp.Table) (amqp.Table, error) {
	if err := t.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", amqp.ErrFieldType, err)
	}
	if len(t) == 0 {
		return nil, nil
	}
	return normalizeTable(t, 0, true)
}

// checkHeaders returns the error NormalizeHeaders would, without copying t: what a
// publish needs to know, once per message.
func checkHeaders(t amqp.Table) error {
	if err := t.Validate(); err != nil {
		return fmt.Errorf("%w: %v", amqp.ErrFieldType, err)
	}
	if len(t) == 0 {
		return nil
	}
	_, err := normalizeTable(t, 0, false)
	return err
}

// normalizeTable converts t, or with build false only checks it and returns nil.
func normalizeTable(t amqp.Table, depth int, build bool) (amqp.Table, error) {
	if depth > maxFieldDepth {
		return nil, fmt.Errorf("headers nested more than %d levels deep: %w", maxFieldDepth, amqp.ErrSyntax)
	}
	if len(t) > maxContainerElements {
		return nil, fmt.Errorf("header table with %d entries exceeds %d: %w", len(t), maxContainerElements, amqp.ErrSyntax)
	}
	var out amqp.Table
	if build {
		out = make(amqp.Table, len(t))
	}
	for k, v := range t {
		if len(k) > maxShortStringLength {
			return nil, fmt.Errorf("header key %.20q... is %d bytes long, more than %d", k, len(k), maxShortStringLength)
		}
		nv, err := normalizeValue(v, depth, build)
		if err != nil {
			return nil, fmt.Errorf("header %q: %w", k, err)
		}
		if build {
			out[k] = nv
		}
	}
	return out, nil
}

// normalizeValue converts v, found in a table at depth, as amqp091-go's writeField
// and readField do.
func normalizeValue(v any, depth int, build bool) (any, error) {
	switch v := v.(type) {
	case int:
		return int32(v), nil
	case time.Time:
		return time.Unix(v.Unix(), 0), nil
	case []byte:
		if !build {
			return nil, nil
		}
		return append([]byte{}, v...), nil
	case amqp.Table:
		return normalizeTable(v, depth+1, build)
	case []any:
		if depth+1 > maxFieldDepth {
			return nil, fmt.Errorf("headers nested more than %d levels deep: %w", maxFieldDepth, amqp.ErrSyntax)
		}
		if len(v) > maxContainerElements {
			return nil, fmt.Errorf("header array with %d elements exceeds %d: %w", len(v), maxContainerElements, amqp.ErrSyntax)
		}
		if len(v) == 0 {
			return []any(nil), nil
		}
		var out []any
		if build {
			out = make([]any, len(v))
		}
		for i, e := range v {
			ne, err := normalizeValue(e, depth+1, build)
			if err != nil {
				return nil, fmt.Errorf("element %d: %w", i, err)
			}
			if build {
				out[i] = ne
			}
		}
		return out, nil
	default:
		// Validate let only value types through that read back unchanged.
		return v, nil
	}
}
