package sync

import (
	"iter"
	"math"
	"strings"
)

// keptRecords are the normalised records of a first pass, kept for the
// second when they are few: it then plans them as they are, instead of
// reading and normalising the input again, which was 40% of its work.
// Against a long export (past keepBytes) nothing is kept, and the second
// pass reads the input again, so memory does not grow with the export.
//
// A record costs a fixed-size entry, with its strings laid end to end in
// chunks, as Cards keeps the cards: nothing for the garbage collector to
// follow, and the Desired the second pass makes of an entry allocates
// nothing. (Kept as Desired values, a 100k-row export cost 25 MB more
// peak memory, and the page faults of that ate the time saved.)
type keptRecords struct {
	recs   blocks[keptRecord]
	chunks []string
	chunk  strings.Builder // the chunk being filled
	size   int
	over   bool // past keepBytes: nothing is kept from then on
}

// keptRecord locates one record's strings in keptRecords.chunks.
type keptRecord struct {
	line, chunk, off                   uint32
	phone, first, last, image, invalid uint16 // the strings' lengths, in this order
}

const (
	// keepBytes bounds the memory of the kept records: some 150k records
	// of usual lengths.
	keepBytes = 8 << 20
	// keptRecordSize is what a keptRecord costs, for the bound.
	keptRecordSize = 24
	keptChunk      = 256 << 10
)

// add keeps d, unless that would take more than limit bytes: then it
// drops every record kept, and keeps no more.
func (k *keptRecords) add(d Desired, limit int) {
	if k.over {
		return
	}
	n := len(d.Phone) + len(d.FirstName) + len(d.LastName) + len(d.ImageURL) + len(d.Invalid)
	k.size += keptRecordSize + n
	if k.size > limit || d.Line < 0 || d.Line > math.MaxUint32 || !fitsUint16(d) {
		*k = keptRecords{over: true}
		return
	}
	if k.chunk.Len()+n > k.chunk.Cap() {
		k.flush()
		k.chunk.Grow(max(keptChunk, n))
	}
	k.recs.add(keptRecord{
		line: uint32(d.Line), chunk: uint32(len(k.chunks)), off: uint32(k.chunk.Len()),
		phone: uint16(len(d.Phone)), first: uint16(len(d.FirstName)), last: uint16(len(d.LastName)),
		image: uint16(len(d.ImageURL)), invalid: uint16(len(d.Invalid)),
	})
	k.chunk.WriteString(d.Phone)
	k.chunk.WriteString(d.FirstName)
	k.chunk.WriteString(d.LastName)
	k.chunk.WriteString(d.ImageURL)
	k.chunk.WriteString(d.Invalid)
}

// fitsUint16 reports whether each of d's strings has a length a
// keptRecord can hold; a cell is at most maxCell bytes, but a reason
// quoting several may be longer.
func fitsUint16(d Desired) bool {
	return max(len(d.Phone), len(d.FirstName), len(d.LastName), len(d.ImageURL), len(d.Invalid)) <= math.MaxUint16
}

// flush ends the chunk being filled: the strings of the records in it are
// slices of the string it becomes.
func (k *keptRecords) flush() {
	if k.chunk.Cap() > 0 {
		k.chunks = append(k.chunks, k.chunk.String())
		k.chunk = strings.Builder{}
	}
}

// done ends the adding, and reports whether every record added is kept.
func (k *keptRecords) done() bool {
	k.flush()
	return !k.over
}

// All yields the records kept, in the order they were added; done must
// have been called.
func (k *keptRecords) All() iter.Seq[Desired] {
	return func(yield func(Desired) bool) {
		for r := range k.recs.All() {
			s := k.chunks[r.chunk][r.off:]
			d := Desired{Line: int(r.line)}
			d.Phone, s = s[:r.phone], s[r.phone:]
			d.FirstName, s = s[:r.first], s[r.first:]
			d.LastName, s = s[:r.last], s[r.last:]
			d.ImageURL, s = s[:r.image], s[r.image:]
			d.Invalid = s[:r.invalid]
			if !yield(d) {
				return
			}
		}
	}
}
