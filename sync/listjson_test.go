package sync

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// The lists were decoded with encoding/json until listReader replaced it
// for speed. refDecodeLines and refDecodeCardList are those decoders, kept
// to check that listReader reads every answer as they did.

// refWireLine is one item of the list, decoded leniently: the status is any
// string (the Go SDK adds FLAGGED to the documented enum, and Linq may add
// more), and fields bulksync does not use are ignored.
type refWireLine struct {
	PhoneNumber string `json:"phone_number"`
	Reputation  *struct {
		Status string `json:"status"`
		DocURL string `json:"doc_url"`
	} `json:"reputation"`
	HealthStatus *struct {
		Status string `json:"status"`
		DocURL string `json:"doc_url"`
	} `json:"health_status"`
}

// refDecodeLines reads {"phone_numbers":[...]} one line at a time: the list
// of an account with a million lines is some 300 MB of JSON, never held
// whole.
func refDecodeLines(r io.Reader) (*Lines, error) {
	dec := json.NewDecoder(r)
	if err := refExpectDelim(dec, '{'); err != nil {
		return nil, err
	}
	var lines *Lines
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		if key, _ := tok.(string); key != "phone_numbers" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, err
			}
			continue
		}
		tok, err = dec.Token()
		if err != nil {
			return nil, err
		}
		if tok == nil { // "phone_numbers": null
			continue
		}
		if d, ok := tok.(json.Delim); !ok || d != '[' {
			return nil, fmt.Errorf("unexpected %v where '[' belongs", tok)
		}
		lines = newLines()
		for dec.More() {
			var w refWireLine // fresh: a field absent from this item must not keep the last one's value
			if err := dec.Decode(&w); err != nil {
				return nil, err
			}
			if w.PhoneNumber == "" {
				continue
			}
			l := Line{Phone: w.PhoneNumber}
			if w.HealthStatus != nil {
				l.Health, l.DocURL = strings.ToUpper(w.HealthStatus.Status), w.HealthStatus.DocURL
			}
			if w.Reputation != nil {
				l.Reputation = strings.ToUpper(w.Reputation.Status)
				if w.Reputation.DocURL != "" {
					l.DocURL = w.Reputation.DocURL
				}
			}
			lines.add(l)
		}
		lines.done()
		if err := refExpectDelim(dec, ']'); err != nil {
			return nil, err
		}
	}
	if lines == nil {
		return nil, errors.New("no phone_numbers in the answer")
	}
	return lines, refExpectDelim(dec, '}')
}

// refDecodeCardList reads {"contact_cards":[...]} one card at a time into the
// compact store, so a list of a million cards is never held whole, neither
// as JSON nor as Go values.
func refDecodeCardList(r io.Reader) (*Cards, error) {
	dec := json.NewDecoder(r)
	if err := refExpectDelim(dec, '{'); err != nil {
		return nil, err
	}
	var cards *Cards
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		if key, _ := tok.(string); key != "contact_cards" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, err
			}
			continue
		}
		if err := refExpectDelim(dec, '['); err != nil {
			return nil, err
		}
		var b cardsBuilder
		var w refWireCard // one for the whole list: decoding allocates only the strings
		for dec.More() {
			w = refWireCard{} // a field absent from this card must not keep the last one's value
			if err := dec.Decode(&w); err != nil {
				return nil, err
			}
			b.add(Card{Phone: w.Phone, FirstName: w.First, LastName: w.Last, ImageURL: w.Image, Active: w.Active})
		}
		if err := refExpectDelim(dec, ']'); err != nil {
			return nil, err
		}
		cards = b.done()
	}
	if cards == nil {
		return nil, fmt.Errorf("no contact_cards in the answer")
	}
	return cards, refExpectDelim(dec, '}')
}

// refWireCard is one card of the list as decodeCardList reads it: a field
// that is absent or null reads as "", as cardFromAPI makes it.
type refWireCard struct {
	Phone  string `json:"phone_number"`
	First  string `json:"first_name"`
	Last   string `json:"last_name"`
	Image  string `json:"image_url"`
	Active bool   `json:"is_active"`
}

func refExpectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("unexpected %v where %q belongs", tok, want)
	}
	return nil
}

// listSeeds are answers, odd ones included, for the tests and the fuzzer.
var listSeeds = []string{
	`{"contact_cards":[{"phone_number":"+12125550101","first_name":"Ann","last_name":"Lee","image_url":"https://cdn/a.png","is_active":true},{"phone_number":"+12125550102","first_name":"Bo","last_name":null},{"phone_number":"+12125550103","first_name":"","is_active":true}]}`,
	`{"next":null,"contact_cards":[],"x":{"y":[1,-2.5e+3,true,false,null,"s\"\\"]}}`,
	`{"contact_cards":[{"Phone_Number":"+1","FIRST_NAME":"caps","first_name":null,"is_active":true,"is_active":null}]}`,
	`{"contact_cards":[{"phone_number":"+1","first_name":"a\u00e9\ud83d\ude00\n\"<>&","last_name":"\xff\xfe bad utf-8","image_url":"\u0000"}]}`,
	`{"contact_cards":[{"phone_number":"+1","first_name":"A"}],"contact_cards":[{"phone_number":"+2","first_name":"B"}]}`,
	`{"contact_cards":[null,{"phone_number":"+3"}]}`,
	`{"contact_cards":null}`,
	`{"contact_cards":[{"phone_number":1}]}`,
	`{"contact_cards":[{"is_active":"yes"}]}`,
	`{"contact_cards":["x"]}`,
	`{"contact_cards":[{"phone_number":"+1"}`,
	`{"contact_cards":[] "x"}`,
	`{"contact_cards":[],"n":01}`,
	`{"contact_cards":[],"n":-}`,
	`{"contact_cards":[],"n":1.}`,
	`{"contact_cards":[],"n":tru}`,
	`{"cards":[]}`,
	`[]`,
	`<html>`,
	"{\"contact_cards\":[{\"first_name\":\"tab\there\"}]}",
	`{"phone_numbers":[{"id":"4b6f9a1e-0000-0000-0000-000000000000","phone_number":"+12125550101","forwarding_number":null,"reputation":{"status":"HEALTHY","doc_url":"https://d/h"},"health_status":{"status":"HEALTHY"}},{"phone_number":"+12125550102","reputation":{"status":"FLAGGED","doc_url":"https://d/f"}},{"phone_number":"+12125550103","health_status":{"status":"at_risk","doc_url":"https://d/a"}},{"phone_number":"+12125550104","reputation":{"status":"SUSPENDED_FOR_REVIEW"},"capabilities":{"sms":true}},{"phone_number":"+12125550105"}],"next":null}`,
	`{"phone_numbers":[{"phone_number":"+1","reputation":{"status":"AT_RISK","doc_url":"u"},"reputation":{"status":"X"}}]}`,
	`{"phone_numbers":[{"phone_number":"+1","reputation":{"status":"AT_RISK","doc_url":"u"},"reputation":null,"reputation":{"status":"X"}}]}`,
	`{"phone_numbers":[{"phone_number":"+1","reputation":"bad"}]}`,
	`{"phone_numbers":[{"phone_number":"+12125550101"},{"phone_number":"+012125550102","health_status":{"status":null}}],"phone_numbers":[{"phone_number":"+44207946000"}]}`,
	`{"phone_numbers":null}`,
	`{"phone_numbers":[[]]}`,
}

// sameLines compares two line lists by what bulksync reads of them.
func sameLines(a, b *Lines) bool {
	if (a == nil) != (b == nil) {
		return false
	}
	if a == nil {
		return true
	}
	return slices.Equal(a.numbers, b.numbers) && maps.Equal(a.other, b.other) &&
		slices.Equal(a.Unhealthy(), b.Unhealthy())
}

// checkListsAsReference fails t when the list decoders read body other
// than encoding/json did: both refuse it, or both read the same cards and
// lines.
func checkListsAsReference(t *testing.T, body string) {
	t.Helper()
	cards, cardsErr := decodeCardList(strings.NewReader(body))
	refCards, refErr := refDecodeCardList(strings.NewReader(body))
	if (cardsErr != nil) != (refErr != nil) {
		t.Errorf("cards of %q: error %v, encoding/json's %v", body, cardsErr, refErr)
	} else if cardsErr == nil && !maps.Equal(asMap(cards), asMap(refCards)) {
		t.Errorf("cards of %q:\n%v\nencoding/json read\n%v", body, asMap(cards), asMap(refCards))
	}
	lines, linesErr := decodeLines(strings.NewReader(body))
	refLines, refErr := refDecodeLines(strings.NewReader(body))
	if (linesErr != nil) != (refErr != nil) {
		t.Errorf("lines of %q: error %v, encoding/json's %v", body, linesErr, refErr)
	} else if linesErr == nil && !sameLines(lines, refLines) {
		t.Errorf("lines of %q:\n%+v\nencoding/json read\n%+v", body, lines, refLines)
	}
	// A body that comes a byte at a time moves every value across the
	// reader's refills, and must read the same.
	slowCards, err := decodeCardList(iotest.OneByteReader(strings.NewReader(body)))
	if (err != nil) != (cardsErr != nil) {
		t.Errorf("cards of %q a byte at a time: error %v, at once %v", body, err, cardsErr)
	} else if err == nil && !maps.Equal(asMap(slowCards), asMap(cards)) {
		t.Errorf("cards of %q a byte at a time:\n%v\nat once\n%v", body, asMap(slowCards), asMap(cards))
	}
	slowLines, err := decodeLines(iotest.OneByteReader(strings.NewReader(body)))
	if (err != nil) != (linesErr != nil) {
		t.Errorf("lines of %q a byte at a time: error %v, at once %v", body, err, linesErr)
	} else if err == nil && !sameLines(slowLines, lines) {
		t.Errorf("lines of %q a byte at a time:\n%+v\nat once\n%+v", body, slowLines, lines)
	}
}

func TestListsReadAsEncodingJSON(t *testing.T) {
	for _, body := range listSeeds {
		checkListsAsReference(t, body)
	}
}

// A string longer than the reader's buffer, with escaped quotes at the
// buffer's edges, reads whole.
func TestListReaderLongStrings(t *testing.T) {
	for _, n := range []int{listBufSize - 40, listBufSize, listBufSize + 1, 3 * listBufSize} {
		name := strings.Repeat(`ab\"`, n/4) + strings.Repeat("x", n%4)
		body := fmt.Sprintf(`{"contact_cards":[{"phone_number":"+1","first_name":"%s","last_name":"L"}]}`, name)
		checkListsAsReference(t, body)
	}
}

// A cut body is an error, wherever it is cut.
func TestListReaderCutShort(t *testing.T) {
	for _, body := range listSeeds[:1] {
		for i := range len(body) - 1 {
			if _, err := decodeCardList(strings.NewReader(body[:i])); err == nil {
				t.Errorf("%q read without error", body[:i])
			} else if i > 0 && !errors.Is(err, io.ErrUnexpectedEOF) && !strings.Contains(err.Error(), "no contact_cards") {
				t.Errorf("%q: %v, want unexpected EOF", body[:i], err)
			}
		}
	}
}

func FuzzListsReadAsEncodingJSON(f *testing.F) {
	for _, s := range listSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		checkListsAsReference(t, body)
	})
}

// plainPrefix, which reads eight bytes at a time, stops where a byte at a
// time would: at every byte value, in every position of a word, with plain
// or other bytes after it (a borrow must not hide the first stop).
func TestPlainPrefix(t *testing.T) {
	slow := func(b []byte) int {
		for i, c := range b {
			if c < 0x20 || c >= 0x80 || c == '"' || c == '\\' {
				return i
			}
		}
		return len(b)
	}
	for _, after := range []byte{'a', 0, '"', '\\', 0xff, 0x1f, 0x20, 0x7f} {
		for n := range 20 {
			for at := range n + 1 {
				for c := range 256 {
					b := bytes.Repeat([]byte{'x'}, n)
					if at < n {
						b[at] = byte(c)
						for i := at + 1; i < n; i++ {
							b[i] = after
						}
					}
					if got, want := plainPrefix(b), slow(b); got != want {
						t.Fatalf("plainPrefix(%q) = %d, want %d", b, got, want)
					}
				}
			}
		}
	}
}

// BenchmarkDecodeLists reads lists of 100k cards and 100k lines shaped as
// the fake (and the API) sends them: the lists a 100k-row plan reads
// before its first row.
func BenchmarkDecodeLists(b *testing.B) {
	const n = 100_000
	var cards, lines bytes.Buffer
	cards.WriteString(`{"contact_cards":[`)
	lines.WriteString(`{"phone_numbers":[`)
	const healthy = `{"doc_url":"https://docs.linqapp.com/guides/phone-numbers/#healthy","status":"HEALTHY"}`
	for i := range n {
		if i > 0 {
			cards.WriteByte(',')
			lines.WriteByte(',')
		}
		fmt.Fprintf(&cards, `{"first_name":"Old","is_active":true,"last_name":"Person%d","phone_number":"+1212%d"}`, i, 2_000_000+i)
		fmt.Fprintf(&lines, `{"health_status":%s,"id":"d3fc7763-5752-5529-8a43-%012d","phone_number":"+1212%d","reputation":%s}`, healthy, i, 2_000_000+i, healthy)
	}
	cards.WriteString(`]}`)
	lines.WriteString(`]}`)
	b.Run("cards", func(b *testing.B) {
		b.SetBytes(int64(cards.Len()))
		for b.Loop() {
			if cs, err := decodeCardList(bytes.NewReader(cards.Bytes())); err != nil || cs.Len() != n {
				b.Fatal(cs.Len(), err)
			}
		}
	})
	b.Run("lines", func(b *testing.B) {
		b.SetBytes(int64(lines.Len()))
		for b.Loop() {
			if ls, err := decodeLines(bytes.NewReader(lines.Bytes())); err != nil || ls.Len() != n {
				b.Fatal(ls.Len(), err)
			}
		}
	})
}
