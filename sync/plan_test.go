package sync

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestPlannerActions(t *testing.T) {
	cards := cardMap(map[string]Card{
		"+12125550101": {Phone: "+12125550101", FirstName: "Ada", LastName: "Lovelace", Active: true},
		"+12125550102": {Phone: "+12125550102", FirstName: "Grace", Active: false},
		"+12125550103": {Phone: "+12125550103", FirstName: "Alan", LastName: "Turing", ImageURL: "https://cdn/x.jpg", Active: true},
	})
	tests := []struct {
		name       string
		opts       PlanOptions
		in         Desired
		wantAction Action
		wantFields []string
		wantDetail string
	}{
		{"noop", PlanOptions{Empty: EmptyKeep}, Desired{Phone: "+12125550101", FirstName: "Ada", LastName: "Lovelace"}, ActionNoop, nil, ""},
		{"update one field", PlanOptions{Empty: EmptyKeep}, Desired{Phone: "+12125550101", FirstName: "Ada", LastName: "Byron"}, ActionUpdate, []string{"last_name"}, ""},
		{"blank kept", PlanOptions{Empty: EmptyKeep}, Desired{Phone: "+12125550103", FirstName: "Alan"}, ActionNoop, nil, ""},
		{"blank cleared", PlanOptions{Empty: EmptyClear}, Desired{Phone: "+12125550103", FirstName: "Alan"}, ActionUpdate, []string{"last_name", "image_url"}, ""},
		{"clear first name refused", PlanOptions{Empty: EmptyClear}, Desired{Phone: "+12125550103"}, ActionInvalid, nil, "first_name: empty"},
		{"inactive", PlanOptions{Empty: EmptyKeep}, Desired{Phone: "+12125550102", FirstName: "Grace"}, ActionInactive, nil, "inactive"},
		{"missing", PlanOptions{Empty: EmptyKeep}, Desired{Phone: "+12125550199", FirstName: "New"}, ActionMissing, nil, "--create-missing"},
		{"create", PlanOptions{Empty: EmptyKeep, CreateMissing: true}, Desired{Phone: "+12125550199", FirstName: "New", ImageURL: "https://i/x.png"}, ActionCreate, []string{"first_name", "image_url"}, ""},
		{"create needs first name", PlanOptions{Empty: EmptyKeep, CreateMissing: true}, Desired{Phone: "+12125550199", LastName: "X"}, ActionInvalid, nil, "first_name: empty"},
		{"invalid", PlanOptions{Empty: EmptyKeep}, Desired{Phone: "abc", Invalid: "phone_number: bad"}, ActionInvalid, nil, "phone_number: bad"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewPlanner(cards, nil, nil, tt.opts)
			p.Observe(tt.in)
			c := p.Decide(tt.in)
			if c.Action != tt.wantAction {
				t.Fatalf("action = %s, want %s (detail %q)", c.Action, tt.wantAction, c.Detail)
			}
			if got := c.FieldNames(); !slices.Equal(got, tt.wantFields) && !(len(got) == 0 && len(tt.wantFields) == 0) {
				t.Errorf("fields = %v, want %v", got, tt.wantFields)
			}
			if !strings.Contains(c.Detail, tt.wantDetail) {
				t.Errorf("detail = %q, want it to contain %q", c.Detail, tt.wantDetail)
			}
		})
	}
}

func TestPlannerDuplicates(t *testing.T) {
	cards := cardMap(map[string]Card{"+12125550101": {Phone: "+12125550101", FirstName: "Old", Active: true}})
	records := []Desired{
		{Line: 2, Phone: "+12125550101", FirstName: "A"},
		{Line: 3, Phone: "+12125550102", FirstName: "Solo"},
		{Line: 5, Phone: "+12125550101", FirstName: "B"},
		{Line: 9, Phone: "+12125550101", FirstName: "Old"},
	}
	tests := []struct {
		policy      DuplicatePolicy
		wantActions []Action
		wantChanges int
	}{
		{DuplicateError, []Action{ActionDuplicate, ActionCreate, ActionDuplicate, ActionDuplicate}, 1},
		{DuplicateFirst, []Action{ActionUpdate, ActionCreate, ActionDuplicate, ActionDuplicate}, 2},
		{DuplicateLast, []Action{ActionDuplicate, ActionCreate, ActionDuplicate, ActionNoop}, 1},
	}
	for _, tt := range tests {
		t.Run(string(tt.policy), func(t *testing.T) {
			p := NewPlanner(cards, nil, nil, PlanOptions{Empty: EmptyKeep, OnDuplicate: tt.policy, CreateMissing: true})
			for _, d := range records {
				p.Observe(d)
			}
			if got := p.Changes(); got != tt.wantChanges {
				t.Errorf("Changes() = %d, want %d", got, tt.wantChanges)
			}
			for i, d := range records {
				c := p.Decide(d)
				if c.Action != tt.wantActions[i] {
					t.Errorf("line %d: action %s, want %s (%s)", d.Line, c.Action, tt.wantActions[i], c.Detail)
				}
				if c.Action == ActionDuplicate && !strings.Contains(c.Detail, "also on line") {
					t.Errorf("line %d: detail %q does not name the other lines", d.Line, c.Detail)
				}
			}
		})
	}
	p := NewPlanner(cards, nil, nil, PlanOptions{OnDuplicate: DuplicateError})
	for _, d := range records {
		p.Observe(d)
	}
	if c := p.Decide(records[0]); c.Detail != "phone_number also on line 5, 9; none applied (--on-duplicate error)" {
		t.Errorf("detail = %q", c.Detail)
	}
}

func TestChangeLimit(t *testing.T) {
	tests := []struct {
		in               string
		changes, records int
		wantParseErr     bool
		wantAbort        bool
	}{
		{"", 100, 100, false, false},
		{"10", 10, 100, false, false},
		{"10", 11, 100, false, true},
		{"5%", 5, 100, false, false},
		{"5%", 6, 100, false, true},
		{"0", 1, 100, false, true},
		{"0%", 1, 100, false, true},
		{"100%", 100, 100, false, false},
		{"150%", 0, 0, true, false},
		{"-1", 0, 0, true, false},
		{"x", 0, 0, true, false},
	}
	for _, tt := range tests {
		l, err := ParseChangeLimit(tt.in)
		if (err != nil) != tt.wantParseErr {
			t.Errorf("ParseChangeLimit(%q) error = %v", tt.in, err)
			continue
		}
		if err != nil {
			if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "--max-changes") {
				t.Errorf("ParseChangeLimit(%q) error %q should wrap ErrUsage and name the flag", tt.in, err)
			}
			continue
		}
		err = l.Check(tt.changes, tt.records)
		if (err != nil) != tt.wantAbort || (err != nil && !errors.Is(err, ErrAborted)) {
			t.Errorf("%q.Check(%d, %d) = %v, want abort %v", tt.in, tt.changes, tt.records, err, tt.wantAbort)
		}
	}
}

// The first pass's notes are sorted once the pass ends: numbers seen in
// any order, the same one far apart, must come out as a map would have
// kept them.
func TestPlannerIndexOutOfOrder(t *testing.T) {
	cards := cardMap(map[string]Card{
		"+12125550101": {Phone: "+12125550101", FirstName: "Old", Active: true},
		"+12125550105": {Phone: "+12125550105", FirstName: "Old", Active: true},
	})
	records := []Desired{
		{Line: 2, Phone: "+12125550109", FirstName: "Nine"},
		{Line: 3, Phone: "+12125550105", FirstName: "New"},
		{Line: 4, Phone: "+12125550101", FirstName: "Old"},
		{Line: 6, Phone: "bad", Invalid: "phone_number: bad"},
		{Line: 7, Phone: "+12125550105", FirstName: "Old"},
		{Line: 8, Phone: "+12125550103", FirstName: "Three"},
		{Line: 11, Phone: "+12125550105", FirstName: "Newer"},
	}
	p := NewPlanner(cards, nil, nil, PlanOptions{Empty: EmptyKeep, OnDuplicate: DuplicateLast, CreateMissing: true})
	for _, d := range records {
		p.Observe(d)
	}
	// Creates for 109 and 103; 105's last record (line 11) updates it.
	if got := p.Changes(); got != 3 {
		t.Errorf("Changes() = %d, want 3", got)
	}
	for _, n := range []string{"+12125550101", "+12125550103", "+12125550105", "+12125550109"} {
		if key, _ := phoneKey(Desired{Phone: n}); !p.names(key) {
			t.Errorf("%s: not named", n)
		}
	}
	if key, _ := phoneKey(Desired{Phone: "+12125550102"}); p.names(key) {
		t.Errorf("+12125550102 named")
	}
	if c := p.Decide(records[4]); c.Action != ActionDuplicate || c.Detail != "phone_number also on line 3, 11; --on-duplicate last applies line 11" {
		t.Errorf("line 7: %s %q", c.Action, c.Detail)
	}
	if c := p.Decide(records[6]); c.Action != ActionUpdate {
		t.Errorf("line 11: %s %q, want update", c.Action, c.Detail)
	}
}

// Each change points to a live card of its own, whatever came after it:
// the cards are handed out from blocks, and a block fills up and is
// replaced as the changes pile up.
func TestChangesKeepTheirLiveCards(t *testing.T) {
	var cards []Card
	for i := range 600 {
		cards = append(cards, Card{Phone: fmt.Sprintf("+1212555%04d", i), FirstName: fmt.Sprint("Old", i), Active: true})
	}
	p := NewPlanner(NewCards(cards...), nil, nil, PlanOptions{Empty: EmptyKeep, OnDuplicate: DuplicateError})
	var records []Desired
	for i, c := range cards {
		records = append(records, Desired{Line: i + 2, Phone: c.Phone, FirstName: "New"})
		p.Observe(records[i])
	}
	var changes []Change
	for _, d := range records {
		changes = append(changes, p.Decide(d))
	}
	for i, c := range changes {
		if c.Live == nil || *c.Live != cards[i] {
			t.Fatalf("change %d: live card %+v, want %+v", i, c.Live, cards[i])
		}
		if i > 0 && c.Live == changes[i-1].Live {
			t.Fatalf("changes %d and %d share a live card", i-1, i)
		}
	}
}
