package sync

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Undo ('bulksync undo RUN') turns what a run changed back into a saved
// plan, reviewed and applied like any other (apply --plan). It rests on the
// state: after each confirmed write, a run records the card's values from
// before it and the values the API answered (the run_changes table). The
// plan's desired values are the before-values; its recorded live values
// are the after-values, so that apply's stale check leaves alone a card
// changed since the run. An undo applied is a run like any other, with its
// own before-values: it can be undone in turn.

// RunChange is what one run changed on one card.
type RunChange struct {
	Line    int // the record's line in the run's input
	Phone   string
	Created bool     // the run created the card: there is nothing to put back
	Fields  []string // the fields the run changed
	// Before holds the card's values before the run: the names as they
	// were live, and as the image the source URL bulksync had applied (Linq
	// rehosts images, so sending the CDN URL would make a copy of a copy),
	// or the CDN URL when no source URL is known (BeforeImageIsCDN).
	Before           Card
	BeforeImageIsCDN bool
	After            Card // the values the API answered
}

// runChangeOf is what the state records of a change the API confirmed,
// answering card; false when the change turned out to change nothing.
func runChangeOf(c *Change, card Card) (RunChange, bool) {
	rc := RunChange{Line: c.Line, Phone: c.Phone, Fields: c.FieldNames(), After: card}
	switch {
	case c.Live == nil:
		// A create, including one that met 409/2014 after an attempt whose
		// answer was lost (most likely its own): there are no values from
		// before to put back.
		rc.Created = true
		return rc, true
	case c.Action == ActionCreate:
		// A create that met 409/2014 on a card no attempt of this run can
		// have made, read back into c.Live: only the fields the patch then
		// changed are the run's.
		rc.Fields = slices.DeleteFunc(rc.Fields, func(f string) bool { return fieldOf(*c.Live, f) == fieldOf(card, f) })
		if len(rc.Fields) == 0 {
			return rc, false
		}
	}
	rc.Before = *c.Live
	rc.Before.ImageURL, rc.BeforeImageIsCDN = beforeImage(*c.Live, c.Known)
	return rc, true
}

// fieldOf is a card's value of the field named f.
func fieldOf(c Card, f string) string {
	switch f {
	case FieldFirstName:
		return c.FirstName
	case FieldLastName:
		return c.LastName
	case FieldImageURL:
		return c.ImageURL
	}
	return ""
}

// beforeImage is the image to put back: the source URL bulksync applied,
// when the live CDN URL is still Linq's copy of it; otherwise the CDN URL
// itself (true), which Linq rehosts again as long as it serves it.
func beforeImage(live Card, known *Applied) (string, bool) {
	switch {
	case live.ImageURL == "":
		return "", false
	case known != nil && known.SrcImage != "" && known.LiveImage == live.ImageURL:
		return known.SrcImage, false
	}
	return live.ImageURL, true
}

// RunChanges returns run id and what it changed, in input order. A run
// that is not in the state, or that was recorded before the state kept
// before-values, is ErrUsage.
func (s *State) RunChanges(ctx context.Context, id int64) (RunEntry, []RunChange, error) {
	run, err := s.run(ctx, id)
	if errors.Is(err, sql.ErrNoRows) {
		return run, nil, fmt.Errorf("%w: RUN %d: no such run in --state %s; 'bulksync runs' lists the runs (give it the same --state, or none for the account's default)", ErrUsage, id, s.path)
	}
	if err != nil {
		return run, nil, fmt.Errorf("%w: reading --state %s: %v", ErrUsage, s.path, err)
	}
	var since sql.NullString
	if err := s.db.QueryRowContext(ctx, `SELECT value FROM meta WHERE key='run_changes_since'`).Scan(&since); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return run, nil, fmt.Errorf("%w: reading --state %s: %v", ErrUsage, s.path, err)
	}
	if first, _ := strconv.ParseInt(since.String, 10, 64); !since.Valid || id < first {
		return run, nil, fmt.Errorf("%w: RUN %d was recorded by an older bulksync, which did not keep the values a run replaced: it cannot be undone (a backup from 'bulksync export' taken before it can be applied instead)", ErrUsage, id)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT line, phone, created, fields, before_first, before_last, before_image, before_cdn,
		after_first, after_last, after_image FROM run_changes WHERE run_id = ? ORDER BY line, phone`, id)
	if err != nil {
		return run, nil, fmt.Errorf("%w: reading --state %s: %v", ErrUsage, s.path, err)
	}
	defer rows.Close()
	var out []RunChange
	for rows.Next() {
		var rc RunChange
		var fields string
		if err := rows.Scan(&rc.Line, &rc.Phone, &rc.Created, &fields, &rc.Before.FirstName, &rc.Before.LastName, &rc.Before.ImageURL,
			&rc.BeforeImageIsCDN, &rc.After.FirstName, &rc.After.LastName, &rc.After.ImageURL); err != nil {
			return run, nil, fmt.Errorf("%w: reading --state %s: %v", ErrUsage, s.path, err)
		}
		if fields != "" {
			rc.Fields = strings.Split(fields, "|")
		}
		rc.Before.Phone, rc.After.Phone = rc.Phone, rc.Phone
		rc.Before.Active, rc.After.Active = !rc.Created, true // a write is ok only on an active card
		out = append(out, rc)
	}
	if err := rows.Err(); err != nil {
		return run, nil, fmt.Errorf("%w: reading --state %s: %v", ErrUsage, s.path, err)
	}
	return run, out, nil
}

// WriteUndo writes to pw the plan that puts back what run changed, checked
// against cards, the live cards of now, and returns how many records it
// holds per action:
//   - update: the fields the run changed go back to their values before
//     it; a blank value is cleared, an image is the source URL applied
//     before. The recorded live values are the run's after-values, so a
//     card changed between now and apply --plan is stale there.
//   - stale: the card changed in Linq since the run (or is gone, or
//     inactive): left alone, the reason given.
//   - noop: the card already holds the values from before the run.
//   - cannot_undo: the run created the card; the API cannot delete one.
//
// report, when set, receives each record's row as a plan's report has it,
// for review.
func WriteUndo(pw *PlanWriter, runID int64, changes []RunChange, cards *Cards, report func(ReportRow)) (map[Action]int, error) {
	counts := make(map[Action]int)
	for _, rc := range changes {
		c := undoChange(runID, rc, cards)
		counts[c.Action]++
		if err := pw.Write(&c); err != nil {
			return counts, err
		}
		if report != nil {
			report(NewReportRow(&c, planned(&c, nil, true)))
		}
	}
	return counts, nil
}

func undoChange(runID int64, rc RunChange, cards *Cards) Change {
	// The desired card is the card as the run left it, with the fields it
	// changed put back.
	c := Change{Desired: Desired{Line: rc.Line, Phone: rc.Phone, FirstName: rc.After.FirstName, LastName: rc.After.LastName, ImageURL: rc.After.ImageURL}}
	var live *Card
	if now, ok := cards.Get(rc.Phone); ok {
		live = &now
	}
	if rc.Created {
		c.Action, c.Live = ActionCannotUndo, live
		c.Detail = fmt.Sprintf("run %d created this card, and the Linq API cannot delete a card: delete it in Linq if it must go", runID)
		return c
	}
	var notes []string
	for _, f := range rc.Fields {
		switch f {
		case FieldFirstName:
			c.FirstName = rc.Before.FirstName
			c.Fields = append(c.Fields, fieldChange{name: f, old: rc.After.FirstName, new: rc.Before.FirstName})
		case FieldLastName:
			c.LastName = rc.Before.LastName
			c.Fields = append(c.Fields, fieldChange{name: f, old: rc.After.LastName, new: rc.Before.LastName})
		case FieldImageURL:
			c.ImageURL = rc.Before.ImageURL
			c.Fields = append(c.Fields, fieldChange{name: f, old: rc.After.ImageURL, new: rc.Before.ImageURL})
			if rc.BeforeImageIsCDN {
				notes = append(notes, "image_url: bulksync did not set the image before the run, so its source URL is unknown; the CDN URL it had is sent, which works while Linq still serves it")
			}
		}
	}
	after := rc.After
	if why := staleSince(savedChange{Live: &savedCard{FirstName: after.FirstName, LastName: after.LastName, ImageURL: after.ImageURL, Active: &after.Active}},
		live, fmt.Sprintf("run %d", runID)); why != "" {
		c.Live, c.Fields = live, nil
		if live != nil && live.Active && holdsBefore(rc, *live) {
			c.Action, c.Detail = ActionNoop, fmt.Sprintf("the card already holds its values from before run %d", runID)
			return c
		}
		c.Action, c.Detail = ActionStale, why+"; left alone"
		return c
	}
	c.Action, c.Live, c.Detail = ActionUpdate, &after, strings.Join(notes, "; ")
	return c
}

// holdsBefore reports whether live holds, in every field the run changed,
// the value from before it. An image put back from its source URL cannot
// be compared: Linq serves it under a URL of its own.
func holdsBefore(rc RunChange, live Card) bool {
	for _, f := range rc.Fields {
		switch f {
		case FieldFirstName:
			if live.FirstName != rc.Before.FirstName {
				return false
			}
		case FieldLastName:
			if live.LastName != rc.Before.LastName {
				return false
			}
		case FieldImageURL:
			if rc.Before.ImageURL != "" && !rc.BeforeImageIsCDN || live.ImageURL != rc.Before.ImageURL {
				return false
			}
		}
	}
	return true
}
