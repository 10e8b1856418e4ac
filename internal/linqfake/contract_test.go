package linqfake_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/bulksync/bulksync/gen/linq"
	"github.com/bulksync/bulksync/internal/linqfake"
)

const (
	ada   = "+14155550101"
	grace = "+14155550102"
	alan  = "+14155550103"
	other = "+14155550199" // not on the account when lines are set
)

var lines = []string{ada, grace, alan}

func TestCreateContactCard(t *testing.T) {
	long := strings.Repeat("é", 257)
	tests := []struct {
		name       string
		lines      []string
		notOwned   int
		seed       []linq.ContactCard
		auth       string
		body       linq.CreateContactCardRequest
		wantStatus int
		wantCode   int
		want       linq.SetContactCard // on 200; also what is then stored
	}{
		{
			name:       "all fields",
			body:       linq.CreateContactCardRequest{PhoneNumber: ada, FirstName: "Ada", LastName: new("Lovelace"), ImageUrl: new("https://example.com/ada.png")},
			wantStatus: 200,
			want:       linq.SetContactCard{PhoneNumber: ada, FirstName: "Ada", LastName: new("Lovelace"), ImageUrl: new(linqfake.RehostedURL("https://example.com/ada.png")), IsActive: true},
		},
		{
			name:       "first name only, on the account",
			lines:      lines,
			body:       linq.CreateContactCardRequest{PhoneNumber: grace, FirstName: "Grace"},
			wantStatus: 200,
			want:       linq.SetContactCard{PhoneNumber: grace, FirstName: "Grace", IsActive: true},
		},
		{
			name:       "names of 256 characters",
			body:       linq.CreateContactCardRequest{PhoneNumber: ada, FirstName: long[2:], LastName: new(long[2:])},
			wantStatus: 200,
			want:       linq.SetContactCard{PhoneNumber: ada, FirstName: long[2:], LastName: new(long[2:]), IsActive: true},
		},
		{name: "no token", auth: noAuth, body: linq.CreateContactCardRequest{PhoneNumber: ada, FirstName: "Ada"}, wantStatus: 401, wantCode: 2004},
		{name: "wrong token", auth: "Bearer nope", body: linq.CreateContactCardRequest{PhoneNumber: ada, FirstName: "Ada"}, wantStatus: 401, wantCode: 2004},
		{name: "not a bearer token", auth: "Basic " + testToken, body: linq.CreateContactCardRequest{PhoneNumber: ada, FirstName: "Ada"}, wantStatus: 401, wantCode: 2004},
		{name: "no first name", body: linq.CreateContactCardRequest{PhoneNumber: ada}, wantStatus: 400, wantCode: 1001},
		{name: "blank first name", body: linq.CreateContactCardRequest{PhoneNumber: ada, FirstName: "  "}, wantStatus: 400, wantCode: 1001},
		{name: "no phone number", body: linq.CreateContactCardRequest{FirstName: "Ada"}, wantStatus: 400, wantCode: 1001},
		{name: "national number", body: linq.CreateContactCardRequest{PhoneNumber: "4155550101", FirstName: "Ada"}, wantStatus: 400, wantCode: 1002},
		{name: "formatted number", body: linq.CreateContactCardRequest{PhoneNumber: "+1 415 555 0101", FirstName: "Ada"}, wantStatus: 400, wantCode: 1002},
		{name: "leading zero", body: linq.CreateContactCardRequest{PhoneNumber: "+04155550101", FirstName: "Ada"}, wantStatus: 400, wantCode: 1002},
		{name: "first name too long", body: linq.CreateContactCardRequest{PhoneNumber: ada, FirstName: long}, wantStatus: 400, wantCode: 1005},
		{name: "last name too long", body: linq.CreateContactCardRequest{PhoneNumber: ada, FirstName: "Ada", LastName: new(long)}, wantStatus: 400, wantCode: 1005},
		{name: "http image", body: linq.CreateContactCardRequest{PhoneNumber: ada, FirstName: "Ada", ImageUrl: new("http://example.com/a.png")}, wantStatus: 400, wantCode: 1005},
		{name: "relative image", body: linq.CreateContactCardRequest{PhoneNumber: ada, FirstName: "Ada", ImageUrl: new("/a.png")}, wantStatus: 400, wantCode: 1005},
		{name: "number not on the account", lines: lines, body: linq.CreateContactCardRequest{PhoneNumber: other, FirstName: "Ada"}, wantStatus: 403, wantCode: 2006},
		{name: "number not on the account, 2005", lines: lines, notOwned: 2005, body: linq.CreateContactCardRequest{PhoneNumber: other, FirstName: "Ada"}, wantStatus: 403, wantCode: 2005},
		{name: "image that cannot be fetched", body: linq.CreateContactCardRequest{PhoneNumber: ada, FirstName: "Ada", ImageUrl: new("https://images.example.invalid/ada.png")}, wantStatus: 400, wantCode: 5007},
		{
			name:       "card exists",
			seed:       []linq.ContactCard{card(ada, "Ada", "", "", true)},
			body:       linq.CreateContactCardRequest{PhoneNumber: ada, FirstName: "Ada"},
			wantStatus: 409, wantCode: 2014,
		},
		{
			name:       "inactive card exists",
			seed:       []linq.ContactCard{card(ada, "Ada", "", "", false)},
			body:       linq.CreateContactCardRequest{PhoneNumber: ada, FirstName: "Ada"},
			wantStatus: 409, wantCode: 2014,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, linqfake.Options{Lines: tc.lines, NotOwnedCode: tc.notOwned}, tc.seed...)
			resp, err := f.client.CreateContactCardWithResponse(t.Context(), tc.body, auth(tc.auth))
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantStatus != 200 {
				checkEnvelope(t, resp.HTTPResponse, createEnvelope(resp), tc.wantStatus, tc.wantCode)
				if got := f.fake.Cards(); !reflect.DeepEqual(got, append([]linq.ContactCard{}, tc.seed...)) {
					t.Errorf("store changed by a failed create: %+v", got)
				}
				return
			}
			if resp.StatusCode() != 200 || resp.JSON200 == nil {
				t.Fatalf("status %d, body %s", resp.StatusCode(), resp.Body)
			}
			if !reflect.DeepEqual(*resp.JSON200, tc.want) {
				t.Errorf("answer %+v, want %+v", *resp.JSON200, tc.want)
			}
			stored, ok := f.fake.Card(tc.body.PhoneNumber)
			if !ok || !reflect.DeepEqual(linq.SetContactCard(stored), tc.want) {
				t.Errorf("stored %+v, want %+v", stored, tc.want)
			}
		})
	}
}

func TestUpdateContactCard(t *testing.T) {
	const oldImage = "https://cdn.linqapp.com/contact-card/0123456789abcdef.jpg"
	full := card(ada, "Ada", "Lovelace", oldImage, true)
	tests := []struct {
		name       string
		lines      []string
		notOwned   int // Options.NotOwnedCode
		notFound   int // Options.NotFoundCode
		seed       []linq.ContactCard
		auth       string
		phone      string
		body       linq.UpdateContactCardRequest
		wantStatus int
		wantCode   int
		want       linq.ContactCard // the card afterwards, answered on 200
	}{
		{
			name: "first name only", seed: []linq.ContactCard{full}, phone: ada,
			body:       linq.UpdateContactCardRequest{FirstName: new("Augusta")},
			wantStatus: 200, want: card(ada, "Augusta", "Lovelace", oldImage, true),
		},
		{
			name: "new image is rehosted", seed: []linq.ContactCard{full}, phone: ada,
			body:       linq.UpdateContactCardRequest{ImageUrl: new("https://example.com/new.png")},
			wantStatus: 200, want: card(ada, "Ada", "Lovelace", linqfake.RehostedURL("https://example.com/new.png"), true),
		},
		{
			name: "current CDN image is kept", seed: []linq.ContactCard{full}, phone: ada,
			body:       linq.UpdateContactCardRequest{ImageUrl: new(oldImage)},
			wantStatus: 200, want: full,
		},
		{
			name: "empty strings clear", seed: []linq.ContactCard{full}, phone: ada,
			body:       linq.UpdateContactCardRequest{LastName: new(""), ImageUrl: new("")},
			wantStatus: 200, want: card(ada, "Ada", "", "", true),
		},
		{
			name: "empty body changes nothing", seed: []linq.ContactCard{full}, phone: ada,
			wantStatus: 200, want: full,
		},
		{name: "no token", auth: noAuth, seed: []linq.ContactCard{full}, phone: ada, wantStatus: 401, wantCode: 2004},
		{name: "bad number", seed: []linq.ContactCard{full}, phone: "14155550101", wantStatus: 400, wantCode: 1002},
		{name: "empty number", seed: []linq.ContactCard{full}, phone: "", wantStatus: 400, wantCode: 1002},
		{name: "empty first name", seed: []linq.ContactCard{full}, phone: ada, body: linq.UpdateContactCardRequest{FirstName: new("")}, wantStatus: 400, wantCode: 1005},
		{name: "last name too long", seed: []linq.ContactCard{full}, phone: ada, body: linq.UpdateContactCardRequest{LastName: new(strings.Repeat("x", 257))}, wantStatus: 400, wantCode: 1005},
		{name: "ftp image", seed: []linq.ContactCard{full}, phone: ada, body: linq.UpdateContactCardRequest{ImageUrl: new("ftp://example.com/a.png")}, wantStatus: 400, wantCode: 1005},
		{name: "number not on the account", lines: lines, phone: other, body: linq.UpdateContactCardRequest{FirstName: new("X")}, wantStatus: 403, wantCode: 2006},
		{name: "number not on the account, 2005", lines: lines, notOwned: 2005, phone: other, body: linq.UpdateContactCardRequest{FirstName: new("X")}, wantStatus: 403, wantCode: 2005},
		{name: "no card", phone: ada, body: linq.UpdateContactCardRequest{FirstName: new("X")}, wantStatus: 404, wantCode: 2001},
		{name: "no card, 2012", notFound: 2012, phone: ada, body: linq.UpdateContactCardRequest{FirstName: new("X")}, wantStatus: 404, wantCode: 2012},
		{
			name: "inactive card", seed: []linq.ContactCard{card(ada, "Ada", "", "", false)}, phone: ada,
			body: linq.UpdateContactCardRequest{FirstName: new("X")}, wantStatus: 404, wantCode: 2001,
		},
		{
			name: "inactive card, 2012", notFound: 2012, seed: []linq.ContactCard{card(ada, "Ada", "", "", false)}, phone: ada,
			body: linq.UpdateContactCardRequest{FirstName: new("X")}, wantStatus: 404, wantCode: 2012,
		},
		{
			name: "image that cannot be fetched", seed: []linq.ContactCard{full}, phone: ada,
			body: linq.UpdateContactCardRequest{FirstName: new("Augusta"), ImageUrl: new("https://cdn.example.INVALID/a.png")}, wantStatus: 400, wantCode: 5007,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, linqfake.Options{Lines: tc.lines, NotOwnedCode: tc.notOwned, NotFoundCode: tc.notFound}, tc.seed...)
			params := &linq.UpdateContactCardParams{PhoneNumber: tc.phone}
			resp, err := f.client.UpdateContactCardWithResponse(t.Context(), params, tc.body, auth(tc.auth))
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantStatus != 200 {
				checkEnvelope(t, resp.HTTPResponse, updateEnvelope(resp), tc.wantStatus, tc.wantCode)
				if got := f.fake.Cards(); !reflect.DeepEqual(got, append([]linq.ContactCard{}, tc.seed...)) {
					t.Errorf("store changed by a failed update: %+v", got)
				}
				return
			}
			if resp.StatusCode() != 200 || resp.JSON200 == nil {
				t.Fatalf("status %d, body %s", resp.StatusCode(), resp.Body)
			}
			if got := linq.ContactCard(*resp.JSON200); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("answer %+v, want %+v", got, tc.want)
			}
			if stored, _ := f.fake.Card(tc.phone); !reflect.DeepEqual(stored, tc.want) {
				t.Errorf("stored %+v, want %+v", stored, tc.want)
			}
		})
	}
}

func TestListContactCards(t *testing.T) {
	seed := []linq.ContactCard{
		card(grace, "Grace", "Hopper", "", true),
		card(ada, "Ada", "", "https://cdn.linqapp.com/contact-card/ada.jpg", true),
		card(alan, "Alan", "Turing", "", false),
	}
	tests := []struct {
		name       string
		lines      []string
		hide       bool // Options.HideInactive
		auth       string
		phone      *string
		wantStatus int
		wantCode   int
		want       []linq.ContactCard
	}{
		{name: "all, sorted, inactive included", wantStatus: 200, want: []linq.ContactCard{seed[1], seed[0], seed[2]}},
		{name: "one number", phone: new(grace), wantStatus: 200, want: []linq.ContactCard{seed[0]}},
		{name: "inactive card", phone: new(alan), wantStatus: 200, want: []linq.ContactCard{seed[2]}},
		{name: "all, inactive hidden", hide: true, wantStatus: 200, want: []linq.ContactCard{seed[1], seed[0]}},
		{name: "inactive card hidden", hide: true, phone: new(alan), wantStatus: 200, want: []linq.ContactCard{}},
		{name: "active card with inactive hidden", hide: true, phone: new(grace), wantStatus: 200, want: []linq.ContactCard{seed[0]}},
		{name: "number without a card", phone: new(other), wantStatus: 200, want: []linq.ContactCard{}},
		{name: "no token", auth: noAuth, wantStatus: 401, wantCode: 2004},
		{name: "bad number", phone: new("(415) 555-0101"), wantStatus: 400, wantCode: 1002},
		{name: "empty number", phone: new(""), wantStatus: 400, wantCode: 1002},
		{name: "number not on the account", lines: lines, phone: new(other), wantStatus: 403, wantCode: 2006},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, linqfake.Options{Lines: tc.lines, HideInactive: tc.hide}, seed...)
			resp, err := f.client.ListContactCardsWithResponse(t.Context(), &linq.ListContactCardsParams{PhoneNumber: tc.phone}, auth(tc.auth))
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantStatus != 200 {
				checkEnvelope(t, resp.HTTPResponse, listEnvelope(resp), tc.wantStatus, tc.wantCode)
				return
			}
			if resp.StatusCode() != 200 || resp.JSON200 == nil {
				t.Fatalf("status %d, body %s", resp.StatusCode(), resp.Body)
			}
			if !reflect.DeepEqual(resp.JSON200.ContactCards, tc.want) {
				t.Errorf("got %+v, want %+v", resp.JSON200.ContactCards, tc.want)
			}
		})
	}
}

func TestListPhoneNumbers(t *testing.T) {
	tests := []struct {
		name       string
		lines      []string
		seed       []linq.ContactCard
		auth       string
		wantStatus int
		want       []string
	}{
		{name: "lines, sorted", lines: []string{alan, ada, grace, ada}, seed: []linq.ContactCard{card(other, "X", "", "", true)}, wantStatus: 200, want: []string{ada, grace, alan}},
		{name: "no lines: the numbers with cards", seed: []linq.ContactCard{card(grace, "G", "", "", true), card(ada, "A", "", "", false)}, wantStatus: 200, want: []string{ada, grace}},
		{name: "nothing", wantStatus: 200, want: []string{}},
		{name: "no token", auth: noAuth, wantStatus: 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, linqfake.Options{Lines: tc.lines}, tc.seed...)
			resp, err := f.client.ListPhoneNumbersWithResponse(t.Context(), auth(tc.auth))
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantStatus != 200 {
				checkEnvelope(t, resp.HTTPResponse, phoneEnvelope(resp), tc.wantStatus, 2004)
				return
			}
			if resp.StatusCode() != 200 || resp.JSON200 == nil {
				t.Fatalf("status %d, body %s", resp.StatusCode(), resp.Body)
			}
			got := []string{}
			for _, n := range resp.JSON200.PhoneNumbers {
				got = append(got, n.PhoneNumber)
				if n.Reputation == nil || n.Reputation.Status != linq.HEALTHY {
					t.Errorf("%s: reputation %+v, want HEALTHY", n.PhoneNumber, n.Reputation)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// PhoneNumbersStatus makes the endpoint answer an error instead of the list,
// as an account or API version without it would.
func TestListPhoneNumbersUnavailable(t *testing.T) {
	for status, code := range map[int]int{403: 2005, 404: 2001, 500: 3006, 503: 4004} {
		f := newFixture(t, linqfake.Options{Lines: lines, PhoneNumbersStatus: status})
		resp, err := f.client.ListPhoneNumbersWithResponse(t.Context(), auth(""))
		if err != nil {
			t.Fatal(err)
		}
		checkEnvelope(t, resp.HTTPResponse, phoneEnvelope(resp), status, code)
	}
}

// Reputation marks lines that are not healthy; AddLine and RemoveLine change
// the account's lines, and the writes they allow, while the fake serves.
func TestLinesChange(t *testing.T) {
	f := newFixture(t, linqfake.Options{Lines: []string{ada, grace}, Reputation: map[string]string{grace: "AT_RISK"}})
	list := func() map[string]string {
		resp, err := f.client.ListPhoneNumbersWithResponse(t.Context(), auth(""))
		if err != nil || resp.JSON200 == nil {
			t.Fatalf("err %v, status %d", err, resp.StatusCode())
		}
		m := map[string]string{}
		for _, n := range resp.JSON200.PhoneNumbers {
			if n.Reputation == nil || n.Reputation.DocUrl == nil {
				t.Fatalf("%s: no reputation or doc_url: %+v", n.PhoneNumber, n.Reputation)
			}
			m[n.PhoneNumber] = string(n.Reputation.Status)
		}
		return m
	}
	if got, want := list(), map[string]string{ada: "HEALTHY", grace: "AT_RISK"}; !reflect.DeepEqual(got, want) {
		t.Errorf("lines %v, want %v", got, want)
	}
	f.fake.AddLine(alan)
	f.fake.RemoveLine(ada)
	if got, want := list(), map[string]string{alan: "HEALTHY", grace: "AT_RISK"}; !reflect.DeepEqual(got, want) {
		t.Errorf("after AddLine and RemoveLine: lines %v, want %v", got, want)
	}
	resp, err := f.client.CreateContactCardWithResponse(t.Context(), linq.CreateContactCardRequest{PhoneNumber: ada, FirstName: "Ada"}, auth(""))
	if err != nil {
		t.Fatal(err)
	}
	checkEnvelope(t, resp.HTTPResponse, createEnvelope(resp), 403, 2006)
	resp, err = f.client.CreateContactCardWithResponse(t.Context(), linq.CreateContactCardRequest{PhoneNumber: alan, FirstName: "Alan"}, auth(""))
	if err != nil || resp.StatusCode() != 200 {
		t.Fatalf("create on an added line: err %v, status %d", err, resp.StatusCode())
	}
}

// ShouldRetry adds x-should-retry to error answers only.
func TestShouldRetryHeader(t *testing.T) {
	f := newFixture(t, linqfake.Options{ShouldRetry: "false"}, card(ada, "Ada", "", "", true))
	ok, err := f.client.UpdateContactCardWithResponse(t.Context(), &linq.UpdateContactCardParams{PhoneNumber: ada}, linq.UpdateContactCardRequest{}, auth(""))
	if err != nil {
		t.Fatal(err)
	}
	if h := ok.HTTPResponse.Header.Get("X-Should-Retry"); ok.StatusCode() != 200 || h != "" {
		t.Errorf("status %d, x-should-retry %q; want a 200 without it", ok.StatusCode(), h)
	}
	read, err := f.client.ListContactCardsWithResponse(t.Context(), &linq.ListContactCardsParams{PhoneNumber: new("1")}, auth(""))
	if err != nil {
		t.Fatal(err)
	}
	if h := read.HTTPResponse.Header.Get("X-Should-Retry"); read.StatusCode() != 400 || h != "" {
		t.Errorf("a read's error: status %d, x-should-retry %q; want 400 without it", read.StatusCode(), h)
	}
	bad, err := f.client.UpdateContactCardWithResponse(t.Context(), &linq.UpdateContactCardParams{PhoneNumber: grace}, linq.UpdateContactCardRequest{}, auth(""))
	if err != nil {
		t.Fatal(err)
	}
	if bad.StatusCode() != 404 || bad.HTTPResponse.Header.Get("X-Should-Retry") != "false" {
		t.Errorf("status %d, x-should-retry %q; want 404 and false", bad.StatusCode(), bad.HTTPResponse.Header.Get("X-Should-Retry"))
	}
}

// The id of a line is derived from its number: the same in every fake, and
// different for different numbers.
func TestPhoneNumberIDsAreStable(t *testing.T) {
	ids := func() map[string]string {
		f := newFixture(t, linqfake.Options{Lines: lines})
		resp, err := f.client.ListPhoneNumbersWithResponse(t.Context(), auth(""))
		if err != nil || resp.JSON200 == nil {
			t.Fatalf("err %v, status %d", err, resp.StatusCode())
		}
		m := make(map[string]string)
		for _, n := range resp.JSON200.PhoneNumbers {
			m[n.PhoneNumber] = n.Id.String()
		}
		return m
	}
	first, second := ids(), ids()
	if !reflect.DeepEqual(first, second) {
		t.Errorf("ids differ between fakes: %v and %v", first, second)
	}
	if first[ada] == first[grace] {
		t.Errorf("two numbers share the id %s", first[ada])
	}
}

func TestRehostedURLIsDeterministic(t *testing.T) {
	const src = "https://example.com/ada.png"
	got := linqfake.RehostedURL(src)
	if got != linqfake.RehostedURL(src) || got == linqfake.RehostedURL(src+"?v=2") {
		t.Errorf("RehostedURL is not a function of its source")
	}
	if !strings.HasPrefix(got, "https://cdn.linqapp.com/contact-card/") || !strings.HasSuffix(got, ".jpg") {
		t.Errorf("RehostedURL(%q) = %q, not a CDN URL", src, got)
	}
}

// A token revoked during a run makes the next request answer 401.
func TestTokenChangedMidway(t *testing.T) {
	f := newFixture(t, linqfake.Options{})
	resp, err := f.client.ListContactCardsWithResponse(t.Context(), nil, auth(""))
	if err != nil || resp.StatusCode() != 200 {
		t.Fatalf("before: err %v, status %d", err, resp.StatusCode())
	}
	f.fake.SetToken("rotated")
	resp, err = f.client.ListContactCardsWithResponse(t.Context(), nil, auth(""))
	if err != nil {
		t.Fatal(err)
	}
	checkEnvelope(t, resp.HTTPResponse, listEnvelope(resp), 401, 2004)
	resp, err = f.client.ListContactCardsWithResponse(t.Context(), nil, auth("Bearer rotated"))
	if err != nil || resp.StatusCode() != 200 {
		t.Fatalf("new token: err %v, status %d", err, resp.StatusCode())
	}
}

// An empty Options.Token accepts any bearer token but still needs one.
func TestEmptyTokenAcceptsAnyBearer(t *testing.T) {
	fake := linqfake.New(linqfake.Options{})
	for _, tc := range []struct {
		name   string
		header string
		want   int
	}{
		{"any token", "Bearer whatever", 200},
		{"lower-case scheme", "bearer whatever", 200},
		{"no token", "", 401},
		{"empty token", "Bearer ", 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "/v3/contact_card", nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			rec := httptest.NewRecorder()
			fake.Handler().ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Errorf("status %d, want %d", rec.Code, tc.want)
			}
		})
	}
}
