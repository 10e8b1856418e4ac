package sync

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
)

// cardMap is a test's live cards, written as a map by number.
func cardMap(m map[string]Card) *Cards {
	return NewCards(slices.Collect(maps.Values(m))...)
}

// cardsByPhone indexes list by number.
func cardsByPhone(list []Card) map[string]Card {
	m := make(map[string]Card)
	for _, c := range list {
		m[c.Phone] = c
	}
	return m
}

// asMap lists cs by number.
func asMap(cs *Cards) map[string]Card {
	m := make(map[string]Card)
	for c := range cs.All() {
		if _, dup := m[c.Phone]; dup {
			panic("All yielded " + c.Phone + " twice")
		}
		m[c.Phone] = c
	}
	return m
}

func TestCards(t *testing.T) {
	long := strings.Repeat("x", cardChunk+10) // a card larger than a chunk gets one of its own
	list := []Card{
		{Phone: "+12125550102", FirstName: "Bo", Active: true},
		{Phone: "+12125550101", FirstName: "Ann", LastName: "Lee", ImageURL: "https://cdn/a.png", Active: true},
		{Phone: "+447911123456", FirstName: "Zoë", LastName: "李", ImageURL: long},
		{Phone: "+12125550102", FirstName: "Bo again"}, // the later card of a number wins
		{Phone: "+19", FirstName: "Short"},
		{Phone: "+012", FirstName: "Leading zero"},           // kept as sent
		{Phone: "not a number", FirstName: "Kept as sent"},   // ditto
		{Phone: "+123456789012345678901", FirstName: "Long"}, // 21 digits: no uint64
		{Phone: "", FirstName: "Empty"},
	}
	cs := NewCards(list...)
	want := map[string]Card{}
	for _, c := range list {
		want[c.Phone] = c
	}
	if got := asMap(cs); !maps.Equal(got, want) {
		t.Errorf("All: %v\nwant %v", got, want)
	}
	if cs.Len() != len(want) {
		t.Errorf("Len %d, want %d", cs.Len(), len(want))
	}
	for phone, c := range want {
		if got, ok := cs.Get(phone); !ok || got != c {
			t.Errorf("Get(%q) = %+v, %v; want %+v", phone, got, ok, c)
		}
	}
	for _, phone := range []string{"+12125550103", "+1", "+2", "+447911123457", "+0", "x"} {
		if got, ok := cs.Get(phone); ok {
			t.Errorf("Get(%q) = %+v, want none", phone, got)
		}
	}

	var sorted []string
	for c := range cs.Sorted() {
		sorted = append(sorted, c.Phone)
	}
	if want := slices.Sorted(maps.Keys(want)); !slices.Equal(sorted, want) {
		t.Errorf("Sorted: %q\nwant %q", sorted, want)
	}
	few := cs.Filter(func(c Card) bool { return c.Active || c.FirstName == "Kept as sent" })
	if got, want := asMap(few), map[string]Card{list[1].Phone: list[1], list[6].Phone: list[6]}; !maps.Equal(got, want) {
		t.Errorf("Filter: %v\nwant %v", got, want)
	}
	if _, ok := few.Get(list[2].Phone); ok {
		t.Errorf("Filter kept %s", list[2].Phone)
	}
	if few.Len() != 2 {
		t.Errorf("Filter: Len %d, want 2", few.Len())
	}
	var fewSorted []string
	for c := range few.Sorted() {
		fewSorted = append(fewSorted, c.Phone)
	}
	if want := []string{list[1].Phone, list[6].Phone}; !slices.Equal(fewSorted, want) {
		t.Errorf("Filter then Sorted: %q, want %q", fewSorted, want)
	}
	// A filter of a filter leaves out what either left out.
	fewer := few.Filter(func(c Card) bool { return !c.Active })
	if got, want := asMap(fewer), map[string]Card{list[6].Phone: list[6]}; !maps.Equal(got, want) || fewer.Len() != 1 {
		t.Errorf("Filter of Filter: %v (Len %d), want %v", got, fewer.Len(), want)
	}

	var none *Cards
	if _, ok := none.Get("+12125550101"); ok || none.Len() != 0 {
		t.Error("a nil *Cards has cards")
	}
	for range none.All() {
		t.Error("a nil *Cards yields cards")
	}
	if empty := NewCards(); empty.Len() != 0 {
		t.Error("NewCards() has cards")
	}
}

// Many cards fill several chunks; each stays whole.
func TestCardsManyChunks(t *testing.T) {
	var list []Card
	for i := range 40_000 {
		list = append(list, Card{Phone: fmt.Sprintf("+1%010d", 2125550000+i*7919%40_000), FirstName: strings.Repeat("f", i%50), LastName: fmt.Sprint(i), Active: i%3 == 0})
	}
	cs := NewCards(list...)
	if len(cs.chunks) < 2 {
		t.Fatalf("%d chunk(s): the test should fill several", len(cs.chunks))
	}
	for _, c := range list {
		if got, ok := cs.Get(c.Phone); !ok || got != c {
			t.Fatalf("Get(%q) = %+v, %v; want %+v", c.Phone, got, ok, c)
		}
	}
}

// Cards listed in no order, many numbers more than once: each number keeps
// its last card, as a map would, and every lookup finds it.
func TestCardsUnsortedRepeats(t *testing.T) {
	var list []Card
	want := map[string]Card{}
	for i := range 5000 {
		n := (i * 7919) % 1300 // out of order, each number 3 to 4 times
		c := Card{Phone: fmt.Sprintf("+1212555%04d", n), FirstName: fmt.Sprint("v", i), Active: i%3 != 0}
		list = append(list, c)
		want[c.Phone] = c
	}
	cs := NewCards(list...)
	if got := asMap(cs); !maps.Equal(got, want) {
		t.Fatalf("All: %d cards, want %d", len(got), len(want))
	}
	for phone, c := range want {
		if got, ok := cs.Get(phone); !ok || got != c {
			t.Errorf("Get(%q) = %+v, %v; want %+v", phone, got, ok, c)
		}
	}
	if cs.Len() != len(want) {
		t.Errorf("Len %d, want %d", cs.Len(), len(want))
	}
}

// BenchmarkCardsGet looks up each of 100k cards, in the export's order.
func BenchmarkCardsGet(b *testing.B) {
	const n = 100_000
	list := make([]Card, n)
	phones := make([]string, n)
	for i := range list {
		phones[i] = fmt.Sprintf("+1212%d", 2_000_000+i)
		list[i] = Card{Phone: phones[i], FirstName: "Old", LastName: fmt.Sprint("Person", i), Active: true}
	}
	cs := NewCards(list...)
	for b.Loop() {
		for _, p := range phones {
			if _, ok := cs.Get(p); !ok {
				b.Fatal(p)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/get")
}
