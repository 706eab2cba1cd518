package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// mutation is a typical attendee's mistake, planted in a copy of a solution: the step's
// test that runs must fail, and its message name the TODO and the cause.
type mutation struct {
	name  string
	step  string // the solution's directory under solutions/
	edits []edit
	run   string // the -run patterns of the tests that must catch it, space-separated
	want  []string
	dont  []string // what the failure must not say: a hint that blames the wrong cause
}

// edit replaces the first old in file by new; old must occur. A file under shared/ is
// in a copy of the shared module, which the copied solution then builds against: a
// mistake in what every step shares (the gateway's edge, say) is planted there.
type edit struct{ file, old, new string }

var mutations = []mutation{
	{
		name: "01 handler reassigns the shared logger", step: "01-untraced", edits: []edit{{"checkout.go", `logger := logger.With("request_id", requestID)`, `logger = logger.With("request_id", requestID)`}},
		run:  "TestContract/Correlation/IDFromCaller",
		want: []string{"carries more than one request_id", "logger = logger.With", "TODO(01.2)"},
	},
	{
		name: "01 AMQP header written as []byte", step: "01-untraced", edits: []edit{{"checkout.go", `amqp.Table{requestIDAMQPHeader: requestID}`, `amqp.Table{requestIDAMQPHeader: []byte(requestID)}`}},
		run:  "TestContract/Correlation/CheckoutPutsIDOnTheMessage",
		want: []string{"header is a []byte", "Write string(id), not []byte(id)", "TODO(01.2)"},
	},
	{
		name: "03 carrier asserts a string", step: "03-traced-rabbit-broker", edits: []edit{{"broker.go", "func (c amqpHeadersCarrier) Get(key string) string {\n", "func (c amqpHeadersCarrier) Get(key string) string {\n\tif v, ok := c[key]; ok && v != nil {\n\t\t_ = v.(string)\n\t}\n"}},
		run:  "TestBroker/Carrier",
		want: []string{"Get panicked on a []byte value: use a type switch (TODO(03.2))"},
	},
	{
		name: "03 consumer returns early when Extract succeeds", step: "03-traced-rabbit-broker", edits: []edit{{"broker.go", extract, extract + "\t\tif err == nil {\n\t\t\treturn err\n\t\t}\n"}},
		run: "TestBroker/TalkBugExtractSuccessDropsMessage",
		want: []string{"returned early when Extract SUCCEEDED", "TODO(03.2)",
			// Noticed as it happens, not waited for: the suite fails in a second, not 5 s a test.
			"the consume wrapper returned nil for message \"ord_1\" without calling the handler"},
		dont: []string{"message(s) in 5s"},
	},
	{
		name: "03 consumer skips the handler when extraction fails", step: "03-traced-rabbit-broker", edits: []edit{{"broker.go", extract, extract + "\t\tif err != nil {\n\t\t\treturn nil\n\t\t}\n"}},
		run:  "TestBroker/ConsumeBadHeaders",
		want: []string{"skipped the handler when extraction FAILED", "TODO(03.2)", "without calling the handler: the broker acked it unhandled"},
		dont: []string{"message(s) in 5s"},
	},
	{
		name: "03 consumer swallows the handler's error", step: "03-traced-rabbit-broker", edits: []edit{{"broker.go", "ext.LogError(span, err)\n\t\t\treturn err", "ext.LogError(span, err)\n\t\t\treturn nil"}},
		run:  "TestBroker/HandlerErrorMarksConsumerSpan",
		want: []string{"swallowed the handler's error", "TODO(03.2)", "the handler failed on message \"ord_1\" and the consume wrapper returned nil"},
		dont: []string{"message(s) in 5s"},
	},
	{
		// A consumer that fails every message: the fleet's wait for the order gives up
		// when stock dead-letters it, with the reason stock logged, not after 15 s.
		name: "03 consumer fails every message without calling the handler", step: "03-traced-rabbit-broker",
		edits: []edit{{"broker.go", "if err := h(opentracing.ContextWithSpan(ctx, span), msg); err != nil {", `if err := errors.New("the ledger is on fire"); err != nil {`}},
		run:   "TestContract/OrderFlow",
		want:  []string{"its consumer dead-lettered message ord_", "after it failed: the ledger is on fire"},
		dont:  []string{"the event did not reach the stock consumer"},
	},
	{
		name: "03 consumer continues with FollowsFrom", step: "03-traced-rabbit-broker", edits: []edit{{"broker.go", "opentracing.ChildOf(parent)", "opentracing.FollowsFrom(parent)"}},
		run:  "TestBroker/ConsumeBadHeaders",
		want: []string{"FollowsFrom, a link, not a parent", "opentracing.ChildOf(parent). Look at TODO(03.2)"},
	},
	{
		name: "04 the global propagator in place of the bridge's", step: "04-otel-bridge",
		edits: []edit{{"tracing.go", "bridge.SetTextMapPropagator(prop)", "otel.SetTextMapPropagator(prop)"}, importOTel("tracing.go")},
		run:   "TestContract/NoTracingGlobals",
		want:  []string{"replaced OpenTelemetry's global propagator (otel.SetTextMapPropagator)", "TODO(04.2)"},
	},
	{
		name: "04 WithSyncer in place of WithBatcher", step: "04-otel-bridge",
		edits: []edit{{"tracing.go", "sdktrace.WithBatcher(", "sdktrace.WithSyncer("}},
		run:   "TestShutdownFlushes",
		want:  []string{"exports each span as it ends, as sdktrace.WithSyncer does", "TODO(04.1)"},
	},
	{
		name: "04 span kind set after start", step: "04-otel-bridge",
		edits: []edit{{"gateway.go", `req.Method+" "+req.URL.Path, ext.SpanKindRPCClient)`, `req.Method+" "+req.URL.Path)` + "\n\text.SpanKindRPCClient.Set(span)"}},
		run:   "TestSpans/ClientSpan",
		want:  []string{"only its kind is missing: a span kind is a start option", "TODO(04.3)"},
	},
	{
		name: "06 a global propagator, set and used", step: "06-native-otel",
		edits: []edit{
			{"middleware.go", "otelmux.WithPropagators(prop),", "otelmux.WithPropagators(otel.GetTextMapPropagator()),"},
			importOTel("middleware.go"),
			{"tracing.go", "func newPropagator() propagation.TextMapPropagator {\n", "func newPropagator() propagation.TextMapPropagator {\n" +
				"\totel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))\n"},
			importOTel("tracing.go"),
			{"gateway.go", "otelhttp.WithPropagators(prop),", "otelhttp.WithPropagators(otel.GetTextMapPropagator()),"},
			importOTel("gateway.go"),
		},
		run:  "TestContract/NoTracingGlobals",
		want: []string{"replaced OpenTelemetry's global propagator", "TODO(06.1)"},
	},
	{
		name: "05 TraceContext missing from the composite", step: "05-mixed-fleet",
		edits: []edit{{"tracing.go", `const defaultPropagators = "tracecontext,baggage,jaeger"`, `const defaultPropagators = "baggage,jaeger"`}},
		run:   "TestPropagator|TestConsumeBadHeaders TestContract/PublicEdge",
		want:  []string{"TODO(05.1): defaultPropagators (baggage,jaeger) lacks tracecontext (traceparent"},
		dont:  []string{"lacks jaeger", "Look at TODO(05.1): jaeger in defaultPropagators, after tracecontext"},
	},
	{
		// A service that moved to OpenTelemetry with W3C alone, next to a legacy one.
		name: "05 jaeger missing from a legacy neighbour's composite", step: "05-mixed-fleet",
		edits: []edit{{"tracing.go", `const defaultPropagators = "tracecontext,baggage,jaeger"`, `const defaultPropagators = "tracecontext,baggage"`}},
		run:   "TestPropagator TestRollingMigration/gateway=otel,checkout=jaeger,stock=otel",
		want: []string{"TODO(05.1): defaultPropagators (tracecontext,baggage) lacks jaeger (uber-trace-id",
			"checkout still runs jaeger-client, which reads uber-trace-id and nothing else"},
		dont: []string{"lacks tracecontext"},
	},
	{
		name: "05 baggage bridged in one direction only", step: "05-mixed-fleet",
		edits: []edit{{"baggage.go", "\t\tcarrier.Set(jaegerBaggagePrefix+m.Key(), v)\n", "\t\t_ = v\n"}},
		run:   "TestBaggageCrosses",
		want:  []string{"OpenTelemetry to jaeger-client: the baggage item tenant=\"acme corp\" arrived as \"\"", "TODO(05.3)", "Inject writes every baggage member"},
		dont:  []string{"jaeger-client to OpenTelemetry: the baggage item"},
	},
	{
		// The allow-list is shared (shared/edge), so the mistake is planted in a copy of
		// shared that the copied step builds against: the engineer who adds a format to
		// the edge and filters only the one they were thinking of.
		name: "05 the allow-list applied to W3C baggage only", step: "05-mixed-fleet",
		edits: []edit{{"shared/edge/edge.go", "if strings.HasPrefix(key, uberBaggage) && !cfg.allowed(", "if false && strings.HasPrefix(key, uberBaggage) && !cfg.allowed("}},
		run:   "TestBaggageAllowList",
		want: []string{"the caller's jaeger-client's uberctx-* key uber.secret, which GATEWAY_BAGGAGE_ALLOW does not list, reached checkout",
			"The allow-list was applied to some formats and not to jaeger-client's uberctx-*", "edge.Sanitize (shared/edge, filterBaggage)"},
		dont: []string{"W3C baggage key w3c.secret", "jaeger-baggage key jbag.secret"},
	},
	{
		name: "05 the allow-list applied to jaeger-client's formats only", step: "05-mixed-fleet",
		edits: []edit{{"shared/edge/edge.go", "for _, name := range []string{baggageHeader, jaegerBaggage} {", "for _, name := range []string{jaegerBaggage} {"}},
		run:   "TestBaggageAllowList",
		want: []string{"gateway=otel: the caller's W3C baggage key w3c.secret, which GATEWAY_BAGGAGE_ALLOW does not list, reached checkout",
			"The allow-list was applied to some formats and not to W3C baggage"},
		dont: []string{"uberctx-* key uber.secret", "jaeger-baggage key jbag.secret"},
	},
	{
		name: "05 uberctx- values URL-encoded over AMQP too", step: "05-mixed-fleet",
		edits: []edit{{"baggage.go", "\t\tif http {\n\t\t\tv = url.QueryEscape(v)", "\t\tif http || !http {\n\t\t\tv = url.QueryEscape(v)"}},
		run:   "TestBaggageCrosses",
		want:  []string{"AMQP, OpenTelemetry to jaeger-client: the baggage item tenant=\"acme corp\" arrived as \"acme+corp\"", "TODO(05.3)", "as it is over AMQP"},
		dont:  []string{"HTTP, OpenTelemetry to jaeger-client: the baggage item"},
	},
	{
		name: "02 server span named after the raw path", step: "02-opentracing",
		edits: []edit{{"middleware.go", `return r.Method + " " + route(r)`, `return r.Method + " " + r.URL.Path`}},
		run:   "TestRouteTemplate",
		want:  []string{`named "GET /orders/ord_42", want "GET /orders/{id}"`, "TODO(02.2)"},
	},
	{
		name: "06 the consumer ignores the delivery's own exchange", step: "06-native-otel",
		edits: []edit{{"broker.go", "exchange := msg.Exchange\n", "exchange := \"\"\n"}},
		run:   "TestDestinations",
		want:  []string{`"process returns:checkout.processed:stock"`, "TODO(06.2)"},
	},
	{
		name: "06 a queue equal to the routing key named twice", step: "06-native-otel",
		edits: []edit{{"broker.go", "if queue == routingKey {", "if false {"}},
		run:   "TestDestinations",
		want:  []string{`"process stock"`, "TODO(06.2)"},
	},
	{
		name: "07 a log call without its context", step: "07-logs-and-metrics",
		edits: []edit{{"stock.go", `logger.InfoContext(ctx, "stock reserved",`, `logger.Info("stock reserved",`}},
		run:   "TestLogsOnTheTrace/json",
		want:  []string{"stock logged a line of the order without trace_id", "TODO(07.1): log with the Context variants"},
		dont:  []string{"gateway logged a line", "checkout logged a line"},
	},
	{
		name: "07 the bridge on the global logger provider", step: "07-logs-and-metrics",
		edits: []edit{{"signals.go", "otelslog.NewHandler(loggerName, otelslog.WithLoggerProvider(lp))", "otelslog.NewHandler(loggerName)"}},
		run:   "TestLogsOnTheTrace/json",
		want:  []string{"logged no line with request_id", "TODO(07.1) in signals.go", "otelslog.WithLoggerProvider(lp)"},
	},
	{
		name: "07 otelmux on the global meter provider", step: "07-logs-and-metrics",
		edits: []edit{{"middleware.go", "\t\totelmux.WithMeterProvider(mp),\n", ""}},
		run:   "TestMetrics$",
		want:  []string{"has no http_server_request_duration_seconds histogram", "TODO(07.2) in middleware.go"},
		dont:  []string{"http_client_request_duration_seconds histogram"},
	},
	{
		name: "07 the message ID on the publish duration", step: "07-logs-and-metrics",
		edits: []edit{{"broker.go", "metricAttributes(info, destination, messagingconv.OperationTypeSend, err)...)",
			"append(metricAttributes(info, destination, messagingconv.OperationTypeSend, err), semconv.MessagingMessageID(msg.MessageID))...)"}},
		run:  "TestMetricsCardinality",
		want: []string{"checkout's messaging_client_operation_duration_seconds has the attribute messaging_message_id", "TODO(07.3)"},
	},
	{
		name: "07 the meter provider ignores OTEL_SDK_DISABLED", step: "07-logs-and-metrics",
		edits: []edit{{"signals.go", "\tif otelenv.SDKDisabled() {\n\t\treturn otelmetrics.Noop(), nil, nil\n\t}\n", ""}},
		run:   "TestSDKDisabled",
		want:  []string{"with OTEL_SDK_DISABLED=true, gateway serves /metrics", "the collector received"},
		dont:  []string{"logged a line with trace_id"},
	},
	{
		name: "01 the gateway keeps any caller's ID, however long", step: "01-untraced",
		edits: []edit{{"gateway.go", "requestID := shop.RequestIDFrom(r.Header.Get(requestIDHeader))", "requestID, _ := r.Header.Get(requestIDHeader), shop.RequestIDFrom"}},
		run:   "TestContract/Correlation/IDTooLong",
		want:  []string{"shop.RequestIDFrom", "TODO(01.1)"},
	},
	{
		name: "03 no message ID for the span", step: "03-traced-rabbit-broker",
		edits: []edit{{"broker.go", "msg.MessageID = broker.NewMessageID() // to tag the span with it", "_ = broker.NewMessageID"}},
		run:   "TestBroker/PublishStartsProducerSpan",
		want:  []string{"TODO(03.1): give a message without an ID one (broker.NewMessageID)"},
	},
	// Hints that point at the right place (issue 18): the TODO, the file and the cause
	// of the code at fault, not of a neighbour.
	{
		name: "06 checkout publishes with the request's context", step: "06-native-otel",
		edits: []edit{
			{"checkout.go", "ctx, span := tracer.Start(r.Context(), \"place order\")", "_, span := tracer.Start(r.Context(), \"place order\")"},
			{"checkout.go", "if err := b.Publish(ctx, msg); err != nil {", "if err := b.Publish(r.Context(), msg); err != nil {"},
		},
		run: "TestContract/OrderTrace",
		want: []string{"the checkout producer span hangs under checkout server \"POST /orders\", beside the checkout internal span instead of under it",
			"The code that starts \"place order\" went on with the context it was given",
			"look at TODO(06.3): in createOrder (checkout.go), start the \"place order\" span"},
		dont: []string{"TODO(06.2)"},
	},
	{
		name: "06 otelmux without the service's propagator", step: "06-native-otel",
		edits: []edit{{"middleware.go", "otelmux.WithPropagators(prop),", ""}},
		run:   "TestContract/OrderTrace",
		want: []string{"the checkout server span starts a new trace",
			"look at TODO(06.1): serverSpans (middleware.go) traces checkout too; it continues the gateway's trace when otelmux extracts with the service's propagator"},
		dont: []string{"tracing.go"},
	},
	{
		name: "02 no server spans", step: "02-opentracing",
		edits: []edit{{"middleware.go", "return nethttp.Middleware(tracer, next,", "return next\n\t\treturn nethttp.Middleware(tracer, next,"}},
		run:   "TestOrderTrace",
		want:  []string{`no span for gateway server "POST /checkout"`, "look at TODO(02.2): trace the HTTP servers in serverSpans (middleware.go)"},
		dont:  []string{"tracing.go"},
	},
	{
		name: "03 stock's HTTP API without server spans", step: "03-traced-rabbit-broker",
		edits: []edit{{"stock.go", "\tr.Use(serverSpans(tracer))\n", ""}},
		run:   "TestContract/OrderTrace$",
		want:  []string{"GET /stock/gopher-plush made no", "r.Use(serverSpans(...)) in newStockAPI, stock.go"},
		dont:  []string{"belongs in its trace"},
	},
	{
		name: "01 stock does not read the ID", step: "01-untraced",
		edits: []edit{{"stock.go", "logger := logger.With(\"request_id\", requestID)", "_ = requestID"}},
		run:   "TestContract/Correlation",
		want:  []string{"stock logged 3 line(s) for this order, none with request_id=", "Look at TODO(01.3): in reserveStock (stock.go), read the ID from the AMQP header x-request-id"},
		dont:  []string{"TODO(01.2)", "TODO(01.1)"},
	},
	{
		name: "03 consumer span not finished when the handler fails", step: "03-traced-rabbit-broker",
		edits: []edit{
			{"broker.go", "span := t.tracer.StartSpan(\"process \"+info.Queue, opts...)\n\t\tdefer span.Finish()", "span := t.tracer.StartSpan(\"process \"+info.Queue, opts...)"},
			{"broker.go", "\t\t\treturn err\n\t\t}\n\t\treturn nil\n\t})", "\t\t\treturn err\n\t\t}\n\t\tspan.Finish()\n\t\treturn nil\n\t})"},
		},
		run: "TestBroker/HandlerErrorMarksConsumerSpan",
		want: []string{"the handler ran 2 times (it failed, then succeeded), but only 1 consumer span(s) were recorded",
			"the consumer span of the failed delivery was never finished", "defer span.Finish() right after starting it",
			"Look at TODO(03.2), TracedRabbitBroker.Consume (broker.go)"},
		dont: []string{"ext.LogError"},
	},
	{
		name: "03 producer span from the global tracer", step: "03-traced-rabbit-broker",
		edits: []edit{{"broker.go", "opentracing.StartSpanFromContextWithTracer(ctx, t.tracer, \"publish \"+info.Exchange,", "opentracing.StartSpanFromContext(ctx, \"publish \"+info.Exchange,"}},
		run:   "TestBroker/PublishStartsProducerSpan",
		want: []string{"TracedRabbitBroker.Publish used the global tracer (opentracing.StartSpanFromContext",
			"Start it with the decorator's own tracer, t.tracer", "Look at TODO(03.1), TracedRabbitBroker.Publish (broker.go)"},
	},
	// Mistakes no test caught (issue 18): each is caught now, and named.
	{
		name: "03 producer span finished before the wrapped Publish", step: "03-traced-rabbit-broker",
		edits: []edit{
			{"broker.go", "\tdefer span.Finish()\n\n\t// Inject into a copy", "\n\t// Inject into a copy"},
			{"broker.go", "\tif err := t.b.Publish(ctx, msg); err != nil {", "\tspan.Finish()\n\tif err := t.b.Publish(ctx, msg); err != nil {"},
		},
		run: "TestBroker/ProducerSpanEndsAfterConfirm",
		want: []string{"had already finished when the wrapped Publish returned, that is before RabbitMQ confirmed the message",
			"Look at TODO(03.1), TracedRabbitBroker.Publish (broker.go)"},
	},
	{
		// jaeger's InMemoryReporter keeps a pointer to the span: the test's recorder
		// keeps the span as it was when it finished, as a real reporter sends it.
		name: "03 ext.LogError after Finish", step: "03-traced-rabbit-broker",
		edits: []edit{
			{"broker.go", "\tdefer span.Finish()\n\n\t// Inject into a copy", "\n\t// Inject into a copy"},
			{"broker.go", "\tif err := t.b.Publish(ctx, msg); err != nil {", "\terr := t.b.Publish(ctx, msg)\n\tspan.Finish()\n\tif err != nil {"},
		},
		run:  "TestBroker/RejectedPublishIsAnError",
		want: []string{"the producer span of a publish the broker rejected must be an error", "before the span finishes", "Look at TODO(03.1)"},
	},
	{
		name: "04 producer span finished before the wrapped Publish", step: "04-otel-bridge",
		edits: []edit{
			{"broker.go", "\tdefer span.Finish()\n\n\t// Inject into a copy", "\n\t// Inject into a copy"},
			{"broker.go", "\tif err := t.b.Publish(ctx, msg); err != nil {", "\tspan.Finish()\n\tif err := t.b.Publish(ctx, msg); err != nil {"},
		},
		run:  "TestBroker/ProducerSpanEndsAfterConfirm",
		want: []string{"had already finished when the wrapped Publish returned", "Look at step 03's exercise 03.1, TracedRabbitBroker.Publish (broker.go)"},
	},
	{
		name: "06 producer span ended before the wrapped Publish", step: "06-native-otel",
		edits: []edit{
			{"broker.go", "\tdefer span.End()\n\n\t// Inject into a copy", "\n\t// Inject into a copy"},
			{"broker.go", "\tif err := t.b.Publish(ctx, msg); err != nil {", "\tspan.End()\n\tif err := t.b.Publish(ctx, msg); err != nil {"},
		},
		run:  "TestProducerSpanEndsAfterConfirm",
		want: []string{"had already ended when the wrapped Publish returned", "Look at TODO(06.2), TracedRabbitBroker.Publish (broker.go)"},
	},
	{
		name: "06 redisotel records the statements", step: "06-native-otel",
		edits: []edit{{"tracing.go", "redisotel.WithDBStatement(false), ", ""}},
		run:   "TestContract/OrderTrace",
		want: []string{`the Redis call "evalsha" carries db.statement=`, "pass redisotel.WithDBStatement(false)",
			"Look at TODO(06.4): in instrumentRedis (tracing.go)"},
	},
	{
		name: "06 the client transport built on http.DefaultTransport", step: "06-native-otel",
		edits: []edit{{"gateway.go", "otelhttp.NewTransport(app.NewTransport(),", "otelhttp.NewTransport(http.DefaultTransport,"}},
		run:   "TestClientKeepsItsConnections",
		want:  []string{"keeps too few idle connections, as http.DefaultTransport does", "Look at TODO(06.1), clientSpans (gateway.go)", "app.NewTransport()"},
	},
	{
		name: "06 a panic recorded twice", step: "06-native-otel",
		edits: []edit{{"broker.go", "\t\t\t\tspan.SetStatus(codes.Error, fmt.Sprint(\"handler panicked: \", p))",
			"\t\t\t\tspan.RecordError(fmt.Errorf(\"handler panicked: %v\", p))\n\t\t\t\tspan.SetStatus(codes.Error, fmt.Sprint(\"handler panicked: \", p))"}},
		run:  "TestHandlerPanicMarksConsumerSpan",
		want: []string{"has 2 \"exception\" events, want one", "Look at TODO(06.2), TracedRabbitBroker.Consume (broker.go)"},
	},
	{
		// Pitfall 14: a sampler that ignores its parent, below a root that did not sample.
		name: "04 checkout and stock on AlwaysSample below the root", step: "04-otel-bridge",
		edits: []edit{{"tracing.go", "sdktrace.WithSampler(sampler),", `sdktrace.WithSampler(map[bool]sdktrace.Sampler{true: sampler, false: sdktrace.AlwaysSample()}[service == "gateway"]),`}},
		run:   "TestContract/Sampling/OneDecisionPerTrace",
		want:  []string{"span(s) outside the sampled trace", "in the unsampled order's trace", "(orphans)", "otelenv.SamplerFromEnv"},
	},
	{
		name: "06 checkout ignores the incoming sampled flag", step: "06-native-otel",
		edits: []edit{{"tracing.go", "sdktrace.WithSampler(sampler),", `sdktrace.WithSampler(map[bool]sdktrace.Sampler{true: sampler, false: sdktrace.NeverSample()}[service != "checkout"]),`}},
		run:   "TestContract/Sampling/OneDecisionPerTrace",
		want:  []string{"checkout recorded no span of the order its caller sampled", "ignores the sampled flag it receives", "newTracerProvider: sdktrace.WithSampler"},
	},
	{
		// Pitfall 13: the SDK reads OTEL_TRACES_SAMPLER itself, knows no jaeger_remote,
		// and samples everything.
		name: "04 jaeger_remote left to the SDK", step: "04-otel-bridge",
		edits: []edit{{"tracing.go", "sdktrace.WithSampler(sampler),", ""}},
		run:   "TestContract/Sampling/Remote",
		want:  []string{"while the sampling endpoint says to sample nothing, an order", "the SDK alone does not know jaeger_remote", "Look at TODO(04.1): newTracerProvider passes the sampler of otelenv.SamplerFromEnv"},
	},
	{
		name: "04 the edge forces the sampled flag while trusted mode is on", step: "04-otel-bridge",
		edits: []edit{{"main.go", "edgeCfg, err := edge.LoadConfig(getenv)\n\tif err != nil {\n\t\treturn err\n\t}\n",
			"edgeCfg, err := edge.LoadConfig(getenv)\n\tif err != nil {\n\t\treturn err\n\t}\n\tedgeCfg.TrustSampling = false\n"}},
		run:  "TestContract/Sampling/TrustedFrontEnd",
		want: []string{"with GATEWAY_CALLER_SAMPLING=trust the front end's unsampled trace", "edge.Guard leaves its flag alone"},
	},
	{
		// jaeger-client's own parser rejects Jaeger v2's numeric strategyType: the remote
		// sampler stays at its initial rate, silently.
		name: "03 jaeger-client's remote sampler without legacyremote", step: "03-traced-rabbit-broker",
		edits: []edit{{"main.go", ", legacyremote.Option(name, jlog))", ")"},
			{"main.go", "\t\"github.com/ot2otel/workshop/shared/sampling/legacyremote\"\n", ""}},
		run:  "TestContract/Sampling/Remote",
		want: []string{"once the sampling endpoint says to sample every POST /checkout, an order answered traceresponse", "its parser rejects Jaeger's numeric strategyType"},
	},
}

// importOTel adds go.opentelemetry.io/otel to file's imports.
func importOTel(file string) edit {
	return edit{file, "import (\n", "import (\n\t\"go.opentelemetry.io/otel\"\n"}
}

// extract is the line of 03's consume wrapper the consumer mistakes follow.
const extract = "parent, err := t.tracer.Extract(opentracing.TextMap, amqpHeadersCarrier(msg.Headers))\n"

// TestMutations plants each mistake in a copy of its solution, outside go.work, and runs
// the tests that must catch it.
func TestMutations(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex // go test builds in parallel anyway: two at once is plenty on 2 cores
	sem := make(chan struct{}, 2)
	for _, m := range mutations {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			sem <- struct{}{}
			defer func() { <-sem }()
			withShared := false
			for _, e := range m.edits {
				withShared = withShared || strings.HasPrefix(e.file, "shared/")
			}
			dir := copySolution(t, root, m.step, withShared)
			for _, e := range m.edits {
				path := filepath.Join(dir, e.file)
				if strings.HasPrefix(e.file, "shared/") {
					path = filepath.Join(filepath.Dir(dir), e.file)
				}
				src, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(string(src), e.old) {
					t.Fatalf("%s no longer contains %q: update the mutation", e.file, e.old)
				}
				if err := os.WriteFile(path, []byte(strings.Replace(string(src), e.old, e.new, 1)), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			// Every mutation compiles and links a test binary of its own, most of this
			// test's CPU: no vet (the mistake is judged by the tests' messages), and the
			// compiler and linker collect garbage less often (GOGC=400: about a fifth less
			// CPU for a few hundred MB more, which the 2-core machines this runs on have).
			// -trimpath keeps the copy's random directory out of what the build cache
			// keys on: the step's unchanged packages, and a mutation unchanged since the
			// last run, come from the cache (the whole test: 47 → 17 CPU-seconds warm).
			// Patterns of tests at different depths (TestPropagator, TestContract/PublicEdge)
			// cannot share one -run: each gets a run of its own, and at least one must fail.
			var out []byte
			failed := false
			for _, run := range strings.Fields(m.run) {
				cmd := exec.Command("go", "test", "-count=1", "-vet=off", "-trimpath", "-run", "^("+strings.ReplaceAll(run, "/", ")$/^(")+")$", ".")
				cmd.Dir = dir
				cmd.Env = append(os.Environ(), "GOWORK=off", "GOGC=400")
				o, err := cmd.CombinedOutput()
				out = append(out, o...)
				failed = failed || err != nil
			}
			mu.Lock()
			defer mu.Unlock()
			if !failed {
				t.Fatalf("with the mistake planted, %s passes:\n%s", m.run, out)
			}
			for _, w := range m.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("with the mistake planted, %s fails without saying %q:\n%s", m.run, w, out)
				}
			}
			for _, w := range m.dont {
				if strings.Contains(string(out), w) {
					t.Errorf("with the mistake planted, %s blames the wrong cause, %q:\n%s", m.run, w, out)
				}
			}
		})
	}
}

// copySolution copies solutions/step's files into a temporary directory whose go.mod
// replaces the shared module by the repository's, or, withShared, by a copy of it beside
// the step's (<tmp>/shared), for a mutation to plant a mistake in.
func copySolution(t *testing.T, root, step string, withShared bool) string {
	t.Helper()
	src := filepath.Join(root, "solutions", step)
	tmp := t.TempDir()
	dir := filepath.Join(tmp, step)
	if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	shared := filepath.Join(root, "shared")
	if withShared {
		shared = filepath.Join(tmp, "shared")
		if err := os.CopyFS(shared, os.DirFS(filepath.Join(root, "shared"))); err != nil {
			t.Fatal(err)
		}
	}
	mod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	fixed := strings.ReplaceAll(string(mod), "=> ../../shared", "=> "+shared)
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(fixed), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}
