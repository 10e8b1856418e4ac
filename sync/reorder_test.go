package sync

import (
	"errors"
	"math/rand/v2"
	"runtime"
	"slices"
	stdsync "sync"
	"testing"
)

// Rows finished in any order by many goroutines come out in the order
// their numbers were taken, and no more than window rows are ever taken
// and not yet written.
func TestReorderInputOrder(t *testing.T) {
	const rows, window = 2000, 16
	var r *reorder
	var got []int
	r = newReorder(func(row ReportRow) error {
		// Called with r.mu held.
		if n := r.taken - r.next; n > window {
			t.Errorf("%d rows taken and not written; window %d", n, window)
		}
		got = append(got, row.Line)
		return nil
	}, window)
	var wg stdsync.WaitGroup
	for range rows {
		seq, err := r.take()
		if err != nil {
			t.Fatal(err)
		}
		if seq%3 == 0 {
			// Finished at once, as a row that needs no request is.
			if err := r.done(seq, ReportRow{Line: seq}); err != nil {
				t.Fatal(err)
			}
			continue
		}
		wg.Go(func() {
			for range rand.IntN(20) {
				runtime.Gosched()
			}
			if err := r.done(seq, ReportRow{Line: seq}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if len(got) != rows || !slices.IsSorted(got) || got[0] != 0 || got[rows-1] != rows-1 {
		t.Errorf("rows written in this order: %v", got)
	}
	if len(r.held) != 0 {
		t.Errorf("%d rows still held", len(r.held))
	}
}

// A row finished early is held until the rows before it are done, then
// written with them.
func TestReorderHolds(t *testing.T) {
	var got []int
	r := newReorder(func(row ReportRow) error { got = append(got, row.Line); return nil }, 8)
	for range 3 {
		r.take()
	}
	r.done(2, ReportRow{Line: 2})
	r.done(1, ReportRow{Line: 1})
	if len(got) != 0 {
		t.Fatalf("rows 1 and 2 written before row 0: %v", got)
	}
	r.done(0, ReportRow{Line: 0})
	if !slices.Equal(got, []int{0, 1, 2}) {
		t.Errorf("written %v, want [0 1 2]", got)
	}
}

// After a failed write nothing more is written, and every call, take
// included, returns the error, so the reading of the input stops.
func TestReorderWriteError(t *testing.T) {
	full := errors.New("disk full")
	var got []int
	r := newReorder(func(row ReportRow) error {
		if row.Line == 1 {
			return full
		}
		got = append(got, row.Line)
		return nil
	}, 4)
	for range 3 {
		r.take()
	}
	r.done(2, ReportRow{Line: 2})
	r.done(0, ReportRow{Line: 0})
	if err := r.done(1, ReportRow{Line: 1}); !errors.Is(err, full) {
		t.Errorf("done: %v, want the write error", err)
	}
	if _, err := r.take(); !errors.Is(err, full) {
		t.Errorf("take: %v, want the write error", err)
	}
	if !slices.Equal(got, []int{0}) {
		t.Errorf("written %v, want only [0]", got)
	}
}
