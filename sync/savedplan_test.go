package sync

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// writeTestPlan writes a saved plan of changes for account.
func writeTestPlan(t *testing.T, account string, changes ...Change) []byte {
	t.Helper()
	var buf bytes.Buffer
	pw := NewPlanWriter(&buf, account, "export.csv")
	for i := range changes {
		if err := pw.Write(&changes[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := pw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func testPlanChanges() []Change {
	live := Card{Phone: "+12125550101", FirstName: "Old", LastName: "Name", ImageURL: "https://cdn/o.png", Active: true}
	return []Change{
		{Desired: Desired{Line: 2, Phone: "+12125550101", FirstName: "New", LastName: "Name"}, Action: ActionUpdate, Live: &live,
			Fields: []fieldChange{{name: FieldFirstName, old: "Old", new: "New"}}, Drift: true, Detail: "first_name edited in Linq"},
		{Desired: Desired{Line: 3, Phone: "+12125550102", FirstName: "Cy"}, Action: ActionCreate,
			Fields: []fieldChange{{name: FieldFirstName, old: "", new: "Cy"}}},
		{Desired: Desired{Line: 4, Phone: "555"}, Action: ActionInvalid, Detail: "phone_number: too short"},
	}
}

func TestSavedPlanRoundTrip(t *testing.T) {
	in := testPlanChanges()
	plan := writeTestPlan(t, testAccount, in...)
	var got []savedChange
	hdr, err := readPlan(bytes.NewReader(plan), testAccount, func(sc savedChange) error {
		got = append(got, sc)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if hdr.Version != planVersion || hdr.Account != testAccount || hdr.Input != "export.csv" || hdr.Created.IsZero() {
		t.Errorf("header = %+v", hdr)
	}
	if len(got) != len(in) {
		t.Fatalf("%d changes read, want %d", len(got), len(in))
	}
	// Rebuilt against the same live cards, each change is what was saved.
	cards := NewCards(*in[0].Live)
	for i, sc := range got {
		c := changeFromSaved(sc, cards, nil, nil)
		w := in[i]
		if c.Line != w.Line || c.Phone != w.Phone || c.FirstName != w.FirstName || c.LastName != w.LastName ||
			c.Action != w.Action || c.Detail != w.Detail || c.Drift != w.Drift ||
			strings.Join(c.FieldNames(), ",") != strings.Join(w.FieldNames(), ",") {
			t.Errorf("change %d: %+v, want %+v", i, c, w)
		}
	}
}

func TestSavedPlanEmpty(t *testing.T) {
	plan := writeTestPlan(t, testAccount)
	n := 0
	if _, err := readPlan(bytes.NewReader(plan), testAccount, func(savedChange) error { n++; return nil }); err != nil || n != 0 {
		t.Errorf("empty plan: %d changes, %v", n, err)
	}
}

// A plan that was edited, cut short, made elsewhere or is not a plan at
// all is refused as a usage error naming --plan, before any change is
// acted on.
func TestSavedPlanRefused(t *testing.T) {
	good := writeTestPlan(t, testAccount, testPlanChanges()...)
	lines := strings.SplitAfter(string(good), "\n")
	// lines: header, 3 changes, checksum, "" (after the last newline)
	tests := []struct {
		name    string
		plan    string
		account string
		wantErr string
	}{
		{"empty file", "", testAccount, "no header line"},
		{"a CSV", "phone_number,first_name\n+12125550101,Ada\n", testAccount, "bad header line"},
		{"another account", string(good), "fedcba9876543210", "another account"},
		{"newer format", strings.Replace(string(good), `"bulksync_plan":1`, `"bulksync_plan":2`, 1), testAccount, "plan format 2"},
		{"edited change", strings.Replace(string(good), `"first_name":"New"`, `"first_name":"Evil"`, 1), testAccount, "checksum mismatch"},
		{"change removed", lines[0] + lines[1] + lines[3] + lines[4], testAccount, "checksum mismatch"},
		{"truncated", strings.Join(lines[:3], ""), testAccount, "no checksum line"},
		{"cut mid-line", string(good[:len(lines[0])+10]), testAccount, "no checksum line"},
		{"data after the checksum", string(good) + lines[1], testAccount, "data after the checksum line"},
		{"unknown field", lines[0] + `{"line":2,"phone_number":"+1","action":"update","desired":{},"extra":1}` + "\n" + lines[4], testAccount, "line 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := checkSavedPlan(strings.NewReader(tt.plan), tt.account)
			if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "--plan") || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("checkSavedPlan: %v; want ErrUsage naming --plan with %q", err, tt.wantErr)
			}
		})
	}
}

func TestCheckSavedPlanRewinds(t *testing.T) {
	plan := writeTestPlan(t, testAccount, testPlanChanges()...)
	r := bytes.NewReader(plan)
	hdr, err := checkSavedPlan(r, testAccount)
	if err != nil {
		t.Fatal(err)
	}
	if hdr.Account != testAccount {
		t.Errorf("header account %q, want %q", hdr.Account, testAccount)
	}
	if r.Len() != len(plan) {
		t.Errorf("after the check, %d of %d bytes left to read", r.Len(), len(plan))
	}
}

func TestStaleReason(t *testing.T) {
	yes, no := true, false
	saw := &savedCard{FirstName: "Ada", LastName: "L", ImageURL: "https://cdn/a.png", Active: &yes}
	now := func(first, last, image string, active bool) *Card {
		return &Card{Phone: "+1", FirstName: first, LastName: last, ImageURL: image, Active: active}
	}
	tests := []struct {
		name string
		saw  *savedCard
		live *Card
		want string // "" or a part of the reason
	}{
		{"no card then or now", nil, nil, ""},
		{"unchanged", saw, now("Ada", "L", "https://cdn/a.png", true), ""},
		{"created since", nil, now("Ada", "", "", true), "created in Linq since the plan"},
		{"deleted since", saw, nil, "gone from Linq since the plan"},
		{"first name edited", saw, now("Bea", "L", "https://cdn/a.png", true), `first_name was "Ada", now "Bea"`},
		{"image replaced", saw, now("Ada", "L", "https://cdn/b.png", true), `image_url was "https://cdn/a.png", now "https://cdn/b.png"`},
		{"deactivated", saw, now("Ada", "L", "https://cdn/a.png", false), "is_active was true, now false"},
		// A plan written before is_active was saved does not compare it.
		{"activity unknown", &savedCard{FirstName: "Ada", LastName: "L", ImageURL: "https://cdn/a.png"}, now("Ada", "L", "https://cdn/a.png", false), ""},
		{"two fields", &savedCard{FirstName: "Ada", Active: &no}, now("Bea", "X", "", false), `first_name was "Ada", now "Bea"; last_name was "", now "X"`},
	}
	for _, tt := range tests {
		got := staleReason(savedChange{Live: tt.saw}, tt.live)
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

// Only writes become stale: a record the plan skipped stays as planned
// whatever happened to its card.
func TestChangeFromSavedStale(t *testing.T) {
	yes := true
	saw := &savedCard{FirstName: "Old", Active: &yes}
	changed := NewCards(Card{Phone: "+1", FirstName: "Edited", Active: true})
	tests := []struct {
		action Action
		want   Action
	}{
		{ActionUpdate, ActionStale},
		{ActionCreate, ActionStale},
		{ActionNoop, ActionNoop},
		{ActionInactive, ActionInactive},
		{ActionMissing, ActionMissing},
	}
	for _, tt := range tests {
		sc := savedChange{Line: 2, Phone: "+1", Action: tt.action, Live: saw,
			Fields: []savedField{{Field: FieldFirstName, Old: "Old", New: "New"}}}
		c := changeFromSaved(sc, changed, nil, nil)
		if c.Action != tt.want {
			t.Errorf("%s: %s, want %s", tt.action, c.Action, tt.want)
		}
		if c.Action == ActionStale && (len(c.Fields) != 0 || !strings.Contains(c.Detail, "changed in Linq since the plan")) {
			t.Errorf("%s: stale change keeps fields %v or lacks the reason (%q)", tt.action, c.Fields, c.Detail)
		}
	}
}
