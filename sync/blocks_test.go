package sync

import (
	"slices"
	"testing"
)

func TestBlocksJoinInOrder(t *testing.T) {
	for _, n := range []int{0, 1, firstBlock, firstBlock + 1, 3*maxBlock + 7} {
		var b blocks[int]
		want := make([]int, 0, n)
		for i := range n {
			b.add(i * 3)
			want = append(want, i*3)
		}
		got := b.join()
		if !slices.Equal(got, want) || cap(got) != n {
			t.Errorf("%d values: got %d (cap %d), want them in order", n, len(got), cap(got))
		}
		if again := b.join(); len(again) != 0 {
			t.Errorf("%d values: a second join has %d", n, len(again))
		}
	}
}
