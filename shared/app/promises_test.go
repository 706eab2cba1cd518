package app

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/ot2otel/workshop/shared/broker"
)

// These tests pin what the services promise (README, "What the services promise"):
// timeouts, JSON errors, a bounded shutdown.

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// serve runs Serve with services, each on a free port (serveFree), until the test ends,
// or until the returned stop; it returns the services' addresses, in order.
func serve(t *testing.T, services ...Service) (stop func() error, addrs []string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	running, done := serveFree(t, ctx, discard(), nil, services...)
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(3 * ShutdownTimeout):
				err = errors.New("Serve did not return")
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	for _, s := range running {
		addrs = append(addrs, s.Addr)
	}
	return stop, addrs
}

// serveFree runs Serve(ctx, logger, b, services...) in the background, each service on a
// port freeAddr picks (any Addr given is replaced), and returns once every service
// listens: the services as Serve runs them, and the channel Serve's result arrives on.
//
// A port picked free can be taken by another process before Serve listens on it, on a
// machine that runs many tests at once: Serve then returns at once, having served
// nothing, "NAME: listen on ADDR: ... address already in use" for one of the ports
// picked here, and serveFree tries again on new ports (at most 5 times). It knows a
// service listens from Serve's own "listening" record, not from a dial, which the port's
// new owner would answer. Any other error of Serve's, before every service listens,
// fails the test as Serve's own.
func serveFree(t *testing.T, ctx context.Context, logger *slog.Logger, b broker.Broker, services ...Service) ([]Service, chan error) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		running := slices.Clone(services)
		picked := map[string]bool{}
		for i := range running {
			running[i].Addr = freeAddr(t)
			picked[running[i].Addr] = true
		}
		listening := make(chan string, len(running))
		log := slog.New(listeningHandler{Handler: logger.Handler(), listening: listening})
		done := make(chan error, 1)
		go func() { done <- Serve(ctx, log, b, running...) }()
		deadline := time.After(20 * time.Second)
		for n := 0; n < len(running); {
			select {
			case <-listening:
				n++
			case err := <-done:
				if attempt < 5 && inUse(err, picked) {
					t.Logf("attempt %d: a port picked free was taken before Serve listened on it (%v): trying other ports", attempt, err)
					goto retry
				}
				done <- err
				t.Fatalf("Serve returned before every service listened: %v", err)
			case <-deadline:
				t.Fatalf("after 20 s, %d of %d services listen", n, len(running))
			}
		}
		return running, done
	retry:
	}
}

// inUse reports whether err is Serve's failure to listen on one of the addresses in
// picked because another process holds it.
func inUse(err error, picked map[string]bool) bool {
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		return false
	}
	for addr := range picked {
		if strings.Contains(err.Error(), "listen on "+addr+":") {
			return true
		}
	}
	return false
}

// listeningHandler passes records on to Handler, and the service of each "listening"
// record, which Serve writes once the service's listener is open, to listening.
type listeningHandler struct {
	slog.Handler
	listening chan<- string
}

func (h listeningHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h listeningHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "listening" {
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "service" {
				h.listening <- a.Value.String()
			}
			return true
		})
	}
	if h.Handler.Enabled(ctx, r.Level) {
		return h.Handler.Handle(ctx, r)
	}
	return nil
}

func (h listeningHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return listeningHandler{Handler: h.Handler.WithAttrs(attrs), listening: h.listening}
}

func (h listeningHandler) WithGroup(name string) slog.Handler {
	return listeningHandler{Handler: h.Handler.WithGroup(name), listening: h.listening}
}

// orders is a router like checkout's: POST /orders reads an order.
func orders() *mux.Router {
	r := mux.NewRouter()
	r.HandleFunc("/orders", func(w http.ResponseWriter, r *http.Request) {
		if _, ok := ReadOrder(w, r); ok {
			WriteJSON(w, http.StatusAccepted, map[string]string{"order_id": "ord_1"})
		}
	}).Methods(http.MethodPost)
	return r
}

func TestSlowBodyTimesOut(t *testing.T) {
	t.Parallel()
	_, addrs := serve(t, Service{Name: "checkout", Handler: orders()})
	addr := addrs[0]

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	fmt.Fprintf(conn, "POST /orders HTTP/1.1\r\nHost: checkout\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
	// One byte a second, for longer than any timeout should allow.
	go func() {
		for range 3 * int(ReadTimeout/time.Second) {
			time.Sleep(time.Second)
			if _, err := conn.Write([]byte(" ")); err != nil {
				return
			}
		}
	}()
	conn.SetReadDeadline(time.Now().Add(ReadTimeout + 5*time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	elapsed := time.Since(start)
	if err != nil {
		t.Fatalf("a client sending its body one byte a second: no answer after %s (%v); want 408 within ReadTimeout (%s)",
			elapsed.Round(time.Second), err, ReadTimeout)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("a client sending its body slowly: %s (%s), want 408 in JSON", resp.Status, resp.Header.Get("Content-Type"))
	}
	if elapsed > ReadTimeout+2*time.Second {
		t.Errorf("a client sending its body slowly held the connection %s, want at most ReadTimeout (%s)", elapsed.Round(time.Second), ReadTimeout)
	}
}

// unwrapping is a handler around another, like edge.Guard around the gateway's router.
type unwrapping struct{ next http.Handler }

func (u unwrapping) ServeHTTP(w http.ResponseWriter, r *http.Request) { u.next.ServeHTTP(w, r) }
func (u unwrapping) Unwrap() http.Handler                             { return u.next }

// TestErrorsInJSONBehindWrappers: the router behind handlers that unwrap still answers
// 404 and 405 in JSON; behind one that does not, ErrorsInJSON cannot reach it (and the
// contract suite's ErrorsAreJSON catches a service built so).
func TestErrorsInJSONBehindWrappers(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    http.Handler
		json bool
	}{
		{"router", orders(), true},
		{"behind two wrappers", unwrapping{unwrapping{orders()}}, true},
		{"behind a plain HandlerFunc", func() http.Handler { r := orders(); return http.HandlerFunc(r.ServeHTTP) }(), false},
	} {
		h := ErrorsInJSON(tc.h)
		for _, req := range []*http.Request{httptest.NewRequest(http.MethodGet, "/nope", nil), httptest.NewRequest(http.MethodPut, "/orders", nil)} {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			var body ErrorBody
			isJSON := rec.Header().Get("Content-Type") == "application/json" && json.Unmarshal(rec.Body.Bytes(), &body) == nil && body.Error != ""
			if isJSON != tc.json {
				t.Errorf("%s: %s %s: %d %q %q, want JSON: %v", tc.name, req.Method, req.URL.Path, rec.Code, rec.Header().Get("Content-Type"), rec.Body, tc.json)
			}
		}
	}
}

func TestUnknownPathAndMethodAreJSON(t *testing.T) {
	t.Parallel()
	_, addrs := serve(t, Service{Name: "checkout", Handler: orders()})
	addr := addrs[0]
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/nope", http.StatusNotFound},
		{http.MethodGet, "/orders", http.StatusMethodNotAllowed},
		{http.MethodDelete, "/orders", http.StatusMethodNotAllowed},
	} {
		req, _ := http.NewRequest(tc.method, "http://"+addr+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body ErrorBody
		decodeErr := json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != tc.want || resp.Header.Get("Content-Type") != "application/json" || decodeErr != nil || body.Error == "" {
			t.Errorf("%s %s: %d %q (%v), want %d with a JSON error", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), decodeErr, tc.want)
		}
	}
}

func TestReadOrderAnswers(t *testing.T) {
	good := `{"customer_id": "c1", "items": [{"sku": "trace-mug", "quantity": 1}]}`
	for _, tc := range []struct {
		name, contentType, body string
		want                    int
		wantErr                 string
	}{
		{"JSON", "application/json", good, 202, ""},
		{"JSON with charset", "application/json; charset=utf-8", good, 202, ""},
		{"no content type", "", good, 415, "Content-Type must be application/json"},
		{"form", "application/x-www-form-urlencoded", good, 415, "Content-Type must be application/json"},
		{"text", "text/plain", good, 415, "Content-Type must be application/json"},
		{"mistyped customer", "application/json", `{"customer_id": 7, "items": [{"sku": "trace-mug", "quantity": 1}]}`, 400, "customer_id must be a string"},
		{"mistyped quantity", "application/json", `{"customer_id": "c1", "items": [{"sku": "trace-mug", "quantity": "two"}]}`, 400, "items[0].quantity must be a whole number"},
		{"unknown field", "application/json", `{"customer_id": "c1", "items": [], "coupon": "FREE"}`, 400, "coupon is not a field of an order"},
		{"unknown SKU", "application/json", `{"customer_id": "c1", "items": [{"sku": "unicorn", "quantity": 1}]}`, 400, `items[0].sku "unicorn" is not in the catalogue`},
		{"too large", "application/json", `{"customer_id": "` + strings.Repeat("x", 70<<10) + `"}`, 413, "larger than"},
	} {
		req := httptest.NewRequest(http.MethodPost, "/orders", strings.NewReader(tc.body))
		if tc.contentType != "" {
			req.Header.Set("Content-Type", tc.contentType)
		}
		rec := httptest.NewRecorder()
		orders().ServeHTTP(rec, req)
		var body ErrorBody
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		if rec.Code != tc.want || !strings.Contains(body.Error, tc.wantErr) {
			t.Errorf("%s: %d %s, want %d saying %q", tc.name, rec.Code, rec.Body, tc.want, tc.wantErr)
		}
		for _, goism := range []string{"Go ", "struct", "shop.", " int", "json:"} {
			if strings.Contains(body.Error, goism) {
				t.Errorf("%s: the error %q shows Go's types (%q); it must name the field and the rule", tc.name, body.Error, goism)
			}
		}
	}
}

func TestCheckoutUnreachableSaysWhy(t *testing.T) {
	timeoutErr := (&http.Client{Timeout: time.Millisecond}).Do
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer hang.Close()
	req, _ := http.NewRequest(http.MethodPost, hang.URL, nil)
	_, slow := timeoutErr(req)
	closed := freeAddr(t)
	_, refused := http.Post("http://"+closed, "application/json", nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req, _ = http.NewRequestWithContext(ctx, http.MethodPost, hang.URL, nil)
	_, cancelled := http.DefaultClient.Do(req)
	for _, tc := range []struct {
		name string
		err  error
		want int
	}{
		{"timed out", slow, http.StatusGatewayTimeout},
		{"deadline", fmt.Errorf("post: %w", context.DeadlineExceeded), http.StatusGatewayTimeout},
		{"refused", refused, http.StatusBadGateway},
		{"cancelled", cancelled, http.StatusServiceUnavailable},
	} {
		rec := httptest.NewRecorder()
		CheckoutUnreachable(rec, discard(), tc.err)
		if rec.Code != tc.want || rec.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%s (%v): %d %s, want %d in JSON", tc.name, tc.err, rec.Code, rec.Body, tc.want)
		}
	}
}

// TestShutdownAnswersRequestsInFlight stands in for checkout with the broker down and
// callers that never time out: its handler waits for its context, as Publish waits for
// the broker. Shutdown must still answer every request, in JSON, and return in time.
func TestShutdownAnswersRequestsInFlight(t *testing.T) {
	t.Parallel()
	started := make(chan struct{}, 10)
	waiting := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-r.Context().Done()
		PublishFailed(w, r.Context().Err())
	})
	ctx, cancel := context.WithCancel(context.Background())
	running, done := serveFree(t, ctx, discard(), broker.NewMemory(broker.Config{}), Service{Name: "checkout", Handler: waiting})
	addr := running[0].Addr

	const callers = 3
	answers := make(chan string, callers)
	for range callers {
		go func() {
			// No timeout: the caller waits as long as it takes.
			resp, err := http.Post("http://"+addr+"/orders", "application/json", strings.NewReader("{}"))
			if err != nil {
				answers <- "no answer: " + err.Error()
				return
			}
			defer resp.Body.Close()
			var body ErrorBody
			if json.NewDecoder(resp.Body).Decode(&body) != nil {
				answers <- fmt.Sprintf("%d without a JSON body", resp.StatusCode)
				return
			}
			answers <- fmt.Sprintf("%d", resp.StatusCode)
		}()
	}
	for range callers {
		<-started
	}
	start := time.Now()
	cancel()
	var err error
	select {
	case err = <-done:
	case <-time.After(ShutdownTimeout + 5*time.Second):
		t.Fatalf("Serve had not returned %s after the shutdown began, with %d requests in flight", time.Since(start).Round(time.Second), callers)
	}
	if elapsed := time.Since(start); elapsed > ShutdownTimeout {
		t.Errorf("shutdown took %s, more than ShutdownTimeout (%s)", elapsed.Round(time.Millisecond), ShutdownTimeout)
	}
	if err != nil {
		t.Errorf("Serve after a shutdown with requests in flight: %v, want nil (exit 0)", err)
	}
	for range callers {
		select {
		case a := <-answers:
			if a != "503" {
				t.Errorf("a caller in flight at shutdown got %s, want a JSON 503", a)
			}
		case <-time.After(time.Second):
			t.Fatal("a caller in flight at shutdown had no answer after Serve returned")
		}
	}
}

// TestShutdownClosesInParallel gives three services a Close that hangs, as a tracer
// provider's does when its collector does not answer: together they cost the shutdown
// budget once.
func TestShutdownClosesInParallel(t *testing.T) {
	t.Parallel()
	var services []Service
	var mu sync.Mutex
	var deadlines []bool
	for _, name := range []string{"stock", "checkout", "gateway"} {
		services = append(services, Service{Name: name, Handler: http.NotFoundHandler(),
			Close: func(ctx context.Context) error {
				_, ok := ctx.Deadline()
				mu.Lock()
				deadlines = append(deadlines, ok)
				mu.Unlock()
				<-ctx.Done()
				return ctx.Err()
			}})
	}
	stop, _ := serve(t, services...)
	start := time.Now()
	errc := make(chan error, 1)
	go func() { errc <- stop() }()
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("Serve: %v; a Close that fails loses spans, not orders, and is logged, not returned", err)
		}
	case <-time.After(ShutdownTimeout + 5*time.Second):
		t.Fatalf("with three hung Closes, Serve had not returned after %s", time.Since(start).Round(time.Second))
	}
	if elapsed := time.Since(start); elapsed > ShutdownTimeout+time.Second {
		t.Errorf("three hung Closes made the shutdown take %s, want at most ShutdownTimeout (%s)", elapsed.Round(time.Millisecond), ShutdownTimeout)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(deadlines) != 3 {
		t.Errorf("%d of 3 Closes ran", len(deadlines))
	}
}

func TestPublishFailedSaysWhoCanFixIt(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{fmt.Errorf("publish ord_1 to shop: %w: 204800 bytes", broker.ErrHeadersTooLarge), http.StatusRequestHeaderFieldsTooLarge},
		{fmt.Errorf("publish ord_1 to shop: not connected: %w", context.DeadlineExceeded), http.StatusServiceUnavailable},
		{fmt.Errorf("publish ord_1 to shop: %w", context.Canceled), http.StatusServiceUnavailable},
	} {
		rec := httptest.NewRecorder()
		PublishFailed(rec, tc.err)
		var body ErrorBody
		if rec.Code != tc.want || json.Unmarshal(rec.Body.Bytes(), &body) != nil || body.Error == "" {
			t.Errorf("%v: %d %s, want %d with a JSON error", tc.err, rec.Code, rec.Body, tc.want)
		}
	}
}
