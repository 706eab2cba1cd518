package broker

import (
	"context"
	"fmt"
	"time"
)

// ReachTimeout bounds the check that decides between RabbitMQ and the in-memory broker.
const ReachTimeout = 2 * time.Second

// Fallback is the one decision between RabbitMQ and the in-memory broker, made the same
// way by the services (all, demo), the demo and the tests: RabbitMQ when it answers at
// url within ReachTimeout, else the in-memory broker. why is nil when RabbitMQ answered,
// and otherwise says why the in-memory broker stands in. With require set
// (WORKSHOP_REQUIRE_RABBITMQ=1, as in CI) there is no fallback: an unreachable RabbitMQ
// is err.
func Fallback(ctx context.Context, url string, require bool) (why, err error) {
	ctx, cancel := context.WithTimeout(ctx, ReachTimeout)
	defer cancel()
	reachErr := Reachable(ctx, url)
	switch {
	case reachErr == nil:
		return nil, nil
	case require:
		return nil, fmt.Errorf("WORKSHOP_REQUIRE_RABBITMQ=1 but %w", reachErr)
	default:
		return reachErr, nil
	}
}
