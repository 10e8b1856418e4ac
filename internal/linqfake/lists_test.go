package linqfake

import (
	"net/http/httptest"
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
			if err := (cardListAnswer{cards: tc.cards}).VisitListContactCardsResponse(got); err != nil {
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
			if err := (lineListAnswer{numbers: tc.numbers, reputation: reputation}).VisitListPhoneNumbersResponse(got); err != nil {
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
