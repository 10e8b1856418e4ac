package sync

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const testAccount = "0123456789abcdef"

// openTestState opens a fresh state in a temporary directory.
func openTestState(t *testing.T) (*State, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state", "acct.db")
	s, err := OpenState(path, testAccount, "apply")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func TestOpenStateCreatesPrivateFile(t *testing.T) {
	s, path := openTestState(t)
	s.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	// It holds customers' names.
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("state file mode %v, want 0600", mode)
	}
	// Reopening an existing state of the same account works.
	s2, err := OpenState(path, testAccount, "plan")
	if err != nil {
		t.Fatalf("reopening: %v", err)
	}
	s2.Close()
}

// sqliteFile makes an SQLite file by running stmts.
func sqliteFile(t *testing.T, path string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// A file that is not this account's bulksync state is refused with a usage
// error and left byte for byte as it was.
func TestOpenStateRefuses(t *testing.T) {
	tests := []struct {
		name    string
		make    func(t *testing.T, path string)
		wantErr string
	}{
		{"foreign SQLite database", func(t *testing.T, path string) {
			sqliteFile(t, path, `CREATE TABLE invoices (id INTEGER)`, `INSERT INTO invoices VALUES (1)`)
		}, "not a bulksync state database (it has tables of its own)"},
		{"not SQLite at all", func(t *testing.T, path string) {
			if err := os.WriteFile(path, bytes.Repeat([]byte("phone,name\n"), 200), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "not a bulksync state database"},
		{"schema but no marker", func(t *testing.T, path string) {
			sqliteFile(t, path, `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`, `PRAGMA user_version = 1`)
		}, "no bulksync marker"},
		{"newer schema", func(t *testing.T, path string) {
			makeState(t, path, testAccount)
			sqliteFile(t, path, fmt.Sprintf(`PRAGMA user_version = %d`, stateSchema+1))
		}, "written by a newer bulksync"},
		{"another account", func(t *testing.T, path string) {
			makeState(t, path, "fedcba9876543210")
		}, "belongs to another account"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "s.db")
			tt.make(t, path)
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			s, err := OpenState(path, testAccount, "apply")
			if err == nil {
				s.Close()
				t.Fatalf("opened; want %q", tt.wantErr)
			}
			if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v; want ErrUsage with %q", err, tt.wantErr)
			}
			after, err := os.ReadFile(path)
			if err != nil || !bytes.Equal(before, after) {
				t.Errorf("the file changed (%v)", err)
			}
		})
	}
}

// makeState creates an empty state of account at path.
func makeState(t *testing.T, path, account string) {
	t.Helper()
	s, err := OpenState(path, account, "plan")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// An empty file (made by touch, or by a run killed as it created it) is
// not someone else's data: it becomes a state.
func TestOpenStateAcceptsEmptyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := OpenState(path, testAccount, "plan")
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}

func TestStateLock(t *testing.T) {
	s, path := openTestState(t)
	_, err := OpenState(path, testAccount, "plan")
	if !errors.Is(err, ErrAborted) || !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v; want ErrAborted and ErrLocked", err)
	}
	// The message names the holder, so an operator can find it.
	if want := fmt.Sprintf("bulksync apply, pid %d", os.Getpid()); !strings.Contains(err.Error(), want) {
		t.Errorf("second open: %v; want it to say %q", err, want)
	}
	// Reading the history needs no lock.
	ro, err := OpenStateReadOnly(path)
	if err != nil {
		t.Fatalf("read-only open while locked: %v", err)
	}
	ro.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := OpenState(path, testAccount, "plan")
	if err != nil {
		t.Fatalf("open after the first closed: %v", err)
	}
	s2.Close()
}

func TestStateRecordsAndHistory(t *testing.T) {
	s, path := openTestState(t)
	ctx := context.Background()
	if err := s.BeginRun(ctx, RunInfo{Command: "apply", Input: "export.csv", Report: "/r/1.csv"}); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 4, 5, 6, 7, 800, time.UTC)
	// More than one batch, and one phone recorded twice: the later wins.
	const n = 600
	for i := range n {
		s.write(stateWrite{phone: fmt.Sprintf("+1212555%04d", i), a: Applied{SrcFirst: "Ada", LiveFirst: "Ada", At: at}})
	}
	s.write(stateWrite{phone: "+12125550007", a: Applied{SrcFirst: "Bea", SrcLast: "Lee", SrcImage: "https://src/b.png",
		LiveFirst: "Bea", LiveLast: "Lee", LiveImage: "https://cdn/b.png", At: at}})
	sum := NewSummary("apply")
	sum.Records, sum.Changes, sum.ExitCode, sum.InputSHA256, sum.Report = n, n, 1, "abc123", "/r/1.csv"
	sum.Count(ReportRow{Action: ActionUpdate, Result: ResultFailed, ErrorCode: "3006", Attempts: 3}, false)
	if err := s.EndRun(sum); err != nil {
		t.Fatal(err)
	}
	// A second run that never ends, like one that was killed.
	if err := s.BeginRun(ctx, RunInfo{Command: "plan", Input: "-", Report: "/r/2.csv"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err := OpenState(path, testAccount, "apply")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	known, err := s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(known) != n {
		t.Errorf("Load: %d cards, want %d", len(known), n)
	}
	got := known["+12125550007"]
	want := Applied{SrcFirst: "Bea", SrcLast: "Lee", SrcImage: "https://src/b.png",
		LiveFirst: "Bea", LiveLast: "Lee", LiveImage: "https://cdn/b.png", At: at, RunID: 1}
	if got != want {
		t.Errorf("Load[+12125550007] = %+v, want %+v", got, want)
	}

	runs, err := s.Runs(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 {
		t.Fatalf("Runs: %d, want 2", len(runs))
	}
	last, first := runs[0], runs[1] // newest first
	if last.Command != "plan" || last.Ended != nil || last.ExitCode != nil {
		t.Errorf("unfinished run = %+v; want no end and no exit code", last)
	}
	if first.Command != "apply" || first.Input != "export.csv" || first.Report != "/r/1.csv" ||
		first.InputSHA256 != "abc123" || first.Ended == nil || first.ExitCode == nil || *first.ExitCode != 1 ||
		first.PID != os.Getpid() {
		t.Errorf("finished run = %+v", first)
	}
	if codes, _ := first.Counts["error_codes"].(map[string]any); codes["3006"] != 1.0 {
		t.Errorf("counts = %v; want error_codes 3006: 1", first.Counts)
	}
	if first.Counts["requests"] != 3.0 || first.Counts["records"] != float64(n) {
		t.Errorf("counts = %v", first.Counts)
	}
	if one, err := s.Runs(ctx, 1); err != nil || len(one) != 1 || one[0].ID != last.ID {
		t.Errorf("Runs(1) = %v, %v; want the newest only", one, err)
	}
}

func TestOpenStateReadOnlyRefuses(t *testing.T) {
	dir := t.TempDir()
	foreign := filepath.Join(dir, "foreign.db")
	sqliteFile(t, foreign, `CREATE TABLE t (x)`)
	for _, path := range []string{filepath.Join(dir, "missing.db"), foreign} {
		if s, err := OpenStateReadOnly(path); !errors.Is(err, ErrUsage) {
			if s != nil {
				s.Close()
			}
			t.Errorf("OpenStateReadOnly(%s): %v; want ErrUsage", filepath.Base(path), err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "missing.db")); err == nil {
		t.Errorf("reading created the missing file")
	}
}

func TestDefaultStatePath(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    string
		wantErr bool
	}{
		{"XDG_STATE_HOME", map[string]string{"XDG_STATE_HOME": "/x", "HOME": "/h"}, "/x/bulksync/acct.db", false},
		{"HOME only", map[string]string{"HOME": "/h"}, "/h/.local/state/bulksync/acct.db", false},
		{"neither", map[string]string{}, "", true},
	}
	for _, tt := range tests {
		got, err := DefaultStatePath(func(k string) string { return tt.env[k] }, "acct")
		if got != tt.want || (err != nil) != tt.wantErr || (err != nil && !errors.Is(err, ErrUsage)) {
			t.Errorf("%s: %q, %v; want %q (error %v)", tt.name, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestAccount(t *testing.T) {
	const base, key = "https://api.linqapp.com/api/partner", "sk-secret-key-1"
	a := Account(base, key)
	if len(a) != 16 || strings.Contains(a, key) {
		t.Errorf("Account = %q; want 16 hex characters, not the key", a)
	}
	if Account(base+"/", key) != a {
		t.Errorf("a trailing slash made another account")
	}
	if Account(base, key+"x") == a || Account("http://127.0.0.1:1", key) == a {
		t.Errorf("another key or base URL gave the same account")
	}
}

// BenchmarkStateSaveApplied is the state writer's cost per confirmed change, as
// an apply pays it on its writer goroutine: go test ./sync -run '^$' -bench StateSaveApplied
func BenchmarkStateSaveApplied(b *testing.B) {
	const rows = 10_000
	changes := make([]Change, rows)
	for i := range changes {
		phone := fmt.Sprintf("+1415555%04d", i)
		live := Card{Phone: phone, FirstName: "Old", LastName: "Name", Active: true}
		changes[i] = Change{
			Desired: Desired{Line: i + 2, Phone: phone, FirstName: "New", LastName: "Name"},
			Action:  ActionUpdate,
			Live:    &live,
			Fields:  []fieldChange{{name: FieldFirstName, old: "Old", new: "New"}},
		}
	}
	for b.Loop() {
		s, err := OpenState(filepath.Join(b.TempDir(), "state.db"), testAccount, "apply")
		if err != nil {
			b.Fatal(err)
		}
		if err := s.BeginRun(context.Background(), RunInfo{Command: "apply", Input: "bench.csv"}); err != nil {
			b.Fatal(err)
		}
		for i := range changes {
			c := &changes[i]
			s.SaveApplied(c, Card{Phone: c.Phone, FirstName: "New", LastName: "Name", Active: true})
		}
		if err := s.EndRun(NewSummary("apply")); err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
}
