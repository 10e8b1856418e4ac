package linqfake

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// A panic in any layer becomes a 500/3006 envelope, never a stack trace,
// and is logged.
func TestPanicBecomesEnvelope(t *testing.T) {
	s := New(Options{})
	h := s.track(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("boom")
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/v3/contact_card", nil))

	var body struct {
		Error struct {
			Status, Code int
		}
		TraceID string `json:"trace_id"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("body %q is not JSON: %v", rec.Body, err)
	}
	if rec.Code != 500 || body.Error.Code != codeInternal || body.TraceID != rec.Header().Get("X-Trace-ID") {
		t.Errorf("status %d, body %s", rec.Code, rec.Body)
	}
	if log := s.Requests(); len(log) != 1 || log[0].Panic != "boom" || log[0].Status != 500 || log[0].Code != codeInternal {
		t.Errorf("log %+v", log)
	}
}
