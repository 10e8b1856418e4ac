package sync

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"slices"
	"strings"
	stdsync "sync"
	"testing"
)

func TestSummaryCount(t *testing.T) {
	tests := []struct {
		name    string
		rows    []ReportRow
		drift   bool
		actions map[Action]int
		results map[Result]int
		codes   map[string]int
		reqs    int
		synced  bool
	}{
		{"planned rows", []ReportRow{{Action: ActionUpdate, Result: ResultPlanned}, {Action: ActionNoop, Result: ResultPlanned}}, false,
			map[Action]int{ActionUpdate: 1, ActionNoop: 1}, map[Result]int{ResultPlanned: 2}, map[string]int{}, 0, true},
		{"ok after retries", []ReportRow{{Action: ActionCreate, Result: ResultOK, Attempts: 3}}, false,
			map[Action]int{ActionCreate: 1}, map[Result]int{ResultOK: 1}, map[string]int{}, 3, true},
		{"failed with a Linq code", []ReportRow{{Action: ActionUpdate, Result: ResultFailed, HTTPStatus: "500", ErrorCode: "3006", Attempts: 4}}, false,
			map[Action]int{ActionUpdate: 1}, map[Result]int{ResultFailed: 1}, map[string]int{"3006": 1}, 4, false},
		{"failed without a code", []ReportRow{{Action: ActionUpdate, Result: ResultFailed, HTTPStatus: "502", Attempts: 1}}, false,
			map[Action]int{ActionUpdate: 1}, map[Result]int{ResultFailed: 1}, map[string]int{"http_502": 1}, 1, false},
		{"failed without an answer", []ReportRow{{Action: ActionCreate, Result: ResultFailed, Attempts: 2}}, false,
			map[Action]int{ActionCreate: 1}, map[Result]int{ResultFailed: 1}, map[string]int{"no_answer": 1}, 2, false},
		{"skipped invalid", []ReportRow{{Action: ActionInvalid, Result: ResultSkipped}}, false,
			map[Action]int{ActionInvalid: 1}, map[Result]int{ResultSkipped: 1}, map[string]int{}, 0, false},
		// A row reported before anything was planned has no action.
		{"stopped before the plan", []ReportRow{{Result: ResultSkipped}}, false,
			map[Action]int{}, map[Result]int{ResultSkipped: 1}, map[string]int{}, 0, false},
	}
	for _, tt := range tests {
		s := NewSummary("apply")
		for _, r := range tt.rows {
			s.Count(r, tt.drift)
		}
		if !maps.Equal(s.Actions, tt.actions) || !maps.Equal(s.Results, tt.results) || !maps.Equal(s.ErrorCodes, tt.codes) ||
			s.Requests != tt.reqs || s.Synced() != tt.synced || s.Drift != 0 {
			t.Errorf("%s: actions %v results %v codes %v requests %d synced %v drift %d", tt.name,
				s.Actions, s.Results, s.ErrorCodes, s.Requests, s.Synced(), s.Drift)
		}
	}
	s := NewSummary("plan")
	s.Count(ReportRow{Action: ActionUpdate, Result: ResultPlanned}, true)
	s.Count(ReportRow{Action: ActionNoop, Result: ResultPlanned}, false)
	if s.Drift != 1 {
		t.Errorf("drift %d, want 1", s.Drift)
	}
}

// Apply's workers count at once.
func TestSummaryCountConcurrent(t *testing.T) {
	s := NewSummary("apply")
	var wg stdsync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				s.Count(ReportRow{Action: ActionUpdate, Result: ResultFailed, ErrorCode: "3006", Attempts: 2}, true)
			}
		})
	}
	wg.Wait()
	if s.Results[ResultFailed] != 800 || s.ErrorCodes["3006"] != 800 || s.Requests != 1600 || s.Drift != 800 {
		t.Errorf("results %v codes %v requests %d drift %d", s.Results, s.ErrorCodes, s.Requests, s.Drift)
	}
}

func TestSummaryWriteText(t *testing.T) {
	tests := []struct {
		name string
		fill func(s *Summary)
		want string
	}{
		{"nothing", func(s *Summary) {}, "apply: 0 records, 0 changes planned, in 0.0s\n  actions: none\n  results: none\n"},
		{"everything", func(s *Summary) {
			s.Records, s.Changes, s.Duration, s.Report = 5, 3, 1.25, "/r/report.csv"
			s.Count(ReportRow{Action: ActionUpdate, Result: ResultOK, Attempts: 1}, true)
			s.Count(ReportRow{Action: ActionUpdate, Result: ResultFailed, ErrorCode: "3006", Attempts: 3}, false)
			s.Count(ReportRow{Action: ActionCreate, Result: ResultFailed, HTTPStatus: "502", Attempts: 1}, false)
			s.Count(ReportRow{Action: ActionNoop, Result: ResultOK}, false)
			s.Count(ReportRow{Action: ActionInvalid, Result: ResultSkipped}, false)
		}, "apply: 5 records, 3 changes planned, in 1.2s\n" +
			// Actions in their fixed order, results too; codes sorted.
			"  actions: create 1, update 2, noop 1, invalid 1\n" +
			"  results: ok 2, failed 2, skipped 1\n" +
			"  errors:  3006 ×1, http_502 ×1\n" +
			"  requests: 5\n" +
			"  drift:   1 cards edited in Linq since bulksync set them (see the report)\n" +
			"  report:  /r/report.csv\n"},
	}
	for _, tt := range tests {
		s := NewSummary("apply")
		tt.fill(s)
		var buf bytes.Buffer
		s.WriteText(&buf)
		if buf.String() != tt.want {
			t.Errorf("%s:\n%s\nwant:\n%s", tt.name, buf.String(), tt.want)
		}
	}
}

// The JSON's field names are an interface (--summary-json, the run
// history): each is documented in the README's --summary-json item, so a
// renamed or new field is a change the README must show.
func TestSummaryJSONFields(t *testing.T) {
	s := NewSummary("apply")
	s.Records, s.ExitCode = 2, 1
	s.Count(ReportRow{Action: ActionUpdate, Result: ResultFailed, ErrorCode: "3006", Attempts: 1}, false)
	s.Error = "aborted"
	var buf bytes.Buffer
	if err := s.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, doc, ok := strings.Cut(string(readme), "**`--summary-json FILE`**")
	doc, _, _ = strings.Cut(doc, "\n- ")
	if !ok {
		t.Fatal("README.md has no **`--summary-json FILE`** item")
	}
	for _, key := range slices.Sorted(maps.Keys(got)) {
		if !strings.Contains(doc, "`"+key+"`") {
			t.Errorf("summary JSON field %q is not in the README's --summary-json item", key)
		}
	}
	if len(got) < 15 {
		t.Errorf("summary JSON has %d fields: %v", len(got), got)
	}
	buf.Reset()
	s.Error = ""
	s.WriteJSON(&buf)
	if strings.Contains(buf.String(), `"error"`) {
		t.Errorf("error present when empty: %s", buf.String())
	}
	s.Error = "aborted"
	buf.Reset()
	s.WriteJSON(&buf)
	got = nil
	json.Unmarshal(buf.Bytes(), &got)
	if got["error"] != "aborted" || got["exit_code"] != 1.0 || got["records"] != 2.0 {
		t.Errorf("summary JSON %v", got)
	}

	counts, err := s.countsJSON()
	if err != nil {
		t.Fatal(err)
	}
	got = nil
	if err := json.Unmarshal([]byte(counts), &got); err != nil {
		t.Fatal(err)
	}
	want := []string{"absent_cards", "actions", "changes", "drift", "error_codes", "records", "requests", "results", "unhealthy_lines"}
	if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, want) {
		t.Errorf("history counts fields %v, want %v", keys, want)
	}
}
