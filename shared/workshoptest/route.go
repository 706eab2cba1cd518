package workshoptest

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gorilla/mux"

	"github.com/ot2otel/workshop/shared/tracecheck"
)

// RoutePattern is the route with a path variable CheckRouteTemplate traces.
const RoutePattern = "/orders/{id}"

// CheckRouteTemplate sends GET /orders/ord_42 to a router whose route RoutePattern is
// traced by serverSpans, the step's server middleware for service, and checks that the
// server span is named after the route template, not the raw path: "POST /checkout"
// happens to be both, a route with a path variable tells them apart.
func CheckRouteTemplate(t *testing.T, serverSpans mux.MiddlewareFunc, spans func() []tracecheck.Span, service, todo string) {
	t.Helper()
	h := mux.NewRouter()
	h.Handle(RoutePattern, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).Methods(http.MethodGet)
	h.Use(serverSpans)
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/orders/ord_42", nil))
	want := "GET " + RoutePattern
	var names []string
	for _, s := range spans() {
		if s.Service != service || s.Kind != tracecheck.KindServer {
			continue
		}
		if s.Name == want {
			if route := s.Attrs["http.route"]; route != RoutePattern {
				t.Errorf("the server span %q has http.route %q, want %q.\nLook at %s", s.Name, route, RoutePattern, todo)
			}
			return
		}
		names = append(names, s.Name)
	}
	if len(names) == 0 {
		t.Errorf("GET /orders/ord_42, on the route %s, left no %s server span.\nLook at %s\n\nrecorded spans:\n%s",
			RoutePattern, service, todo, tracecheck.String(spans()))
		return
	}
	t.Errorf("GET /orders/ord_42 on the route %s gave a server span named %q, want %q: name it after the route "+
		"template (mux.CurrentRoute(r).GetPathTemplate()), not the raw path, or every order ID becomes an operation "+
		"of its own.\nLook at %s", RoutePattern, names[0], want, todo)
}
