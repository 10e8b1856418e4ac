package linqfake

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/bulksync/bulksync/gen/linq"
)

// Linq error codes the fake answers with (shared/linq-api.md §3).
const (
	codeMissingField     = 1001
	codeNotE164          = 1002
	codeBadBody          = 1003
	codeInvalidValue     = 1005
	codeRateLimited      = 1007
	codeNotFound         = 2001
	codeUnauthorized     = 2004
	codeAccessDenied     = 2005
	codeNumberNotAllowed = 2006
	codeCardNotFound     = 2012
	codeCardExists       = 2014
	codeSetupFailed      = 2022
	codeInternal         = 3006
	codeUnavailable      = 4004
	codeImageDownload    = 5007
)

// apiError is an error answer before it becomes an envelope.
type apiError struct {
	status     int
	code       int
	message    string
	retryAfter int // seconds; only for 429
}

var (
	errUnauthorized = apiError{http.StatusUnauthorized, codeUnauthorized, "Unauthorized - missing or invalid authentication token", 0}
	errNotE164      = apiError{http.StatusBadRequest, codeNotE164, "Phone number must be in E.164 format", 0}
	errNotOnAccount = apiError{http.StatusForbidden, codeNumberNotAllowed, "Phone number permission denied: the number is not on this account", 0}
	errAccessDenied = apiError{http.StatusForbidden, codeAccessDenied, "Access denied - insufficient permissions for this resource", 0}
	errNotFound     = apiError{http.StatusNotFound, codeNotFound, "Resource not found", 0}
	errImageFetch   = apiError{http.StatusBadRequest, codeImageDownload, "Failed to download image from the provided URL", 0}
	errCardExists   = apiError{http.StatusConflict, codeCardExists, "A contact card already exists for this phone number", 0}
	errCardNotFound = apiError{http.StatusNotFound, codeCardNotFound, "Contact card not found", 0}
	errCardInactive = apiError{http.StatusNotFound, codeCardNotFound, "Contact card not found: the card for this phone number is not active", 0}
	errInternal     = apiError{http.StatusInternalServerError, codeInternal, "Internal server error", 0}
	errUnavailable  = apiError{http.StatusServiceUnavailable, codeUnavailable, "Service unavailable", 0}
	errSetupFailed  = apiError{http.StatusInternalServerError, codeSetupFailed, "Contact card setup failed", 0}
)

func errMissing(field string) apiError {
	return apiError{http.StatusBadRequest, codeMissingField, "Missing required field: " + field, 0}
}

func errInvalid(format string, args ...any) apiError {
	return apiError{http.StatusBadRequest, codeInvalidValue, "Invalid parameter value: " + fmt.Sprintf(format, args...), 0}
}

func errBadBody(reason string) apiError {
	return apiError{http.StatusBadRequest, codeBadBody, "Invalid request body: " + reason, 0}
}

func errRateLimited(seconds int) apiError {
	return apiError{http.StatusTooManyRequests, codeRateLimited, "Rate limited. Try again later", seconds}
}

// envelope builds the error body of e for the request of ctx, and notes the
// code for the request log.
func envelope(ctx context.Context, e apiError) linq.ErrorResponse {
	x := exchangeFrom(ctx)
	x.code = e.code
	docURL := fmt.Sprintf("https://docs.linqapp.com/error/codes/%dxxx/%d/", e.code/1000, e.code)
	body := linq.ErrorResponse{
		Success: linq.False,
		Error: linq.ErrorDetail{
			Status:  e.status,
			Code:    e.code,
			Message: e.message,
			DocUrl:  &docURL,
		},
		TraceId: &x.traceID,
	}
	if e.retryAfter > 0 {
		body.Error.RetryAfter = &e.retryAfter
	}
	return body
}

// writeError answers r with e outside the generated operations (middleware,
// routing, injected faults). It does nothing when an answer has already
// started, so that a late failure cannot corrupt it.
func writeError(w http.ResponseWriter, r *http.Request, e apiError) {
	x := exchangeFrom(r.Context())
	if x.status != 0 {
		return
	}
	body, err := json.Marshal(envelope(r.Context(), e))
	if err != nil {
		panic(err) // the envelope holds only strings and ints
	}
	w.Header().Set("Content-Type", "application/json")
	if e.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.retryAfter))
	}
	w.WriteHeader(e.status)
	w.Write(append(body, '\n'))
}
