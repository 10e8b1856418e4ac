package sync

import stdsync "sync"

// reorder puts apply's report rows back in input order. The workers finish
// rows in any order (a row waiting out a Retry-After finishes long after
// the rows behind it), but a report is read, diffed and re-run against its
// input line by line. Each row takes a sequence number as it is read; a
// finished row is held until every row before it has been written, then
// written at once, whole, with the held rows it was keeping back.
//
// The rows held are bounded by window: once window rows are taken and not
// yet written, the reading of the input waits. The number of workers bounds
// only the rows being sent; the rows that need no request (noop,
// invalid, ...) are finished as soon as they are read, so without the
// window a slow row at the head would let them pile up without end.
type reorder struct {
	mu     stdsync.Mutex
	moved  stdsync.Cond // next advanced, or err was set
	write  func(ReportRow) error
	window int
	next   int // the sequence number of the next row to write
	taken  int // sequence numbers handed out
	held   map[int]ReportRow
	err    error // the first write error; every later call returns it
}

// reorderPerSlot is the window per --concurrency request slot. At 20 ms a
// request, a slot does 50 requests a second while the row at the head
// waits. One Retry-After of a second (and up to a quarter more, as
// retryWait spreads them) is 63 of them; but with 5% of answers 429 one row
// in 400 meets two in a row and waits 2-2.5 s, and a window of 64 stalled
// every request slot for up to a second each time (figure 7 fell from 84%
// to 55-70% of the rate without 429s). 256 covers four waits in a row.
// A held row is a few hundred bytes; maxReorder caps the window at about
// 20 MiB at the highest concurrencies.
const (
	reorderPerSlot = 256
	maxReorder     = 1 << 16
)

func newReorder(write func(ReportRow) error, window int) *reorder {
	window = min(window, maxReorder)
	r := &reorder{write: write, window: max(window, 1), held: make(map[int]ReportRow)}
	r.moved.L = &r.mu
	return r
}

// take returns the next row's sequence number, waiting while the window is
// full. Every number taken must be given back to done, or the rows after
// it are never written.
func (r *reorder) take() (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for r.err == nil && r.taken-r.next >= r.window {
		r.moved.Wait()
	}
	if r.err != nil {
		return 0, r.err
	}
	r.taken++
	return r.taken - 1, nil
}

// done hands in the row numbered seq. It is written now if every row
// before it has been, else held until they are.
func (r *reorder) done(seq int, row ReportRow) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	r.held[seq] = row
	for r.err == nil {
		row, ok := r.held[r.next]
		if !ok {
			break
		}
		delete(r.held, r.next)
		r.next++
		r.err = r.write(row)
	}
	r.moved.Broadcast()
	return r.err
}
