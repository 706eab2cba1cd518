package workshop

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ot2otel/workshop/shared/app"
	"github.com/ot2otel/workshop/shared/fleet"
	"github.com/ot2otel/workshop/shared/redistest"
	"github.com/ot2otel/workshop/shared/shop"
)

// TestStockKilledMidLoad kills the stock process with SIGKILL while orders pour in,
// and starts it again, as a crash and a restart in production would: every order the
// gateway answered 202 is reserved exactly once (its message, unacked when stock died,
// comes back, and the ledger in Redis recognises it), and what was reserved before the
// kill is still there. The three services are processes of their own, on the real
// RabbitMQ and the real Redis.
func TestStockKilledMidLoad(t *testing.T) {
	amqpURL := requireRabbitMQ(t)
	rdb := redistest.Client(t)
	binary := buildSolution(t, "01-untraced")

	addrs := freeAddrs(t, 3)
	suffix := shop.NewRequestID()[:12]
	env := map[string]string{"AMQP_EXCHANGE": "ws-kill-" + suffix, "AMQP_QUEUE": "ws-kill-stock-" + suffix}
	deleteTopology(t, amqpURL, env)
	cfg, err := app.LoadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { redistest.DeleteKeys(t, rdb, app.LedgerPrefix(cfg)) })
	environ := append(os.Environ(), "GATEWAY_ADDR="+addrs[0], "CHECKOUT_ADDR="+addrs[1], "STOCK_ADDR="+addrs[2],
		"CHECKOUT_URL=http://"+addrs[1], "AMQP_URL="+amqpURL, "REDIS_URL="+redistest.URL(),
		"WORKSHOP_REQUIRE_RABBITMQ=1", "WORKSHOP_REQUIRE_REDIS=1", "LOG_FORMAT=json",
		// Enough stock that no order fails for want of it: every accepted order must be reserved.
		"STOCK_QUANTITY=1000000",
		"AMQP_EXCHANGE="+env["AMQP_EXCHANGE"], "AMQP_QUEUE="+env["AMQP_QUEUE"])
	var logs fleet.Buffer
	start := func(service string) *exec.Cmd {
		cmd := exec.Command(binary, service)
		cmd.Env = environ
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd
	}
	client := &http.Client{Timeout: 15 * time.Second}
	healthy := func(addr string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			resp, err := client.Get("http://" + addr + "/healthz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s/healthz never answered 200 (%v)\nlogs:\n%s", addr, err, logs.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	stock := start(app.Stock)
	healthy(addrs[2])
	for _, s := range []string{app.Checkout, app.Gateway} {
		start(s)
	}
	healthy(addrs[1])
	healthy(addrs[0])
	initial := stockOf(t, client, addrs[2])

	// Clients place orders of one to three stickers until told to stop; the test keeps
	// every order the gateway accepted.
	var (
		mu       sync.Mutex
		accepted = map[string]int{} // order ID → quantity
		refused  atomic.Int64
	)
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for c := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				q := 1 + (c+i)%3
				body := fmt.Sprintf(`{"customer_id": "kill-%d", "items": [{"sku": %q, "quantity": %d}]}`, c, loadSKU, q)
				resp, err := client.Post("http://"+addrs[0]+"/checkout", "application/json", strings.NewReader(body))
				if err != nil {
					refused.Add(1)
					continue
				}
				var v struct {
					OrderID string `json:"order_id"`
				}
				_ = json.NewDecoder(resp.Body).Decode(&v)
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted || v.OrderID == "" {
					refused.Add(1)
					continue
				}
				mu.Lock()
				accepted[v.OrderID] = q
				mu.Unlock()
			}
		}()
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(accepted) }
	waitFor := func(n int) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for count() < n {
			if time.Now().After(deadline) {
				t.Fatalf("only %d orders accepted in 60 s, want %d\nlogs:\n%s", count(), n, logs.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	waitFor(200)
	reservedBefore := stockOf(t, client, addrs[2]).Reserved - initial.Reserved
	if err := stock.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = stock.Wait()
	// What Redis held when stock died: none of it may be lost.
	before, err := rdb.ZRange(context.Background(), app.LedgerPrefix(cfg)+"orders", 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	killedAt := count()
	// Checkout keeps accepting while stock is down: RabbitMQ holds the orders.
	waitFor(killedAt + 100)
	start(app.Stock)
	healthy(addrs[2])
	waitFor(count() + 200)
	stop()
	wg.Wait()

	mu.Lock()
	want := 0
	for _, q := range accepted {
		want += q
	}
	n := len(accepted)
	mu.Unlock()
	t.Logf("%d orders accepted (%d before the kill), %d refused or failed; %d orders in Redis at the kill",
		n, killedAt, refused.Load(), len(before))
	defer func() {
		t.Logf("redeliveries the restarted stock recognised: %d", strings.Count(logs.String(), "ignoring the redelivery"))
	}()
	if len(before) == 0 {
		if reservedBefore > 0 {
			t.Fatalf("stock had reserved %d stickers before the kill, but Redis remembers no order under %s: "+
				"stock does not keep its ledger in Redis (see app.OpenLedger)", reservedBefore, app.LedgerPrefix(cfg))
		}
		t.Fatal("no order was reserved before the kill: the test killed stock too early to prove anything")
	}

	// Wait until stock has worked through the queue.
	deadline := time.Now().Add(60 * time.Second)
	var got shop.StockItem
	for {
		got = stockOf(t, client, addrs[2])
		if got.Reserved-initial.Reserved >= want || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // a double reservation would show up by now
	got = stockOf(t, client, addrs[2])
	if reserved := got.Reserved - initial.Reserved; reserved != want {
		t.Errorf("%d stickers reserved, want %d, the sum of the %d accepted orders (more: an order reserved twice; fewer: one lost)\nlogs:\n%s",
			reserved, want, n, logs.String())
	}
	if got.Available+got.Reserved != initial.Available+initial.Reserved {
		t.Errorf("available %d + reserved %d != %d: stock was made or lost", got.Available, got.Reserved, initial.Available+initial.Reserved)
	}
	remembered, err := rdb.ZRange(context.Background(), app.LedgerPrefix(cfg)+"orders", 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	set := map[string]bool{}
	for _, id := range remembered {
		set[id] = true
	}
	mu.Lock()
	defer mu.Unlock()
	missing := 0
	for id := range accepted {
		if !set[id] {
			missing++
		}
	}
	if missing > 0 || len(remembered) != len(accepted) {
		t.Errorf("Redis remembers %d orders, %d of the %d accepted ones missing", len(remembered), missing, len(accepted))
	}
	for _, id := range before {
		if !set[id] {
			t.Errorf("order %s, reserved before the kill, is gone after the restart", id)
		}
	}
}

// stockOf returns stock's view of loadSKU.
func stockOf(t *testing.T, client *http.Client, addr string) shop.StockItem {
	t.Helper()
	resp, err := client.Get("http://" + addr + "/stock/" + loadSKU)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var item shop.StockItem
	if err := json.NewDecoder(resp.Body).Decode(&item); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /stock/%s: %s, %v", loadSKU, resp.Status, err)
	}
	return item
}

// loadSKU is the SKU every order of the test asks for.
const loadSKU = "span-sticker"
