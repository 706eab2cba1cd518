// Package fleet starts a step's whole system in this process, the way its binary's
// `all` command would, on free loopback ports and with its own exchange and queue, and
// talks to it over real HTTP. The step tests and the demo both use it.
package fleet

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ot2otel/workshop/shared/app"
	"github.com/ot2otel/workshop/shared/broker"
	"github.com/ot2otel/workshop/shared/shop"
)

// RunFunc is a step's run: what main calls, and what a fleet starts.
type RunFunc func(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error

// Fleet is a running system.
type Fleet struct {
	GatewayURL  string
	CheckoutURL string
	StockURL    string
	// MetricsURLs are the base URLs of the services' /metrics, by service name, for the
	// steps that serve metrics (GATEWAY_METRICS_ADDR...); other steps ignore them.
	MetricsURLs map[string]string
	// Env is the environment the fleet was started with (on top of the process's).
	Env map[string]string

	logs   *Buffer
	stop   func() error // stops what Start or StartProcesses started
	exited chan error   // receives an error if the system stops by itself
	client *http.Client
	broker broker.Config
	cfg    app.Config
}

// Config is the configuration the fleet's services read.
func (f *Fleet) Config() app.Config { return f.cfg }

// Start runs run(ctx, {"fleet", "all"}, ...) with free addresses, a unique exchange and
// queue, JSON logs captured in memory, and env on top of the process's environment, and
// waits until every service answers /healthz.
func Start(ctx context.Context, run RunFunc, env map[string]string) (*Fleet, error) {
	return retryPorts(func() (*Fleet, error) { return start(ctx, run, env) })
}

// retryPorts starts a fleet again, on other ports, when one of the free ports it picked
// was taken by another process before its service listened on it: on a machine running
// many tests at once, that happens.
func retryPorts(start func() (*Fleet, error)) (*Fleet, error) {
	for attempt := 1; ; attempt++ {
		f, err := start()
		if err == nil || attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			return f, err
		}
	}
}

func start(ctx context.Context, run RunFunc, env map[string]string) (*Fleet, error) {
	f, getenv, err := newFleet(env)
	if err != nil {
		return nil, err
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() {
		err := run(rctx, []string{"fleet", "all"}, getenv, f.logs)
		done <- err
		if rctx.Err() == nil {
			f.exited <- fmt.Errorf("run returned before it was asked to stop: %v", err)
		}
	}()
	f.stop = sync.OnceValue(func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(2*app.ShutdownTimeout + 5*time.Second):
			return errors.New("the fleet did not stop within its shutdown timeout")
		}
	})
	return f, f.start(ctx)
}

// StartProcesses runs the step binary at path as three processes, `stock`, `checkout`
// and `gateway`, as they would be deployed, with the same environment as Start gives
// (env on top of the process's). They can only meet through RabbitMQ.
func StartProcesses(ctx context.Context, binary string, env map[string]string) (*Fleet, error) {
	return retryPorts(func() (*Fleet, error) { return startProcesses(ctx, binary, env) })
}

func startProcesses(ctx context.Context, binary string, env map[string]string) (*Fleet, error) {
	f, _, err := newFleet(env)
	if err != nil {
		return nil, err
	}
	environ := os.Environ()
	for k, v := range f.Env {
		environ = append(environ, k+"="+v)
	}
	type proc struct {
		cmd  *exec.Cmd
		done chan error
	}
	var procs []proc
	stopping := make(chan struct{})
	for _, service := range []string{app.Stock, app.Checkout, app.Gateway} {
		cmd := exec.Command(binary, service)
		cmd.Env = environ
		w := &lineWriter{dst: f.logs}
		cmd.Stdout, cmd.Stderr = w, w
		if err := cmd.Start(); err != nil {
			for _, p := range procs {
				p.cmd.Process.Kill()
			}
			return nil, fmt.Errorf("start %s %s: %w", binary, service, err)
		}
		p := proc{cmd: cmd, done: make(chan error, 1)}
		go func() {
			err := cmd.Wait()
			p.done <- err
			select {
			case <-stopping:
			default:
				f.exited <- fmt.Errorf("%s exited before it was asked to stop: %v", service, err)
			}
		}()
		procs = append(procs, p)
	}
	f.stop = sync.OnceValue(func() error {
		close(stopping)
		var errs []error
		// Upstream first, so nothing in flight loses the service it is calling.
		for i := len(procs) - 1; i >= 0; i-- {
			p := procs[i]
			name := p.cmd.Args[1]
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case err := <-p.done:
				if err != nil {
					errs = append(errs, fmt.Errorf("%s did not exit cleanly on SIGTERM: %w", name, err))
				}
			case <-time.After(2*app.ShutdownTimeout + 5*time.Second):
				p.cmd.Process.Kill()
				errs = append(errs, fmt.Errorf("%s did not stop within its shutdown timeout", name))
			}
		}
		return errors.Join(errs...)
	})
	return f, f.start(ctx)
}

// newFleet picks the fleet's addresses and names.
func newFleet(env map[string]string) (*Fleet, func(string) string, error) {
	addrs, err := freeAddrs(6)
	if err != nil {
		return nil, nil, err
	}
	suffix := randomSuffix()
	merged := map[string]string{
		"GATEWAY_ADDR":  addrs[0],
		"CHECKOUT_ADDR": addrs[1],
		"STOCK_ADDR":    addrs[2],
		// The steps with metrics serve them on addresses of their own.
		"GATEWAY_METRICS_ADDR":  addrs[3],
		"CHECKOUT_METRICS_ADDR": addrs[4],
		"STOCK_METRICS_ADDR":    addrs[5],
		"CHECKOUT_URL":          "http://" + addrs[1],
		"AMQP_EXCHANGE":         "ws-" + suffix,
		"AMQP_QUEUE":            "ws-stock-" + suffix,
		"LOG_FORMAT":            "json",
	}
	for k, v := range env {
		merged[k] = v
	}
	getenv := func(key string) string {
		if v, ok := merged[key]; ok {
			return v
		}
		return os.Getenv(key)
	}
	cfg, err := app.LoadConfig(getenv)
	if err != nil {
		return nil, nil, err
	}
	return &Fleet{
		GatewayURL:  "http://" + addrs[0],
		CheckoutURL: "http://" + addrs[1],
		StockURL:    "http://" + addrs[2],
		MetricsURLs: map[string]string{
			app.Gateway: "http://" + merged["GATEWAY_METRICS_ADDR"], app.Checkout: "http://" + merged["CHECKOUT_METRICS_ADDR"],
			app.Stock: "http://" + merged["STOCK_METRICS_ADDR"]},
		Env:    merged,
		logs:   &Buffer{},
		exited: make(chan error, 3),
		client: &http.Client{Timeout: 10 * time.Second},
		broker: cfg.Broker,
		cfg:    cfg,
	}, getenv, nil
}

// start waits for the system to be ready, and stops it if it never is.
func (f *Fleet) start(ctx context.Context) error {
	if err := f.waitReady(ctx); err != nil {
		return errors.Join(err, f.Stop())
	}
	return nil
}

func (f *Fleet) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	for _, base := range []string{f.StockURL, f.CheckoutURL, f.GatewayURL} {
		for {
			select {
			case err := <-f.exited:
				return fmt.Errorf("the system stopped while starting: %v\nlogs:\n%s", err, f.logs)
			default:
			}
			resp, err := f.client.Get(base + "/healthz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return fmt.Errorf("%s/healthz never answered 200 (last error: %v)\nlogs:\n%s", base, err, f.logs)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}

// Stop asks the system to shut down, as SIGTERM would, waits for it to stop and deletes
// its exchange and queues, and its ledger in Redis. It returns an error unless the
// shutdown was clean.
func (f *Fleet) Stop() error {
	err := f.stop()
	if err != nil {
		err = fmt.Errorf("shutdown: %w\nlogs:\n%s", err, f.logs)
	}
	dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if rerr := broker.Reachable(dctx, f.broker.URL); rerr == nil {
		if derr := broker.DeleteTopology(dctx, f.broker); derr != nil {
			err = errors.Join(err, derr)
		}
	}
	if derr := app.DeleteLedger(dctx, f.cfg); derr != nil {
		err = errors.Join(err, derr)
	}
	return err
}

// Response is an answer from the fleet.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// OrderID is the order_id of a 202 response's body, or "".
func (r Response) OrderID() string {
	var v struct {
		OrderID string `json:"order_id"`
	}
	_ = json.Unmarshal(r.Body, &v)
	return v.OrderID
}

// Error is the error of an error response's body, or "".
func (r Response) Error() string {
	var v app.ErrorBody
	_ = json.Unmarshal(r.Body, &v)
	return v.Error
}

// PlaceOrder posts body (an order, or raw JSON as []byte or string) to the gateway's
// POST /checkout with the given headers.
func (f *Fleet) PlaceOrder(ctx context.Context, body any, header http.Header) (Response, error) {
	return f.Post(ctx, f.GatewayURL+"/checkout", body, header)
}

// Post posts body as JSON to url.
func (f *Fleet) Post(ctx context.Context, url string, body any, header http.Header) (Response, error) {
	var raw []byte
	switch b := body.(type) {
	case []byte:
		raw = b
	case string:
		raw = []byte(b)
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			return Response{}, err
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(raw))
	if err != nil {
		return Response{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return Response{}, fmt.Errorf("POST %s: %w", url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return Response{}, fmt.Errorf("POST %s: read body: %w", url, err)
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: data}, nil
}

// Stock returns stock's view of one SKU. Its request asks not to be sampled, in both
// header formats, so that stock's traced API records nothing of the polls that wait for
// an order: what a fleet records is the order's trace and nothing else.
func (f *Fleet) Stock(ctx context.Context, sku string) (shop.StockItem, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.StockURL+"/stock/"+sku, nil)
	if err != nil {
		return shop.StockItem{}, err
	}
	for k, v := range NotSampled() {
		req.Header.Set(k, v)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return shop.StockItem{}, fmt.Errorf("GET /stock/%s: %w", sku, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return shop.StockItem{}, fmt.Errorf("GET /stock/%s: %s", sku, resp.Status)
	}
	var item shop.StockItem
	if err := json.NewDecoder(resp.Body).Decode(&item); err != nil {
		return shop.StockItem{}, fmt.Errorf("GET /stock/%s: %w", sku, err)
	}
	return item, nil
}

// WaitReserved waits until stock has reserved at least n of sku. It gives up at once
// when stock's consumer has dead-lettered a message: a consumer that keeps failing
// fails fast, with the reason it logged, instead of after the timeout.
func (f *Fleet) WaitReserved(ctx context.Context, sku string, n int) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	var last shop.StockItem
	for {
		item, err := f.Stock(ctx, sku)
		if err == nil {
			last = item
			if item.Reserved >= n {
				return nil
			}
		}
		if rec := deadLettered(f.logs.Records()); rec != nil {
			return fmt.Errorf("stock never reserved %d of %s (reserved %d): its consumer dead-lettered message %v after it failed: %v\nlogs:\n%s",
				n, sku, last.Reserved, rec["message_id"], rec["error"], f.logs)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stock never reserved %d of %s (reserved %d): the event did not reach the stock consumer\nlogs:\n%s",
				n, sku, last.Reserved, f.logs)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// WaitDeadLettered waits until stock's consumer has dead-lettered a message, and returns
// the log record that says so.
func (f *Fleet) WaitDeadLettered(ctx context.Context) (map[string]any, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	for {
		if rec := deadLettered(f.logs.Records()); rec != nil {
			return rec, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("stock's consumer dead-lettered no message\nlogs:\n%s", f.logs)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// deadLettered is the first log record of a message dead-lettered by its consumer, or nil.
func deadLettered(records []map[string]any) map[string]any {
	for _, rec := range records {
		if msg, _ := rec["msg"].(string); strings.Contains(msg, "dead-lettering the message") {
			return rec
		}
	}
	return nil
}

// Logs returns the log records written so far, each decoded from one JSON line.
func (f *Fleet) Logs() []map[string]any { return f.logs.Records() }

// LogText returns everything logged so far.
func (f *Fleet) LogText() string { return f.logs.String() }

// Buffer is an io.Writer safe for concurrent use that keeps what was written.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Records decodes the buffer as JSON lines, skipping lines that are not JSON objects.
func (b *Buffer) Records() []map[string]any { return DecodeLogs(b.String()) }

// DecodeLogs decodes JSON log lines, skipping lines that are not JSON objects.
func DecodeLogs(text string) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(text, "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil {
			out = append(out, rec)
		}
	}
	return out
}

func freeAddrs(n int) ([]string, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	var addrs []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		lns = append(lns, ln)
		addrs = append(addrs, ln.Addr().String())
	}
	return addrs, nil
}

func randomSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// lineWriter passes whole lines to dst, so that the logs of several processes
// interleave by line, never inside one.
type lineWriter struct {
	dst *Buffer
	buf []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	if i := bytes.LastIndexByte(w.buf, '\n'); i >= 0 {
		w.dst.Write(w.buf[:i+1])
		w.buf = append(w.buf[:0], w.buf[i+1:]...)
	}
	return len(p), nil
}

// NotSampled are request headers that carry a new trace context whose sampled flag is
// off, in W3C Trace Context and in jaeger's format (one trace, so a service that reads
// both agrees): a traced service that follows its caller's decision records nothing of
// the request.
func NotSampled() map[string]string {
	var ids [24]byte
	if _, err := rand.Read(ids[:]); err != nil {
		panic(err) // crypto/rand never fails on the systems Go supports
	}
	trace, span := hex.EncodeToString(ids[:16]), hex.EncodeToString(ids[16:])
	return map[string]string{
		"traceparent":   "00-" + trace + "-" + span + "-00",
		"uber-trace-id": trace + ":" + span + ":0:0",
	}
}
