package linqfake_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/bulksync/bulksync/gen/linq"
	"github.com/bulksync/bulksync/internal/contract"
	"github.com/bulksync/bulksync/internal/linqfake"
)

const testToken = "s3cret-test-token"

// noAuth in a test case's auth field sends no Authorization header; an empty
// auth field sends the right token.
const noAuth = "none"

// fixture is a fake served over HTTP behind the spec validator, and the
// generated client pointed at it.
type fixture struct {
	fake   *linqfake.Server
	server *httptest.Server
	client *linq.ClientWithResponses
}

// newFixture serves a fake with opts (Token defaults to testToken) and
// seeds it with cards. Any contract violation fails the test.
func newFixture(t *testing.T, opts linqfake.Options, cards ...linq.ContactCard) *fixture {
	t.Helper()
	if opts.Token == "" {
		opts.Token = testToken
	}
	fake := linqfake.New(opts)
	for _, c := range cards {
		fake.PutCard(c)
	}
	server := httptest.NewServer(contract.ValidatingHandler(fake.Handler(), func(err error) {
		t.Errorf("contract violation: %v", err)
	}))
	t.Cleanup(server.Close)
	client, err := linq.NewClientWithResponses(server.URL, linq.WithHTTPClient(server.Client()))
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{fake: fake, server: server, client: client}
}

// auth returns a request editor that sends the Authorization header a test
// case asks for.
func auth(value string) linq.RequestEditorFn {
	return func(_ context.Context, req *http.Request) error {
		switch value {
		case "":
			req.Header.Set("Authorization", "Bearer "+testToken)
		case noAuth:
			req.Header.Del("Authorization")
		default:
			req.Header.Set("Authorization", value)
		}
		return nil
	}
}

// checkEnvelope checks an error answer: its status, that the generated
// client filled the typed field (env), its code, and that trace_id is the
// X-Trace-ID header.
func checkEnvelope(t *testing.T, resp *http.Response, env *linq.ErrorResponse, wantStatus, wantCode int) {
	t.Helper()
	if resp.StatusCode != wantStatus {
		t.Fatalf("status %d, want %d", resp.StatusCode, wantStatus)
	}
	if env == nil {
		t.Fatalf("the client's JSON%d field is nil", wantStatus)
	}
	if env.Success {
		t.Errorf("success is true")
	}
	if env.Error.Code != wantCode || env.Error.Status != wantStatus {
		t.Errorf("error %d/%d (%s), want %d/%d", env.Error.Status, env.Error.Code, env.Error.Message, wantStatus, wantCode)
	}
	if env.Error.Message == "" {
		t.Errorf("empty message")
	}
	if env.Error.DocUrl == nil || !strings.HasSuffix(*env.Error.DocUrl, "/"+strconv.Itoa(wantCode)+"/") {
		t.Errorf("doc_url %v does not name code %d", env.Error.DocUrl, wantCode)
	}
	header := resp.Header.Get("X-Trace-ID")
	if env.TraceId == nil || *env.TraceId != header || len(header) != 32 {
		t.Errorf("trace_id %v, X-Trace-ID %q: want the same 32 hex characters", env.TraceId, header)
	}
}

// The generated responses keep each status in its own field; these return
// the error envelope of whatever status came back.

func listEnvelope(r *linq.ListContactCardsResponse) *linq.ErrorResponse {
	return map[int]*linq.ErrorResponse{400: r.JSON400, 401: r.JSON401, 403: r.JSON403, 429: r.JSON429, 500: r.JSON500, 503: r.JSON503}[r.StatusCode()]
}

func createEnvelope(r *linq.CreateContactCardResponse) *linq.ErrorResponse {
	return map[int]*linq.ErrorResponse{400: r.JSON400, 401: r.JSON401, 403: r.JSON403, 409: r.JSON409, 429: r.JSON429, 500: r.JSON500, 503: r.JSON503}[r.StatusCode()]
}

func updateEnvelope(r *linq.UpdateContactCardResponse) *linq.ErrorResponse {
	return map[int]*linq.ErrorResponse{400: r.JSON400, 401: r.JSON401, 403: r.JSON403, 404: r.JSON404, 429: r.JSON429, 500: r.JSON500, 503: r.JSON503}[r.StatusCode()]
}

func phoneEnvelope(r *linq.ListPhoneNumbersResponse) *linq.ErrorResponse {
	return map[int]*linq.ErrorResponse{401: r.JSON401, 403: r.JSON403, 404: r.JSON404, 429: r.JSON429, 500: r.JSON500, 503: r.JSON503}[r.StatusCode()]
}

// card builds a stored card; empty optional fields are left out.
func card(phone, first, last, image string, active bool) linq.ContactCard {
	c := linq.ContactCard{PhoneNumber: phone, FirstName: first, IsActive: active}
	if last != "" {
		c.LastName = new(last)
	}
	if image != "" {
		c.ImageUrl = new(image)
	}
	return c
}

// opResult is what one call of an operation came back with.
type opResult struct {
	resp       *http.Response
	env        *linq.ErrorResponse // the client's typed field for an error status
	retryAfter *int                // the client's typed Retry-After of a 429
}

// callOp calls an operation with valid arguments and the right token:
// "list", "create" (a card for grace), "update" (ada's first name) or
// "phone_numbers".
func callOp(t *testing.T, f *fixture, op string) opResult {
	t.Helper()
	ctx := t.Context()
	switch op {
	case "list":
		r, err := f.client.ListContactCardsWithResponse(ctx, nil, auth(""))
		if err != nil {
			t.Fatal(err)
		}
		res := opResult{resp: r.HTTPResponse, env: listEnvelope(r)}
		if r.Headers429 != nil {
			res.retryAfter = r.Headers429.RetryAfter
		}
		return res
	case "create":
		r, err := f.client.CreateContactCardWithResponse(ctx, linq.CreateContactCardRequest{PhoneNumber: grace, FirstName: "Grace"}, auth(""))
		if err != nil {
			t.Fatal(err)
		}
		res := opResult{resp: r.HTTPResponse, env: createEnvelope(r)}
		if r.Headers429 != nil {
			res.retryAfter = r.Headers429.RetryAfter
		}
		return res
	case "update":
		r, err := f.client.UpdateContactCardWithResponse(ctx, &linq.UpdateContactCardParams{PhoneNumber: ada}, linq.UpdateContactCardRequest{FirstName: new("X")}, auth(""))
		if err != nil {
			t.Fatal(err)
		}
		res := opResult{resp: r.HTTPResponse, env: updateEnvelope(r)}
		if r.Headers429 != nil {
			res.retryAfter = r.Headers429.RetryAfter
		}
		return res
	case "phone_numbers":
		r, err := f.client.ListPhoneNumbersWithResponse(ctx, auth(""))
		if err != nil {
			t.Fatal(err)
		}
		res := opResult{resp: r.HTTPResponse, env: phoneEnvelope(r)}
		if r.Headers429 != nil {
			res.retryAfter = r.Headers429.RetryAfter
		}
		return res
	}
	t.Fatalf("unknown operation %q", op)
	return opResult{}
}
