package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Rabbit is a Broker on RabbitMQ. It keeps one connection, shared by Publish and
// Consume, and re-establishes it, with the topology, whenever it is lost.
//
// # Dead-lettering
//
// The queue is a quorum queue with x-delivery-limit set to MaxAttempts-1 and a
// dead-letter exchange, and Consume nacks a failed message with requeue. RabbitMQ
// counts the returns in the x-delivery-count header and dead-letters the message
// instead of returning it once the limit is exceeded, so a message is handled at
// most MaxAttempts times. The count lives in the broker, not the consumer, so it also
// holds when a message kills the consumer process, where counting attempts in a
// header of a republished copy would loop forever. With x-dead-letter-strategy
// at-least-once (new in RabbitMQ 3.10, needs x-overflow reject-publish) the queue
// keeps a dead-lettered message until the dead-letter queue has confirmed it, so it
// is never lost on the way either.
//
// The consumer reads x-delivery-count only on a redelivery: on a first delivery the
// header is whatever the publisher put there, and a publisher must not decide how often
// its message is tried. A permanent failure (IsPermanent) is not retried: the consumer
// publishes a copy with the reason (FailureReasonHeader) to the dead-letter exchange and
// acks the message once the copy is confirmed, or rejects it if the copy fails.
//
// On RabbitMQ 3.10 every return counts, including the messages a consumer had
// prefetched but not yet handled when its channel or connection closed. A message
// can therefore reach the dead-letter queue after fewer than MaxAttempts handler
// calls if consumers keep restarting; it is never handled more than MaxAttempts
// times.
type Rabbit struct {
	cfg     Config
	log     *slog.Logger
	safeURL string // cfg.URL without the password
	host    string
	port    int
	opts    dialOptions

	// ctx is cancelled by Close; it ends the reconnect loop and all waiting.
	ctx       context.Context
	cancel    context.CancelFunc
	closeOnce sync.Once
	wg        sync.WaitGroup // the supervisor goroutine

	mu      sync.Mutex
	closed  bool
	conn    *amqp.Connection // nil while disconnected
	connErr error            // why conn is nil
	// ready is closed while conn is set; a fresh one replaces it when the connection
	// is lost, so that waiters block until the supervisor has reconnected.
	ready chan struct{}

	// pubSem (a channel rather than a mutex so waiting for it can honour ctx) guards
	// pub, the confirm window Publish sends on, while it is looked at or replaced.
	pubSem chan struct{}
	pub    *confirmWindow
}

// dialOptions are knobs tests turn to keep back-offs short.
type dialOptions struct {
	minBackoff       time.Duration
	maxBackoff       time.Duration
	handshakeTimeout time.Duration
}

func defaultDialOptions() dialOptions {
	return dialOptions{
		minBackoff:       250 * time.Millisecond,
		maxBackoff:       15 * time.Second,
		handshakeTimeout: 10 * time.Second,
	}
}

var _ Broker = (*Rabbit)(nil)

// Dial connects to RabbitMQ at cfg.URL and declares the topology: a durable topic
// exchange cfg.Exchange; a durable quorum queue cfg.Queue bound to it with
// cfg.BindingKey; and the dead-letter exchange cfg.Exchange+".dlx" with the queue
// cfg.Queue+".dlq" that collects messages whose handler failed cfg.MaxAttempts times.
//
// Dial retries with exponential back-off until it succeeds, ctx is done or
// cfg.ConnectTimeout has passed, so services can start before RabbitMQ. Later losses
// of the connection are repaired in the background. A nil logger means
// slog.Default().
func Dial(ctx context.Context, cfg Config, logger *slog.Logger) (*Rabbit, error) {
	return dial(ctx, cfg, logger, defaultDialOptions())
}

func dial(ctx context.Context, cfg Config, logger *slog.Logger, opts dialOptions) (*Rabbit, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	uri, _ := parseURL(cfg.URL) // validated above
	if logger == nil {
		logger = slog.Default()
	}
	r := &Rabbit{
		cfg:     cfg,
		safeURL: redactURL(cfg.URL),
		host:    uri.Host,
		port:    uri.Port,
		opts:    opts,
		ready:   make(chan struct{}),
		pubSem:  make(chan struct{}, 1),
		connErr: errors.New("not connected yet"),
	}
	r.log = logger.With("broker", "rabbitmq", "url", r.safeURL)
	r.ctx, r.cancel = context.WithCancel(context.Background())

	dialCtx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	// Close must also interrupt a Dial in progress.
	stop := context.AfterFunc(r.ctx, cancel)
	defer stop()

	start := time.Now()
	conn, closes, attempts, err := r.connectLoop(dialCtx, true, slog.LevelInfo)
	if err != nil {
		r.cancel()
		elapsed := time.Since(start).Round(time.Millisecond)
		switch {
		case ctx.Err() != nil:
			return nil, fmt.Errorf("connect to RabbitMQ at %s: gave up after %d attempts in %s (%w): %w",
				r.safeURL, attempts, elapsed, ctx.Err(), err)
		case dialCtx.Err() != nil:
			return nil, fmt.Errorf("connect to RabbitMQ at %s: gave up after %d attempts in %s (ConnectTimeout %s): %w",
				r.safeURL, attempts, elapsed, cfg.ConnectTimeout, err)
		}
		return nil, fmt.Errorf("connect to RabbitMQ at %s: %w", r.safeURL, err)
	}
	if attempts > 1 {
		r.log.Info("connected to RabbitMQ", "attempts", attempts, "after", time.Since(start).Round(time.Millisecond))
	}
	r.wg.Add(1)
	go r.supervise(conn, closes)
	return r, nil
}

// connectLoop connects and declares the topology, retrying with back-off until it
// succeeds or ctx is done; with stopOnPermanent, also when the broker refuses the
// topology. The first failure is logged at firstFailure, the others at debug level,
// so a broker that is slow to start does not flood the log.
func (r *Rabbit) connectLoop(ctx context.Context, stopOnPermanent bool, firstFailure slog.Level) (*amqp.Connection, chan *amqp.Error, int, error) {
	for attempt := 1; ; attempt++ {
		conn, err := dialConn(ctx, r.cfg.URL, r.opts.handshakeTimeout)
		if err == nil {
			err = declareTopology(conn, r.cfg)
			if err != nil {
				_ = conn.Close()
			}
		}
		if err == nil {
			// Register before publishing the connection, so that no close goes unseen.
			closes := conn.NotifyClose(make(chan *amqp.Error, 1))
			if err := r.setConnected(conn); err != nil {
				_ = conn.Close()
				return nil, nil, attempt, err
			}
			return conn, closes, attempt, nil
		}
		if stopOnPermanent && isPermanent(err) {
			return nil, nil, attempt, err
		}
		if ctx.Err() != nil {
			return nil, nil, attempt, err
		}
		r.setLost(nil, err)

		level := slog.LevelDebug
		if attempt == 1 {
			level = firstFailure
		}
		delay := backoff(attempt, r.opts.minBackoff, r.opts.maxBackoff)
		r.log.Log(ctx, level, "RabbitMQ connection attempt failed; retrying", "attempt", attempt, "retry_in", delay.Round(time.Millisecond), "error", err)
		if !sleep(ctx, delay) {
			return nil, nil, attempt, err
		}
	}
}

// supervise waits for the connection to close and, unless Close closed it,
// reconnects.
func (r *Rabbit) supervise(conn *amqp.Connection, closes chan *amqp.Error) {
	defer r.wg.Done()
	for {
		var amqpErr *amqp.Error
		select {
		case <-r.ctx.Done():
			return
		case amqpErr = <-closes:
		}
		if r.ctx.Err() != nil {
			return
		}
		cause := error(errors.New("connection closed"))
		if amqpErr != nil {
			cause = amqpErr
		}
		r.setLost(conn, cause)
		r.log.Warn("RabbitMQ connection lost; reconnecting", "error", cause)

		start := time.Now()
		var attempts int
		var err error
		// Keep trying even when the broker refuses the topology: someone may fix it,
		// and Ready reports the cause meanwhile.
		conn, closes, attempts, err = r.connectLoop(r.ctx, false, slog.LevelWarn)
		if err != nil {
			return // Close
		}
		r.log.Info("RabbitMQ connection re-established", "attempts", attempts, "downtime", time.Since(start).Round(time.Millisecond))
	}
}

// setConnected makes conn the current connection and wakes its waiters.
func (r *Rabbit) setConnected(conn *amqp.Connection) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	r.conn = conn
	r.connErr = nil
	close(r.ready)
	return nil
}

// setLost records that conn is gone because of cause. It does nothing if conn is not
// the current connection any more, so that the supervisor and a caller who noticed
// first can both report the same loss. A nil conn stands for the current one.
func (r *Rabbit) setLost(conn *amqp.Connection, cause error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || (conn != nil && r.conn != conn) {
		return
	}
	if r.conn != nil {
		r.ready = make(chan struct{})
	}
	r.conn = nil
	r.connErr = cause
}

// connection returns the open connection, waiting for the supervisor to reconnect if
// there is none.
func (r *Rabbit) connection(ctx context.Context) (*amqp.Connection, error) {
	for {
		r.mu.Lock()
		closed, conn, connErr, ready := r.closed, r.conn, r.connErr, r.ready
		r.mu.Unlock()
		if closed {
			return nil, ErrClosed
		}
		if conn != nil {
			if !conn.IsClosed() {
				return conn, nil
			}
			// The supervisor will notice too; marking it now keeps us from spinning.
			r.setLost(conn, errors.New("connection closed"))
			continue
		}
		select {
		case <-ready:
		case <-r.ctx.Done():
			return nil, ErrClosed
		case <-ctx.Done():
			return nil, fmt.Errorf("not connected (%v): %w", connErr, ctx.Err())
		}
	}
}

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
	// NormalizeHeaders also catches what would only fail on delivery. Checking here
	// keeps Publish's errors the same as Memory's.
	if _, err := NormalizeHeaders(msg.Headers); err != nil {
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
// without on the last attempt so the queue dead-letters it.
func (r *Rabbit) handle(ctx context.Context, ch *amqp.Channel, d amqp.Delivery, h Handler) {
	err := callHandler(ctx, h, Message{
		RoutingKey:  d.RoutingKey,
		MessageID:   d.MessageId,
		ContentType: d.ContentType,
		Headers:     d.Headers,
		Body:        d.Body,
		Redelivered: d.Redelivered,
		Exchange:    d.Exchange,
	})
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

// Ready reports nil while connected, ErrClosed after Close, or why the connection is
// down.
func (r *Rabbit) Ready() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.closed:
		return ErrClosed
	case r.conn == nil:
		return fmt.Errorf("not connected to RabbitMQ at %s: %w", r.safeURL, r.connErr)
	case r.conn.IsClosed():
		return fmt.Errorf("not connected to RabbitMQ at %s: connection closed", r.safeURL)
	}
	return nil
}

// Info describes the broker and its topology.
func (r *Rabbit) Info() Info {
	return Info{
		System:          "rabbitmq",
		Host:            r.host,
		Port:            r.port,
		Exchange:        r.cfg.Exchange,
		Queue:           r.cfg.Queue,
		DeadLetterQueue: r.cfg.deadLetterQueue(),
	}
}

// Close closes the connection and stops reconnecting. Consume returns ErrClosed and
// the other methods fail with it afterwards. Close is idempotent.
func (r *Rabbit) Close() error {
	var err error
	r.closeOnce.Do(func() {
		r.mu.Lock()
		r.closed = true
		conn := r.conn
		r.conn = nil
		r.mu.Unlock()
		r.cancel()
		if conn != nil {
			// Closing the connection closes its channels.
			if cerr := conn.Close(); cerr != nil && !errors.Is(cerr, amqp.ErrClosed) {
				err = fmt.Errorf("close RabbitMQ connection: %w", cerr)
			}
		}
		r.wg.Wait()
	})
	return err
}

// dialConn makes one connection attempt. The TCP dial honours ctx; the AMQP handshake
// is bounded by handshakeTimeout and the deadline of ctx, and is cut short when ctx
// is cancelled.
func dialConn(ctx context.Context, rawURL string, handshakeTimeout time.Duration) (*amqp.Connection, error) {
	var (
		mu      sync.Mutex
		netConn net.Conn
	)
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if netConn != nil {
			_ = netConn.Close()
		}
	})
	defer stop()

	props := amqp.NewConnectionProperties()
	props.SetClientConnectionName("ot2otel-workshop-broker")
	conn, err := amqp.DialConfig(rawURL, amqp.Config{
		Properties: props,
		Dial: func(network, addr string) (net.Conn, error) {
			var d net.Dialer
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			deadline := time.Now().Add(handshakeTimeout)
			if ctxDeadline, ok := ctx.Deadline(); ok && ctxDeadline.Before(deadline) {
				deadline = ctxDeadline
			}
			// amqp091-go clears the deadline once the handshake is done.
			if err := c.SetDeadline(deadline); err != nil {
				_ = c.Close()
				return nil, err
			}
			mu.Lock()
			netConn = c
			mu.Unlock()
			return c, nil
		},
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return nil, err
	}
	if !stop() {
		// ctx ended during the handshake and closed the socket under it.
		_ = conn.Close()
		return nil, ctx.Err()
	}
	return conn, nil
}

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

// isPermanent reports whether retrying cannot fix err: the broker refused the
// topology as declared.
func isPermanent(err error) bool {
	var amqpErr *amqp.Error
	return errors.As(err, &amqpErr) && amqpErr.Code == amqp.PreconditionFailed
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

// Reachable makes one connection attempt to url, without retrying, and reports
// whether RabbitMQ answered and accepted the credentials. Use a ctx with a deadline;
// without one the attempt is bounded by ten seconds.
func Reachable(ctx context.Context, url string) error {
	if _, err := parseURL(url); err != nil {
		return err
	}
	conn, err := dialConn(ctx, url, defaultDialOptions().handshakeTimeout)
	if err != nil {
		return fmt.Errorf("RabbitMQ at %s not reachable: %w", redactURL(url), err)
	}
	_ = conn.Close()
	return nil
}

// backoff returns the delay before retry n (from 1): exponential from first, capped
// at limit, with jitter so that many clients do not reconnect in lockstep.
func backoff(n int, first, limit time.Duration) time.Duration {
	d := first
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	d = min(d, limit)
	// Somewhere in [d/2, d].
	return d/2 + rand.N(d/2+1)
}

// sleep waits for d or until ctx is done, and reports whether it slept the full d.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
