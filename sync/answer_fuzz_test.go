package sync

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
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
		if ans.err != nil {
			t.Fatalf("an answer read as no answer: %v", ans.err)
		}
		ok := status >= 200 && status < 300
		if !ok && ans.apiErr == nil {
			t.Fatalf("error status %d without an APIError", status)
		}
		if !ok && (ans.card != nil || ans.traceID != "") {
			t.Fatalf("error status %d kept a card %v or trace %q", status, ans.card, ans.traceID)
		}
		if ans.apiErr != nil && ans.card != nil {
			t.Fatalf("status %d gave both a card and an error %v", status, ans.apiErr)
		}
		if ans.card != nil && ans.card.Phone == "" {
			t.Fatalf("card without a phone number from body %q", body)
		}
		if ans.apiErr == nil && (ans.code() != 0 || ans.message() != "") {
			t.Fatalf("no error, yet code %d and message %q", ans.code(), ans.message())
		}
		if e := ans.apiErr; e != nil {
			if e.Status != status {
				t.Fatalf("APIError status %d for HTTP %d", e.Status, status)
			}
			if e.RetryAfter < 0 {
				t.Fatalf("negative Retry-After %v", e.RetryAfter)
			}
			if e.Message == "" {
				t.Fatalf("APIError without a message for body %q", body)
			}
			if ans.code() != e.Code || ans.message() != e.Message {
				t.Fatalf("answer says code %d %q, its error %d %q", ans.code(), ans.message(), e.Code, e.Message)
			}
			// A redirect is never followed and its body never read: the
			// message says so. Otherwise, without a Linq code the body
			// was not the envelope: the message says what came instead.
			switch {
			case status >= 300 && status < 400:
				if e.Code != 0 || !strings.HasPrefix(e.Message, "the API answered a redirect (HTTP "+strconv.Itoa(status)+")") {
					t.Fatalf("redirect %d gave code %d, message %q", status, e.Code, e.Message)
				}
			case e.Code == 0 && !strings.HasPrefix(e.Message, "unexpected response body: "):
				t.Fatalf("no code, yet message %q for body %q", e.Message, body)
			}
			// The text that reaches the report and the log names the
			// status, the message and the trace.
			msg := e.Error()
			if !strings.HasPrefix(msg, "HTTP "+strconv.Itoa(status)) || !strings.Contains(msg, e.Message) ||
				(e.TraceID != "" && !strings.Contains(msg, e.TraceID)) ||
				(e.Code != 0 && !strings.Contains(msg, "code "+strconv.Itoa(e.Code))) {
				t.Fatalf("Error() = %q for %+v", msg, e)
			}
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
	})
}
