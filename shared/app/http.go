package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"os"
	"strings"

	"github.com/gorilla/mux"

	"github.com/ot2otel/workshop/shared/broker"
	"github.com/ot2otel/workshop/shared/shop"
)

// ErrorBody is the JSON body of every error response.
type ErrorBody struct {
	Error string `json:"error"`
}

// WriteJSON writes v as the JSON body of a response with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client went away; nothing to do
}

// WriteError writes {"error": msg} with the given status.
func WriteError(w http.ResponseWriter, status int, msg string) {
	WriteJSON(w, status, ErrorBody{Error: msg})
}

// ReadOrder decodes and validates the order in r's body, and checks that the shop sells
// every item. On failure it has already answered with a JSON error and returns false:
// 415 for a body that is not application/json, 413 for one larger than
// shop.MaxBodyBytes, 408 for one that did not arrive within the server's ReadTimeout,
// 400 for anything else (the message names the field and the rule).
func ReadOrder(w http.ResponseWriter, r *http.Request) (shop.Order, bool) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		WriteError(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json")
		return shop.Order{}, false
	}
	order, err := shop.DecodeOrder(http.MaxBytesReader(w, r.Body, shop.MaxBodyBytes))
	if err == nil {
		err = order.Validate()
	}
	if err == nil {
		err = order.CheckCatalogue()
	}
	var tooLarge *http.MaxBytesError
	switch {
	case err == nil:
		return order, true
	case errors.As(err, &tooLarge):
		WriteError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the order is larger than the limit of %d bytes", shop.MaxBodyBytes))
	case errors.Is(err, os.ErrDeadlineExceeded):
		WriteError(w, http.StatusRequestTimeout, "the order did not arrive in time")
	case errors.Is(err, shop.ErrBadJSON), errors.As(err, new(*shop.InvalidOrderError)):
		WriteError(w, http.StatusBadRequest, err.Error())
	default:
		// The connection failed under the body: nobody may be listening, but say why.
		WriteError(w, http.StatusBadRequest, "the body could not be read")
	}
	return shop.Order{}, false
}

// ErrorsInJSON makes h's answers for an unknown path (404) and a wrong method (405)
// JSON errors like every other, when h is a *mux.Router whose NotFoundHandler and
// MethodNotAllowedHandler are not set, or wraps one behind handlers with an
// Unwrap() http.Handler method (edge.Guard's, around the gateway). Gorilla's own
// answers are a text/plain 404 and an empty 405. Serve applies it to every service, so
// the steps' routers need not.
func ErrorsInJSON(h http.Handler) http.Handler {
	inner := h
	for {
		if r, ok := inner.(*mux.Router); ok {
			if r.NotFoundHandler == nil {
				r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
					WriteError(w, http.StatusNotFound, "no such path: "+req.URL.Path)
				})
			}
			if r.MethodNotAllowedHandler == nil {
				r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
					WriteError(w, http.StatusMethodNotAllowed, "method "+req.Method+" is not allowed on "+req.URL.Path)
				})
			}
			return h
		}
		u, ok := inner.(interface{ Unwrap() http.Handler })
		if !ok {
			return h
		}
		inner = u.Unwrap()
	}
}

// PublishFailed answers a request whose event could not be published: 431 when the
// request's headers would make the message's headers larger than the broker accepts
// (the caller can fix that, retrying cannot), else 503 (the broker is away, or the
// service is shutting down: try again).
func PublishFailed(w http.ResponseWriter, err error) {
	if errors.Is(err, broker.ErrHeadersTooLarge) {
		WriteError(w, http.StatusRequestHeaderFieldsTooLarge,
			"the request's headers (trace context, baggage) would make the order's message larger than the broker accepts")
		return
	}
	WriteError(w, http.StatusServiceUnavailable, "the order could not be recorded; try again")
}

// Healthz answers 200 while ready reports nil (a nil ready is always ready), else 503.
func Healthz(ready func() error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if ready != nil {
			if err := ready(); err != nil {
				WriteError(w, http.StatusServiceUnavailable, err.Error())
				return
			}
		}
		WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}
}

// ListStock serves GET /stock. A ledger that cannot answer (Redis is down) is a 503.
func ListStock(l shop.Stock) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		items, err := l.List(r.Context())
		if err != nil {
			WriteError(w, http.StatusServiceUnavailable, "the stock cannot be read right now; try again")
			return
		}
		WriteJSON(w, http.StatusOK, items)
	}
}

// GetStock serves GET /stock/{sku}.
func GetStock(l shop.Stock) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sku := strings.TrimPrefix(r.URL.Path, "/stock/")
		item, ok, err := l.Get(r.Context(), sku)
		if err != nil {
			WriteError(w, http.StatusServiceUnavailable, "the stock cannot be read right now; try again")
			return
		}
		if !ok {
			WriteError(w, http.StatusNotFound, "unknown SKU "+sku)
			return
		}
		WriteJSON(w, http.StatusOK, item)
	}
}

// Decision of the gateway on checkout's answer, shared so every step relays the same way.

// RelayCheckout copies checkout's answer to the gateway's caller: 202, and the errors
// that are the caller's to fix (400, 431) or to retry (503), pass through; anything
// else becomes 502 because the failure is checkout's, not the caller's.
//
// Its log lines are logged with the context of the call to checkout (resp.Request's),
// so that a logger that reads the trace from the context (step 07) puts them on it.
func RelayCheckout(w http.ResponseWriter, logger *slog.Logger, resp *http.Response) {
	defer resp.Body.Close()
	ctx := context.Background()
	if resp.Request != nil {
		ctx = resp.Request.Context()
	}
	switch resp.StatusCode {
	case http.StatusAccepted, http.StatusBadRequest, http.StatusRequestHeaderFieldsTooLarge, http.StatusServiceUnavailable:
		// Checked, not decoded and encoded again: the answer passes through as it came.
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxRelayedBody+1))
		if err == nil && (len(body) > maxRelayedBody || !json.Valid(body)) {
			err = errors.New("not one JSON value within the size limit")
		}
		if err != nil {
			logger.ErrorContext(ctx, "checkout answered with a body that is not JSON", "status", resp.StatusCode, "err", err)
			WriteError(w, http.StatusBadGateway, "checkout answered with a malformed body")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(body) // the client went away; nothing to do
	default:
		var e ErrorBody
		_ = json.NewDecoder(resp.Body).Decode(&e)
		logger.ErrorContext(ctx, "checkout failed", "status", resp.StatusCode, "err", e.Error)
		WriteError(w, http.StatusBadGateway, "checkout failed: "+resp.Status)
	}
}

// maxRelayedBody bounds the answer of checkout the gateway relays.
const maxRelayedBody = 64 << 10

// CheckoutUnreachable answers a call to checkout that did not get an answer: 504 when
// checkout did not answer in time, 503 when the call was cancelled (the gateway is
// shutting down, or its caller went away), and 502 when checkout could not be reached.
func CheckoutUnreachable(w http.ResponseWriter, logger *slog.Logger, err error) {
	CheckoutUnreachableContext(context.Background(), w, logger, err)
}

// CheckoutUnreachableContext is CheckoutUnreachable logging with ctx, the request's, so
// that a logger that reads the trace from the context (step 07) puts the line on it.
func CheckoutUnreachableContext(ctx context.Context, w http.ResponseWriter, logger *slog.Logger, err error) {
	var netErr net.Error
	var opErr *net.OpError
	switch {
	case errors.As(err, &opErr) && opErr.Op == "dial":
		logger.ErrorContext(ctx, "checkout unreachable", "err", err)
		WriteError(w, http.StatusBadGateway, "checkout is unreachable")
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		logger.ErrorContext(ctx, "checkout did not answer in time", "err", err)
		WriteError(w, http.StatusGatewayTimeout, "checkout did not answer in time")
	case errors.Is(err, context.Canceled):
		logger.WarnContext(ctx, "call to checkout cancelled", "err", err)
		WriteError(w, http.StatusServiceUnavailable, "the gateway is shutting down; try again")
	default:
		logger.ErrorContext(ctx, "checkout unreachable", "err", err)
		WriteError(w, http.StatusBadGateway, "checkout is unreachable")
	}
}
