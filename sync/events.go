package sync

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"
)

// Events receives what a run does, for progress bars, logs and metrics,
// which live in cmd/bulksync. Its methods are called from the run's
// goroutine and from apply workers at once, so they must be safe for
// concurrent use, and quick: a worker waits for them.
type Events interface {
	// Planned is called once the first pass has counted the records and
	// the changes.
	Planned(records, changes int)
	// Attempted is called after each HTTP attempt of apply.
	Attempted(AttemptEvent)
	// Reported is called for each report row, as it is written.
	Reported(ReportRow)
}

// AttemptEvent describes one HTTP attempt.
type AttemptEvent struct {
	Read    string // for a GET about no record (Line 0): what it reads, "live cards" or "phone numbers"
	Line    int
	Phone   string
	Method  string // POST, PATCH or GET
	Attempt int    // 1 for the first try of a record
	Status  int    // 0: no answer
	Code    int    // Linq error code, 0 when none
	Class   Class
	Err     string        // why there was no answer, or the API's message
	Took    time.Duration // the request's own time
	Wait    time.Duration // the wait before the next attempt, when one follows
	// Refused is the wait the server asked for when it was longer than
	// --max-retry-wait, so that no retry follows.
	Refused time.Duration
	Rate    float64 // the shared limiter's rate after this attempt; 0 = unlimited
}

// noEvents is used when Job.Events is nil.
type noEvents struct{}

func (noEvents) Planned(int, int)       {}
func (noEvents) Attempted(AttemptEvent) {}
func (noEvents) Reported(ReportRow)     {}

// Shard selects the records of one of n shards (--shard i/n), so that n
// runs, such as the pods of a Kubernetes Indexed Job, split an export
// between them: each record belongs to exactly one shard, decided by a
// stable hash of its phone number (the raw cell when it is not valid, so
// invalid records are reported by exactly one shard too).
type Shard struct {
	Index, Count int // 0 <= Index < Count; Count 0 means no sharding
}

// ParseShard parses "i/n".
func ParseShard(s string) (Shard, error) {
	if s == "" {
		return Shard{}, nil
	}
	bad := fmt.Errorf("%w: --shard: %q is not i/n with 0 <= i < n, e.g. 0/4 for the first of four shards", ErrUsage, s)
	is, ns, ok := strings.Cut(s, "/")
	if !ok {
		return Shard{}, bad
	}
	i, err1 := strconv.Atoi(is)
	n, err2 := strconv.Atoi(ns)
	if err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return Shard{}, bad
	}
	return Shard{Index: i, Count: n}, nil
}

// Has reports whether the record belongs to this shard.
func (s Shard) Has(d Desired) bool {
	if s.Count <= 1 {
		return true
	}
	h := fnv.New64a()
	h.Write([]byte(d.Phone))
	return h.Sum64()%uint64(s.Count) == uint64(s.Index)
}

func (s Shard) String() string {
	if s.Count == 0 {
		return ""
	}
	return fmt.Sprintf("%d/%d", s.Index, s.Count)
}
