package sync

import (
	"fmt"
	"strings"
)

// EmptyPolicy says what a blank source cell means for the card.
type EmptyPolicy string

const (
	EmptyKeep  EmptyPolicy = "keep"  // a blank cell leaves the card's value alone
	EmptyClear EmptyPolicy = "clear" // a blank cell clears the card's value
)

// ParseEmptyPolicy checks the --empty flag.
func ParseEmptyPolicy(s string) (EmptyPolicy, error) {
	p, err := EmptyPolicies.Parse(s)
	return EmptyPolicy(p), err
}

// fieldChange is one field whose desired value differs from the live one.
type fieldChange struct {
	name string
	old  string
	new  string
}

// diff is the comparison of one record with its live card.
type diff struct {
	changes []fieldChange
	drift   []string // fields edited in Linq since bulksync last set them, described
}

// diffFields compares the desired record with the live card, field by field.
//
// known is what the state recorded when bulksync last wrote this card (nil
// when it never did). It serves twice:
//   - image_url: Linq rehosts images, so the live value is a CDN URL that
//     never equals the source URL. The image is unchanged when the source
//     URL is the one last applied and the CDN URL the one then answered.
//   - drift: a live value that is not the one bulksync last saw was edited
//     in Linq by hand. It is overwritten, unless respectEdits and the
//     source still holds the value bulksync last applied (the CRM has no
//     news for that field, so the hand edit stands).
func diffFields(d Desired, live Card, known *Applied, empty EmptyPolicy, respectEdits bool) diff {
	var out diff
	compareFields(d, live, known, empty, respectEdits, &out)
	return out
}

// fieldsDiffer reports whether diffFields would find a field to send,
// without making its notes: the first pass of a plan only counts changes.
func fieldsDiffer(d Desired, live Card, known *Applied, empty EmptyPolicy, respectEdits bool) bool {
	return compareFields(d, live, known, empty, respectEdits, nil) > 0
}

// compareFields is diffFields, which fills out, or fieldsDiffer, when out
// is nil; it returns the number of fields to send.
func compareFields(d Desired, live Card, known *Applied, empty EmptyPolicy, respectEdits bool, out *diff) int {
	n := 0
	field := func(name, want, have, lastSent, lastSeen string, rehosted bool) {
		if want == "" && empty == EmptyKeep {
			return
		}
		drifted := known != nil && have != lastSeen
		var differs bool
		switch {
		case want == "":
			differs = have != ""
		case rehosted && known != nil && want == lastSent && !drifted:
			differs = false // applied before; the CDN URL is Linq's copy of it
		default:
			differs = want != have
		}
		if !differs {
			return
		}
		if drifted {
			if respectEdits && want == lastSent {
				if out != nil {
					out.drift = append(out.drift, driftNote(name, lastSeen, have)+"; left alone (--respect-manual-edits)")
				}
				return
			}
			if out != nil {
				out.drift = append(out.drift, driftNote(name, lastSeen, have)+"; overwritten")
			}
		}
		n++
		if out != nil {
			out.changes = append(out.changes, fieldChange{name: name, old: have, new: want})
		}
	}
	var k Applied
	if known != nil {
		k = *known
	}
	field(FieldFirstName, d.FirstName, live.FirstName, k.SrcFirst, k.LiveFirst, false)
	field(FieldLastName, d.LastName, live.LastName, k.SrcLast, k.LiveLast, false)
	field(FieldImageURL, d.ImageURL, live.ImageURL, k.SrcImage, k.LiveImage, true)
	return n
}

// driftNote says that a field was edited in Linq since bulksync set it.
func driftNote(name, lastSeen, have string) string {
	return fmt.Sprintf("%s changed in Linq since bulksync set it (%q, now %q)", name, lastSeen, have)
}

// driftDetail joins the drift notes for the report.
func (d diff) driftDetail() string {
	if len(d.drift) == 0 {
		return ""
	}
	return "drift: " + strings.Join(d.drift, "; ")
}

// appliedAfter is what the state should remember once the API confirmed a
// write of c, answering card: the source values now applied and the live
// values answered.
func appliedAfter(c *Change, card Card, known *Applied) Applied {
	var a Applied
	if known != nil {
		a = *known
	} else {
		// Names are not rehosted: what is live is what a source would send.
		a.SrcFirst, a.SrcLast = card.FirstName, card.LastName
	}
	for _, f := range c.Fields {
		switch f.name {
		case FieldFirstName:
			a.SrcFirst = f.new
		case FieldLastName:
			a.SrcLast = f.new
		case FieldImageURL:
			a.SrcImage = f.new
		}
	}
	a.LiveFirst, a.LiveLast, a.LiveImage = card.FirstName, card.LastName, card.ImageURL
	return a
}
