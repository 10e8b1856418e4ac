package sync

import (
	"slices"
	"testing"
)

func TestDiffFieldsWithState(t *testing.T) {
	const cdn = "https://cdn.linqapp.com/contact-card/aaaa.jpg"
	live := Card{FirstName: "Ada", LastName: "Lovelace", ImageURL: cdn, Active: true}
	applied := &Applied{SrcFirst: "Ada", SrcLast: "Lovelace", SrcImage: "https://img/ada.png", LiveFirst: "Ada", LiveLast: "Lovelace", LiveImage: cdn}
	tests := []struct {
		name      string
		want      Desired
		live      Card
		known     *Applied
		empty     EmptyPolicy
		respect   bool
		wantNames []string
		wantDrift int
	}{
		{"no state: the image is sent once", Desired{FirstName: "Ada", LastName: "Lovelace", ImageURL: "https://img/ada.png"}, live, nil, EmptyKeep, false, []string{"image_url"}, 0},
		{"same source image as applied: nothing", Desired{FirstName: "Ada", LastName: "Lovelace", ImageURL: "https://img/ada.png"}, live, applied, EmptyKeep, false, nil, 0},
		{"new source image: sent", Desired{FirstName: "Ada", LastName: "Lovelace", ImageURL: "https://img/ada2.png"}, live, applied, EmptyKeep, false, []string{"image_url"}, 0},
		{"image changed in Linq: drift, overwritten", Desired{FirstName: "Ada", ImageURL: "https://img/ada.png"},
			Card{FirstName: "Ada", LastName: "Lovelace", ImageURL: "https://cdn/other.jpg", Active: true}, applied, EmptyKeep, false, []string{"image_url"}, 1},
		{"image changed in Linq: drift, respected", Desired{FirstName: "Ada", ImageURL: "https://img/ada.png"},
			Card{FirstName: "Ada", LastName: "Lovelace", ImageURL: "https://cdn/other.jpg", Active: true}, applied, EmptyKeep, true, nil, 1},
		{"name edited in Linq, export unchanged, respected", Desired{FirstName: "Ada", LastName: "Lovelace"},
			Card{FirstName: "Augusta", LastName: "Lovelace", ImageURL: cdn, Active: true}, applied, EmptyKeep, true, nil, 1},
		{"name edited in Linq, export changed too: export wins", Desired{FirstName: "Countess", LastName: "Lovelace"},
			Card{FirstName: "Augusta", LastName: "Lovelace", ImageURL: cdn, Active: true}, applied, EmptyKeep, true, []string{"first_name"}, 1},
		{"edit in Linq that matches the export: no drift noise", Desired{FirstName: "Augusta", LastName: "Lovelace"},
			Card{FirstName: "Augusta", LastName: "Lovelace", ImageURL: cdn, Active: true}, applied, EmptyKeep, false, nil, 0},
		{"blank image kept", Desired{FirstName: "Ada", LastName: "Lovelace"}, live, applied, EmptyKeep, false, nil, 0},
		{"blank image cleared", Desired{FirstName: "Ada", LastName: "Lovelace"}, live, applied, EmptyClear, false, []string{"image_url"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := diffFields(tt.want, tt.live, tt.known, tt.empty, tt.respect)
			var names []string
			for _, c := range d.changes {
				names = append(names, c.name)
			}
			if !slices.Equal(names, tt.wantNames) {
				t.Errorf("changes %v, want %v", names, tt.wantNames)
			}
			if len(d.drift) != tt.wantDrift {
				t.Errorf("drift %q, want %d notes", d.drift, tt.wantDrift)
			}
		})
	}
}

func TestAppliedAfter(t *testing.T) {
	c := &Change{Fields: []fieldChange{{name: FieldImageURL, new: "https://img/new.png"}}}
	got := appliedAfter(c, Card{FirstName: "Ada", LastName: "L", ImageURL: "https://cdn/x.jpg"}, nil)
	want := Applied{SrcFirst: "Ada", SrcLast: "L", SrcImage: "https://img/new.png", LiveFirst: "Ada", LiveLast: "L", LiveImage: "https://cdn/x.jpg"}
	if got != want {
		t.Errorf("appliedAfter = %+v, want %+v", got, want)
	}
}
