package workshoptest

import (
	"context"
	"io"
	"net/http"
	"slices"
	"testing"

	"github.com/ot2otel/workshop/shared/tracecheck"
)

// StockAPIHop is stock's server span for GET /stock/{sku}: stock's HTTP API is traced
// like the other two services', with the same serverSpans middleware, so the ledger's
// Redis calls sit under it instead of making traces of their own.
func StockAPIHop(todo string) tracecheck.Hop {
	return tracecheck.Hop{Service: "stock", Kind: tracecheck.KindServer, Name: "GET /stock/{sku}", Todo: todo}
}

// AskStock asks stock for the demo SKU as a caller with no trace context does (the
// fleet's own polls ask not to be sampled, so they leave no span).
func (f *Fleet) AskStock() {
	f.t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, f.StockURL+"/stock/"+DemoSKU, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatalf("GET /stock/%s: %v", DemoSKU, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		f.t.Fatalf("GET /stock/%s: %s", DemoSKU, resp.Status)
	}
}

// CheckStockAPI checks that spans hold the trace of one AskStock: stock's server span
// hop as its root, with the ledger's Redis calls (client spans of stock) under it and
// nothing else. It returns the other spans, the order's.
func CheckStockAPI(t *testing.T, spans []tracecheck.Span, hop tracecheck.Hop) []tracecheck.Span {
	t.Helper()
	server, ok := tracecheck.Find(spans, hop)
	if !ok {
		t.Errorf("GET /stock/%s made no %s span: stock's HTTP API is traced like the others' (r.Use(serverSpans(...)) in newStockAPI, stock.go).\n"+
			"Look at %s\n\nrecorded spans:\n%s", DemoSKU, hop, hop.Todo, tracecheck.String(spans))
		// Its Redis calls are then a trace of their own: leave them out of the order's.
		return slices.DeleteFunc(slices.Clone(spans), func(s tracecheck.Span) bool {
			return s.Service == "stock" && s.Kind == tracecheck.KindClient && s.ParentID == ""
		})
	}
	trace := tracecheck.Filter(spans, server.TraceID)
	if server.ParentID != "" {
		t.Errorf("the %s span has a parent (%s) though the request carried no trace context:\n%s", hop, server.ParentID, tracecheck.String(trace))
	}
	redis := 0
	for _, s := range trace {
		switch {
		case s.SpanID == server.SpanID:
		case s.Service == "stock" && s.Kind == tracecheck.KindClient && s.ParentID == server.SpanID:
			redis++
		default:
			t.Errorf("the trace of GET /stock/%s holds %s %q (%s), want only stock's Redis calls under %s:\n%s",
				DemoSKU, s.Service, s.Name, s.Kind, hop, tracecheck.String(trace))
		}
	}
	if redis == 0 && CheckRedis(t) == nil {
		t.Errorf("no Redis call of the ledger under %s: the handler reads the ledger with the request's context, "+
			"which holds the server span.\nLook at %s\n\n%s", hop, hop.Todo, tracecheck.String(trace))
	}
	return slices.DeleteFunc(slices.Clone(spans), func(s tracecheck.Span) bool { return s.TraceID == server.TraceID })
}
