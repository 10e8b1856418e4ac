package sync

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/bulksync/bulksync/gen/linq"
	"github.com/bulksync/bulksync/internal/linqfake"
)

// A state written by schema 1 is migrated forward in place: its cards and
// runs are kept, its old runs say they cannot be undone, and new runs
// record their before-values.
func TestStateMigratesFromSchema1(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v1.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		migrations[1],
		`INSERT INTO meta(key, value) VALUES ('app', 'bulksync-state'), ('account', 'acct'), ('created', '2026-01-01T00:00:00Z')`,
		`INSERT INTO runs(command, started, ended, pid, host, input, input_sha256, report, counts, exit_code)
			VALUES ('apply', '2026-01-01T00:00:00Z', '2026-01-01T00:01:00Z', 1, 'h', 'old.csv', '', 'r.csv', '{}', 0)`,
		`INSERT INTO cards VALUES ('+12125550101', 'Ada', 'Byron', 'https://img/ada.png', 'Ada', 'Byron', 'https://cdn/1.jpg', '2026-01-01T00:00:30Z', 1)`,
		`PRAGMA user_version = 1`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	st, err := OpenState(path, "acct", "apply")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var version int
	if err := st.db.QueryRow(`PRAGMA user_version`).Scan(&version); err != nil || version != stateSchema {
		t.Fatalf("user_version = %d, %v; want %d", version, err, stateSchema)
	}
	known, err := st.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if k := known["+12125550101"]; k.SrcImage != "https://img/ada.png" || k.LiveImage != "https://cdn/1.jpg" || k.RunID != 1 {
		t.Errorf("the card recorded by schema 1 is now %+v", k)
	}
	if _, _, err := st.RunChanges(ctx, 1); !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "recorded by an older bulksync") {
		t.Errorf("undo of a schema-1 run: %v", err)
	}

	// A run after the migration records what it replaced. Ada's image is
	// put back as the source URL schema 1 recorded.
	if err := st.BeginRun(ctx, RunInfo{Command: "apply", Input: "new.csv"}); err != nil {
		t.Fatal(err)
	}
	live := Card{Phone: "+12125550101", FirstName: "Ada", LastName: "Byron", ImageURL: "https://cdn/1.jpg", Active: true}
	k := known["+12125550101"]
	c := &Change{Desired: Desired{Line: 2, Phone: live.Phone, FirstName: "Ada", LastName: "", ImageURL: "https://img/ada-2.png"},
		Action: ActionUpdate, Live: &live, Known: &k,
		Fields: []fieldChange{{FieldLastName, "Byron", ""}, {FieldImageURL, "https://cdn/1.jpg", "https://img/ada-2.png"}}}
	st.SaveApplied(c, Card{Phone: live.Phone, FirstName: "Ada", ImageURL: "https://cdn/2.jpg", Active: true})
	if err := st.EndRun(NewSummary("apply")); err != nil {
		t.Fatal(err)
	}
	run, changes, err := st.RunChanges(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := []RunChange{{Line: 2, Phone: live.Phone, Fields: []string{FieldLastName, FieldImageURL},
		Before: Card{Phone: live.Phone, FirstName: "Ada", LastName: "Byron", ImageURL: "https://img/ada.png", Active: true},
		After:  Card{Phone: live.Phone, FirstName: "Ada", ImageURL: "https://cdn/2.jpg", Active: true}}}
	if run.ID != 2 || run.Input != "new.csv" || !reflect.DeepEqual(changes, want) {
		t.Errorf("RunChanges(2) = %+v, %+v;\nwant %+v", run, changes, want)
	}
	if _, _, err := st.RunChanges(ctx, 3); !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "RUN 3: no such run") {
		t.Errorf("undo of an unknown run: %v", err)
	}
}

// A state newer than this build is refused, whatever it holds.
func TestStateRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new.db")
	st, err := OpenState(path, "acct", "plan")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.db.Exec(`PRAGMA user_version = 3`); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if _, err := OpenState(path, "acct", "plan"); !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "newer bulksync (schema 3; this one knows 2)") {
		t.Errorf("OpenState of a schema-3 file: %v", err)
	}
}

func TestBeforeImage(t *testing.T) {
	live := Card{ImageURL: "https://cdn/1.jpg"}
	cases := []struct {
		name  string
		live  Card
		known *Applied
		want  string
		cdn   bool
	}{
		{"blank: cleared again", Card{}, &Applied{SrcImage: "https://img/a.png"}, "", false},
		{"set by bulksync: its source URL", live, &Applied{SrcImage: "https://img/a.png", LiveImage: "https://cdn/1.jpg"}, "https://img/a.png", false},
		{"changed in Linq since: the CDN URL", live, &Applied{SrcImage: "https://img/a.png", LiveImage: "https://cdn/0.jpg"}, "https://cdn/1.jpg", true},
		{"never set by bulksync: the CDN URL", live, nil, "https://cdn/1.jpg", true},
	}
	for _, tc := range cases {
		got, cdn := beforeImage(tc.live, tc.known)
		if got != tc.want || cdn != tc.cdn {
			t.Errorf("%s: beforeImage = %q, %v; want %q, %v", tc.name, got, cdn, tc.want, tc.cdn)
		}
	}
}

func TestUndoChange(t *testing.T) {
	const phone = "+12125550101"
	after := Card{Phone: phone, FirstName: "Ada", LastName: "Byron", ImageURL: "https://cdn/2.jpg", Active: true}
	rc := RunChange{Line: 7, Phone: phone, Fields: []string{FieldLastName, FieldImageURL},
		Before: Card{Phone: phone, FirstName: "Ada", LastName: "", ImageURL: "https://img/1.png", Active: true}, After: after}
	cards := func(c *Card) *Cards {
		if c == nil {
			return NewCards()
		}
		return NewCards(*c)
	}
	with := func(f func(*Card)) *Card { c := after; f(&c); return &c }

	t.Run("unchanged since the run: update back", func(t *testing.T) {
		c := undoChange(4, rc, cards(&after))
		wantFields := []fieldChange{{FieldLastName, "Byron", ""}, {FieldImageURL, "https://cdn/2.jpg", "https://img/1.png"}}
		if c.Action != ActionUpdate || !reflect.DeepEqual(c.Fields, wantFields) || *c.Live != after || c.Detail != "" {
			t.Errorf("got %+v", c)
		}
		if c.Line != 7 || c.FirstName != "Ada" || c.LastName != "" || c.ImageURL != "https://img/1.png" {
			t.Errorf("desired = %+v", c.Desired)
		}
	})
	t.Run("edited since the run: stale", func(t *testing.T) {
		c := undoChange(4, rc, cards(with(func(c *Card) { c.LastName = "King" })))
		if c.Action != ActionStale || c.Fields != nil || !strings.Contains(c.Detail, `since run 4: last_name was "Byron", now "King"`) {
			t.Errorf("got %+v", c)
		}
	})
	t.Run("inactive since the run: stale", func(t *testing.T) {
		c := undoChange(4, rc, cards(with(func(c *Card) { c.Active = false })))
		if c.Action != ActionStale || !strings.Contains(c.Detail, "is_active was true, now false") {
			t.Errorf("got %+v", c)
		}
	})
	t.Run("gone since the run: stale", func(t *testing.T) {
		c := undoChange(4, rc, cards(nil))
		if c.Action != ActionStale || c.Live != nil || !strings.Contains(c.Detail, "gone from Linq since run 4") {
			t.Errorf("got %+v", c)
		}
	})
	t.Run("put back by hand: noop only when comparable", func(t *testing.T) {
		names := rc
		names.Fields = []string{FieldLastName}
		c := undoChange(4, names, cards(with(func(c *Card) { c.LastName = "" })))
		if c.Action != ActionNoop {
			t.Errorf("names put back: got %+v", c)
		}
		// An image put back from its source URL has a CDN URL of its own:
		// it cannot be told from another edit.
		c = undoChange(4, rc, cards(with(func(c *Card) { c.LastName, c.ImageURL = "", "https://cdn/1.jpg" })))
		if c.Action != ActionStale {
			t.Errorf("image put back: got %+v", c)
		}
	})
	t.Run("image source unknown: the CDN URL, with a note", func(t *testing.T) {
		cdn := rc
		cdn.Before.ImageURL, cdn.BeforeImageIsCDN = "https://cdn/1.jpg", true
		c := undoChange(4, cdn, cards(&after))
		if c.Action != ActionUpdate || c.ImageURL != "https://cdn/1.jpg" || !strings.Contains(c.Detail, "source URL is unknown") {
			t.Errorf("got %+v", c)
		}
	})
	t.Run("created by the run: cannot_undo", func(t *testing.T) {
		created := RunChange{Line: 3, Phone: phone, Created: true, Fields: []string{FieldFirstName}, After: after}
		c := undoChange(4, created, cards(&after))
		if c.Action != ActionCannotUndo || c.IsWrite() || !strings.Contains(c.Detail, "run 4 created this card") {
			t.Errorf("got %+v", c)
		}
	})
}

// The undo plan is a saved plan apply --plan reads: its update rows carry
// the after-values as the live card, so the stale check compares with
// them.
func TestWriteUndoIsASavedPlan(t *testing.T) {
	const phone = "+12125550101"
	after := Card{Phone: phone, FirstName: "Ada", LastName: "Byron", Active: true}
	rc := RunChange{Line: 2, Phone: phone, Fields: []string{FieldLastName},
		Before: Card{Phone: phone, FirstName: "Ada", LastName: "Lovelace", Active: true}, After: after}
	var buf bytes.Buffer
	pw := NewPlanWriter(&buf, "acct", "undo of run 1")
	var rows []ReportRow
	counts, err := WriteUndo(pw, 1, []RunChange{rc}, NewCards(after), func(r ReportRow) { rows = append(rows, r) })
	if err != nil || pw.Close() != nil {
		t.Fatal(err)
	}
	if counts[ActionUpdate] != 1 || len(counts) != 1 {
		t.Errorf("counts = %v", counts)
	}
	if len(rows) != 1 || rows[0].Action != ActionUpdate || rows[0].Result != ResultPlanned || rows[0].LastNameOld != "Byron" || rows[0].LastNameNew != "Lovelace" {
		t.Errorf("report rows = %+v", rows)
	}
	var got []savedChange
	if _, err := readPlan(bytes.NewReader(buf.Bytes()), "acct", func(sc savedChange) error { got = append(got, sc); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("plan has %d changes", len(got))
	}
	edited := after
	edited.FirstName = "Augusta"
	for _, tc := range []struct {
		live Card
		want Action
	}{{after, ActionUpdate}, {edited, ActionStale}} {
		c := changeFromSaved(got[0], cardMap(map[string]Card{phone: tc.live}), nil, nil)
		if c.Action != tc.want {
			t.Errorf("live %+v: action %s, want %s", tc.live, c.Action, tc.want)
		}
	}
}

// A run killed before its end keeps the changes the API confirmed before
// the writer last flushed: they can be undone.
func TestRunChangesOfAKilledRun(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	st, err := OpenState(path, "acct", "apply")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.BeginRun(ctx, RunInfo{Command: "apply", Input: "x.csv"}); err != nil {
		t.Fatal(err)
	}
	live := Card{Phone: "+12125550101", FirstName: "Ada", LastName: "Lovelace", Active: true}
	st.SaveApplied(&Change{Desired: Desired{Line: 2, Phone: live.Phone, FirstName: "Ada", LastName: "Byron"}, Action: ActionUpdate, Live: &live,
		Fields: []fieldChange{{FieldLastName, "Lovelace", "Byron"}}}, Card{Phone: live.Phone, FirstName: "Ada", LastName: "Byron", Active: true})
	// Flush the writer as the ticker would, but never end the run.
	close(st.writes)
	if err := <-st.flushed; err != nil {
		t.Fatal(err)
	}
	st.writes = nil
	st.Close()

	st, err = OpenState(path, "acct", "undo")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	run, changes, err := st.RunChanges(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if run.Ended != nil || len(changes) != 1 || changes[0].Before.LastName != "Lovelace" || changes[0].After.LastName != "Byron" {
		t.Errorf("run %+v, changes %+v", run, changes)
	}
}

// A create that meets 409/2014 patches the card it finds. When no attempt
// of the run can have made that card (it appeared after the snapshot), the
// run changed it, not created it: the state keeps what it held, so undo
// puts it back instead of calling it cannot_undo. When it already matched,
// the run changed nothing and the state keeps no change.
func TestConflictOnAFoundCard(t *testing.T) {
	const phone = "+12125550000"
	for _, tt := range []struct {
		name        string
		found       linq.ContactCard
		wantChanges []RunChange
	}{
		{"differs: patched, undone to what it held", card(phone, "Someone", "Else", true), []RunChange{{
			Line: 2, Phone: phone, Fields: []string{FieldFirstName, FieldLastName},
			Before: Card{Phone: phone, FirstName: "Someone", LastName: "Else", Active: true},
			After:  Card{Phone: phone, FirstName: "New", LastName: "Number0", Active: true},
		}}},
		{"matches: nothing changed", card(phone, "New", "Number0", true), nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fake, url := startFake(t, linqfake.Options{})
			statePath := filepath.Join(t.TempDir(), "state.db")
			res := runSync(t, url, export(1, "New"), func(j *Job) {
				j.StateFile = statePath
				j.Events = onPlanned(func() { fake.PutCard(tt.found) })
			})
			if res.err != nil {
				t.Fatalf("Run: %v", res.err)
			}
			if r := res.rows[0]; r["action"] != "create" || r["result"] != "ok" || r["first_name_old"] != tt.found.FirstName {
				t.Errorf("row %v, want create ok with the found card's old values", r)
			}
			_, changes := runChanges(t, statePath, url, 1)
			if !reflect.DeepEqual(changes, tt.wantChanges) {
				t.Errorf("run changes\n%+v, want\n%+v", changes, tt.wantChanges)
			}
			for _, rc := range changes {
				if c := undoChange(1, rc, NewCards(rc.After)); c.Action != ActionUpdate || c.FirstName != "Someone" {
					t.Errorf("undo %+v, want an update back to Someone", c)
				}
			}
		})
	}
}

// After a POST that went unanswered (here a 503), a 409/2014 most likely
// meets the run's own card: it stays recorded as created.
func TestConflictAfterAnUnansweredCreate(t *testing.T) {
	const phone = "+12125550001"
	posts := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/v3/phone_numbers":
			fmt.Fprintf(w, `{"phone_numbers":[{"phone_number":%q}]}`, phone)
		case r.Method == http.MethodGet && r.URL.Query().Get("phone_number") == "":
			fmt.Fprint(w, `{"contact_cards":[]}`)
		case r.Method == http.MethodGet:
			fmt.Fprintf(w, `{"contact_cards":[{"phone_number":%q,"first_name":"New","is_active":true}]}`, phone)
		case posts == 0:
			posts++
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"success":false,"error":{"status":503,"code":4004,"message":"Service unavailable"}}`)
		default:
			w.WriteHeader(http.StatusConflict)
			fmt.Fprint(w, `{"success":false,"error":{"status":409,"code":2014,"message":"A contact card already exists for this phone number"}}`)
		}
	}))
	defer srv.Close()
	statePath := filepath.Join(t.TempDir(), "state.db")
	res := runSync(t, srv.URL, "phone_number,first_name\n"+phone+",New\n", func(j *Job) { j.StateFile = statePath })
	if res.err != nil {
		t.Fatalf("Run: %v", res.err)
	}
	if r := res.rows[0]; r["result"] != "ok" || r["attempts"] != "3" || r["first_name_old"] != "" {
		t.Errorf("row %v, want ok after POST 503, POST 409 and a GET, with no old values", r)
	}
	_, changes := runChanges(t, statePath, srv.URL, 1)
	if len(changes) != 1 || !changes[0].Created {
		t.Errorf("run changes %+v, want one created card", changes)
	}
}

// runChanges reads back what run id recorded in the state at path.
func runChanges(t *testing.T, path, baseURL string, id int64) (RunEntry, []RunChange) {
	t.Helper()
	st, err := OpenState(path, Account(baseURL, testToken), "test")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	run, changes, err := st.RunChanges(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return run, changes
}
