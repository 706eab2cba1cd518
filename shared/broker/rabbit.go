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
	// info is what Info returns, made once: a traced broker asks for it on every
	// message, and the dead-letter queue's name would be a new string each time.
	info Info
	opts dialOptions

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
		info: Info{
			System: "rabbitmq", Host: uri.Host, Port: uri.Port,
			Exchange: cfg.Exchange, Queue: cfg.Queue, DeadLetterQueue: cfg.deadLetterQueue(),
		},
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
	var previous error
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
		if ctx.Err() != nil || deadlinePassed(ctx) {
			// An attempt the deadline cut short says only that; the one before it says
			// why RabbitMQ could not be reached. The dial's own timer can fire a moment
			// before the context's, so the deadline is read from the clock too.
			var netErr net.Error
			if previous != nil && (errors.Is(err, ctx.Err()) || errors.As(err, &netErr) && netErr.Timeout()) {
				err = previous
			}
			return nil, nil, attempt, err
		}
		previous = err
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

// deadlinePassed reports whether ctx has a deadline that is already behind us, even if
// ctx's timer has not yet said so.
func deadlinePassed(ctx context.Context) bool {
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
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
func (r *Rabbit) Info() Info { return r.info }

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

// isPermanent reports whether retrying cannot fix err: the broker refused the
// topology as declared.
func isPermanent(err error) bool {
	var amqpErr *amqp.Error
	return errors.As(err, &amqpErr) && amqpErr.Code == amqp.PreconditionFailed
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
