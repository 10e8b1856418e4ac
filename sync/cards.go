package sync

import (
	"iter"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
)

// Cards are the live cards of an account, as one GET /v3/contact_card
// lists them, keyed by phone number. A Cards is built once (NewCards, or
// the snapshot's decoder) and then only read, so it may be read from
// several goroutines. A nil *Cards holds no card.
//
// An account may have a million cards, and a plan holds them all while it
// reads the input twice. As a map[string]Card they cost 233 MB (an 88-byte
// slot per card, in tables rounded up to powers of two, plus the strings);
// here a card costs 32 bytes of record, sorted by its number packed into a
// uint64 (as Lines packs them), plus its strings laid end to end in large
// chunks: about 60 MB for a million, and nothing in the records for the
// garbage collector to follow. A lookup is a binary search of the numbers
// alone, kept apart from the rest of the records: it reads a quarter of the
// memory, which at 100k cards fits the CPU's caches.
type Cards struct {
	keys   []uint64        // lineKey of each record's number, sorted, each once
	recs   []cardRec       // the record of keys[i] is recs[i]
	chunks []string        // the cards' strings, end to end
	other  map[string]Card // numbers that lineKey cannot pack, kept as sent
	// hidden, when not nil, marks the records left out by Filter, one bit
	// each; shown counts the others.
	hidden []uint64
	shown  int
}

func (cs *Cards) isHidden(i int) bool {
	return cs.hidden != nil && cs.hidden[i/64]&(1<<(i%64)) != 0
}

// cardRec locates one card's strings in Cards.chunks.
type cardRec struct {
	chunk, off         uint32 // where the strings start: phone, first, last, image
	first, last, image uint32 // their lengths; the phone's is phoneLen
	phoneLen           uint8
	active             bool
}

// cardChunk is the size of a chunk of strings: large enough that a million
// cards are a few dozen objects, small enough that the last, partly filled
// one wastes little.
const cardChunk = 1 << 20

// NewCards returns the store of list. Of two cards with the same number,
// the later one is kept, as a map would.
func NewCards(list ...Card) *Cards {
	var b cardsBuilder
	for _, c := range list {
		b.add(c)
	}
	return b.done()
}

// cardsBuilder builds a Cards a card at a time, as the snapshot is read.
type cardsBuilder struct {
	cs   Cards
	keys blocks[uint64]
	recs blocks[cardRec]
	// chunk is the chunk being filled. A strings.Builder hands its bytes
	// over as the chunk's string without copying them: a copy was as much
	// memory again, fresh pages the process had to fault in.
	chunk strings.Builder
	full  []string // the chunks filled
}

func (b *cardsBuilder) add(c Card) {
	addCard(b, c.Phone, c.FirstName, c.LastName, c.ImageURL, c.Active)
}

// addCard adds a card given as strings, or as the bytes the list decoder
// holds, which are copied: a card costs no allocation of its own.
func addCard[S ~string | ~[]byte](b *cardsBuilder, phone, first, last, image S, active bool) {
	key, ok := lineKey(string(phone))
	n := len(phone) + len(first) + len(last) + len(image)
	if !ok || n > math.MaxUint32 {
		if b.cs.other == nil {
			b.cs.other = make(map[string]Card)
		}
		b.cs.other[string(phone)] = Card{Phone: string(phone), FirstName: string(first), LastName: string(last), ImageURL: string(image), Active: active}
		return
	}
	if b.chunk.Len()+n > b.chunk.Cap() {
		b.flush()
		b.chunk.Grow(max(cardChunk, n))
	}
	r := cardRec{
		chunk:    uint32(len(b.full)),
		off:      uint32(b.chunk.Len()),
		first:    uint32(len(first)),
		last:     uint32(len(last)),
		image:    uint32(len(image)),
		phoneLen: uint8(len(phone)), // at most 20: lineKey checked it
		active:   active,
	}
	// From the decoder's bytes, the conversions copy nothing.
	b.chunk.Write([]byte(phone))
	b.chunk.Write([]byte(first))
	b.chunk.Write([]byte(last))
	b.chunk.Write([]byte(image))
	b.keys.add(key)
	b.recs.add(r)
}

// flush ends the chunk being filled: it becomes a string that the cards'
// fields are slices of.
func (b *cardsBuilder) flush() {
	if b.chunk.Cap() > 0 {
		b.full = append(b.full, b.chunk.String())
		b.chunk = strings.Builder{}
	}
}

// done sorts the records and returns the store; the builder must not be
// used after.
func (b *cardsBuilder) done() *Cards {
	b.flush()
	cs := &b.cs
	cs.chunks = b.full
	cs.keys, cs.recs = b.keys.join(), b.recs.join()
	// Stable, so that of two cards with one number the later stays last;
	// then keep only the last of each run of equal keys. The API lists the
	// cards sorted by number already, as a rule: checking costs less than
	// sorting anew.
	if !slices.IsSorted(cs.keys) {
		sort.Stable(byKey{cs})
	}
	n := 0
	for i, k := range cs.keys {
		if i+1 < len(cs.keys) && cs.keys[i+1] == k {
			continue
		}
		cs.keys[n], cs.recs[n] = k, cs.recs[i]
		n++
	}
	cs.keys, cs.recs = slices.Clip(cs.keys[:n]), slices.Clip(cs.recs[:n])
	cs.shown = n
	return cs
}

// byKey sorts a store's records by number, in place.
type byKey struct{ cs *Cards }

func (s byKey) Len() int           { return len(s.cs.keys) }
func (s byKey) Less(i, j int) bool { return s.cs.keys[i] < s.cs.keys[j] }
func (s byKey) Swap(i, j int) {
	s.cs.keys[i], s.cs.keys[j] = s.cs.keys[j], s.cs.keys[i]
	s.cs.recs[i], s.cs.recs[j] = s.cs.recs[j], s.cs.recs[i]
}

// card builds the Card of r: its strings are slices of a chunk, so this
// allocates nothing.
func (cs *Cards) card(r *cardRec) Card {
	s := cs.chunks[r.chunk][r.off:]
	c := Card{Active: r.active}
	c.Phone, s = s[:r.phoneLen], s[r.phoneLen:]
	c.FirstName, s = s[:r.first], s[r.first:]
	c.LastName, s = s[:r.last], s[r.last:]
	c.ImageURL = s[:r.image]
	return c
}

// Get returns the card of phone, and whether there is one.
func (cs *Cards) Get(phone string) (Card, bool) {
	if cs == nil {
		return Card{}, false
	}
	key, ok := lineKey(phone)
	if !ok {
		c, ok := cs.other[phone]
		return c, ok
	}
	i, found := slices.BinarySearch(cs.keys, key)
	if !found || cs.isHidden(i) {
		return Card{}, false
	}
	return cs.card(&cs.recs[i]), true
}

// Len returns the number of cards.
func (cs *Cards) Len() int {
	if cs == nil {
		return 0
	}
	return cs.shown + len(cs.other)
}

// All yields every card once, in no particular order.
func (cs *Cards) All() iter.Seq[Card] {
	return func(yield func(Card) bool) {
		if cs == nil {
			return
		}
		for i := range cs.recs {
			if !cs.isHidden(i) && !yield(cs.card(&cs.recs[i])) {
				return
			}
		}
		for _, c := range cs.other {
			if !yield(c) {
				return
			}
		}
	}
}

// Sorted yields every card once, ordered by phone number as strings sort
// (the order of reports and exports). It sorts 4-byte positions, not
// cards.
func (cs *Cards) Sorted() iter.Seq[Card] {
	return func(yield func(Card) bool) {
		if cs == nil {
			return
		}
		order := make([]uint32, 0, cs.shown)
		for i := range cs.recs {
			if !cs.isHidden(i) {
				order = append(order, uint32(i))
			}
		}
		slices.SortFunc(order, func(a, b uint32) int { return strings.Compare(cs.phone(a), cs.phone(b)) })
		other := slices.Sorted(maps.Keys(cs.other))
		for len(order) > 0 || len(other) > 0 {
			var c Card
			if len(other) == 0 || len(order) > 0 && cs.phone(order[0]) < other[0] {
				c, order = cs.card(&cs.recs[order[0]]), order[1:]
			} else {
				c, other = cs.other[other[0]], other[1:]
			}
			if !yield(c) {
				return
			}
		}
	}
}

// phone returns the number of the i-th record.
func (cs *Cards) phone(i uint32) string {
	r := &cs.recs[i]
	return cs.chunks[r.chunk][r.off : r.off+uint32(r.phoneLen)]
}

// Filter returns the cards for which keep is true. They share cs's
// records and strings; what is left out costs a bit a card (against a
// 1-row export, the absent cards are the whole account).
func (cs *Cards) Filter(keep func(Card) bool) *Cards {
	out := &Cards{}
	if cs == nil {
		return out
	}
	out.keys, out.recs, out.chunks = cs.keys, cs.recs, cs.chunks
	out.hidden = make([]uint64, (len(cs.recs)+63)/64)
	for i := range cs.recs {
		if !cs.isHidden(i) && keep(cs.card(&cs.recs[i])) {
			out.shown++
		} else {
			out.hidden[i/64] |= 1 << (i % 64)
		}
	}
	for phone, c := range cs.other {
		if keep(c) {
			if out.other == nil {
				out.other = make(map[string]Card)
			}
			out.other[phone] = c
		}
	}
	return out
}
