package sync

import "fmt"

// EmptyPolicy says what a blank source cell means for the card.
type EmptyPolicy string

const (
	EmptyKeep  EmptyPolicy = "keep"  // a blank cell leaves the card's value alone
	EmptyClear EmptyPolicy = "clear" // a blank cell clears the card's value
)

// ParseEmptyPolicy checks the --empty flag.
func ParseEmptyPolicy(s string) (EmptyPolicy, error) {
	switch p := EmptyPolicy(s); p {
	case EmptyKeep, EmptyClear:
		return p, nil
	}
	return "", fmt.Errorf("%w: --empty: unknown %q; allowed: keep, clear", ErrUsage, s)
}

// fieldChange is one field whose desired value differs from the live one.
type fieldChange struct {
	name string
	old  string
	new  string
}

// diffFields compares the desired record with the live card, field by field,
// and returns the fields to send. A blank desired value is a change only
// under EmptyClear, and only when the card has a value to clear.
//
// image_url is compared with the live value for now. Linq rehosts images,
// so the live value is a CDN URL and never equals the source URL: until the
// state store remembers the source URL last applied, an image always differs.
func diffFields(d Desired, live Card, empty EmptyPolicy) []fieldChange {
	var changes []fieldChange
	add := func(name, want, have string) {
		if want == have {
			return
		}
		if want == "" && empty == EmptyKeep {
			return
		}
		changes = append(changes, fieldChange{name: name, old: have, new: want})
	}
	add(FieldFirstName, d.FirstName, live.FirstName)
	add(FieldLastName, d.LastName, live.LastName)
	add(FieldImageURL, d.ImageURL, live.ImageURL)
	return changes
}
