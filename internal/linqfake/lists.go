package linqfake

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/bulksync/bulksync/gen/linq"
)

// The two list answers are encoded by hand instead of through the generated
// 200 responses, which build the whole list as Go values and then encode it
// by reflection: an account behind a million cards has a million lines, some
// 300 MB of JSON, and the fake must list them in seconds for the benchmark
// at that scale. The bytes are the same as encoding/json writes for the
// generated types (field order, omitted empty fields, escaping), so clients
// cannot tell the difference.
//
// The fake shares the machine with the client it serves, so in the benchmark
// every second it spends encoding is a second taken from the client being
// measured. An encoded list is therefore kept (listCache) until the cards
// or the lines change, and served again as it is.

// listCache holds the last encoded body of each list, with the generation
// of the store (Server.gen) it was encoded from. Guarded by Server.mu.
type listCache struct {
	cards, lines       []byte
	cardsGen, linesGen uint64
}

// cachedList returns the body for the store as it is now: the cached one
// when the store has not changed since it was encoded, or else encode's,
// computed from what snapshot took under the lock, and kept unless the
// store changed meanwhile. body and gen select the list in s.lists.
func cachedList[T any](s *Server, body *[]byte, gen *uint64, snapshot func() T, encode func(T) []byte) []byte {
	s.mu.Lock()
	if *body != nil && *gen == s.gen {
		b := *body
		s.mu.Unlock()
		return b
	}
	v, at := snapshot(), s.gen
	s.mu.Unlock()
	// Encoded outside the lock: writes go on meanwhile, and a write makes
	// this body stale at once, so it is kept only if none happened.
	b := encode(v)
	s.mu.Lock()
	if s.gen == at {
		*body, *gen = b, at
	}
	s.mu.Unlock()
	return b
}

// cardListBody is the body of GET /v3/contact_card without phone_number.
func (s *Server) cardListBody() []byte {
	return cachedList(s, &s.lists.cards, &s.lists.cardsGen,
		func() []storedCard { return s.storedCardsLocked(s.hideInactive) },
		func(list []storedCard) []byte { return encodeCardList(sortStored(list)) })
}

// lineListBody is the body of GET /v3/phone_numbers.
func (s *Server) lineListBody() []byte {
	return cachedList(s, &s.lists.lines, &s.lists.linesGen, func() lineList {
		var numbers []string
		if s.onAccount != nil {
			numbers = slices.Collect(maps.Keys(s.onAccount))
		} else {
			numbers = slices.Collect(maps.Keys(s.cards))
		}
		return lineList{numbers: numbers, reputation: maps.Clone(s.reputation)}
	}, func(l lineList) []byte {
		slices.Sort(l.numbers)
		return encodeLineList(l)
	})
}

// EncodeLists encodes both list answers now, so that the first GET of each
// is served as quickly as the ones after it: fake-api calls it once the
// cards are seeded, before it listens.
func (s *Server) EncodeLists() {
	s.cardListBody()
	s.lineListBody()
}

// changedLocked marks the cards or the lines as changed: the cached list
// answers are stale. The caller holds s.mu.
func (s *Server) changedLocked() { s.gen++ }

// encodedList is a list answer already encoded: a 200 with a JSON body. It
// answers either list operation.
type encodedList []byte

func (a encodedList) write(w http.ResponseWriter) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(a)))
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(a)
	return err
}

func (a encodedList) VisitListContactCardsResponse(w http.ResponseWriter) error { return a.write(w) }
func (a encodedList) VisitListPhoneNumbersResponse(w http.ResponseWriter) error { return a.write(w) }

// storedCard is a card with its number, as the store holds it.
type storedCard struct {
	phone string
	card
}

// encodeCardList is the body of GET /v3/contact_card without phone_number,
// for cards sorted by number.
func encodeCardList(cards []storedCard) []byte {
	size := len(`{"contact_cards":[]}` + "\n")
	for _, c := range cards {
		size += len(`{"first_name":"","image_url":"","is_active":false,"last_name":"","phone_number":""},`) +
			len(c.firstName) + len(c.imageURL) + len(c.lastName) + len(c.phone)
	}
	b := make([]byte, 0, size)
	b = append(b, `{"contact_cards":[`...)
	for i, c := range cards {
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
	}
	return append(b, "]}\n"...)
}

// lineList is what GET /v3/phone_numbers lists: the numbers sorted, each
// with its reputation (HEALTHY unless the account's map says otherwise) as
// both reputation and health_status.
type lineList struct {
	numbers    []string
	reputation map[string]string // a copy: the fake's may change while the answer is encoded
}

// encodeLineList is the body of GET /v3/phone_numbers.
func encodeLineList(a lineList) []byte {
	const item = `{"health_status":{"doc_url":"https://docs.linqapp.com/guides/phone-numbers/#healthy","status":"HEALTHY"},` +
		`"id":"00000000-0000-0000-0000-000000000000","phone_number":"",` +
		`"reputation":{"doc_url":"https://docs.linqapp.com/guides/phone-numbers/#healthy","status":"HEALTHY"}},`
	size := len(`{"phone_numbers":[]}` + "\n")
	for _, n := range a.numbers {
		size += len(item) + len(n)
	}
	b := make([]byte, 0, size)
	var rep []byte
	b = append(b, `{"phone_numbers":[`...)
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
	}
	return append(b, "]}\n"...)
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
