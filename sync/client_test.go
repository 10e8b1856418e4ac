package sync

import (
	"strings"
	"testing"
)

func TestDecodeCardList(t *testing.T) {
	tests := []struct {
		name, in string
		want     int
		wantErr  bool
	}{
		{"two cards", `{"contact_cards":[{"phone_number":"+1","first_name":"A","is_active":true},{"phone_number":"+2","first_name":"B","last_name":"L","image_url":"https://cdn/x","is_active":false}]}`, 2, false},
		{"empty", `{"contact_cards":[]}`, 0, false},
		{"extra fields", `{"next":null,"contact_cards":[],"x":{"y":[1]}}`, 0, false},
		{"no list", `{"cards":[]}`, 0, true},
		{"not an object", `[]`, 0, true},
		{"html", `<html>`, 0, true},
		{"truncated", `{"contact_cards":[{"phone_number":"+1"`, 0, true},
	}
	for _, tt := range tests {
		got, err := decodeCardList(strings.NewReader(tt.in))
		if (err != nil) != tt.wantErr || got.Len() != tt.want {
			t.Errorf("%s: %d cards, err %v", tt.name, got.Len(), err)
		}
	}
	got, _ := decodeCardList(strings.NewReader(tests[0].in))
	if c, _ := got.Get("+2"); c.LastName != "L" || c.ImageURL != "https://cdn/x" || c.Active {
		t.Errorf("card +2 = %+v", c)
	}
}
