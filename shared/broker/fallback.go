package broker

import (
	"context"
	"fmt"
	"time"
)

// ReachTimeout bounds the check that decides between RabbitMQ and the in-memory broker.
const ReachTimeout = 2 * time.Second

// requiredReachTimeout bounds the check when there is no fallback to decide on: a
// RabbitMQ that is down refuses at once, and one that is slow to answer (on a CI
// machine running many test binaries at once) gets the time to.
const requiredReachTimeout = 15 * time.Second

// Fallback is the one decision between RabbitMQ and the in-memory broker, made the same
// way by the services (all, demo), the demo and the tests: RabbitMQ when it answers at
// url within ReachTimeout, else the in-memory broker. why is nil when RabbitMQ answered,
// and otherwise says why the in-memory broker stands in. With require set
// (WORKSHOP_REQUIRE_RABBITMQ=1, as in CI) there is no fallback: an unreachable RabbitMQ
// is err, and RabbitMQ gets longer to answer.
func Fallback(ctx context.Context, url string, require bool) (why, err error) {
	timeout := ReachTimeout
	if require {
		timeout = requiredReachTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
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
