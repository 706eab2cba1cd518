package broker

import (
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// DefaultFrameMax is RabbitMQ's default frame_max, and what amqp091-go asks for: the
// largest AMQP frame, in bytes, either side accepts on a connection.
const DefaultFrameMax = 131072

// MaxHeaderBytes is how large a message's encoded properties (its headers, content
// type and message ID) may be with RabbitMQ's default frame_max: AMQP sends them in one
// content-header frame, which cannot be split, and RabbitMQ closes the whole connection
// (FRAME_ERROR, frame_too_large) on a larger one. The body is split into frames and is
// not bounded by this.
const MaxHeaderBytes = DefaultFrameMax - headerFrameOverhead

// headerFrameOverhead is what a content-header frame holds besides the properties: the
// frame header (type, channel, size: 7 bytes) and end octet (1), then class ID, weight,
// body size and property flags (14).
const headerFrameOverhead = 7 + 1 + 14

// checkHeaderSize refuses msg, before anything is sent, when its properties would not
// fit in one frame of frameMax bytes (0 means DefaultFrameMax), with an error wrapping
// ErrHeadersTooLarge. It counts the properties Publish sends; headers must have passed
// NormalizeHeaders.
func checkHeaderSize(msg Message, frameMax int) error {
	if frameMax <= 0 {
		frameMax = DefaultFrameMax
	}
	if len(msg.ContentType) > maxShortStringLength || len(msg.MessageID) > maxShortStringLength {
		return fmt.Errorf("%w: content type and message ID may be at most %d bytes", ErrHeadersTooLarge, maxShortStringLength)
	}
	size := 1 + len(msg.ContentType) + 1 + len(msg.MessageID) + 1 // + delivery mode
	if len(msg.Headers) > 0 {
		size += tableSize(msg.Headers)
	}
	if limit := frameMax - headerFrameOverhead; size > limit {
		return fmt.Errorf("%w: the properties take %d bytes, the limit is %d (frame_max %d)", ErrHeadersTooLarge, size, limit, frameMax)
	}
	return nil
}

// tableSize is the size of t encoded as an AMQP field table, as amqp091-go writes it.
func tableSize(t amqp.Table) int {
	n := 4
	for k, v := range t {
		n += 1 + len(k) + fieldSize(v)
	}
	return n
}

func fieldSize(v any) int {
	switch v := v.(type) {
	case bool, byte, int8:
		return 2
	case int16, uint16:
		return 3
	case int, int32, uint32, float32:
		return 5
	case int64, float64, time.Time:
		return 9
	case amqp.Decimal:
		return 6
	case string:
		return 5 + len(v)
	case []byte:
		return 5 + len(v)
	case []any:
		n := 5
		for _, e := range v {
			n += fieldSize(e)
		}
		return n
	case amqp.Table:
		return 1 + tableSize(v)
	}
	return 1 // nil; NormalizeHeaders has refused the rest
}
