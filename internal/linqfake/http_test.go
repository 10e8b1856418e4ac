package linqfake_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulksync/bulksync/gen/linq"
	"github.com/bulksync/bulksync/internal/linqfake"
)

// Requests the generated client cannot send: every answer is the envelope,
// never plain text.
func TestBadInput(t *testing.T) {
	tests := []struct {
		name        string
		method      string
		target      string
		contentType string
		body        string
		wantStatus  int
		wantCode    int
	}{
		{"malformed JSON", "POST", "/v3/contact_card", "application/json", `{"phone_number": "+14155550101",`, 400, 1003},
		{"two JSON values", "POST", "/v3/contact_card", "application/json", `{}{}`, 400, 1003},
		{"JSON array", "POST", "/v3/contact_card", "application/json", `[]`, 400, 1003},
		{"JSON null", "PATCH", "/v3/contact_card?phone_number=%2B14155550101", "application/json", `null`, 400, 1003},
		{"empty body", "PATCH", "/v3/contact_card?phone_number=%2B14155550101", "application/json", ``, 400, 1003},
		{"wrong field type", "POST", "/v3/contact_card", "application/json", `{"phone_number": "+14155550101", "first_name": 5}`, 400, 1003},
		{"text content type", "POST", "/v3/contact_card", "text/plain", `{"phone_number": "+14155550101", "first_name": "Ada"}`, 400, 1003},
		{"form content type", "PATCH", "/v3/contact_card?phone_number=%2B14155550101", "application/x-www-form-urlencoded", `first_name=Ada`, 400, 1003},
		{"no content type", "POST", "/v3/contact_card", "", `{"phone_number": "+14155550101", "first_name": "Ada"}`, 400, 1003},
		{"oversized body", "POST", "/v3/contact_card", "application/json", `{"phone_number": "+14155550101", "first_name": "` + strings.Repeat("a", linqfake.MaxBodyBytes) + `"}`, 400, 1003},
		{"PATCH without phone_number", "PATCH", "/v3/contact_card", "application/json", `{"first_name": "Ada"}`, 400, 1001},
		{"phone_number twice", "GET", "/v3/contact_card?phone_number=%2B14155550101&phone_number=%2B14155550102", "", ``, 400, 1005},
		{"unknown path", "GET", "/v3/contact_cards", "", ``, 404, 2001},
		{"trailing slash", "GET", "/v3/contact_card/", "", ``, 404, 2001},
		{"root", "GET", "/", "", ``, 404, 2001},
		{"path to clean", "GET", "/v3/../v3/contact_card", "", ``, 404, 2001},
		{"DELETE", "DELETE", "/v3/contact_card?phone_number=%2B14155550101", "", ``, 405, 1005},
		{"POST phone numbers", "POST", "/v3/phone_numbers", "application/json", `{}`, 405, 1005},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, linqfake.Options{}, card(ada, "Ada", "", "", true))
			resp := send(t, f, tc.method, tc.target, tc.contentType, tc.body)
			var env linq.ErrorResponse
			if err := json.Unmarshal(readAll(t, resp), &env); err != nil {
				t.Fatalf("body is not JSON: %v", err)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			checkEnvelope(t, resp, &env, tc.wantStatus, tc.wantCode)
			if tc.wantStatus == 405 && resp.Header.Get("Allow") == "" {
				t.Errorf("405 without an Allow header")
			}
			if got := f.fake.Cards(); len(got) != 1 || got[0].FirstName != "Ada" {
				t.Errorf("store changed: %+v", got)
			}
		})
	}
}

// Unknown body fields are ignored (a phone_number in a PATCH body, say), and
// a charset parameter on the content type is fine.
func TestUnknownFieldsAccepted(t *testing.T) {
	f := newFixture(t, linqfake.Options{}, card(ada, "Ada", "", "", true))
	resp := send(t, f, "PATCH", "/v3/contact_card?phone_number=%2B14155550101", "application/json; charset=utf-8",
		`{"phone_number": "+14155550102", "first_name": "Augusta", "nickname": "Ada"}`)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, readAll(t, resp))
	}
	if c, _ := f.fake.Card(ada); c.FirstName != "Augusta" {
		t.Errorf("first_name %q, want Augusta", c.FirstName)
	}
	if _, ok := f.fake.Card(grace); ok {
		t.Errorf("the phone_number in the body was used")
	}
}

// Every answer, success or error, has a fresh X-Trace-ID; a traceparent the
// client sends is ignored.
func TestTraceIDs(t *testing.T) {
	f := newFixture(t, linqfake.Options{})
	seen := map[string]bool{}
	for _, target := range []string{"/v3/contact_card", "/v3/phone_numbers", "/nowhere", "/v3/contact_card"} {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", f.server.URL+target, nil)
		req.Header.Set("Authorization", "Bearer "+testToken)
		req.Header.Set("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
		resp, err := f.server.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		id := resp.Header.Get("X-Trace-ID")
		if len(id) != 32 || seen[id] || id == "0af7651916cd43dd8448eb211c80319c" {
			t.Errorf("%s: X-Trace-ID %q, want a fresh 32 hex characters", target, id)
		}
		seen[id] = true
	}
}

func TestRequestLog(t *testing.T) {
	var out lockedBuffer
	f := newFixture(t, linqfake.Options{RequestLog: &out})
	create, err := f.client.CreateContactCardWithResponse(t.Context(), linq.CreateContactCardRequest{PhoneNumber: ada, FirstName: "Ada"}, auth(""))
	if err != nil || create.StatusCode() != 200 {
		t.Fatalf("create: err %v, status %d", err, create.StatusCode())
	}
	patch, err := f.client.UpdateContactCardWithResponse(t.Context(), &linq.UpdateContactCardParams{PhoneNumber: ada}, linq.UpdateContactCardRequest{LastName: new("Lovelace")}, auth(noAuth))
	if err != nil || patch.StatusCode() != 401 {
		t.Fatalf("patch: err %v, status %d", err, patch.StatusCode())
	}
	bad := send(t, f, "POST", "/v3/contact_card", "application/json", `{not json`)
	bad.Body.Close()

	type line struct {
		Method  string          `json:"method"`
		Path    string          `json:"path"`
		Query   string          `json:"query"`
		Body    json.RawMessage `json:"body"`
		Status  int             `json:"status"`
		Code    int             `json:"code"`
		TraceID string          `json:"trace_id"`
		Time    time.Time       `json:"time"`
	}
	want := []line{
		{Method: "POST", Path: "/v3/contact_card", Body: json.RawMessage(`{"first_name":"Ada","phone_number":"+14155550101"}`), Status: 200, TraceID: create.HTTPResponse.Header.Get("X-Trace-ID")},
		{Method: "PATCH", Path: "/v3/contact_card", Query: "phone_number=%2B14155550101", Body: json.RawMessage(`{"last_name":"Lovelace"}`), Status: 401, Code: 2004, TraceID: patch.HTTPResponse.Header.Get("X-Trace-ID")},
		{Method: "POST", Path: "/v3/contact_card", Body: json.RawMessage(`"{not json"`), Status: 400, Code: 1003, TraceID: bad.Header.Get("X-Trace-ID")},
	}

	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d log lines, want %d:\n%s", len(lines), len(want), out.String())
	}
	for i, raw := range lines {
		var fields map[string]any
		if err := json.Unmarshal([]byte(raw), &fields); err != nil {
			t.Fatalf("line %d is not JSON: %v\n%s", i+1, err, raw)
		}
		for _, name := range []string{"method", "path", "query", "status", "code", "trace_id", "time"} {
			if _, ok := fields[name]; !ok {
				t.Errorf("line %d has no %q: %s", i+1, name, raw)
			}
		}
		var got line
		json.Unmarshal([]byte(raw), &got)
		if got.Time.IsZero() || time.Since(got.Time) > time.Minute {
			t.Errorf("line %d: time %v", i+1, got.Time)
		}
		got.Time = time.Time{}
		if string(got.Body) != string(want[i].Body) || fmt.Sprint(got) != fmt.Sprint(want[i]) {
			t.Errorf("line %d:\n got %s\nwant %+v", i+1, raw, want[i])
		}
	}

	if n := len(f.fake.Requests()); n != 3 {
		t.Errorf("Requests() holds %d, want 3", n)
	}
	f.fake.ResetLog()
	if n := len(f.fake.Requests()); n != 0 {
		t.Errorf("after ResetLog, Requests() holds %d", n)
	}
}

// Parallel writes and reads of one card; run with -race.
func TestConcurrentPatches(t *testing.T) {
	f := newFixture(t, linqfake.Options{}, card(ada, "Ada", "", "", true))
	const n = 40
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			resp, err := f.client.UpdateContactCardWithResponse(t.Context(), &linq.UpdateContactCardParams{PhoneNumber: ada},
				linq.UpdateContactCardRequest{FirstName: new(fmt.Sprintf("Ada %d", i))}, auth(""))
			if err != nil || resp.StatusCode() != 200 {
				t.Errorf("patch %d: err %v, status %d", i, err, resp.StatusCode())
			}
		})
		wg.Go(func() {
			resp, err := f.client.ListContactCardsWithResponse(t.Context(), &linq.ListContactCardsParams{PhoneNumber: new(ada)}, auth(""))
			if err != nil || resp.StatusCode() != 200 || len(resp.JSON200.ContactCards) != 1 {
				t.Errorf("get: err %v, status %d", err, resp.StatusCode())
			}
		})
		wg.Go(func() {
			f.fake.Cards()
			f.fake.Requests()
		})
	}
	wg.Wait()
	c, _ := f.fake.Card(ada)
	if !strings.HasPrefix(c.FirstName, "Ada ") {
		t.Errorf("first_name %q after the patches", c.FirstName)
	}
	if got := len(f.fake.Requests()); got != 2*n {
		t.Errorf("%d requests logged, want %d", got, 2*n)
	}
}

// send makes a raw request with the right token.
func send(t *testing.T, f *fixture, method, target, contentType, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, f.server.URL+target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := f.server.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func readAll(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// lockedBuffer is a bytes.Buffer safe for the fake's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
