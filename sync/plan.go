package sync

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// DuplicatePolicy says which record wins when a phone number appears on
// several records.
type DuplicatePolicy string

const (
	DuplicateError DuplicatePolicy = "error" // none of them is applied
	DuplicateFirst DuplicatePolicy = "first" // the first record wins
	DuplicateLast  DuplicatePolicy = "last"  // the last record wins
)

// ParseDuplicatePolicy checks the --on-duplicate flag.
func ParseDuplicatePolicy(s string) (DuplicatePolicy, error) {
	p, err := DuplicatePolicies.Parse(s)
	return DuplicatePolicy(p), err
}

// PlanOptions are the choices that turn a diff into an action.
type PlanOptions struct {
	Empty              EmptyPolicy
	OnDuplicate        DuplicatePolicy
	CreateMissing      bool
	RespectManualEdits bool // leave fields edited in Linq alone (see diffFields)
}

// Change is the plan for one record: what it wants, what is live, and the
// action that closes the gap.
type Change struct {
	Desired
	Action Action
	Live   *Card         // the live card; nil when the number has none
	Known  *Applied      // what the state recorded of this card; nil when nothing
	Fields []fieldChange // the fields to send, for create and update
	Detail string        // why, for invalid, duplicate, missing and inactive; drift notes
	Drift  bool          // a field was edited in Linq since bulksync set it
}

// FieldNames returns the changed fields' names in a fixed order.
func (c *Change) FieldNames() []string {
	names := make([]string, len(c.Fields))
	for i, f := range c.Fields {
		names[i] = f.name
	}
	return names
}

// IsWrite reports whether the change needs a request to the API.
func (c *Change) IsWrite() bool {
	return c.Action == ActionCreate || c.Action == ActionUpdate
}

// Planner decides one action per record against a snapshot of the live
// cards. Duplicates can only be known once every record has been seen, and
// nothing may be written before they are known, so planning takes two
// passes over the input: Observe on every record, then Decide on every
// record. Only a small note per record with a valid number is kept between
// the passes, so memory does not grow with the size of the records. A
// Planner is used from one goroutine at a time.
type Planner struct {
	opts  PlanOptions
	cards *Cards
	lines *Lines             // the account's phone numbers; nil when they could not be read
	known map[string]Applied // from the state; nil without one
	total int                // records observed

	// The first pass appends a note per record with a valid number, in
	// input order: a million records cost 16 MB, and appending costs
	// nothing like a lookup in a map of a million numbers, which missed
	// the cache on every record. The notes are sorted and summed up once,
	// when the second pass starts (index).
	notes   blocks[phoneNote]
	indexed bool
	keys    []uint64         // every number seen, sorted: names
	twice   map[uint64]seen  // numbers seen more than once: their first and last records
	dups    map[uint64][]int // the lines of those numbers, ascending
	changes int              // writes once duplicates are resolved

	// lives holds the live cards the changes point to (Change.Live), a
	// block at a time: a Card on the heap of its own was an allocation per
	// record in each pass.
	lives []Card
}

// phoneNote is what the first pass keeps of a record with a valid number.
type phoneNote struct {
	key     uint64 // phoneKey
	line    uint32
	changes bool // the record, alone, would change its card
}

// seen is what the index keeps of a number on several records, packed in
// one word: bits 0-29 the first line, 30-59 the last line, 60 whether the
// first record changes the card, 61 whether the last one does. (An export
// past 2^30 lines, a billion, would need a wider word.)
type seen uint64

const (
	lineBits     = 30
	lineMask     = 1<<lineBits - 1
	firstChanges = 1 << 60
	lastChanges  = 1 << 61
)

func (s seen) first() int         { return int(s & lineMask) }
func (s seen) last() int          { return int(s >> lineBits & lineMask) }
func (s seen) firstChanges() bool { return s&firstChanges != 0 }
func (s seen) lastChanges() bool  { return s&lastChanges != 0 }

// NewPlanner returns a planner over the live cards, the account's lines
// (nil: not checked) and what the state knows of the cards (nil without a
// state), all keyed by E.164 number.
func NewPlanner(cards *Cards, lines *Lines, known map[string]Applied, opts PlanOptions) *Planner {
	return &Planner{opts: opts, cards: cards, lines: lines, known: known}
}

// Observe records one record in the first pass. Every record is observed
// before the first call of Decide, Changes or names.
func (p *Planner) Observe(d Desired) {
	p.total++
	key, ok := phoneKey(d)
	if !ok {
		return
	}
	p.notes.add(phoneNote{key: key, line: uint32(d.Line & lineMask), changes: p.wouldWrite(d)})
}

// index sorts the first pass's notes by number and input order, and keeps
// of them the numbers, the duplicates and the count of changes.
func (p *Planner) index() {
	if p.indexed {
		return
	}
	p.indexed = true
	notes := p.notes.join()
	slices.SortFunc(notes, func(a, b phoneNote) int {
		if c := cmp.Compare(a.key, b.key); c != 0 {
			return c
		}
		return cmp.Compare(a.line, b.line)
	})
	p.keys = make([]uint64, 0, len(notes))
	p.twice, p.dups = make(map[uint64]seen), make(map[uint64][]int)
	for i := 0; i < len(notes); {
		j := i + 1
		for j < len(notes) && notes[j].key == notes[i].key {
			j++
		}
		first, last := notes[i], notes[j-1]
		p.keys = append(p.keys, first.key)
		switch {
		case j == i+1:
			if first.changes {
				p.changes++
			}
		default:
			s := seen(first.line) | seen(last.line)<<lineBits
			if first.changes {
				s |= firstChanges
			}
			if last.changes {
				s |= lastChanges
			}
			p.twice[first.key] = s
			lines := make([]int, 0, j-i)
			for _, n := range notes[i:j] {
				lines = append(lines, int(n.line))
			}
			p.dups[first.key] = lines
			switch {
			case p.opts.OnDuplicate == DuplicateFirst && first.changes,
				p.opts.OnDuplicate == DuplicateLast && last.changes:
				p.changes++
			}
		}
		i = j
	}
}

// Records returns how many records the first pass saw.
func (p *Planner) Records() int { return p.total }

// Changes returns how many writes the plan holds once duplicates are
// resolved: the figure --max-changes is checked against.
func (p *Planner) Changes() int {
	p.index()
	return p.changes
}

// Decide returns the change for one record in the second pass.
func (p *Planner) Decide(d Desired) Change {
	p.index()
	if key, ok := phoneKey(d); ok && len(p.dups) > 0 {
		if lines := p.dups[key]; lines != nil {
			if winner, ok := p.duplicateWinner(key); !ok || winner != d.Line {
				c := Change{Desired: d, Action: ActionDuplicate, Detail: duplicateDetail(d.Line, lines, p.opts.OnDuplicate)}
				if live, ok := p.cards.Get(d.Phone); ok {
					c.Live = p.live(live)
				}
				return c
			}
		}
	}
	return p.decideAlone(d)
}

func (p *Planner) duplicateWinner(key uint64) (int, bool) {
	s := p.twice[key]
	switch p.opts.OnDuplicate {
	case DuplicateFirst:
		return s.first(), true
	case DuplicateLast:
		return s.last(), true
	}
	return 0, false
}

func duplicateDetail(line int, lines []int, policy DuplicatePolicy) string {
	var others []string
	for _, l := range lines {
		if l != line {
			others = append(others, strconv.Itoa(l))
		}
	}
	msg := "phone_number also on line " + strings.Join(others, ", ")
	switch policy {
	case DuplicateFirst:
		return msg + "; --on-duplicate first applies line " + strconv.Itoa(slices.Min(lines))
	case DuplicateLast:
		return msg + "; --on-duplicate last applies line " + strconv.Itoa(slices.Max(lines))
	}
	return msg + "; none applied (--on-duplicate error)"
}

// decideAlone plans a record as if its phone number were unique.
func (p *Planner) decideAlone(d Desired) Change {
	return p.decide(d, true)
}

// wouldWrite reports whether decideAlone's change for d is a write. The
// first pass needs no more, so the change it looks at has neither the live
// card's copy nor the changed fields: a write is all there is to know.
func (p *Planner) wouldWrite(d Desired) bool {
	c := p.decide(d, false)
	return c.IsWrite()
}

// decide is decideAlone; with whole false, the change has only its action
// (wouldWrite).
func (p *Planner) decide(d Desired, whole bool) Change {
	if d.Invalid != "" {
		return Change{Desired: d, Action: ActionInvalid, Detail: d.Invalid}
	}
	live, exists := p.cards.Get(d.Phone)
	if !p.lines.Has(d.Phone) {
		c := Change{Desired: d, Action: ActionNotOwned, Detail: notOwnedDetail}
		if exists && whole {
			c.Live = p.live(live)
		}
		return c
	}
	if !exists {
		if !p.opts.CreateMissing {
			return Change{Desired: d, Action: ActionMissing, Detail: "no contact card for this number (use --create-missing to create it)"}
		}
		if d.FirstName == "" {
			return Change{Desired: d, Action: ActionInvalid, Detail: "first_name: empty; a new card needs a first name"}
		}
		c := Change{Desired: d, Action: ActionCreate}
		if whole {
			c.Fields = diffFields(d, Card{}, nil, EmptyKeep, false).changes
		}
		return c
	}
	c := Change{Desired: d}
	if whole {
		c.Live = p.live(live)
	}
	k, known := p.known[d.Phone]
	if known && whole {
		kept := k // a variable of its own: taking k's address would move k, and so every record's lookup, to the heap
		c.Known = &kept
	}
	if !live.Active {
		c.Action, c.Detail = ActionInactive, "the card exists but is inactive (is_active=false); Linq only updates active cards"
		return c
	}
	if d.FirstName == "" && p.opts.Empty == EmptyClear {
		c.Action, c.Detail = ActionInvalid, "first_name: empty; --empty clear cannot remove a card's first name"
		return c
	}
	var differs bool
	if whole {
		df := diffFields(d, live, c.Known, p.opts.Empty, p.opts.RespectManualEdits)
		c.Fields, c.Detail, c.Drift = df.changes, df.driftDetail(), len(df.drift) > 0
		differs = len(c.Fields) > 0
	} else {
		var kp *Applied
		if known {
			kp = &k
		}
		differs = fieldsDiffer(d, live, kp, p.opts.Empty, p.opts.RespectManualEdits)
	}
	if differs {
		c.Action = ActionUpdate
	} else {
		c.Action = ActionNoop
	}
	return c
}

// live returns a pointer to a copy of c, from a block of them.
func (p *Planner) live(c Card) *Card {
	if len(p.lives) == cap(p.lives) {
		p.lives = make([]Card, 0, 256)
	}
	p.lives = append(p.lives, c)
	return &p.lives[len(p.lives)-1]
}

// notOwnedDetail is the reason of a not_owned row the plan decided.
const notOwnedDetail = "the number is not one of the account's lines (GET /v3/phone_numbers); Linq only keeps cards for its own lines, so nothing is sent"

// names reports whether a record of the first pass so far named the
// phone number with this key (phoneKey).
func (p *Planner) names(key uint64) bool {
	p.index()
	_, ok := slices.BinarySearch(p.keys, key)
	return ok
}

// phoneKey packs a valid E.164 number into an integer, which keeps the
// per-number index small: E.164 has at most 15 digits.
func phoneKey(d Desired) (uint64, bool) {
	if d.Invalid != "" || len(d.Phone) < 2 || d.Phone[0] != '+' {
		return 0, false
	}
	n, err := strconv.ParseUint(d.Phone[1:], 10, 64)
	return n, err == nil
}

// ChangeLimit is --max-changes: an absolute count or a share of the records.
type ChangeLimit struct {
	Count   int     // when Percent is 0 ("0%" is the same as 0)
	Percent float64 // 0 < Percent <= 100
	set     bool
}

// ParseChangeLimit parses "N" or "P%"; "" means no limit.
func ParseChangeLimit(s string) (ChangeLimit, error) {
	if s == "" {
		return ChangeLimit{}, nil
	}
	bad := fmt.Errorf("%w: --max-changes: %q is not a count (e.g. 500) or a percentage from 0%% to 100%% (e.g. 5%%)", ErrUsage, s)
	if pct, ok := strings.CutSuffix(s, "%"); ok {
		p, err := strconv.ParseFloat(pct, 64)
		if err != nil || p < 0 || p > 100 {
			return ChangeLimit{}, bad
		}
		return ChangeLimit{Percent: p, set: true}, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return ChangeLimit{}, bad
	}
	return ChangeLimit{Count: n, set: true}, nil
}

// Check returns an error wrapping ErrAborted when changes exceed the limit.
func (l ChangeLimit) Check(changes, records int) error {
	if !l.set {
		return nil
	}
	if l.Percent > 0 {
		limit := l.Percent / 100 * float64(records)
		if float64(changes) > limit {
			return fmt.Errorf("%w: the plan has %d changes for %d records, over --max-changes %s (%.0f)", ErrAborted, changes, records, l, limit)
		}
		return nil
	}
	if changes > l.Count {
		return fmt.Errorf("%w: the plan has %d changes, over --max-changes %s", ErrAborted, changes, l)
	}
	return nil
}

func (l ChangeLimit) String() string {
	if !l.set {
		return ""
	}
	if l.Percent > 0 {
		return strconv.FormatFloat(l.Percent, 'f', -1, 64) + "%"
	}
	return strconv.Itoa(l.Count)
}
