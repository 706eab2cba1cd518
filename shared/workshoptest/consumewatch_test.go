package workshoptest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ot2otel/workshop/shared/broker"
)

// wrapped is a consume wrapper, as a step's decorator would be one, made of a function.
type wrapped struct {
	broker.Broker
	wrap func(ctx context.Context, msg broker.Message, h broker.Handler) error
}

func (w wrapped) Consume(ctx context.Context, h broker.Handler) error {
	return w.Broker.Consume(ctx, func(ctx context.Context, msg broker.Message) error { return w.wrap(ctx, msg, h) })
}

func TestConsumerWatch(t *testing.T) {
	for _, tc := range []struct {
		name    string
		wrap    func(ctx context.Context, msg broker.Message, h broker.Handler) error
		handler broker.Handler
		want    string // "" for no fault
	}{
		{"calls the handler", func(ctx context.Context, msg broker.Message, h broker.Handler) error { return h(ctx, msg) }, nil, ""},
		{"passes the handler's error on", func(ctx context.Context, msg broker.Message, h broker.Handler) error { return h(ctx, msg) },
			func(context.Context, broker.Message) error { return errors.New("locked") }, ""},
		{"calls the handler with a context of its own", func(_ context.Context, msg broker.Message, h broker.Handler) error {
			return h(context.Background(), msg)
		}, nil, ""},
		{"acks without calling the handler", func(context.Context, broker.Message, broker.Handler) error { return nil }, nil,
			`returned nil for message "ord_w" without calling the handler`},
		{"fails without calling the handler", func(context.Context, broker.Message, broker.Handler) error { return errors.New("on fire") }, nil,
			`returned an error (on fire) for message "ord_w" without calling the handler`},
		{"swallows the handler's error", func(ctx context.Context, msg broker.Message, h broker.Handler) error { _ = h(ctx, msg); return nil },
			func(context.Context, broker.Message) error { return errors.New("locked") }, `the handler failed on message "ord_w" and the consume wrapper returned nil`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			base := Broker(t)
			w := WatchConsumer(base)
			if err := base.Publish(context.Background(), broker.Message{RoutingKey: broker.RoutingKey, MessageID: "ord_w", Body: []byte("{}")}); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			lost := w.Notice(ctx, cancel)
			handled := make(chan struct{}, 8)
			h := w.Handler(func(ctx context.Context, msg broker.Message) error {
				handled <- struct{}{}
				cancel() // one delivery is enough; the watch still judges how it settles
				if tc.handler != nil {
					return tc.handler(ctx, msg)
				}
				return nil
			})
			if err := (wrapped{w, tc.wrap}).Consume(ctx, h); err != nil {
				t.Fatal(err)
			}
			got := lost()
			switch {
			case tc.want == "" && got != "":
				t.Errorf("a wrapper that %s: the watch says %q, want nothing lost", tc.name, got)
			case tc.want == "" && len(handled) == 0:
				t.Errorf("a wrapper that %s: the handler was never called", tc.name)
			case tc.want != "" && !strings.Contains(got, tc.want):
				t.Errorf("a wrapper that %s: the watch says %q, want %q", tc.name, got, tc.want)
			}
		})
	}
}
