package sync

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/bulksync/bulksync/gen/linq"
)

// DefaultBaseURL is the Linq Partner API's address.
const DefaultBaseURL = "https://api.linqapp.com/api/partner"

// userAgent names the tool to the API, so Linq support can tell its calls apart.
const userAgent = "bulksync/1"

// CheckBaseURL validates --base-url / LINQ_API_V3_BASE_URL. Plain http is
// refused unless the host is loopback: the API key travels in a header.
func CheckBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("%w: --base-url: %q is not an http(s) URL such as %s", ErrUsage, raw, DefaultBaseURL)
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return nil, fmt.Errorf("%w: --base-url: plain http is only allowed to a loopback host (127.0.0.1, ::1, localhost), not %q: the API key would travel unencrypted", ErrUsage, u.Hostname())
	}
	return u, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// NewHTTPClient returns the HTTP client for a run of conns concurrent
// requests. answerWait bounds the wait for an answer's headers (0: none):
// a server that takes a request and never answers costs one attempt, not
// the whole --snapshot-timeout, while a long card list takes the time it
// needs to arrive; the caller's context bounds the rest. net/http keeps only two idle connections per host by default:
// with more workers than that, every request but two would open a new
// connection (and, over TLS, a new handshake).
//
// Redirects are never followed: the key and the card data go only to the
// configured base URL. net/http would resend a PATCH with its body, and
// the Authorization header too when only the port or the scheme changes
// (https to http included). A 3xx is an answer like any other, which
// Classify makes a permanent failure.
func NewHTTPClient(conns int, answerWait time.Duration) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = max(conns, 2)
	t.MaxIdleConns = max(conns, t.MaxIdleConns)
	t.ResponseHeaderTimeout = answerWait
	return &http.Client{Transport: t, CheckRedirect: noRedirects}
}

func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// NewClient returns the generated Linq client, sending the API key as a
// bearer token on every request. The key stays inside the request editor:
// it is never put in an error, a log line or a report.
func NewClient(baseURL, apiKey string, hc *http.Client) (*linq.ClientWithResponses, error) {
	if _, err := CheckBaseURL(baseURL); err != nil {
		return nil, err
	}
	if strings.TrimSpace(apiKey) == "" {
		return nil, fmt.Errorf("%w: no API key: set LINQ_API_V3_API_KEY or --api-key-file", ErrUsage)
	}
	bearer := "Bearer " + apiKey // once, not per request
	auth := func(ctx context.Context, req *http.Request) error {
		req.Header.Set("Authorization", bearer)
		req.Header.Set("User-Agent", userAgent)
		return nil
	}
	c, err := linq.NewClientWithResponses(strings.TrimSuffix(baseURL, "/"),
		linq.WithHTTPClient(hc), linq.WithRequestEditorFn(auth))
	if err != nil {
		return nil, err
	}
	c.ClientInterface = withQuickWrites(c.ClientInterface)
	return c, nil
}

// APIError is an error answer from the Linq API, or an answer that could not
// be understood.
type APIError struct {
	Status     int           // HTTP status
	Code       int           // Linq code from the envelope; 0 when the body had none
	Message    string        // from the envelope, or a description of the odd body
	TraceID    string        // from the envelope or the X-Trace-ID header
	RetryAfter time.Duration // from Retry-After, retry-after-ms or error.retry_after; 0 when absent
	// ShouldRetry is the x-should-retry header, the official SDK's
	// override of its retry rules; nil when absent or neither true nor
	// false.
	ShouldRetry *bool
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP %d", e.Status)
	if e.Code != 0 {
		fmt.Fprintf(&b, " code %d", e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.TraceID != "" {
		b.WriteString(" (trace " + e.TraceID + ")")
	}
	return b.String()
}

// envelope is the Linq error body.
type envelope struct {
	Success *bool `json:"success"`
	Error   *struct {
		Status     int    `json:"status"`
		Code       int    `json:"code"`
		Message    string `json:"message"`
		RetryAfter *int   `json:"retry_after"`
	} `json:"error"`
	TraceID string `json:"trace_id"`
}

// parseAPIError reads an error answer. It never fails: a body that is not
// the documented envelope (an HTML page from a proxy, an empty body) still
// gives an APIError carrying the status and a short quote of the body.
func parseAPIError(status int, h http.Header, body []byte) *APIError {
	e := &APIError{Status: status, TraceID: h.Get("X-Trace-ID")}
	if status >= 300 && status < 400 {
		e.Message = redirectMessage(status, h.Get("Location"))
		return e
	}
	var env envelope
	if err := json.Unmarshal(body, &env); err == nil && env.Error != nil && env.Error.Code != 0 {
		e.Code, e.Message = env.Error.Code, env.Error.Message
		if env.TraceID != "" {
			e.TraceID = env.TraceID
		}
		if env.Error.RetryAfter != nil && *env.Error.RetryAfter > 0 {
			e.RetryAfter = time.Duration(*env.Error.RetryAfter) * time.Second
		}
	} else {
		e.Message = "unexpected response body: " + quoteBody(body)
	}
	if e.Message == "" {
		e.Message = "no message (" + strings.ToLower(http.StatusText(status)) + ")"
	}
	if d, ok := retryAfterHeader(h, time.Now()); ok {
		e.RetryAfter = d
	}
	switch strings.ToLower(strings.TrimSpace(h.Get("X-Should-Retry"))) {
	case "true":
		e.ShouldRetry = new(true)
	case "false":
		e.ShouldRetry = new(false)
	}
	return e
}

// redirectMessage explains a redirect that was not followed, naming where
// it led (the host only: a URL may carry tokens of its own).
func redirectMessage(status int, location string) string {
	where := "no Location"
	if u, err := url.Parse(location); err == nil && u.Host != "" {
		where = u.Scheme + "://" + u.Host
	} else if location != "" {
		where = "the same host"
	}
	return fmt.Sprintf("the API answered a redirect (HTTP %d) to %s; redirects are never followed, so that the API key and the card data go only to the configured base URL: check --base-url", status, where)
}

// retryAfterHeader reads retry-after-ms (milliseconds) or Retry-After
// (seconds or an HTTP date), as the official SDK does.
func retryAfterHeader(h http.Header, now time.Time) (time.Duration, bool) {
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms >= 0 {
			return time.Duration(ms * float64(time.Millisecond)), true
		}
	}
	v := h.Get("Retry-After")
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
		return time.Duration(s * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// quoteBody returns the start of an unexpected body, printable and short.
func quoteBody(body []byte) string {
	if len(body) == 0 {
		return "(empty)"
	}
	const limit = 120
	s := strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return ' '
	}, string(body[:min(len(body), limit)]))
	if len(body) > limit {
		s += "…"
	}
	return strconv.Quote(strings.Join(strings.Fields(s), " "))
}
