package broker

import (
	"context"
	"errors"
	"sync"

	amqp "github.com/rabbitmq/amqp091-go"
)

// publishWindow bounds the publishes awaiting their confirm on one channel. RabbitMQ
// confirms a quorum-queue message only once a majority has written it, a few
// milliseconds: one publish at a time would cap a publisher at a few hundred messages
// a second, while many in flight share each write.
const publishWindow = 256

// confirmWindow is a confirm-mode channel with many publishes in flight. Each one
// waits for its own confirm, matched by delivery tag, and for its own return, if
// RabbitMQ returns it as unroutable, matched by message ID.
//
// One goroutine (run) reads the channel's confirms and returns, so amqp091-go's reader
// never waits for a publisher. RabbitMQ sends an unroutable message's basic.return
// before its basic.ack, and amqp091-go hands both over from one goroutine in that
// order, so when run takes a confirm, the returns sent before it are already in their
// buffer: run takes them first.
//
// Delivery tags count from 1 on each channel, so a window lives and dies with its
// channel; dialConn leaves amqp091-go's automatic recovery (Config.Recovery) off, which
// would restart the count under publishes still waiting.
type confirmWindow struct {
	conn     *amqp.Connection
	ch       *amqp.Channel
	confirms chan amqp.Confirmation
	returns  chan amqp.Return
	slots    chan struct{} // one per publish in flight

	// sendMu makes a publish's delivery tag the channel's next sequence number.
	sendMu sync.Mutex

	mu      sync.Mutex
	pending map[uint64]*inFlight // by delivery tag
	dead    bool                 // the channel is gone; pending was failed
	gone    chan struct{}        // closed when dead is set
}

// inFlight is one publish awaiting its confirm.
type inFlight struct {
	messageID string
	returned  *amqp.Return
	done      chan confirmResult // buffered: run never waits for a caller who gave up
}

type confirmResult struct {
	acked    bool
	returned *amqp.Return
	lost     bool // the channel closed before the confirm came
}

// errWindowGone says the window's channel closed before the message was sent, so the
// publish can safely go out on a fresh channel.
var errWindowGone = errors.New("publish channel closed")

// newConfirmWindow puts ch in confirm mode and starts reading its confirms.
func newConfirmWindow(conn *amqp.Connection, ch *amqp.Channel) (*confirmWindow, error) {
	if err := ch.Confirm(false); err != nil {
		return nil, err
	}
	w := &confirmWindow{
		conn: conn,
		ch:   ch,
		// Big enough that amqp091-go never waits for run in the normal course.
		confirms: ch.NotifyPublish(make(chan amqp.Confirmation, publishWindow)),
		returns:  ch.NotifyReturn(make(chan amqp.Return, publishWindow)),
		slots:    make(chan struct{}, publishWindow),
		pending:  make(map[uint64]*inFlight, publishWindow),
		gone:     make(chan struct{}),
	}
	go w.run()
	return w, nil
}

// usable reports whether new publishes can go out on the window's channel.
func (w *confirmWindow) usable() bool {
	select {
	case <-w.gone:
		return false
	default:
		return !w.ch.IsClosed()
	}
}

// close closes the channel; the publishes in flight fail as lost.
func (w *confirmWindow) close() { _ = w.ch.Close() }

// send publishes msg and returns what to wait on for its confirm. When it fails with
// errWindowGone or amqp.ErrClosed, nothing was sent.
func (w *confirmWindow) send(ctx context.Context, exchange string, msg Message) (*inFlight, error) {
	select {
	case w.slots <- struct{}{}:
	case <-w.gone:
		return nil, errWindowGone
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	f := &inFlight{messageID: msg.MessageID, done: make(chan confirmResult, 1)}

	w.sendMu.Lock()
	defer w.sendMu.Unlock()
	tag := w.ch.GetNextPublishSeqNo()
	w.mu.Lock()
	if w.dead {
		w.mu.Unlock()
		<-w.slots
		return nil, errWindowGone
	}
	// Registered before it is sent: the confirm may come back at once.
	w.pending[tag] = f
	w.mu.Unlock()
	err := w.ch.PublishWithContext(ctx, exchange, msg.RoutingKey, true, false, amqp.Publishing{
		Headers:      msg.Headers,
		ContentType:  msg.ContentType,
		DeliveryMode: amqp.Persistent,
		MessageId:    msg.MessageID,
		Body:         msg.Body,
	})
	if err != nil {
		w.mu.Lock()
		if w.pending[tag] == f {
			delete(w.pending, tag)
			<-w.slots
		}
		w.mu.Unlock()
		return nil, err
	}
	return f, nil
}

// run settles the publishes in flight as their confirms and returns arrive, and fails
// those still in flight when the channel closes.
func (w *confirmWindow) run() {
	returns := w.returns
	for {
		select {
		case ret, ok := <-returns:
			if !ok {
				returns = nil // the confirms channel closes too
				continue
			}
			w.markReturned(ret)
		case c, ok := <-w.confirms:
			if !ok {
				w.fail()
				return
			}
			w.takeReturns()
			w.settle(c)
		}
	}
}

// takeReturns marks the returns already buffered.
func (w *confirmWindow) takeReturns() {
	for {
		select {
		case ret, ok := <-w.returns:
			if !ok {
				return
			}
			w.markReturned(ret)
		default:
			return
		}
	}
}

// markReturned attaches ret to the oldest publish in flight with its message ID. A
// message's return comes before its confirm, so it is still in flight.
func (w *confirmWindow) markReturned(ret amqp.Return) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var oldest uint64
	for tag, f := range w.pending {
		if f.messageID == ret.MessageId && f.returned == nil && (oldest == 0 || tag < oldest) {
			oldest = tag
		}
	}
	if oldest != 0 {
		w.pending[oldest].returned = &ret
	}
}

func (w *confirmWindow) settle(c amqp.Confirmation) {
	w.mu.Lock()
	f, ok := w.pending[c.DeliveryTag]
	if ok {
		delete(w.pending, c.DeliveryTag)
	}
	w.mu.Unlock()
	if !ok {
		return
	}
	f.done <- confirmResult{acked: c.Ack, returned: f.returned}
	<-w.slots
}

// fail settles every publish in flight as lost, and stops new ones.
func (w *confirmWindow) fail() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.dead = true
	close(w.gone)
	for tag, f := range w.pending {
		delete(w.pending, tag)
		f.done <- confirmResult{lost: true}
		<-w.slots
	}
}
