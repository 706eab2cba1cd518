package workshoptest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/ot2otel/workshop/shared/edge/w3csuite"
	"github.com/ot2otel/workshop/shared/fleet"
	"github.com/ot2otel/workshop/shared/tracecheck"
)

// EdgeStep says what one step's gateway and checkout carry, for CheckEdge (run by
// Contract as TestContract/PublicEdge when a step's Edge has Collect).
type EdgeStep struct {
	// Run starts the step's services; Contract sets it to the step's Run.
	Run fleet.RunFunc
	// Collect points the step's tracers at collectors of t's own and returns the spans
	// they received; CheckEdge reads them after the services stopped.
	Collect func(t *testing.T) (spans func() []tracecheck.Span)
	// HTTPFormat is the trace header the gateway sends checkout: "uber-trace-id" or
	// "traceparent". AMQPFormat is the one checkout publishes with: "" when the broker
	// hop is not traced (step 02).
	HTTPFormat, AMQPFormat string
	// OTel: the gateway runs OpenTelemetry (steps 04-06), so the W3C Trace Context rules
	// and the public endpoint apply.
	OTel bool
	// BaggageToAMQP: an allowed baggage key, which always reaches checkout's request,
	// reaches the message checkout publishes too (not in step 02, whose broker hop is
	// untraced, nor across the legacy checkout of step 05).
	BaggageToAMQP bool
	// Todo names what to look at when the trace context does not get through at all,
	// which is the exercise's business, not the edge's.
	Todo string
}

const (
	edgeTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	edgeSpanID  = "00f067aa0ba902b7"
)

// CheckEdge checks what step s's gateway takes from a caller it does not know (the
// package edge and the README's "What the gateway trusts"), against the services as run
// starts them: it watches the headers of the gateway's request to checkout, through a
// proxy, and of the message checkout publishes, through a queue of its own bound to the
// fleet's exchange (RabbitMQ only).
func CheckEdge(t *testing.T, s EdgeStep) {
	t.Helper()
	spans := s.Collect(t)
	seen := newWireLog(t)

	start := func(t *testing.T, env map[string]string) *Fleet {
		env["CHECKOUT_URL"] = seen.URL
		env["GATEWAY_BAGGAGE_ALLOW"] = "tenant"
		env["STOCK_QUANTITY"] = "1000" // the W3C suite's cases are 79 orders: stock never runs out
		f := Start(t, s.Run, env)
		seen.watch(t, f)
		return f
	}
	hint := fmt.Sprintf("\n(If no trace context gets through at all, that is the exercise: look at %s.)", s.Todo)
	post := func(t *testing.T, f *Fleet, id string, h http.Header) {
		t.Helper()
		h.Set("X-Request-ID", id)
		resp, err := f.Fleet.PlaceOrder(context.Background(), DemoOrder(), h)
		if err != nil || resp.Status != http.StatusAccepted {
			t.Fatalf("POST /checkout with %v: %v %d %s, want 202: no header a caller sends fails an order", h, err, resp.Status, resp.Body)
		}
	}
	traceOf := func(h http.Header, format string) (traceID, flags string) {
		v := h.Get(format)
		if format == "traceparent" {
			if p := strings.Split(v, "-"); len(p) == 4 {
				return p[1], p[3]
			}
			return "", ""
		}
		if p := strings.Split(v, ":"); len(p) == 4 {
			return strings.Repeat("0", max(32-len(p[0]), 0)) + p[0], p[3]
		}
		return "", ""
	}
	callerContext := func(traceID, flags string) http.Header {
		h := http.Header{}
		if s.OTel {
			h.Set("traceparent", "00-"+traceID+"-"+edgeSpanID+"-"+flags)
		} else {
			h.Set("uber-trace-id", traceID+":"+edgeSpanID+":0:"+strings.TrimPrefix(flags, "0"))
		}
		return h
	}

	f := start(t, map[string]string{})

	t.Run("baggage", func(t *testing.T) {
		h := http.Header{}
		h.Add("baggage", "user.id=42,session=s3cr3t")
		h.Add("baggage", "tenant=acme")
		h.Set("uberctx-user.id", "42")
		h.Set("uberctx-session", "s3cr3t")
		h.Set("uberctx-tenant", "acme")
		h.Set("jaeger-baggage", "user.id=42, session=s3cr3t")
		for k, v := range callerContext(edgeTraceID, "01") {
			h[k] = v
		}
		post(t, f, "edge-baggage", h)
		checkBaggage := func(where string, got http.Header, wantTenant bool) {
			t.Helper()
			for k, vs := range got {
				for _, v := range vs {
					if strings.Contains(strings.ToLower(k+v), "user.id") || strings.Contains(v, "s3cr3t") {
						t.Errorf("the caller's baggage reached %s: %s: %s. The gateway drops every baggage key "+
							"that GATEWAY_BAGGAGE_ALLOW does not list (edge.Guard, in main)", where, k, v)
					}
				}
			}
			if wantTenant && !strings.Contains(fmt.Sprint(got), "acme") {
				t.Errorf("the allowed baggage key tenant=acme did not reach %s; its headers: %v%s", where, got, hint)
			}
		}
		checkBaggage("checkout's request", seen.wait(t, "http", "edge-baggage"), true)
		if amqpHeaders, ok := seen.waitAMQP(t, "edge-baggage"); ok {
			checkBaggage("the AMQP headers", amqpHeaders, s.BaggageToAMQP)
		}
	})

	t.Run("continued, and sampled", func(t *testing.T) {
		post(t, f, "edge-unsampled", callerContext(edgeTraceID, "00"))
		check := func(where string, got http.Header, format string) {
			t.Helper()
			id, flags := traceOf(got, format)
			if id != edgeTraceID {
				t.Errorf("%s carries trace %q (%s: %q), want the caller's %s: the gateway continues a caller's trace "+
					"unless GATEWAY_PUBLIC_ENDPOINT=1%s", where, id, format, got.Get(format), edgeTraceID, hint)
				return
			}
			if flags != "01" && flags != "1" && flags != "3" {
				t.Errorf("%s has the flags %q, not sampled: a caller's -00 switched tracing off for its order. "+
					"The gateway samples it all the same (edge.Guard)", where, flags)
			}
		}
		check("checkout's request", seen.wait(t, "http", "edge-unsampled"), s.HTTPFormat)
		if s.AMQPFormat != "" {
			if amqpHeaders, ok := seen.waitAMQP(t, "edge-unsampled"); ok {
				check("the published message", amqpHeaders, s.AMQPFormat)
			}
		}
	})

	if !s.OTel {
		f.Stop()
		return
	}

	t.Run("two traceparent headers restart the trace", func(t *testing.T) {
		other := "0af7651916cd43dd8448eb211c80319c"
		for i, h := range []http.Header{
			{"Traceparent": {"00-" + edgeTraceID + "-" + edgeSpanID + "-01", "00-" + other + "-" + edgeSpanID + "-01"}},
			{"Traceparent": {"00-" + edgeTraceID + "-" + edgeSpanID + "-01, 00-" + other + "-" + edgeSpanID + "-01"}},
		} {
			id := fmt.Sprintf("edge-two-traceparents-%d", i)
			post(t, f, id, h)
			got, _ := traceOf(seen.wait(t, "http", id), "traceparent")
			if got == "" || got == edgeTraceID || got == other {
				t.Errorf("with traceparent %q, checkout's request carries trace %q: several traceparent headers are "+
					"invalid (W3C Trace Context), and the gateway starts a new trace%s", h.Values("traceparent"), got, hint)
			}
		}
	})

	t.Run("tracestate headers are combined, within the limits", func(t *testing.T) {
		var members []string
		for i := range 30 {
			members = append(members, fmt.Sprintf("k%02d=v%02d", i, i))
		}
		long := "long=" + strings.Repeat("x", 200)
		h := callerContext(edgeTraceID, "01")
		h.Add("tracestate", strings.Join(append([]string{members[0], long}, members[1:20]...), ","))
		h.Add("tracestate", " "+strings.Join(members[20:], " , ")+", long2="+strings.Repeat("y", 200))
		post(t, f, "edge-tracestate", h)
		got := seen.wait(t, "http", "edge-tracestate").Values("tracestate")
		want := strings.Join(members, ",")
		if len(got) != 1 || got[0] != want {
			t.Errorf("a caller's tracestate over two headers, 32 members, two of 205 characters, reached checkout as\n%q\n"+
				"want one header with the 30 short members (W3C Trace Context: combine the headers; at most 512 "+
				"characters, members over 128 characters dropped first):\n%q%s", got, want, hint)
		}
	})

	// The W3C Trace Context test suite's cases (w3csuite), each one order through the
	// gateway; the request to checkout is the suite's callback.
	t.Run("W3C Trace Context test suite", func(t *testing.T) {
		cases := w3csuite.Cases()
		failed := 0
		for i, c := range cases {
			id := fmt.Sprintf("edge-w3c-%02d", i)
			req, err := http.NewRequest(http.MethodPost, f.GatewayURL+"/checkout", strings.NewReader(string(DemoOrder().Encode())))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Request-ID", id)
			for _, kv := range c.Headers {
				req.Header[kv[0]] = append(req.Header[kv[0]], kv[1]) // the name as the suite writes it
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("%s: %v", c.Name, err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				t.Errorf("W3C suite %s, headers %q: %d, want 202: no header a caller sends fails an order", c.Name, c.Headers, resp.StatusCode)
				failed++
				continue
			}
			got := seen.wait(t, "http", id)
			if problems := c.Check(got.Values("traceparent"), got.Values("tracestate")); len(problems) > 0 {
				failed++
				t.Errorf("W3C suite %s, headers %q: checkout's request: %s (the edge's rules: edge.Guard, "+
					"edge.CombineTraceState)%s", c.Name, c.Headers, strings.Join(problems, "; "), hint)
			}
		}
		t.Logf("%d of the W3C Trace Context suite's %d cases pass at the gateway", len(cases)-failed, len(cases))
	})

	f.Stop()

	t.Run("public endpoint", func(t *testing.T) {
		pf := start(t, map[string]string{"GATEWAY_PUBLIC_ENDPOINT": "1"})
		post(t, pf, "edge-public", callerContext(edgeTraceID, "01"))
		got, _ := traceOf(seen.wait(t, "http", "edge-public"), "traceparent")
		pf.Stop()
		if got == "" || got == edgeTraceID {
			t.Fatalf("GATEWAY_PUBLIC_ENDPOINT=1: checkout's request carries trace %q, want a new trace, not the caller's%s", got, hint)
		}
		var server *tracecheck.Span
		for _, sp := range spans() {
			if sp.Service == "gateway" && sp.Kind == tracecheck.KindServer && sp.TraceID == got {
				server = &sp
			}
		}
		if server == nil {
			t.Fatalf("GATEWAY_PUBLIC_ENDPOINT=1: no gateway server span in trace %s:\n%s", got, tracecheck.String(spans()))
		}
		if server.ParentID != "" || !slices.Contains(server.Links, tracecheck.Link{TraceID: edgeTraceID, SpanID: edgeSpanID}) {
			t.Errorf("GATEWAY_PUBLIC_ENDPOINT=1: the gateway's server span has parent %q and links %v; want a root "+
				"linked to the caller's span %s/%s (edge.LinkCaller, inside the tracing middleware)",
				server.ParentID, server.Links, edgeTraceID, edgeSpanID)
		}
	})
}

// headerLog keeps the headers of what crossed each hop, by request ID.
type headerLog struct {
	mu   sync.Mutex
	seen map[string]http.Header
	amqp bool // a capture queue is bound
}

func newHeaderLog() *headerLog { return &headerLog{seen: map[string]http.Header{}} }

// wireLog logs the trace headers a fleet puts on the wire: the gateway's request to
// checkout, through a proxy in front of checkout (the fleet's CHECKOUT_URL must be URL),
// and, once watch is called, the message checkout publishes, through a queue of its own
// bound to the fleet's exchange (RabbitMQ only).
type wireLog struct {
	*headerLog
	URL    string
	target atomic.Value // checkout's URL, once the fleet runs
}

func newWireLog(t *testing.T) *wireLog {
	t.Helper()
	l := &wireLog{headerLog: newHeaderLog()}
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.add("http", r.Header.Get("X-Request-ID"), r.Header.Clone())
		u, _ := url.Parse(l.target.Load().(string))
		httputilProxy(u).ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	l.URL = proxy.URL
	return l
}

// watch points the proxy at f's checkout and starts logging f's messages.
func (l *wireLog) watch(t *testing.T, f *Fleet) {
	t.Helper()
	l.target.Store(f.CheckoutURL)
	captureAMQP(t, f.Env["AMQP_EXCHANGE"], l.headerLog)
}

func (l *headerLog) add(hop, id string, h http.Header) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seen[hop+" "+id] = h
}

func (l *headerLog) wait(t *testing.T, hop, id string) http.Header {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		l.mu.Lock()
		h, ok := l.seen[hop+" "+id]
		l.mu.Unlock()
		if ok {
			return h
		}
	}
	t.Fatalf("request %s never crossed the %s hop", id, hop)
	return nil
}

// waitAMQP returns the headers of the message published for request id, and false when
// no capture queue could be bound (the in-memory broker).
func (l *headerLog) waitAMQP(t *testing.T, id string) (http.Header, bool) {
	t.Helper()
	l.mu.Lock()
	bound := l.amqp
	l.mu.Unlock()
	if !bound {
		t.Log("the in-memory broker: the AMQP headers are not checked")
		return nil, false
	}
	return l.wait(t, "amqp", id), true
}

// captureAMQP binds a queue of its own, which RabbitMQ deletes when the test ends, to
// exchange, and logs the headers of every message published there. The headers are kept
// as text, as a consumer's carrier reads them, with their keys as they are.
func captureAMQP(t *testing.T, exchange string, log *headerLog) {
	t.Helper()
	if brokerErr != nil {
		return
	}
	conn, err := amqp.Dial(RabbitMQURL())
	if err != nil {
		t.Fatalf("capture queue: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatalf("capture queue: %v", err)
	}
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	if err == nil {
		err = ch.QueueBind(q.Name, "#", exchange, false, nil)
	}
	deliveries, err2 := ch.Consume(q.Name, "", true, true, false, false, nil)
	if err != nil || err2 != nil {
		t.Fatalf("capture queue on %s: %v %v", exchange, err, err2)
	}
	log.mu.Lock()
	log.amqp = true
	log.mu.Unlock()
	go func() {
		for d := range deliveries {
			h := http.Header{}
			for k, v := range d.Headers {
				h[k] = []string{fmt.Sprint(text(v))}
			}
			id, _ := text(d.Headers["x-request-id"]).(string)
			h.Set("traceparent", fmt.Sprint(text(d.Headers["traceparent"])))
			h.Set("uber-trace-id", fmt.Sprint(text(d.Headers["uber-trace-id"])))
			log.add("amqp", id, h)
		}
	}()
}

func text(v any) any {
	if b, ok := v.([]byte); ok {
		return string(b)
	}
	return v
}

func httputilProxy(u *url.URL) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := http.NewRequestWithContext(r.Context(), r.Method, u.String()+r.URL.RequestURI(), r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		req.Header = r.Header.Clone()
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	})
}

// ownProcessEnv names, in a copy of the test binary InOwnProcess started, the one test
// it runs.
const ownProcessEnv = "WORKSHOP_OWN_PROCESS"

// InOwnProcess runs the calling test in a process of its own, a fresh copy of the test
// binary, for what a process does only once (OpenTelemetry reports a bad baggage header
// once per process) or globally (OpenTelemetry's error handler). In the parent it runs
// the child, fails the test if the child fails, returns the child's stderr and false;
// in the child it returns "" and true, and the test goes on.
func InOwnProcess(t *testing.T) (stderr string, child bool) {
	t.Helper()
	if os.Getenv(ownProcessEnv) == t.Name() {
		return "", true
	}
	// Each level of the name anchored: TestContract/TracerLogs/OTel runs that leaf alone.
	run := "^" + strings.ReplaceAll(t.Name(), "/", "$/^") + "$"
	cmd := exec.Command(os.Args[0], "-test.run="+run, "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), ownProcessEnv+"="+t.Name())
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatalf("run the test in its own process: %v", err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("in its own process:\n%s\n%s", out.String(), errOut.String())
		}
	case <-ctx.Done():
		cmd.Process.Kill()
		t.Fatalf("in its own process: timed out\n%s", out.String())
	}
	return errOut.String(), false
}
