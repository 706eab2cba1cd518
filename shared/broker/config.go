package broker

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Defaults applied to a zero Config field.
const (
	defaultBindingKey     = RoutingKey
	defaultWorkers        = 8
	DefaultMaxAttempts    = 3 // Config.MaxAttempts when zero
	defaultConnectTimeout = 30 * time.Second
)

// withDefaults returns c with its zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.BindingKey == "" {
		c.BindingKey = defaultBindingKey
	}
	if c.Workers <= 0 {
		c.Workers = defaultWorkers
	}
	if c.Prefetch <= 0 {
		// Enough that every worker has its next messages at hand: a quorum queue sends
		// one only after an ack has gone through its log, some milliseconds on a busy
		// machine, while a worker handles one in well under a millisecond. With twice
		// the workers, 8 of them capped at about 1,950 messages a second on 2 cores,
		// behind a gateway accepting more; with 8 times, they kept up.
		c.Prefetch = 8 * c.Workers
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = defaultConnectTimeout
	}
	return c
}

// validate reports what is missing or malformed in c. It expects c.withDefaults().
func (c Config) validate() error {
	var errs []error
	if c.URL == "" {
		errs = append(errs, errors.New("config.URL is required"))
	} else if _, err := parseURL(c.URL); err != nil {
		errs = append(errs, err)
	}
	if c.Exchange == "" {
		errs = append(errs, errors.New("config.Exchange is required"))
	}
	if c.Queue == "" {
		errs = append(errs, errors.New("config.Queue is required"))
	}
	if c.Workers > 1024 {
		errs = append(errs, fmt.Errorf("config.Workers %d: want at most 1024", c.Workers))
	}
	if c.Prefetch > 65535 {
		errs = append(errs, fmt.Errorf("config.Prefetch %d exceeds the AMQP limit of 65535", c.Prefetch))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid broker config: %w", err)
	}
	return nil
}

// deadLetterExchange is the exchange a failed message is dead-lettered through.
func (c Config) deadLetterExchange() string { return c.Exchange + ".dlx" }

// deadLetterQueue is the queue that keeps dead-lettered messages.
func (c Config) deadLetterQueue() string { return c.Queue + ".dlq" }

// parseURL parses an AMQP URL. Its errors never contain the URL, because the URL
// may carry a password: net/url quotes the whole input in its errors.
func parseURL(raw string) (amqp.URI, error) {
	uri, err := amqp.ParseURI(raw)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return amqp.URI{}, fmt.Errorf("invalid AMQP URL %s: %v", redactURL(raw), err)
	}
	return uri, nil
}

// redactURL returns raw with its password replaced, fit for logs and errors.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparsable URL>"
	}
	return u.Redacted()
}

// NewMessageID returns a random 128-bit hex identifier, the kind Publish fills in
// when Message.MessageID is empty. Callers that want to know the ID of a message
// before it is published (to tag a span, say) can set it with this.
func NewMessageID() string {
	var b [16]byte
	// crypto/rand.Read never returns an error since Go 1.24.
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
