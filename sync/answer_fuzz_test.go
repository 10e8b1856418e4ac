package sync

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"testing"
)

// FuzzReadAnswer feeds arbitrary answers (status, Retry-After headers, body)
// through the one function that reads them and the classifier: nothing may
// panic, and what comes out must be consistent with what went in.
func FuzzReadAnswer(f *testing.F) {
	f.Add(200, "", "", []byte(`{"phone_number":"+12125550101","first_name":"Ada","is_active":true}`))
	f.Add(200, "", "", []byte(`{"contact_cards":[]}`))
	f.Add(429, "3", "", []byte(`{"success":false,"error":{"status":429,"code":1007,"message":"Rate limited","retry_after":3},"trace_id":"0123456789abcdef0123456789abcdef"}`))
	f.Add(429, "Wed, 21 Oct 2015 07:28:00 GMT", "1500", []byte(`{}`))
	f.Add(500, "", "", []byte(`<html>oops</html>`))
	f.Add(409, "", "", []byte(`{"success":false,"error":{"status":409,"code":2014,"message":"exists"}}`))
	f.Add(401, "-1", "x", []byte(``))
	f.Add(204, "", "", []byte(`null`))
	f.Fuzz(func(t *testing.T, status int, retryAfter, retryAfterMS string, body []byte) {
		if status < 100 || status > 999 {
			t.Skip()
		}
		h := http.Header{}
		if retryAfter != "" {
			h.Set("Retry-After", retryAfter)
		}
		if retryAfterMS != "" {
			h.Set("Retry-After-Ms", retryAfterMS)
		}
		resp := &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(bytes.NewReader(body))}
		decode := decodeSetCard
		if bytes.Contains(body, []byte("contact_cards")) {
			decode = decodeListedCard
		}
		ans := readAnswer(context.Background(), resp, nil, decode)
		if ans.status != status {
			t.Fatalf("status %d read as %d", status, ans.status)
		}
		ok := status >= 200 && status < 300
		if !ok && ans.apiErr == nil {
			t.Fatalf("error status %d without an APIError", status)
		}
		if ans.apiErr != nil {
			if ans.apiErr.RetryAfter < 0 {
				t.Fatalf("negative Retry-After %v", ans.apiErr.RetryAfter)
			}
			if ans.apiErr.Message == "" {
				t.Fatalf("APIError without a message for body %q", body)
			}
			_ = ans.apiErr.Error()
		}
		class := Classify(ans.status, ans.code(), true)
		if ok != (class == ClassOK) {
			t.Fatalf("status %d classified %v", status, class)
		}
		if status == 429 && class != ClassThrottled {
			t.Fatalf("429 classified %v", class)
		}
		if class == ClassOK && ans.card == nil && ans.apiErr == nil && !bytes.Contains(body, []byte("contact_cards")) {
			t.Fatalf("2xx with body %q gave neither a card nor an error", body)
		}
		_ = strconv.Itoa(ans.code())
	})
}
