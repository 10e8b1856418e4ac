// Package contract holds the Linq fake (or any handler) to openapi.yaml:
// ValidatingHandler checks every exchange with kin-openapi. Only tests
// import it. It is a package of its own, not part of internal/linqfake,
// because the bulksync binary links the fake (demo, fake-api) and must not
// link kin-openapi's validator and JSON-schema engine: they would add to
// its start-up, size and attack surface for a check that only tests need.
// So `bulksync fake-api` does not validate; the tests that drive the fake
// (internal/linqfake, sync) do.
package contract

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/bulksync/bulksync/gen/linq"
	"github.com/bulksync/bulksync/gen/linqspec"
)

var traceIDPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

// ValidatingHandler returns h wrapped so that every exchange is checked with
// kin-openapi against openapi.yaml (the spec embedded in package linq), and
// calls onViolation, from the serving goroutine, for each problem found. It
// is for tests: wrap Server.Handler in it to hold the fake to the contract.
//
// These are violations:
//   - an answer that does not fit the spec for its operation: an undeclared
//     status, a body or a header that does not match its schema;
//   - an answer without an X-Trace-ID header of 32 lowercase hex characters;
//   - an error answer whose body is not the envelope, whose trace_id differs
//     from the header or whose error.status differs from the HTTP status,
//     including answers to paths and methods the spec does not have;
//   - a request that does not fit the spec, but only when h answered it 2xx.
//     Tests send invalid requests on purpose (no token, bad JSON, missing
//     fields) and expect an error answer; accepting one means the fake is too
//     lenient. The security scheme is checked loosely, for the presence of an
//     Authorization header: whether the token is right is the fake's call.
//
// Exchanges without an answer (a dropped connection, a hang the client gave
// up on) are not checked. ValidatingHandler panics if the embedded spec does
// not load, which only broken generated code can cause.
func ValidatingHandler(h http.Handler, onViolation func(error)) http.Handler {
	doc, err := linqspec.GetSpec()
	if err != nil {
		panic("contract: loading the embedded spec: " + err.Error())
	}
	// The spec's server is Linq's base URL; without it the router matches
	// on the path alone, wherever the fake is served.
	doc.Servers = nil
	router, err := legacy.NewRouter(doc)
	if err != nil {
		panic("contract: routing the embedded spec: " + err.Error())
	}
	envelopeSchema := doc.Components.Schemas["ErrorResponse"].Value
	opts := &openapi3filter.Options{
		IncludeResponseStatus: true,
		AuthenticationFunc: func(_ context.Context, in *openapi3filter.AuthenticationInput) error {
			if in.RequestValidationInput.Request.Header.Get("Authorization") == "" {
				return errors.New("no Authorization header")
			}
			return nil
		},
	}

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqBody, err := io.ReadAll(r.Body)
		if err != nil {
			onViolation(fmt.Errorf("%s %s: reading the request body: %w", r.Method, r.URL, err))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(reqBody))

		route, pathParams, routeErr := router.FindRoute(r)
		if routeErr == nil && route.Path != r.URL.Path {
			// The router forgives a trailing slash; the spec (which has no
			// path parameters) does not.
			routeErr = routers.ErrPathNotFound
		}
		var reqInput *openapi3filter.RequestValidationInput
		var reqErr error
		if routeErr == nil {
			checked := r.Clone(r.Context())
			checked.Body = io.NopCloser(bytes.NewReader(reqBody))
			reqInput = &openapi3filter.RequestValidationInput{Request: checked, PathParams: pathParams, Route: route, Options: opts}
			reqErr = openapi3filter.ValidateRequest(r.Context(), reqInput)
		}

		tw := &teeWriter{ResponseWriter: w}
		h.ServeHTTP(tw, r)
		if tw.status == 0 {
			return // no answer was sent
		}

		report := func(format string, args ...any) {
			onViolation(fmt.Errorf("%s %s answered %d: %s", r.Method, r.URL.RequestURI(), tw.status, fmt.Sprintf(format, args...)))
		}
		traceID := w.Header().Get("X-Trace-ID")
		if !traceIDPattern.MatchString(traceID) {
			report("X-Trace-ID %q is not 32 lowercase hex characters", traceID)
		}
		if tw.status >= 400 {
			checkEnvelope(tw.status, w.Header(), tw.body.Bytes(), traceID, envelopeSchema, report)
		}
		if routeErr != nil {
			return // not in the spec: the envelope is all there is to check
		}
		if reqErr != nil && tw.status < 300 {
			report("the request does not fit the spec, yet was accepted: %v", reqErr)
		}
		respErr := openapi3filter.ValidateResponse(r.Context(), &openapi3filter.ResponseValidationInput{
			RequestValidationInput: reqInput,
			Status:                 tw.status,
			Header:                 w.Header(),
			Body:                   io.NopCloser(bytes.NewReader(tw.body.Bytes())),
			Options:                opts,
		})
		if respErr != nil {
			report("the answer does not fit the spec: %v", respErr)
		}
	})
}

// checkEnvelope reports what is wrong with an error answer.
func checkEnvelope(status int, header http.Header, body []byte, traceID string, schema *openapi3.Schema, report func(string, ...any)) {
	if mediaType, _, _ := mime.ParseMediaType(header.Get("Content-Type")); mediaType != "application/json" {
		report("error answer has Content-Type %q, want application/json", header.Get("Content-Type"))
		return
	}
	var value any
	if err := json.Unmarshal(body, &value); err != nil {
		report("error body is not JSON: %v", err)
		return
	}
	if err := schema.VisitJSON(value); err != nil {
		report("error body is not the envelope: %v", err)
		return
	}
	var e linq.ErrorResponse
	if err := json.Unmarshal(body, &e); err != nil {
		report("error body is not the envelope: %v", err)
		return
	}
	if e.TraceId == nil || *e.TraceId != traceID {
		report("trace_id %v differs from X-Trace-ID %q", deref(e.TraceId), traceID)
	}
	if e.Error.Status != status {
		report("error.status is %d", e.Error.Status)
	}
}

// teeWriter passes the answer on and keeps a copy of its status and body.
type teeWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (w *teeWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *teeWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.body.Write(b)
	return w.ResponseWriter.Write(b)
}

// Unwrap lets the fake reach the connection through the wrapper, to drop it.
func (w *teeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
