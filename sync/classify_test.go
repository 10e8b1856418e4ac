package sync

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		status, code int
		create       bool
		want         Class
	}{
		{200, 0, false, ClassOK},
		{201, 0, true, ClassOK},
		{0, 0, false, ClassTransient},
		{429, 1007, false, ClassThrottled},
		{429, 0, false, ClassThrottled},
		{500, 3006, false, ClassTransient},
		{503, 4004, false, ClassTransient},
		{500, 2022, true, ClassTransient},
		{502, 0, false, ClassTransient},
		{504, 3005, false, ClassTransient},
		{401, 2004, false, ClassFatal},
		{401, 0, false, ClassFatal},
		{403, 2005, false, ClassForbidden},
		{403, 2006, true, ClassForbidden},
		{403, 2011, false, ClassForbidden},
		{403, 0, false, ClassForbidden},
		{404, 2001, false, ClassPermanent},
		{409, 2014, true, ClassConflict},
		{409, 2014, false, ClassPermanent},
		{400, 1001, true, ClassPermanent},
		{400, 1002, false, ClassPermanent},
		{400, 1003, false, ClassPermanent},
		{400, 1005, false, ClassPermanent},
		{404, 2012, false, ClassPermanent},
		{400, 5007, false, ClassPermanent},
		{418, 0, false, ClassPermanent},
	}
	for _, tt := range tests {
		if got := Classify(tt.status, tt.code, tt.create); got != tt.want {
			t.Errorf("Classify(%d, %d, create=%v) = %v, want %v", tt.status, tt.code, tt.create, got, tt.want)
		}
	}
}

// x-should-retry overrides the status's class, as the official SDK's
// shouldRetry does, except for a refused key and a create's 409/2014.
func TestClassifyShouldRetry(t *testing.T) {
	yes, no := true, false
	tests := []struct {
		status, code int
		create       bool
		should       *bool
		want         Class
	}{
		{503, 4004, false, nil, ClassTransient},
		{503, 4004, false, &no, ClassPermanent},
		{429, 1007, false, &no, ClassPermanent},
		{500, 3006, true, &yes, ClassTransient},
		{400, 1005, false, &yes, ClassTransient},
		{403, 2006, false, &yes, ClassTransient},
		{403, 2006, false, &no, ClassForbidden},
		{404, 2001, false, &no, ClassPermanent},
		{401, 2004, false, &yes, ClassFatal},
		{409, 2014, true, &yes, ClassConflict},
		{409, 2014, true, &no, ClassConflict},
	}
	for _, tt := range tests {
		e := &APIError{Status: tt.status, Code: tt.code, ShouldRetry: tt.should}
		if got := classifyAnswer(e, tt.create); got != tt.want {
			t.Errorf("classifyAnswer(%d/%d, create=%v, x-should-retry %v) = %v, want %v", tt.status, tt.code, tt.create, fmtBool(tt.should), got, tt.want)
		}
	}
}

func fmtBool(b *bool) string {
	if b == nil {
		return "absent"
	}
	if *b {
		return "true"
	}
	return "false"
}

// parseAPIError reads x-should-retry as the SDK does: "true" or "false",
// anything else is no hint.
func TestParseShouldRetry(t *testing.T) {
	for value, want := range map[string]string{"true": "true", "false": "false", "False": "false", "": "absent", "maybe": "absent"} {
		h := http.Header{}
		if value != "" {
			h.Set("X-Should-Retry", value)
		}
		if got := fmtBool(parseAPIError(503, h, nil).ShouldRetry); got != want {
			t.Errorf("x-should-retry %q read as %s, want %s", value, got, want)
		}
	}
}

// retry-after-ms, in milliseconds, wins over Retry-After, as in the SDK.
func TestRetryAfterMs(t *testing.T) {
	h := http.Header{}
	h.Set("Retry-After", "30")
	h.Set("Retry-After-Ms", "250.5")
	if got := parseAPIError(429, h, nil).RetryAfter; got != 250*time.Millisecond+500*time.Microsecond {
		t.Errorf("RetryAfter %v, want 250.5ms", got)
	}
	h.Set("Retry-After-Ms", "soon")
	if got := parseAPIError(429, h, nil).RetryAfter; got != 30*time.Second {
		t.Errorf("with an unreadable retry-after-ms, RetryAfter %v, want Retry-After's 30s", got)
	}
}

func TestHint(t *testing.T) {
	for _, tt := range []struct {
		status, code int
		want         string
	}{
		{403, 2006, "not one this API key may change"},
		{403, 2005, "not one this API key may change"},
		{404, 2001, "no active card for this number"},
		{404, 2012, "no active card for this number"},
		{400, 5007, "Linq could not download the image"},
		{400, 1005, ""},
	} {
		got := hint(tt.status, tt.code)
		if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
			t.Errorf("hint(%d, %d) = %q, want %q", tt.status, tt.code, got, tt.want)
		}
	}
}
