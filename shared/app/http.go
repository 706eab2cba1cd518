package app

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"

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

// ReadOrder decodes and validates the order in r's body. On failure it has already
// answered 400 with a JSON error and returns false.
func ReadOrder(w http.ResponseWriter, r *http.Request) (shop.Order, bool) {
	order, err := shop.DecodeOrder(http.MaxBytesReader(w, r.Body, shop.MaxBodyBytes))
	if err == nil {
		err = order.Validate()
	}
	if err != nil {
		WriteError(w, http.StatusBadRequest, err.Error())
		return shop.Order{}, false
	}
	return order, true
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

// ListStock serves GET /stock.
func ListStock(l *shop.Ledger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, l.Items())
	}
}

// GetStock serves GET /stock/{sku}.
func GetStock(l *shop.Ledger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sku := strings.TrimPrefix(r.URL.Path, "/stock/")
		item, ok := l.Item(sku)
		if !ok {
			WriteError(w, http.StatusNotFound, "unknown SKU "+sku)
			return
		}
		WriteJSON(w, http.StatusOK, item)
	}
}

// Decision of the gateway on checkout's answer, shared so every step relays the same way.

// RelayCheckout copies checkout's answer to the gateway's caller: 202 and 400 pass
// through, anything else becomes 502 because the failure is checkout's, not the caller's.
func RelayCheckout(w http.ResponseWriter, logger *slog.Logger, resp *http.Response) {
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusAccepted, http.StatusBadRequest:
		// Checked, not decoded and encoded again: the answer passes through as it came.
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxRelayedBody+1))
		if err == nil && (len(body) > maxRelayedBody || !json.Valid(body)) {
			err = errors.New("not one JSON value within the size limit")
		}
		if err != nil {
			logger.Error("checkout answered with a body that is not JSON", "status", resp.StatusCode, "err", err)
			WriteError(w, http.StatusBadGateway, "checkout answered with a malformed body")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(body) // the client went away; nothing to do
	default:
		var e ErrorBody
		_ = json.NewDecoder(resp.Body).Decode(&e)
		logger.Error("checkout failed", "status", resp.StatusCode, "err", e.Error)
		WriteError(w, http.StatusBadGateway, "checkout failed: "+resp.Status)
	}
}

// maxRelayedBody bounds the answer of checkout the gateway relays.
const maxRelayedBody = 64 << 10

// CheckoutUnreachable answers 502 for a call to checkout that did not get an answer.
func CheckoutUnreachable(w http.ResponseWriter, logger *slog.Logger, err error) {
	logger.Error("checkout unreachable", "err", err)
	msg := "checkout is unreachable"
	if errors.Is(err, http.ErrHandlerTimeout) {
		msg = "checkout timed out"
	}
	WriteError(w, http.StatusBadGateway, msg)
}
