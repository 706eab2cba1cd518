// Package otredis traces go-redis commands through OpenTracing: a span per command and
// per pipeline, a child of the span in the command's context. It plays the part of the
// OpenTracing library instrumentation a fleet already has for its database client (the
// well-known talk's otredis): steps 02 to 05 use it as it is, and step 06 swaps it for
// the OpenTelemetry library, redisotel.
//
// Spans are of kind client and carry db.system=redis (and OpenTracing's db.type),
// db.instance, peer.address and db.statement, the command's name without its values
// ("EVALSHA", "MULTI HGETALL HGETALL EXEC"): keys and values may be personal data, and
// the name is what a trace needs. A failed command is tagged error=true and logs its
// error; redis.Nil (no such key) is an answer, not an error.
//
// A command outside any trace (no span in its context: work that is nobody's request)
// is not traced: each would otherwise start a trace of its own. Stock's HTTP API puts
// its server span in the context, so its reads are traced under it.
package otredis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/opentracing/opentracing-go"
	"github.com/opentracing/opentracing-go/ext"
	"github.com/redis/go-redis/v9"
)

// Instrument returns a function that adds a Hook tracing with tracer to a client: the
// argument app.OpenLedger takes to instrument stock's Redis client.
func Instrument(tracer opentracing.Tracer) func(redis.UniversalClient) error {
	return func(c redis.UniversalClient) error {
		client, ok := c.(*redis.Client)
		if !ok {
			return fmt.Errorf("otredis: %T not supported, only *redis.Client", c)
		}
		opts := client.Options()
		client.AddHook(NewHook(tracer, opts.Addr, opts.DB))
		return nil
	}
}

// NewHook returns a hook that traces every command with tracer. addr and db name the
// server and database the client talks to, for the spans' tags.
func NewHook(tracer opentracing.Tracer, addr string, db int) redis.Hook {
	return &hook{tracer: tracer, tags: opentracing.Tags{
		string(ext.Component):   "go-redis",
		"db.system":             "redis",
		string(ext.DBType):      "redis",
		string(ext.DBInstance):  strconv.Itoa(db),
		string(ext.PeerAddress): addr,
		string(ext.PeerService): "redis",
	}}
}

type hook struct {
	tracer opentracing.Tracer
	// tags are every span's, made once: a start option only reads them (into the span's
	// own map), so the hook does not build a map per command.
	tags opentracing.Tags
}

// DialHook does not trace: connecting is the pool's business, not a command's.
func (h *hook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *hook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if opentracing.SpanFromContext(ctx) == nil {
			return next(ctx, cmd)
		}
		span, ctx := h.start(ctx, cmd.FullName(), strings.ToUpper(cmd.FullName()))
		defer span.Finish()
		err := next(ctx, cmd)
		h.finish(span, err)
		return err
	}
}

func (h *hook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if opentracing.SpanFromContext(ctx) == nil {
			return next(ctx, cmds)
		}
		names := make([]string, len(cmds))
		for i, c := range cmds {
			names[i] = c.FullName()
		}
		span, ctx := h.start(ctx, "redis.pipeline "+strings.Join(names, " "), strings.ToUpper(strings.Join(names, " ")))
		defer span.Finish()
		span.SetTag("db.redis.num_cmd", len(cmds))
		err := next(ctx, cmds)
		h.finish(span, err)
		return err
	}
}

func (h *hook) start(ctx context.Context, operation, statement string) (opentracing.Span, context.Context) {
	return opentracing.StartSpanFromContextWithTracer(ctx, h.tracer, operation, ext.SpanKindRPCClient,
		h.tags, opentracing.Tag{Key: string(ext.DBStatement), Value: statement})
}

func (h *hook) finish(span opentracing.Span, err error) {
	if err != nil && !errors.Is(err, redis.Nil) {
		ext.LogError(span, err)
	}
}
