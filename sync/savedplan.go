package sync

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"strings"
	"time"
)

// A saved plan (plan --out FILE, apply --plan FILE) lets a human review the
// changes and apply exactly those. It is JSON Lines, so a plan of a million
// records streams both ways:
//
//	{"bulksync_plan":1,"account":"…","created":"…","input":"…","input_sha256":"…"}
//	{"line":2,"phone_number":"+1…","action":"update","desired":{…},"live":{…},"fields":[…]}
//	…
//	{"checksum":"<sha256 of every line above>"}
//
// The checksum detects a hand-edited or truncated file; it is not a
// signature. The account binds the plan to the base URL and key it was
// computed against. Each record keeps the live values it was computed from:
// apply reports a record whose card changed since as stale and sends nothing
// for it.

// planVersion is the saved-plan format this build reads and writes.
const planVersion = 1

type planHeader struct {
	Version     int       `json:"bulksync_plan"`
	Account     string    `json:"account"`
	Created     time.Time `json:"created"`
	Input       string    `json:"input"`
	InputSHA256 string    `json:"input_sha256,omitempty"`
	Shard       string    `json:"shard,omitempty"` // --shard i/n the plan was made for; "" for all records
}

type planTrailer struct {
	Checksum string `json:"checksum"`
}

type savedCard struct {
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	ImageURL  string `json:"image_url"`
	Active    *bool  `json:"is_active,omitempty"`
}

type savedField struct {
	Field string `json:"field"`
	Old   string `json:"old"`
	New   string `json:"new"`
}

type savedChange struct {
	Line    int          `json:"line"`
	Phone   string       `json:"phone_number"`
	Action  Action       `json:"action"`
	Desired savedCard    `json:"desired"`
	Live    *savedCard   `json:"live,omitempty"`
	Fields  []savedField `json:"fields,omitempty"`
	Detail  string       `json:"detail,omitempty"`
	Drift   bool         `json:"drift,omitempty"`
}

// PlanWriter writes a saved plan.
type PlanWriter struct {
	w      *bufio.Writer
	sum    hash.Hash
	header planHeader
	begun  bool
}

// NewPlanWriter starts a saved plan for account. The header is written with
// the first change, once the input's fingerprint is known.
func NewPlanWriter(w io.Writer, account, input string) *PlanWriter {
	return &PlanWriter{w: bufio.NewWriterSize(w, 64<<10), sum: sha256.New(),
		header: planHeader{Version: planVersion, Account: account, Input: input}}
}

// SetShard marks the plan as one shard's (--shard i/n): applied, its absent
// cards and unhealthy lines are that shard's. Call it before the first
// Write.
func (pw *PlanWriter) SetShard(s Shard) { pw.header.Shard = s.String() }

func (pw *PlanWriter) begin() error {
	if pw.begun {
		return nil
	}
	pw.begun = true
	pw.header.Created = time.Now().UTC()
	return pw.line(pw.header)
}

func (pw *PlanWriter) line(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	pw.sum.Write(b)
	_, err = pw.w.Write(b)
	return err
}

// Write adds one record's change.
func (pw *PlanWriter) Write(c *Change) error {
	sc := savedChange{Line: c.Line, Phone: c.Phone, Action: c.Action, Detail: c.Detail, Drift: c.Drift,
		Desired: savedCard{FirstName: c.FirstName, LastName: c.LastName, ImageURL: c.ImageURL}}
	if c.Live != nil {
		active := c.Live.Active
		sc.Live = &savedCard{FirstName: c.Live.FirstName, LastName: c.Live.LastName, ImageURL: c.Live.ImageURL, Active: &active}
	}
	for _, f := range c.Fields {
		sc.Fields = append(sc.Fields, savedField{Field: f.name, Old: f.old, New: f.new})
	}
	err := pw.begin()
	if err == nil {
		err = pw.line(sc)
	}
	if err != nil {
		return fmt.Errorf("%w: writing --out: %v", ErrAborted, err)
	}
	return nil
}

// Close writes the checksum line and flushes. A plan without it (a run
// that stopped early) is rejected by apply.
func (pw *PlanWriter) Close() error {
	if err := pw.begin(); err != nil {
		return err
	}
	b, _ := json.Marshal(planTrailer{Checksum: hex.EncodeToString(pw.sum.Sum(nil))})
	if _, err := pw.w.Write(append(b, '\n')); err != nil {
		return err
	}
	return pw.w.Flush()
}

// readPlan streams a saved plan, checking its header against account. fn
// sees every change; the checksum is checked at the end, so callers must
// not act on the changes before a first complete pass succeeded.
func readPlan(r io.Reader, account string, fn func(savedChange) error) (planHeader, error) {
	var hdr planHeader
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: --plan: "+format, append([]any{ErrUsage}, args...)...)
	}
	br := bufio.NewReaderSize(r, 64<<10)
	sum := sha256.New()
	first, err := br.ReadBytes('\n')
	if err != nil {
		return hdr, bad("not a bulksync plan (no header line)")
	}
	if err := json.Unmarshal(first, &hdr); err != nil || hdr.Version == 0 {
		return hdr, bad("not a bulksync plan (bad header line)")
	}
	if hdr.Version != planVersion {
		return hdr, bad("plan format %d; this bulksync reads format %d", hdr.Version, planVersion)
	}
	if hdr.Account != account {
		return hdr, bad("the plan was made for another account (base URL or API key differ)")
	}
	sum.Write(first)
	for n := 2; ; n++ {
		line, err := br.ReadBytes('\n')
		if err == io.EOF {
			return hdr, bad("no checksum line: the file is truncated")
		}
		if err != nil {
			return hdr, bad("%v", err)
		}
		if bytes.HasPrefix(line, []byte(`{"checksum":`)) {
			var tr planTrailer
			if json.Unmarshal(line, &tr) != nil || tr.Checksum != hex.EncodeToString(sum.Sum(nil)) {
				return hdr, bad("checksum mismatch: the file was edited after bulksync wrote it; make a new plan")
			}
			if rest, _ := br.ReadBytes('\n'); len(bytes.TrimSpace(rest)) > 0 {
				return hdr, bad("data after the checksum line")
			}
			return hdr, nil
		}
		sum.Write(line)
		var sc savedChange
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&sc); err != nil {
			return hdr, bad("line %d: %v", n, err)
		}
		if err := fn(sc); err != nil {
			return hdr, err
		}
	}
}

// staleReason says how the live card differs from the one the plan saw, or
// "" when it does not.
func staleReason(sc savedChange, live *Card) string {
	return staleSince(sc, live, "the plan")
}

// staleSince is staleReason for a card last seen at since ("the plan",
// "run 3").
func staleSince(sc savedChange, live *Card, since string) string {
	switch {
	case sc.Live == nil && live == nil:
		return ""
	case sc.Live == nil:
		return "a card was created in Linq since " + since
	case live == nil:
		return "the card is gone from Linq since " + since
	}
	var diffs []string
	cmp := func(name, was, now string) {
		if was != now {
			diffs = append(diffs, fmt.Sprintf("%s was %q, now %q", name, was, now))
		}
	}
	cmp(FieldFirstName, sc.Live.FirstName, live.FirstName)
	cmp(FieldLastName, sc.Live.LastName, live.LastName)
	cmp(FieldImageURL, sc.Live.ImageURL, live.ImageURL)
	if sc.Live.Active != nil && *sc.Live.Active != live.Active {
		diffs = append(diffs, fmt.Sprintf("is_active was %v, now %v", *sc.Live.Active, live.Active))
	}
	if len(diffs) == 0 {
		return ""
	}
	return "the card changed in Linq since " + since + ": " + strings.Join(diffs, "; ")
}

// asPlanned is the change as the plan saved it, with no live card.
func (sc savedChange) asPlanned() Change {
	c := Change{
		Desired: Desired{Line: sc.Line, Phone: sc.Phone, FirstName: sc.Desired.FirstName, LastName: sc.Desired.LastName, ImageURL: sc.Desired.ImageURL},
		Action:  sc.Action,
		Detail:  sc.Detail,
		Drift:   sc.Drift,
	}
	for _, f := range sc.Fields {
		c.Fields = append(c.Fields, fieldChange{name: f.Field, old: f.Old, new: f.New})
	}
	return c
}

// changeFromSaved rebuilds a planned change, checking it against the live
// card and the account's lines of now.
func changeFromSaved(sc savedChange, cards *Cards, lines *Lines, known map[string]Applied) Change {
	c := sc.asPlanned()
	// Each a variable of its own, on the heap only when there is one.
	if live, ok := cards.Get(sc.Phone); ok {
		l := live
		c.Live = &l
	}
	if k, ok := known[sc.Phone]; ok {
		known := k
		c.Known = &known
	}
	if c.IsWrite() {
		if why := staleReason(sc, c.Live); why != "" {
			c.Action, c.Detail, c.Fields = ActionStale, why, nil
		} else if !lines.Has(c.Phone) {
			c.Action, c.Detail, c.Fields = ActionNotOwned, "the number left the account's lines since the plan; nothing is sent", nil
		}
	}
	return c
}

// checkSavedPlan reads a saved plan through, as apply --plan will, and
// rewinds it: a plan that was edited, truncated or made for another
// account is refused (ErrUsage) before anything is locked or written. It
// returns the plan's header.
func checkSavedPlan(plan io.ReadSeeker, account string) (planHeader, error) {
	hdr, err := readPlan(plan, account, func(savedChange) error { return nil })
	if err != nil {
		return hdr, err
	}
	if _, err := plan.Seek(0, io.SeekStart); err != nil {
		return hdr, fmt.Errorf("%w: rewinding --plan: %v", ErrUsage, err)
	}
	return hdr, nil
}
