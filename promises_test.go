package workshop

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/ot2otel/workshop/shared/app"
	"github.com/ot2otel/workshop/shared/broker"
	"github.com/ot2otel/workshop/shared/fleet"
	"github.com/ot2otel/workshop/shared/redistest"
	"github.com/ot2otel/workshop/shared/shop"
	"github.com/ot2otel/workshop/shared/tcpproxy"
	"github.com/ot2otel/workshop/shared/workshoptest"
)

// These tests run solutions' binaries as they are deployed and hold them to what the
// README promises about shutdown ("What the services promise"), with faults no
// in-process test can make: RabbitMQ gone while callers wait, a collector that hangs.

// buildSolution builds solutions/name, or takes its binary from Go's build cache.
func buildSolution(t *testing.T, name string) string {
	t.Helper()
	return workshoptest.Binary(t, "./solutions/"+name)
}

// requireRabbitMQ returns RabbitMQ's URL, or skips (fails, with
// WORKSHOP_REQUIRE_RABBITMQ=1) when it is not reachable.
func requireRabbitMQ(t *testing.T) string {
	t.Helper()
	u := workshoptest.RabbitMQURL()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := broker.Reachable(ctx, u); err != nil {
		if os.Getenv("WORKSHOP_REQUIRE_RABBITMQ") == "1" {
			t.Fatalf("WORKSHOP_REQUIRE_RABBITMQ=1 but RabbitMQ is not reachable: %v", err)
		}
		t.Skipf("RabbitMQ is not reachable: %v", err)
	}
	return u
}

// viaProxy is amqpURL with its host replaced by the proxy's.
func viaProxy(amqpURL string, p *tcpproxy.Proxy) string {
	u, _ := url.Parse(amqpURL)
	u.Host = p.Addr
	return u.String()
}

// collector is an OTLP/HTTP endpoint that takes every export, or, hung, takes the
// connection and never answers.
func collector(t *testing.T, hung bool) string {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hung {
			<-release
			return
		}
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // first: srv.Close waits for the handlers
	return srv.URL
}

// freeAddrs returns n loopback addresses nothing listens on.
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	var addrs []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, ln.Addr().String())
		ln.Close()
	}
	return addrs
}

// deleteTopology deletes, when the test ends, the exchange and queues a fleet's env
// names, and the ledger its stock kept in Redis.
func deleteTopology(t *testing.T, amqpURL string, env map[string]string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cfg := broker.Config{URL: amqpURL, Exchange: env["AMQP_EXCHANGE"], Queue: env["AMQP_QUEUE"]}
		if err := broker.DeleteTopology(ctx, cfg); err != nil {
			t.Logf("delete topology: %v", err)
		}
		// The services kept their ledger in Redis, under a prefix named for the topology.
		ledger, err := app.LoadConfig(func(k string) string { return env[k] })
		if err == nil {
			ledger.RedisURL = redistest.URL()
			err = app.DeleteLedger(ctx, ledger)
		}
		if err != nil {
			t.Logf("delete the ledger: %v", err)
		}
	})
}

// TestShutdownWithBrokerDown stops the three processes with RabbitMQ gone and callers,
// who never time out, waiting on the gateway and on checkout: each caller gets an answer
// in JSON, and each process exits 0 within the shutdown timeout.
func TestShutdownWithBrokerDown(t *testing.T) {
	amqpURL := requireRabbitMQ(t)
	for _, step := range []string{"01-untraced", "06-native-otel"} {
		t.Run(step, func(t *testing.T) {
			t.Parallel()
			binary := buildSolution(t, step)
			p := tcpproxy.Start(t, hostOf(amqpURL))
			f, err := fleet.StartProcesses(context.Background(), binary, map[string]string{
				"AMQP_URL":                    viaProxy(amqpURL, p),
				"OTEL_EXPORTER_OTLP_ENDPOINT": collector(t, false),
			})
			if err != nil {
				t.Fatal(err)
			}
			deleteTopology(t, amqpURL, f.Env)
			order := workshoptest.DemoOrder()
			if resp, err := f.PlaceOrder(context.Background(), order, nil); err != nil || resp.Status != http.StatusAccepted {
				f.Stop()
				t.Fatalf("the first order, broker up: %v %v", resp, err)
			}

			p.Cut()
			type answer struct {
				to   string
				resp fleet.Response
				err  error
			}
			answers := make(chan answer, 4)
			patient := &http.Client{} // never times out
			for _, to := range []string{f.GatewayURL + "/checkout", f.GatewayURL + "/checkout", f.CheckoutURL + "/orders", f.CheckoutURL + "/orders"} {
				go func() {
					resp, err := patient.Post(to, "application/json", strings.NewReader(string(order.Encode())))
					a := answer{to: to, err: err}
					if err == nil {
						body, _ := io.ReadAll(resp.Body)
						resp.Body.Close()
						a.resp = fleet.Response{Status: resp.StatusCode, Header: resp.Header, Body: body}
					}
					answers <- a
				}()
			}
			time.Sleep(500 * time.Millisecond) // the callers are waiting on the broker now
			start := time.Now()
			stopErr := f.Stop()
			elapsed := time.Since(start)
			if stopErr != nil {
				t.Errorf("stopping with the broker down and callers waiting: %v", stopErr)
			}
			// Three processes, one after another, each within its own shutdown timeout.
			if elapsed > 3*app.ShutdownTimeout {
				t.Errorf("stopping took %s", elapsed.Round(time.Millisecond))
			}
			for range 4 {
				select {
				case a := <-answers:
					var e app.ErrorBody
					if a.err != nil || json.Unmarshal(a.resp.Body, &e) != nil || e.Error == "" || a.resp.Status < 500 {
						t.Errorf("a caller of %s waiting at shutdown got %d %q (%v), want a 5xx with a JSON error", a.to, a.resp.Status, a.resp.Body, a.err)
					} else {
						t.Logf("%s answered %d %s", a.to, a.resp.Status, e.Error)
					}
				case <-time.After(5 * time.Second):
					t.Fatal("a caller waiting at shutdown had no answer after the processes exited")
				}
			}
			t.Logf("stopped in %s", elapsed.Round(time.Millisecond))
		})
	}
}

// TestShutdownWithHungCollector runs all three services in one process, with a collector
// that takes the spans' connection and never answers: the three tracers flush at once,
// so the process exits 0 within one shutdown timeout, not three.
func TestShutdownWithHungCollector(t *testing.T) {
	amqpURL := requireRabbitMQ(t)
	for _, tc := range []struct {
		step string
		env  func(endpoint string) []string
	}{
		{"03-traced-rabbit-broker", func(e string) []string { return []string{"JAEGER_ENDPOINT=" + e + "/api/traces"} }},
		{"06-native-otel", func(e string) []string {
			return []string{"OTEL_EXPORTER_OTLP_ENDPOINT=" + e, "OTEL_BSP_SCHEDULE_DELAY=3600000"}
		}},
	} {
		t.Run(tc.step, func(t *testing.T) {
			t.Parallel()
			binary := buildSolution(t, tc.step)
			addrs := freeAddrs(t, 3)
			suffix := shop.NewRequestID()[:12]
			env := map[string]string{"AMQP_EXCHANGE": "ws-hung-" + suffix, "AMQP_QUEUE": "ws-hung-stock-" + suffix}
			deleteTopology(t, amqpURL, env)
			cmd := exec.Command(binary, "all")
			cmd.Env = append(os.Environ(), "GATEWAY_ADDR="+addrs[0], "CHECKOUT_ADDR="+addrs[1], "STOCK_ADDR="+addrs[2],
				"CHECKOUT_URL=http://"+addrs[1], "AMQP_URL="+amqpURL, "WORKSHOP_REQUIRE_RABBITMQ=1",
				"AMQP_EXCHANGE="+env["AMQP_EXCHANGE"], "AMQP_QUEUE="+env["AMQP_QUEUE"])
			cmd.Env = append(cmd.Env, tc.env(collector(t, true))...)
			var logs fleet.Buffer
			cmd.Stdout, cmd.Stderr = &logs, &logs
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			t.Cleanup(func() { cmd.Process.Kill() })

			gateway := "http://" + addrs[0]
			deadline := time.Now().Add(30 * time.Second)
			for {
				resp, err := http.Post(gateway+"/checkout", "application/json", strings.NewReader(string(workshoptest.DemoOrder().Encode())))
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode == http.StatusAccepted {
						break
					}
				}
				if time.Now().After(deadline) {
					t.Fatalf("no order accepted in 30 s (%v)\n%s", err, logs.String())
				}
				time.Sleep(50 * time.Millisecond)
			}

			start := time.Now()
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case err := <-exited:
				elapsed := time.Since(start)
				if err != nil {
					t.Errorf("exit after SIGTERM with a hung collector: %v, want 0\n%s", err, logs.String())
				}
				if elapsed > app.ShutdownTimeout+time.Second {
					t.Errorf("with a hung collector, the shutdown took %s, want at most the shutdown timeout (%s) once",
						elapsed.Round(time.Millisecond), app.ShutdownTimeout)
				}
				t.Logf("exited %v after %s", err, elapsed.Round(time.Millisecond))
			case <-time.After(4 * app.ShutdownTimeout):
				t.Fatalf("no exit %s after SIGTERM with a hung collector\n%s", 4*app.ShutdownTimeout, logs.String())
			}
		})
	}
}

// hostOf is the host:port of an AMQP URL.
func hostOf(amqpURL string) string {
	u, _ := url.Parse(amqpURL)
	if u.Port() == "" {
		return u.Hostname() + ":5672"
	}
	return u.Host
}

// TestImpossibleOrderDeadLetteredAtOnce orders more than stock holds: checkout accepts
// it (it does not know the stock), stock fails to reserve it, and, because retrying
// cannot fill it, the message goes to the dead-letter queue at the first attempt with
// the reason in a header.
func TestImpossibleOrderDeadLetteredAtOnce(t *testing.T) {
	amqpURL := requireRabbitMQ(t)
	binary := buildSolution(t, "06-native-otel")
	f, err := fleet.StartProcesses(context.Background(), binary, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": collector(t, false)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.Stop(); err != nil {
			t.Error(err)
		}
	})
	order := shop.Order{CustomerID: "c1", Items: []shop.Item{{SKU: "trace-mug", Quantity: 60}}} // 50 in stock
	resp, err := f.PlaceOrder(context.Background(), order, nil)
	if err != nil || resp.Status != http.StatusAccepted {
		t.Fatalf("an order for more than stock holds: %v %v, want 202 (checkout does not know the stock)", resp, err)
	}

	ch := amqpChannel(t, amqpURL)
	var dead amqp.Delivery
	deadline := time.Now().Add(15 * time.Second)
	for {
		d, ok, err := ch.Get(f.Env["AMQP_QUEUE"]+".dlq", true)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			dead = d
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the impossible order never reached the dead-letter queue\n%s", f.LogText())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if dead.MessageId != resp.OrderID() {
		t.Errorf("dead letter %s, want the order %s", dead.MessageId, resp.OrderID())
	}
	if reason, _ := dead.Headers[broker.FailureReasonHeader].(string); !strings.Contains(reason, "not enough stock") {
		t.Errorf("dead letter headers %v, want %s saying why", dead.Headers, broker.FailureReasonHeader)
	}
	attempts := 0
	for _, rec := range f.Logs() {
		if rec["msg"] == "could not reserve stock" && rec["order_id"] == resp.OrderID() {
			attempts++
		}
	}
	if attempts != 1 {
		t.Errorf("stock tried the impossible order %d times, want once", attempts)
	}
}

// TestRedisOutageHoldsOrders cuts stock off from Redis while orders arrive: stock keeps
// trying each order in place, longer than its attempts would last, and reserves every
// one once Redis is back; none is dead-lettered for an outage that was not its fault.
func TestRedisOutageHoldsOrders(t *testing.T) {
	amqpURL := requireRabbitMQ(t)
	rdb := redistest.Client(t)
	p := redistest.StartProxy(t, rdb)
	binary := buildSolution(t, "01-untraced")
	f, err := fleet.StartProcesses(context.Background(), binary, map[string]string{
		"REDIS_URL": redistest.ProxyURL(p, rdb), "WORKSHOP_REQUIRE_REDIS": "1", "AMQP_URL": amqpURL})
	if err != nil {
		t.Fatal(err)
	}
	away := false
	t.Cleanup(func() {
		if away {
			p.Restore() // so that stopping deletes the ledger
		}
		if err := f.Stop(); err != nil {
			t.Error(err)
		}
	})

	p.Cut()
	away = true
	const orders = 3
	ids := map[string]bool{}
	for range orders {
		resp, err := f.PlaceOrder(context.Background(), shop.DemoOrder(), nil)
		if err != nil || resp.Status != http.StatusAccepted {
			t.Fatalf("order while Redis is away: %v %v, want 202 (checkout does not need Redis)", resp, err)
		}
		ids[resp.OrderID()] = true
	}
	// More tries of every order than its attempts (broker.DefaultMaxAttempts) would
	// allow: had the outage used them up, the orders would be in the dead-letter queue.
	waitForLog(t, f, 20*time.Second, "stock to try every order more often than its attempts", func(recs []map[string]any) bool {
		tries := map[any]int{}
		for _, rec := range recs {
			if strings.Contains(fmt.Sprint(rec["msg"]), "dependency is unavailable") && ids[fmt.Sprint(rec["message_id"])] {
				tries[rec["message_id"]]++
			}
		}
		for id := range ids {
			if tries[id] <= broker.DefaultMaxAttempts {
				return false
			}
		}
		return true
	})
	p.Restore()
	away = false
	if err := f.WaitReserved(context.Background(), shop.DemoSKU, orders*shop.DemoQuantity); err != nil {
		t.Fatal(err)
	}
	ch := amqpChannel(t, amqpURL)
	if q, err := ch.QueueDeclarePassive(f.Env["AMQP_QUEUE"]+".dlq", true, false, false, false, nil); err != nil || q.Messages != 0 {
		t.Errorf("dead-letter queue: %+v, %v; want it empty", q, err)
	}
}

// amqpChannel opens a channel of the test's own on RabbitMQ, to look at the queues.
func amqpChannel(t *testing.T, amqpURL string) *amqp.Channel {
	t.Helper()
	conn, err := amqp.Dial(amqpURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// waitForLog waits until cond holds for the fleet's log records.
func waitForLog(t *testing.T, f *fleet.Fleet, timeout time.Duration, what string, cond func([]map[string]any) bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond(f.Logs()) {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s\n%s", timeout, what, f.LogText())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
