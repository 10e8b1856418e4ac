package sync

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"hash/maphash"
	"io"
	"slices"
	"strconv"
)

// A changeSource is where a run's changes come from: an export, planned
// against the live cards (exportChanges), or a saved plan, checked against
// them (savedChanges). The runner (run.go) reads it in two passes, since
// no write may happen before the number of changes is known; everything
// else, from the snapshot to the last report row, is the runner's.
type changeSource interface {
	// open starts the source and fills in what it knows of the input
	// before the snapshot (the preset, the format, the fingerprint).
	open(*Summary) error
	close()
	// firstPass reads every record, calling step after each (an error from
	// step ends the pass with it), and counts them against the live state.
	// The counts are set even when the pass ended early.
	firstPass(live liveState, step func() error) (firstPass, error)
	// changes is the second pass: each record's change, in input order.
	changes(each func(Change) error) error
	// unplanned is each record as it stands when the run stopped before the
	// live cards were read: no action unless the record is invalid in
	// itself (an export) or as planned (a saved plan).
	unplanned(each func(Change) error) error
}

// liveState is what the first pass checks the records against.
type liveState struct {
	cards *Cards
	lines *Lines             // nil when they could not be read
	known map[string]Applied // from the state; nil without one
}

// firstPass is what the first pass counted.
type firstPass struct {
	records, changes int
	// named reports whether a record named the phone number with this key
	// (phoneKey), for the absent cards.
	named       func(key uint64) bool
	inputSHA256 string // of the whole input; "" when the pass ended early
}

// absentCards returns the live cards of the shard that no record names:
// the cards not in the export (a rep who left). Nothing is ever sent for
// them. Against a short export they are nearly all the account's cards, so
// they stay in the compact store.
func absentCards(cards *Cards, shard Shard, named func(key uint64) bool) *Cards {
	return cards.Filter(func(c Card) bool {
		d := Desired{Phone: c.Phone}
		if !shard.Has(d) {
			return false
		}
		key, ok := phoneKey(d)
		return !ok || !named(key)
	})
}

// exportChanges plans the records of an export (CSV, XLSX) with a Planner:
// Observe in the first pass, Decide in the second. The first pass reads
// the input; the second plans the records the first kept, or, past
// keepBytes of them, reads the input again, so it must seek.
type exportChanges struct {
	input     io.ReadSeeker
	source    SourceOptions
	normalize NormalizeOptions
	plan      PlanOptions
	shard     Shard

	hash    hash.Hash // of the whole input, read by the first pass
	records RecordSource
	planner *Planner

	// known holds, for each record the first pass read, in order, its
	// number as a phoneKey with a tag of its country cell (knownPhone), or
	// 0 when it has no valid number. A later pass that reads the input
	// again takes the number from here instead of parsing the cell again:
	// a million records cost 8 MB, and the second pass half its
	// normalising. While the first pass keeps its records (keeping), no
	// pass will read the input again, and nothing is noted.
	known     []uint64
	noting    bool // the pass under way is the first: it fills known
	tagSeed   maphash.Seed
	tagSeeded bool

	// keeping, during the first pass, keeps its records for the second;
	// kept is them after a whole first pass, when they fitted in keepLimit
	// bytes (0: keepBytes; below 0: none are kept). The second pass then
	// neither reads nor normalises the input again, and plans exactly the
	// records the first counted.
	keeping   *keptRecords
	kept      *keptRecords
	keepLimit int
}

// open reads the header, so that a wrong file or mapping fails before
// anything touches the network. The first pass reads the whole input
// through this source, so it also fingerprints it for the run history.
func (e *exportChanges) open(sum *Summary) error {
	e.hash = sha256.New()
	src, err := OpenSource(io.TeeReader(e.input, e.hash), e.source)
	if err != nil {
		return err
	}
	e.records = src
	sum.Preset, sum.InputFormat = src.Preset(), src.Input()
	return nil
}

func (e *exportChanges) close() {
	if e.records != nil {
		e.records.Close()
		e.records = nil
	}
}

func (e *exportChanges) firstPass(live liveState, step func() error) (firstPass, error) {
	e.planner = NewPlanner(live.cards, live.lines, live.known, e.plan)
	e.known, e.noting = e.known[:0], true
	e.kept, e.keeping = nil, nil
	if e.keepLimit >= 0 {
		e.keeping = new(keptRecords)
	}
	defer func() { e.noting, e.keeping = false, nil }()
	err := e.each(func(d Desired) error {
		e.planner.Observe(d)
		return step()
	})
	if err == nil && e.keeping != nil && e.keeping.done() {
		e.kept = e.keeping
	}
	p := firstPass{records: e.planner.Records(), changes: e.planner.Changes(), named: e.planner.names}
	if err == nil {
		p.inputSHA256 = hex.EncodeToString(e.hash.Sum(nil))
	}
	return p, err
}

func (e *exportChanges) changes(each func(Change) error) error {
	if kept := e.kept; kept != nil {
		e.kept = nil // one pass over them: another reads the input again
		for d := range kept.All() {
			if err := each(e.planner.Decide(d)); err != nil {
				return err
			}
		}
		return nil
	}
	if err := e.rewind(); err != nil {
		return err
	}
	return e.each(func(d Desired) error { return each(e.planner.Decide(d)) })
}

func (e *exportChanges) unplanned(each func(Change) error) error {
	if err := e.rewind(); err != nil {
		return err
	}
	return e.each(func(d Desired) error {
		c := Change{Desired: d}
		if d.Invalid != "" {
			c.Action, c.Detail = ActionInvalid, d.Invalid
		}
		return each(c)
	})
}

// rewind starts the input over for another pass.
func (e *exportChanges) rewind() error {
	e.close()
	if _, err := e.input.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("%w: rewinding the input: %v", ErrUsage, err)
	}
	src, err := OpenSource(e.input, e.source)
	if err != nil {
		return err
	}
	e.records = src
	return nil
}

// each reads, normalises and hands on every record of the input that
// belongs to the shard, in input order.
//
// Reading the records (readRecords) and normalising them (readAhead) run
// in goroutines of their own, a few batches ahead of fn: in a big plan
// each is about a third of the work per record, and planning and
// reporting in fn the rest, so on two cores they overlap. A record is
// handed to fn only after every record before it; an error reading the
// input comes after them, as it would without the goroutines. When each
// returns, the goroutines have ended, so the input is no longer being read.
func (e *exportChanges) each(fn func(Desired) error) error {
	batches := make(chan recordBatch, 2)
	stop := make(chan struct{})
	done := make(chan struct{})
	p := newBatchPools()
	go func() {
		defer close(done)
		e.readAhead(batches, stop, p)
	}()
	defer func() {
		close(stop)
		<-done
	}()
	for b := range batches {
		for i := range b.records {
			if err := fn(b.records[i]); err != nil {
				return err
			}
		}
		if b.err != nil {
			return b.err
		}
		give(p.desired, b.records) // fn was handed copies
	}
	return nil
}

// batchPools hold the batches each's goroutines are done with, for the
// next ones: a million records would otherwise be some 400 MB of batches
// for the collector.
type batchPools struct {
	raw     chan []Record
	desired chan []Desired
}

func newBatchPools() batchPools {
	return batchPools{raw: make(chan []Record, 4), desired: make(chan []Desired, 4)}
}

// take returns an empty batch from pool, or a new one.
func take[T any](pool chan []T) []T {
	select {
	case b := <-pool:
		return b[:0]
	default:
		return make([]T, 0, batchRecords)
	}
}

// give puts a batch no one uses any more back in pool, if it has room.
func give[T any](pool chan []T, b []T) {
	select {
	case pool <- b:
	default:
	}
}

// recordBatch is a run of normalised records, and the error that ended the
// input after them, if any.
type recordBatch struct {
	records []Desired
	err     error
}

// rawBatch is a run of records as read, and the error that ended the input
// after them, if any (io.EOF at its end).
type rawBatch struct {
	records []Record
	err     error
}

// batchRecords is how many records are handed on at once: enough that the
// channels cost little per record, few enough that the first changes of an
// apply start at once.
const batchRecords = 256

// readAhead normalises the records readRecords reads and sends them in
// batches on out, which it closes at the input's end or after an error; it
// stops early when stop is closed. It returns once readRecords has ended.
func (e *exportChanges) readAhead(out chan<- recordBatch, stop <-chan struct{}, p batchPools) {
	defer close(out)
	raw := make(chan rawBatch, 2)
	go e.readRecords(raw, stop, p)
	defer func() {
		for range raw { // until readRecords, told by stop, closes it
		}
	}()
	i := 0 // records read in this pass
	for rb := range raw {
		batch := take(p.desired)
		for _, rec := range rb.records {
			d := e.normalizeRecord(i, rec)
			i++
			if e.shard.Has(d) {
				batch = append(batch, d)
				if e.keeping != nil {
					e.keeping.add(d, e.keepBytes())
				}
			}
		}
		give(p.raw, rb.records)
		b := recordBatch{records: batch}
		if rb.err != io.EOF {
			b.err = rb.err
		}
		select {
		case out <- b:
		case <-stop:
			return
		}
		if rb.err != nil {
			return
		}
	}
}

// keepBytes is the bound of the records the first pass keeps.
func (e *exportChanges) keepBytes() int {
	if e.keepLimit > 0 {
		return e.keepLimit
	}
	return keepBytes
}

// readRecords reads the input's records and sends them in batches on out,
// which it closes after the batch that ends with the input's end or an
// error, or when stop is closed.
func (e *exportChanges) readRecords(out chan<- rawBatch, stop <-chan struct{}, p batchPools) {
	defer close(out)
	for {
		select {
		case <-stop:
			return
		default:
		}
		b := rawBatch{records: take(p.raw)}
		for len(b.records) < batchRecords && b.err == nil {
			rec, err := e.records.Next()
			if err != nil {
				b.err = err
			} else {
				b.records = append(b.records, rec)
			}
		}
		select {
		case out <- b:
		case <-stop:
			return
		}
		if b.err != nil {
			return
		}
	}
}

// normalizeRecord normalises record i of the pass under way. The first
// pass notes each record's number (known); a later pass takes it from there
// when the record is still the one noted, which it checks cheaply: the
// digits of the phone cell end the number's, and the country cell has the
// same tag. Any other record (a number the first pass could not read, an
// input changed between the passes) is normalised anew.
func (e *exportChanges) normalizeRecord(i int, rec Record) Desired {
	if e.noting {
		d, e164 := normalize(rec, e.normalize, "")
		if e.keeping != nil && !e.keeping.over {
			// The records are being kept: no pass reads the input again,
			// unless there are too many of them to keep. Then the records
			// up to here are noted as numbers not known.
			return d
		}
		if n := len(e.known); n < i {
			e.known = slices.Grow(e.known, i-n)[:i]
			clear(e.known[n:])
		}
		var note uint64
		if k, ok := lineKey(e164); ok && k <= knownKeyMask {
			note = k | e.countryTag(rec)<<knownKeyBits
		}
		e.known = append(e.known, note)
		return d
	}
	if i < len(e.known) && e.known[i] != 0 {
		note := e.known[i]
		key := note & knownKeyMask
		if note>>knownKeyBits == e.countryTag(rec) && cellEnds(rec.Phone, key) {
			var buf [24]byte
			d, _ := normalize(rec, e.normalize, string(strconv.AppendUint(append(buf[:0], '+'), key, 10)))
			return d
		}
	}
	d, _ := normalize(rec, e.normalize, "")
	return d
}

// A noted number (exportChanges.known) is its key, E.164's digits (at most
// 15, so under 2^50), and above it a 14-bit tag of the record's country cell.
const (
	knownKeyBits = 50
	knownKeyMask = 1<<knownKeyBits - 1
)

// countryTag is the 14-bit tag of rec's country cell, which decides the
// number of a cell written without a country code.
func (e *exportChanges) countryTag(rec Record) uint64 {
	if !e.tagSeeded {
		e.tagSeed, e.tagSeeded = maphash.MakeSeed(), true
	}
	return maphash.String(e.tagSeed, rec.Region) >> knownKeyBits
}

// cellEnds reports whether the digits of cell, whatever is between them,
// are the last digits of key and leave at most a country calling code (1
// to 3 digits) before them: whether cell can be the number key.
func cellEnds(cell string, key uint64) bool {
	digits := 0
	for i := len(cell) - 1; i >= 0; i-- {
		c := cell[i]
		if c < '0' || c > '9' {
			continue
		}
		if key == 0 || uint64(c-'0') != key%10 {
			return false
		}
		key /= 10
		digits++
	}
	return digits > 0 && key < 1000
}

// savedChanges replays a saved plan (apply --plan): exactly the planned
// changes, each checked against the live card of now (changeFromSaved).
// Job.Validate has read the plan through once (checksum, account), so the
// passes here only act on a plan known to be whole.
type savedChanges struct {
	plan    io.ReadSeeker
	account string
	header  planHeader
	live    liveState
}

func (s *savedChanges) open(sum *Summary) error {
	sum.InputSHA256 = s.header.InputSHA256
	return nil
}

func (s *savedChanges) close() {}

func (s *savedChanges) firstPass(live liveState, step func() error) (firstPass, error) {
	s.live = live
	named := make(map[uint64]bool)
	p := firstPass{inputSHA256: s.header.InputSHA256, named: func(key uint64) bool { return named[key] }}
	err := s.read(func(sc savedChange) error {
		p.records++
		if sc.Action == ActionCreate || sc.Action == ActionUpdate {
			p.changes++
		}
		if key, ok := phoneKey(Desired{Phone: sc.Phone}); ok {
			named[key] = true
		}
		return step()
	})
	return p, err
}

func (s *savedChanges) changes(each func(Change) error) error {
	return s.read(func(sc savedChange) error {
		return each(changeFromSaved(sc, s.live.cards, s.live.lines, s.live.known))
	})
}

func (s *savedChanges) unplanned(each func(Change) error) error {
	// As planned: with no live cards, staleness is unknown.
	return s.read(func(sc savedChange) error { return each(sc.asPlanned()) })
}

// read streams the plan from its start.
func (s *savedChanges) read(fn func(savedChange) error) error {
	if _, err := s.plan.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("%w: rewinding --plan: %v", ErrUsage, err)
	}
	_, err := readPlan(s.plan, s.account, fn)
	return err
}
