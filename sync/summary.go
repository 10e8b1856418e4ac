package sync

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	stdsync "sync"
	"time"
)

// Summary counts what a run did. It is printed on stderr and written by
// --summary-json.
type Summary struct {
	mu stdsync.Mutex

	Command     string         `json:"command"`
	Input       string         `json:"input"`
	Report      string         `json:"report"`
	Preset      string         `json:"preset"`
	InputFormat InputInfo      `json:"input_format"`
	Records     int            `json:"records"`
	Changes     int            `json:"changes"` // writes in the plan
	Actions     map[Action]int `json:"actions"`
	Results     map[Result]int `json:"results"`
	ErrorCodes  map[string]int `json:"error_codes"`  // Linq code (or HTTP status when none) -> rows
	Requests    int            `json:"requests"`     // HTTP attempts made by apply
	Drift       int            `json:"drift"`        // records with a field edited in Linq since bulksync set it
	Absent      int            `json:"absent_cards"` // live cards (of the shard) that no record names
	// Lines is how many phone numbers the account has, and UnhealthyLines
	// how many of the shard's are not HEALTHY; LinesUnchecked says why
	// the list could not be read (the numbers were then not checked).
	Lines          int       `json:"lines"`
	UnhealthyLines int       `json:"unhealthy_lines"`
	LinesUnchecked string    `json:"lines_unchecked,omitempty"`
	InputSHA256    string    `json:"input_sha256"`
	Started        time.Time `json:"started"`
	Duration       float64   `json:"duration_seconds"`
	ExitCode       int       `json:"exit_code"`
	Error          string    `json:"error,omitempty"`
}

// NewSummary starts a summary for one command.
func NewSummary(command string) *Summary {
	return &Summary{
		Command:    command,
		Actions:    make(map[Action]int),
		Results:    make(map[Result]int),
		ErrorCodes: make(map[string]int),
		Started:    time.Now(),
	}
}

// Count adds one report row; drift says whether its card drifted.
func (s *Summary) Count(r ReportRow, drift bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if drift {
		s.Drift++
	}
	if r.Action != "" { // blank: stopped before anything was planned
		s.Actions[r.Action]++
	}
	s.Results[r.Result]++
	switch {
	case r.ErrorCode != "":
		s.ErrorCodes[r.ErrorCode]++
	case r.Result == ResultFailed && r.HTTPStatus != "":
		s.ErrorCodes["http_"+r.HTTPStatus]++
	case r.Result == ResultFailed:
		s.ErrorCodes["no_answer"]++
	}
	s.Requests += r.Attempts
}

// End records how the run ended: its length, exit code and error. Call it
// before State.EndRun.
func (s *Summary) End(runErr error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Duration = time.Since(s.Started).Seconds()
	s.ExitCode = ExitCode(runErr)
	s.Error = ""
	if runErr != nil && !errors.Is(runErr, ErrIncomplete) {
		s.Error = runErr.Error()
	}
}

// Rows is the number of report rows counted.
func (s *Summary) Rows() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.Results {
		n += c
	}
	return n
}

// Synced reports whether every record ended ok or planned: exit code 0.
// Absent rows (--report-absent) are about no record and never count.
func (s *Summary) Synced() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Results[ResultFailed] == 0 && s.Results[ResultSkipped]-s.Actions[ActionAbsent] == 0
}

func (s *Summary) setLines(lines, unhealthy int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Lines, s.UnhealthyLines = lines, unhealthy
}

func (s *Summary) setLinesUnchecked(why string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.LinesUnchecked = why
}

func (s *Summary) setAbsent(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Absent = n
}

// WriteText prints the human summary, one line per group.
func (s *Summary) WriteText(w io.Writer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(w, "%s: %d records, %d changes planned, in %.1fs\n", s.Command, s.Records, s.Changes, s.Duration)
	if in := s.InputFormat.String(); in != "" {
		fmt.Fprintf(w, "  input:   %s\n", in)
	}
	var parts []string
	for _, a := range Actions {
		if n := s.Actions[a]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", a, n))
		}
	}
	fmt.Fprintf(w, "  actions: %s\n", orNone(parts))
	parts = parts[:0]
	for _, r := range []Result{ResultPlanned, ResultOK, ResultFailed, ResultSkipped} {
		if n := s.Results[r]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", r, n))
		}
	}
	fmt.Fprintf(w, "  results: %s\n", orNone(parts))
	if len(s.ErrorCodes) > 0 {
		parts = parts[:0]
		for _, code := range slices.Sorted(maps.Keys(s.ErrorCodes)) {
			parts = append(parts, code+" ×"+strconv.Itoa(s.ErrorCodes[code]))
		}
		fmt.Fprintf(w, "  errors:  %s\n", strings.Join(parts, ", "))
	}
	if s.Requests > 0 {
		fmt.Fprintf(w, "  requests: %d\n", s.Requests)
	}
	if s.Drift > 0 {
		fmt.Fprintf(w, "  drift:   %d cards edited in Linq since bulksync set them (see the report)\n", s.Drift)
	}
	if s.Absent > 0 {
		fmt.Fprintf(w, "  absent:  %d live cards are not in the export (--report-absent lists them)\n", s.Absent)
	}
	if s.UnhealthyLines > 0 {
		fmt.Fprintf(w, "  lines:   %d of the account's lines are not healthy (--log-level info lists them)\n", s.UnhealthyLines)
	}
	if s.LinesUnchecked != "" {
		fmt.Fprintf(w, "  lines:   not checked: the account's phone numbers could not be read (%s)\n", s.LinesUnchecked)
	}
	if s.Report != "" {
		fmt.Fprintf(w, "  report:  %s\n", s.Report)
	}
}

func orNone(parts []string) string {
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// Attrs are the summary as log attributes, the counts in the same groups
// as WriteJSON: for --log-format json, where the summary is one record.
func (s *Summary) Attrs() []slog.Attr {
	s.mu.Lock()
	defer s.mu.Unlock()
	counts := func(keys []string, n func(string) int) slog.Attr {
		var as []any
		for _, k := range keys {
			if v := n(k); v > 0 {
				as = append(as, slog.Int(k, v))
			}
		}
		return slog.Group("", as...)
	}
	var actions, results []string
	for _, a := range Actions {
		actions = append(actions, string(a))
	}
	for _, r := range []Result{ResultPlanned, ResultOK, ResultFailed, ResultSkipped} {
		results = append(results, string(r))
	}
	group := func(name string, a slog.Attr) slog.Attr { return slog.Attr{Key: name, Value: a.Value} }
	attrs := []slog.Attr{
		slog.String("command", s.Command),
		slog.Int("records", s.Records),
		slog.Int("changes", s.Changes),
		slog.Float64("duration_seconds", s.Duration),
		group("actions", counts(actions, func(k string) int { return s.Actions[Action(k)] })),
		group("results", counts(results, func(k string) int { return s.Results[Result(k)] })),
		group("error_codes", counts(slices.Sorted(maps.Keys(s.ErrorCodes)), func(k string) int { return s.ErrorCodes[k] })),
		slog.Int("requests", s.Requests),
		slog.Int("drift", s.Drift),
		slog.Int("absent_cards", s.Absent),
		slog.Int("unhealthy_lines", s.UnhealthyLines),
	}
	if in := s.InputFormat.String(); in != "" {
		attrs = append(attrs, slog.String("input_format", in))
	}
	if s.LinesUnchecked != "" {
		attrs = append(attrs, slog.String("lines_unchecked", s.LinesUnchecked))
	}
	if s.Report != "" {
		attrs = append(attrs, slog.String("report", s.Report))
	}
	return attrs
}

// WriteJSON writes the summary as one JSON object.
func (s *Summary) WriteJSON(w io.Writer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

// countsJSON is the part of the summary kept in the run history.
func (s *Summary) countsJSON() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := json.Marshal(map[string]any{
		"records": s.Records, "changes": s.Changes, "actions": s.Actions,
		"results": s.Results, "error_codes": s.ErrorCodes, "requests": s.Requests, "drift": s.Drift,
		"absent_cards": s.Absent, "unhealthy_lines": s.UnhealthyLines,
	})
	return string(b), err
}
