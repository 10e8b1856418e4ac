package sync

import "iter"

// blocks collects values in blocks that are never copied as they fill, and
// joins them once at the end. A list of a million cards or lines appended
// to one slice is copied about five times over as it grows, and each copy
// touches fresh memory: that was a quarter of the time spent reading the
// lists.
type blocks[T any] struct {
	full [][]T
	cur  []T
	n    int
}

// First and largest block lengths: a short list costs a small block.
const (
	firstBlock = 256
	maxBlock   = 64 << 10
)

func (b *blocks[T]) add(v T) {
	if len(b.cur) == cap(b.cur) {
		size := firstBlock
		if b.cur != nil {
			b.full = append(b.full, b.cur)
			size = min(2*cap(b.cur), maxBlock)
		}
		b.cur = make([]T, 0, size)
	}
	b.cur = append(b.cur, v)
	b.n++
}

// join returns every value added, in order, in one slice of that length,
// and empties b.
func (b *blocks[T]) join() []T {
	out := make([]T, 0, b.n)
	for _, blk := range b.full {
		out = append(out, blk...)
	}
	out = append(out, b.cur...)
	*b = blocks[T]{}
	return out
}

// All yields a pointer to each value added, in order, without joining.
func (b *blocks[T]) All() iter.Seq[*T] {
	return func(yield func(*T) bool) {
		for i := 0; i <= len(b.full); i++ {
			blk := b.cur
			if i < len(b.full) {
				blk = b.full[i]
			}
			for j := range blk {
				if !yield(&blk[j]) {
					return
				}
			}
		}
	}
}
