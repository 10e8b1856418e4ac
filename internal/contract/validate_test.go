package contract_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/bulksync/bulksync/internal/contract"
)

// ValidatingHandler must catch a fake that breaks the contract, or the
// contract tests prove nothing.
func TestValidatingHandlerReports(t *testing.T) {
	const traceID = "0123456789abcdef0123456789abcdef"
	envelope := func(status, code int, trace string) string {
		return fmt.Sprintf(`{"success":false,"error":{"status":%d,"code":%d,"message":"m"},"trace_id":%q}`, status, code, trace)
	}
	tests := []struct {
		name    string
		method  string
		target  string
		auth    bool
		body    string
		status  int    // answered by the broken handler
		answer  string // its body
		trace   string // its X-Trace-ID
		wantErr string // "" means no violation
	}{
		{"valid list", "GET", "/v3/contact_card", true, "", 200, `{"contact_cards":[]}`, traceID, ""},
		{"error to a request without token", "GET", "/v3/contact_card", false, "", 401, envelope(401, 2004, traceID), traceID, ""},
		{"error to a bad body", "POST", "/v3/contact_card", true, `{"first_name":1}`, 400, envelope(400, 1003, traceID), traceID, ""},
		{"2xx to a request without token", "GET", "/v3/contact_card", false, "", 200, `{"contact_cards":[]}`, traceID, "yet was accepted"},
		{"2xx to a bad body", "POST", "/v3/contact_card", true, `{"first_name":1}`, 200, `{"phone_number":"+1","first_name":"A","is_active":true}`, traceID, "yet was accepted"},
		{"null list", "GET", "/v3/contact_card", true, "", 200, `{"contact_cards":null}`, traceID, "does not fit the spec"},
		{"missing is_active", "POST", "/v3/contact_card", true, `{"phone_number":"+14155550101","first_name":"A"}`, 200, `{"phone_number":"+14155550101","first_name":"A"}`, traceID, "does not fit the spec"},
		{"undeclared status", "GET", "/v3/contact_card", true, "", 409, envelope(409, 2014, traceID), traceID, "status is not supported"},
		{"no trace id", "GET", "/v3/contact_card", true, "", 200, `{"contact_cards":[]}`, "", "X-Trace-ID"},
		{"upper-case trace id", "GET", "/v3/contact_card", true, "", 200, `{"contact_cards":[]}`, strings.ToUpper(traceID), "X-Trace-ID"},
		{"trace_id differs", "GET", "/v3/contact_card", true, "", 500, envelope(500, 3006, "ffffffffffffffffffffffffffffffff"), traceID, "differs from X-Trace-ID"},
		{"error.status differs", "GET", "/v3/contact_card", true, "", 500, envelope(503, 4004, traceID), traceID, "error.status is 503"},
		{"plain text 404", "GET", "/nowhere", true, "", 404, "404 page not found\n", traceID, "Content-Type"},
		{"envelope 404", "GET", "/nowhere", true, "", 404, envelope(404, 2001, traceID), traceID, ""},
		{"not an envelope", "GET", "/nowhere", true, "", 404, `{"error":"nope"}`, traceID, "not the envelope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			broken := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.trace != "" {
					w.Header().Set("X-Trace-ID", tc.trace)
				}
				if strings.HasPrefix(tc.answer, "{") {
					w.Header().Set("Content-Type", "application/json")
				} else {
					w.Header().Set("Content-Type", "text/plain; charset=utf-8")
				}
				w.WriteHeader(tc.status)
				fmt.Fprint(w, tc.answer)
			})
			var mu sync.Mutex
			var violations []string
			h := contract.ValidatingHandler(broken, func(err error) {
				mu.Lock()
				defer mu.Unlock()
				violations = append(violations, err.Error())
			})
			req := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
			if tc.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			if tc.auth {
				req.Header.Set("Authorization", "Bearer x")
			}
			h.ServeHTTP(httptest.NewRecorder(), req)

			mu.Lock()
			defer mu.Unlock()
			if tc.wantErr == "" {
				if len(violations) > 0 {
					t.Errorf("violations reported for a valid exchange: %q", violations)
				}
				return
			}
			if !strings.Contains(strings.Join(violations, "\n"), tc.wantErr) {
				t.Errorf("violations %q, want one containing %q", violations, tc.wantErr)
			}
		})
	}
}
