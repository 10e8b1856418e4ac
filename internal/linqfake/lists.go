package linqfake

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/bulksync/bulksync/gen/linq"
)

// The two list answers are written as they are encoded, one item at a time,
// instead of through the generated 200 responses, which build the whole
// list and then the whole body in memory: an account behind a million cards
// has a million lines, some 300 MB of JSON, and the fake must list them in
// seconds for the benchmark at that scale. The bytes are the same as
// encoding/json writes for the generated types (field order, omitted empty
// fields, escaping), so clients cannot tell the difference.

// listChunk is how much of an answer is buffered before it is written.
const listChunk = 256 << 10

// cardListAnswer is the 200 of GET /v3/contact_card without phone_number:
// the cards as they were when the request was served, sorted by number.
type cardListAnswer struct {
	cards []storedCard
}

// storedCard is a card with its number, as the store holds it.
type storedCard struct {
	phone string
	card
}

func (a cardListAnswer) VisitListContactCardsResponse(w http.ResponseWriter) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, listChunk)
	b := make([]byte, 0, 512)
	bw.WriteString(`{"contact_cards":[`)
	for i, c := range a.cards {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"first_name":`...)
		b = appendJSONString(b, c.firstName)
		if c.imageURL != "" {
			b = append(b, `,"image_url":`...)
			b = appendJSONString(b, c.imageURL)
		}
		b = append(b, `,"is_active":`...)
		if c.active {
			b = append(b, "true"...)
		} else {
			b = append(b, "false"...)
		}
		if c.lastName != "" {
			b = append(b, `,"last_name":`...)
			b = appendJSONString(b, c.lastName)
		}
		b = append(b, `,"phone_number":`...)
		b = appendJSONString(b, c.phone)
		b = append(b, '}')
		if _, err := bw.Write(b); err != nil {
			return err
		}
		b = b[:0]
	}
	bw.WriteString("]}\n")
	return bw.Flush()
}

// lineListAnswer is the 200 of GET /v3/phone_numbers: the numbers sorted,
// each with its reputation (HEALTHY unless the account's map says
// otherwise) as both reputation and health_status.
type lineListAnswer struct {
	numbers    []string
	reputation map[string]string // a copy: the fake's may change while the answer is written
}

func (a lineListAnswer) VisitListPhoneNumbersResponse(w http.ResponseWriter) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, listChunk)
	b := make([]byte, 0, 512)
	var rep []byte
	bw.WriteString(`{"phone_numbers":[`)
	for i, n := range a.numbers {
		if i > 0 {
			b = append(b, ',')
		}
		status := string(linq.HEALTHY)
		if r, ok := a.reputation[n]; ok {
			status = r
		}
		doc := "https://docs.linqapp.com/guides/phone-numbers/#" + strings.ToLower(status)
		rep = append(rep[:0], `{"doc_url":`...)
		rep = appendJSONString(rep, doc)
		rep = append(rep, `,"status":`...)
		rep = appendJSONString(rep, status)
		rep = append(rep, '}')
		b = append(b, `{"health_status":`...)
		b = append(b, rep...)
		b = append(b, `,"id":"`...)
		id := uuid.NewSHA1(uuid.NameSpaceURL, []byte("tel:"+n))
		b = append(b, id.String()...)
		b = append(b, `","phone_number":`...)
		b = appendJSONString(b, n)
		b = append(b, `,"reputation":`...)
		b = append(b, rep...)
		b = append(b, '}')
		if _, err := bw.Write(b); err != nil {
			return err
		}
		b = b[:0]
	}
	bw.WriteString("]}\n")
	return bw.Flush()
}

// appendJSONString appends s as encoding/json writes a string: quoted, with
// its HTML escaping of <, > and &. Plain printable ASCII, nearly every
// string here, is copied as it is; anything else goes through
// encoding/json itself.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
