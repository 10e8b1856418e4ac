package main

import (
	"bytes"
	"encoding/csv"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulksync/bulksync/internal/linqfake"
	"github.com/bulksync/bulksync/sync"
)

// These tests cover the bench's pure helpers only; they never run the
// benchmark and never look at a duration.

func TestWriteExportRows(t *testing.T) {
	for _, n := range []int{0, 1, 1000} {
		var buf bytes.Buffer
		got, err := writeExport(&buf, n)
		if err != nil || got != n {
			t.Fatalf("writeExport(%d) = %d, %v", n, got, err)
		}
		recs, err := csv.NewReader(&buf).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != n+1 {
			t.Fatalf("writeExport(%d): %d records, want %d with the header", n, len(recs), n+1)
		}
		if h := strings.Join(recs[0], ","); h != "phone_number,first_name,last_name,image_url" {
			t.Errorf("header %q", h)
		}
		seen := map[string]bool{}
		for _, r := range recs[1:] {
			if seen[r[0]] {
				t.Fatalf("phone %s twice", r[0])
			}
			seen[r[0]] = true
			if r[1] != "New" {
				t.Fatalf("first_name %q, want New", r[1])
			}
		}
	}
	if _, err := writeExport(&bytes.Buffer{}, maxPhones+1); err == nil {
		t.Error("writeExport over maxPhones: no error")
	}
}

// The seed must be what the fake accepts, and every generated number valid
// for bulksync, else a plan would say invalid instead of update.
func TestSeedFitsFakeAndNumbersAreValid(t *testing.T) {
	var buf bytes.Buffer
	if n, err := writeSeed(&buf, 100); err != nil || n != 100 {
		t.Fatalf("writeSeed = %d, %v", n, err)
	}
	fake := linqfake.New(linqfake.Options{})
	if err := fake.SeedCSV(&buf); err != nil {
		t.Fatal(err)
	}
	if got := len(fake.Cards()); got != 100 {
		t.Errorf("fake holds %d cards, want 100", got)
	}
	for _, i := range []int{0, 1, 99_999, 999_999, maxPhones - 1} {
		d := sync.Normalize(sync.Record{Line: 2, Phone: phone(i), FirstName: "New"}, sync.NormalizeOptions{})
		if d.Invalid != "" || d.Phone != phone(i) {
			t.Errorf("phone(%d) = %s: normalised to %s, invalid %q", i, phone(i), d.Phone, d.Invalid)
		}
	}
}

func TestPatchStats(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	entries := []logEntry{
		{Time: at(0), Method: "GET", Path: "/v3/contact_card", Status: 200},
		{Time: at(10), Method: "PATCH", Status: 200},
		{Time: at(20), Method: "PATCH", Status: 429, Code: 1007},
		{Time: at(30), Method: "PATCH", Status: 200},
		{Time: at(1010), Method: "PATCH", Status: 200},
	}
	s := patchStats(entries, time.Time{})
	if s.Requests != 4 || s.OK != 3 || s.Throttled != 1 {
		t.Errorf("counts %+v", s)
	}
	if w := s.applyWindow(20 * time.Millisecond); w != 1020*time.Millisecond {
		t.Errorf("applyWindow = %v, want 1.02s", w)
	}
	if r := s.okRate(); r != 2 {
		t.Errorf("okRate = %v, want 2 (2 intervals in 1 s)", r)
	}
	if sh := s.throttledShare(); sh != 0.25 {
		t.Errorf("throttledShare = %v", sh)
	}
	late := patchStats(entries, at(25))
	if late.Requests != 2 || late.Throttled != 0 || !late.First.Equal(at(30)) {
		t.Errorf("from 25ms: %+v", late)
	}
	if empty := patchStats(nil, time.Time{}); empty.applyWindow(time.Second) != 0 || empty.okRate() != 0 || empty.throttledShare() != 0 {
		t.Errorf("empty log: %+v", empty)
	}
}

func TestFormatText(t *testing.T) {
	figs := []figure{
		{id: "1a", name: "short", value: 0.99, shown: "99.0%", goal: atLeast(0.97, "≥ 97%"), detail: "d1"},
		{id: "1b", name: "a longer name", value: 2, shown: "2.00×", goal: atMost(1.5, "≤ 1.5×"), detail: "d2"},
		{id: "1c", name: "info", shown: "3 s"},
		{id: "1d", name: "broken", err: errors.New("fake-api did not start")},
	}
	got := formatText(figs)
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != 5 {
		t.Fatalf("%d lines, want 5:\n%s", len(lines), got)
	}
	// Columns line up: "value" starts at the same rune offset on every line.
	col := strings.Index(lines[0], "value")
	for _, l := range lines[1:] {
		cell := []rune(l)[len([]rune(lines[0][:col])):]
		if len(cell) == 0 || cell[0] == ' ' {
			t.Errorf("misaligned: %q", l)
		}
	}
	for i, want := range []string{"ok", "MISS", "info", "ERROR"} {
		if !strings.Contains(lines[i+1], "  "+want+"  ") {
			t.Errorf("line %d: want status %s: %q", i+1, want, lines[i+1])
		}
	}
	if !strings.Contains(lines[4], "fake-api did not start") {
		t.Errorf("error not shown: %q", lines[4])
	}
}

func TestFormatMarkdown(t *testing.T) {
	got := formatMarkdown([]figure{{id: "2a", name: "a|b", shown: "1", goal: atLeast(1, "≥ 1")}, {id: "2b", name: "n"}})
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines:\n%s", len(lines), got)
	}
	for _, l := range lines {
		if n := strings.Count(strings.ReplaceAll(l, `\|`, ""), "|"); n != 7 {
			t.Errorf("%d cell borders, want 7: %q", n, l)
		}
	}
}

func TestParseOnly(t *testing.T) {
	if m, err := parseOnly(""); err != nil || len(m) != 7 {
		t.Errorf(`parseOnly("") = %v, %v`, m, err)
	}
	if m, err := parseOnly("1, 3"); err != nil || !m["1"] || !m["3"] || m["2"] || m["4"] {
		t.Errorf(`parseOnly("1, 3") = %v, %v`, m, err)
	}
	if m, err := parseOnly("6j"); err != nil || !m["6j"] || m["6"] {
		t.Errorf(`parseOnly("6j") = %v, %v`, m, err)
	}
	if m, err := parseOnly("6w"); err != nil || !m["6w"] || m["6"] {
		t.Errorf(`parseOnly("6w") = %v, %v`, m, err)
	}
	if m, err := parseOnly("6n"); err != nil || !m["6n"] || m["6"] {
		t.Errorf(`parseOnly("6n") = %v, %v`, m, err)
	}
	for _, bad := range []string{"8", "0", "x", "12", "1,", "6k"} {
		if _, err := parseOnly(bad); err == nil {
			t.Errorf("parseOnly(%q): no error", bad)
		}
	}
}

func TestCount(t *testing.T) {
	for n, want := range map[int]string{1_000_000: "1M", 100_000: "100k", 1500: "1500", 7: "7"} {
		if got := count(n); got != want {
			t.Errorf("count(%d) = %s, want %s", n, got, want)
		}
	}
}

func TestFirstLine(t *testing.T) {
	w := &firstLine{ch: make(chan string, 1)}
	w.Write([]byte("listening on http://127."))
	w.Write([]byte("0.0.1:5\nmore\n"))
	w.Write([]byte("and more\n"))
	if got := <-w.ch; got != "listening on http://127.0.0.1:5" {
		t.Errorf("first line %q", got)
	}
}

// Rewriting BENCHMARKS.md replaces the generated part and keeps the notes.
func TestWriteMarkdownKeepsNotes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	old := "# Benchmarks\n\nold table\n\n" + notesMarker + "\n\n## Findings\n\nkept by hand\n"
	if err := os.WriteFile(path, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	env := environment{date: "2026-01-01 00:00 UTC", goVersion: "go1.26", cpu: "test cpu", cores: 2, mode: "full", load: "0.5"}
	if err := writeMarkdown(path, env, []figure{{id: "1a", name: "new figure", shown: "1"}}, []string{"## A section\n"}, quickSizes); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got := string(data)
	for _, want := range []string{"new figure", "test cpu, 2 cores", "## How each figure is measured", "## A section", notesMarker + "\n\n## Findings\n\nkept by hand\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	if strings.Contains(got, "old table") || strings.Count(got, notesMarker) != 1 {
		t.Errorf("old generated part kept or marker repeated:\n%s", got)
	}
}

// The time to 90% of the limit counts from the first 429, over a trailing
// second of successes.
func TestReachAfterThrottle(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var entries []logEntry
	// 10 accepted at once, a 429 at 10 ms, then 1 accepted every 100 ms.
	for range 10 {
		entries = append(entries, logEntry{Time: t0, Method: "PATCH", Status: 200})
	}
	entries = append(entries, logEntry{Time: t0.Add(10 * time.Millisecond), Method: "PATCH", Status: 429})
	for i := 1; i <= 30; i++ {
		entries = append(entries, logEntry{Time: t0.Add(time.Duration(i) * 100 * time.Millisecond), Method: "PATCH", Status: 200})
	}
	// A limit of 10/s: the first 10 at once already make 90%, before any 429.
	if got := reachAfterThrottle(entries, 10, 0.9); got != 0 {
		t.Errorf("limit 10: reach = %v, want 0", got)
	}
	// A limit of 30/s: never 27 in a second.
	if got := reachAfterThrottle(entries, 30, 0.9); got != -1 {
		t.Errorf("limit 30: reach = %v, want -1", got)
	}
	// A limit of 12/s: 11 in a second from the 429 on: the 11th steady one,
	// at 1.1 s, with the burst out of its second.
	if got := reachAfterThrottle(entries[10:], 12, 0.9); got != 1090*time.Millisecond {
		t.Errorf("limit 12: reach = %v, want 1.09s", got)
	}
}

func TestLimitCells(t *testing.T) {
	cells := limitCells([]float64{50, 1000}, []time.Duration{0, 20 * time.Millisecond}, []string{"seconds", "none", "250ms"})
	if len(cells) != 2*2*2*3 {
		t.Fatalf("%d cells, want 24", len(cells))
	}
	if c := cells[3]; c.limit != 50 || c.burst != 1 || c.latency != 20*time.Millisecond || c.retryAfter != "seconds" {
		t.Errorf("cell 3 = %+v", c)
	}
	if c := cells[len(cells)-1]; c.burst != 100 {
		t.Errorf("last cell's burst %d, want 100 (a tenth of 1000)", c.burst)
	}
	md := matrixMarkdown(cells[:3], []limitResult{{share: 0.97, throttled: 0.004, reach: time.Second}, {share: 0.9, reach: -1}, {err: errors.New("boom")}})
	for _, want := range []string{"| 50 | 1 | 0s | 97.0% · 0.4% · 1.0 s ✓ | 90.0% · 0.0% · never | error: boom |"} {
		if !strings.Contains(md, want) {
			t.Errorf("matrix lacks %q:\n%s", want, md)
		}
	}
}

// The fixed windows are replayed from the log: a client that sends each
// window's n at its start uses all of them; one that leaves a gap between
// windows, or a window part used, less.
func TestWindowShare(t *testing.T) {
	at := func(ms int, status int) logEntry {
		return logEntry{Time: time.Unix(1_000_000, 0).Add(time.Duration(ms) * time.Millisecond), Status: status}
	}
	// 2 per 1 s window.
	full := []logEntry{at(0, 200), at(1, 200), at(2, 429), at(1000, 200), at(1001, 200), at(2000, 200), at(2001, 200)}
	if share, n := windowShare(full, 2, time.Second); n != 3 || math.Abs(share-1) > 1e-9 {
		t.Errorf("back to back, full: %v over %d windows, want 100%% over 3", share, n)
	}
	gap := []logEntry{at(0, 200), at(1, 200), at(1500, 200), at(1501, 200)}
	if share, n := windowShare(gap, 2, time.Second); n != 2 || math.Abs(share-0.8) > 1e-9 {
		t.Errorf("half a window lost: %v over %d windows, want 80%% over 2", share, n)
	}
}
