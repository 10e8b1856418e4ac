package linqfake

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/bulksync/bulksync/gen/linq"
)

// TestListAnswersAsGenerated checks that the streamed list answers are
// byte for byte what the generated 200 responses write for the same lists,
// strings that need escaping included.
func TestListAnswersAsGenerated(t *testing.T) {
	odd := []string{"", "Ada", `Quote " and \ back`, "<b>&amp;</b>", "Zoë 李", "tab\tnew\nline", "\u2028sep", "\x7f"}
	var stored []storedCard
	var cards []linq.ContactCard
	for i, name := range odd {
		c := card{firstName: "F" + name, lastName: name, imageURL: odd[len(odd)-1-i], active: i%3 != 0}
		phone := "+1415555010" + string(rune('0'+i))
		stored = append(stored, storedCard{phone, c})
		cards = append(cards, c.contactCard(phone))
	}
	for _, tc := range []struct {
		name  string
		cards []storedCard
		list  []linq.ContactCard
	}{
		{"none", nil, []linq.ContactCard{}},
		{"some", stored, cards},
	} {
		t.Run("cards/"+tc.name, func(t *testing.T) {
			got, want := httptest.NewRecorder(), httptest.NewRecorder()
			if err := encodedList(encodeCardList(tc.cards)).VisitListContactCardsResponse(got); err != nil {
				t.Fatal(err)
			}
			if err := (linq.ListContactCards200JSONResponse{Body: linq.ContactCardList{ContactCards: tc.list}}).VisitListContactCardsResponse(want); err != nil {
				t.Fatal(err)
			}
			compareAnswers(t, got, want)
		})
	}

	numbers := []string{"+14155550100", "+14155550101", "+14155550102", "+442071838750"}
	reputation := map[string]string{"+14155550101": "AT_RISK", "+14155550102": "Some<New>"}
	var lines []linq.PhoneNumber
	for _, n := range numbers {
		status := linq.HEALTHY
		if r, ok := reputation[n]; ok {
			status = linq.LineStatusStatus(r)
		}
		doc := "https://docs.linqapp.com/guides/phone-numbers/#" + strings.ToLower(string(status))
		rep := linq.LineStatus{Status: status, DocUrl: &doc}
		lines = append(lines, linq.PhoneNumber{Id: uuid.NewSHA1(uuid.NameSpaceURL, []byte("tel:"+n)), PhoneNumber: n, Reputation: &rep, HealthStatus: &rep})
	}
	for _, tc := range []struct {
		name    string
		numbers []string
		list    []linq.PhoneNumber
	}{
		{"none", nil, []linq.PhoneNumber{}},
		{"some", numbers, lines},
	} {
		t.Run("lines/"+tc.name, func(t *testing.T) {
			got, want := httptest.NewRecorder(), httptest.NewRecorder()
			if err := encodedList(encodeLineList(lineList{numbers: tc.numbers, reputation: reputation})).VisitListPhoneNumbersResponse(got); err != nil {
				t.Fatal(err)
			}
			if err := (linq.ListPhoneNumbers200JSONResponse{Body: linq.PhoneNumberList{PhoneNumbers: tc.list}}).VisitListPhoneNumbersResponse(want); err != nil {
				t.Fatal(err)
			}
			compareAnswers(t, got, want)
		})
	}
}

func compareAnswers(t *testing.T, got, want *httptest.ResponseRecorder) {
	t.Helper()
	if got.Code != want.Code || got.Header().Get("Content-Type") != want.Header().Get("Content-Type") {
		t.Errorf("status %d %q, want %d %q", got.Code, got.Header().Get("Content-Type"), want.Code, want.Header().Get("Content-Type"))
	}
	if g, w := got.Body.String(), want.Body.String(); g != w {
		t.Errorf("body differs:\n got %s\nwant %s", g, w)
	}
}

// TestListsFollowWrites checks that the list answers, which the fake keeps
// encoded between requests, change with every kind of write: each list is
// read before a write (so that it is cached) and compared after it with the
// store as Cards reports it.
func TestListsFollowWrites(t *testing.T) {
	const ada, grace, alan = "+14155550101", "+14155550102", "+14155550103"
	fake := New(Options{Token: "t"})
	srv := httptest.NewServer(fake.Handler())
	t.Cleanup(srv.Close)
	client, err := linq.NewClientWithResponses(srv.URL, linq.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", "Bearer t")
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	check := func(after string) {
		t.Helper()
		for range 2 { // the second read is served from the cache
			cards, err := client.ListContactCardsWithResponse(t.Context(), &linq.ListContactCardsParams{})
			if err != nil || cards.JSON200 == nil {
				t.Fatalf("after %s: list cards: %v, status %d", after, err, cards.StatusCode())
			}
			if got, want := cards.JSON200.ContactCards, fake.Cards(); !reflect.DeepEqual(got, want) {
				t.Errorf("after %s: cards %+v, want %+v", after, got, want)
			}
			lines, err := client.ListPhoneNumbersWithResponse(t.Context())
			if err != nil || lines.JSON200 == nil {
				t.Fatalf("after %s: list lines: %v, status %d", after, err, lines.StatusCode())
			}
			var got, want []string
			for _, l := range lines.JSON200.PhoneNumbers {
				got = append(got, l.PhoneNumber)
			}
			for _, c := range fake.Cards() {
				want = append(want, c.PhoneNumber)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("after %s: lines %v, want %v", after, got, want)
			}
		}
	}
	check("nothing")
	fake.PutCard(linq.ContactCard{PhoneNumber: ada, FirstName: "Ada", IsActive: true})
	check("PutCard")
	if err := fake.SeedCSV(strings.NewReader("phone_number,first_name\n" + grace + ",Grace\n")); err != nil {
		t.Fatal(err)
	}
	check("SeedCSV")
	created, err := client.CreateContactCardWithResponse(t.Context(), linq.CreateContactCardRequest{PhoneNumber: alan, FirstName: "Alan"})
	if err != nil || created.StatusCode() != 200 {
		t.Fatalf("create: %v, status %d", err, created.StatusCode())
	}
	check("POST")
	updated, err := client.UpdateContactCardWithResponse(t.Context(), &linq.UpdateContactCardParams{PhoneNumber: ada}, linq.UpdateContactCardRequest{FirstName: new("Augusta")})
	if err != nil || updated.StatusCode() != 200 {
		t.Fatalf("update: %v, status %d", err, updated.StatusCode())
	}
	check("PATCH")
	if cards := fake.Cards(); len(cards) != 3 || cards[0].FirstName != "Augusta" {
		t.Errorf("cards %+v, want 3 with Augusta first", cards)
	}
}
