package receiver

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ot2otel/workshop/shared/tracecheck"
)

// TestCloseWaitsForHandlers checks that a request being decoded when Close is called
// still has its spans kept.
func TestCloseWaitsForHandlers(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	s, err := Start("/spans", func(w http.ResponseWriter, r *http.Request, keep func([]tracecheck.Span)) {
		close(entered)
		<-release
		keep([]tracecheck.Span{{Name: "late"}})
	})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		resp, err := http.Post("http://"+s.Addr()+"/spans", "text/plain", strings.NewReader("x"))
		if err == nil {
			resp.Body.Close()
		}
	}()
	<-entered

	closed := make(chan error)
	go func() { closed <- s.Close() }()
	select {
	case <-closed:
		t.Fatal("Close returned while a handler was running")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if spans := s.Spans(); len(spans) != 1 || spans[0].Name != "late" || s.Requests() != 1 {
		t.Errorf("after Close: %d requests, spans %+v", s.Requests(), spans)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := http.Post("http://"+s.Addr()+"/spans", "text/plain", nil); err == nil {
		t.Error("the server still answers after Close")
	}
}
