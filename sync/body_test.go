package sync

import (
	"encoding/json"
	"testing"

	"github.com/bulksync/bulksync/gen/linq"
)

// The hand-written bodies must be exactly what json.Marshal writes for the
// generated types, whatever the strings hold.
func TestBodiesMatchMarshal(t *testing.T) {
	strs := []string{"", "Ada", "O'Brien", `say "hi"`, `back\slash`, "tab\there", "nl\n", "\x00\x1f",
		"<b>&amp;</b>", "a<b", "a>b", "a&b", "Zoë", "日本", "\u2028\u2029", "bad\xffutf8", "\xc3", "https://cdn.example/a.png?x=1&y=2"}
	ptr := func(s string) *string { return &s }
	for _, s := range strs {
		for _, b := range []linq.UpdateContactCardRequest{
			{FirstName: ptr(s)},
			{LastName: ptr(s)},
			{ImageUrl: ptr(s)},
			{FirstName: ptr(s), LastName: ptr("x"), ImageUrl: ptr(s)},
			{FirstName: ptr("x"), ImageUrl: ptr(s)},
			{},
		} {
			want, err := json.Marshal(b)
			if err != nil {
				t.Fatal(err)
			}
			if got := updateBody(b); string(got) != string(want) {
				t.Errorf("updateBody(%q) = %s, want %s", s, got, want)
			}
		}
		for _, b := range []linq.CreateContactCardRequest{
			{PhoneNumber: "+14155550100", FirstName: s},
			{PhoneNumber: s, FirstName: "x", LastName: ptr(s)},
			{PhoneNumber: "+14155550100", FirstName: s, LastName: ptr(s), ImageUrl: ptr(s)},
			{},
		} {
			want, err := json.Marshal(b)
			if err != nil {
				t.Fatal(err)
			}
			if got := createBody(b); string(got) != string(want) {
				t.Errorf("createBody(%q) = %s, want %s", s, got, want)
			}
		}
	}
}
