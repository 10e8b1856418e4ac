package sync

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bulksync/bulksync/internal/linqfake"
)

func TestExitCode(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{nil, ExitOK},
		{ErrIncomplete, ExitIncomplete},
		{fmt.Errorf("%w: --preset: unknown", ErrUsage), ExitUsage},
		{clash("--report r is the same file as --input r"), ExitUsage},
		{fmt.Errorf("%w: interrupted", ErrAborted), ExitAborted},
		// Not foreseen: it may have come after a write, so never 2.
		{errors.New("disk on fire"), ExitAborted},
	}
	for _, tt := range tests {
		if got := ExitCode(tt.err); got != tt.want {
			t.Errorf("ExitCode(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

func TestAfterSendingNeverExit2(t *testing.T) {
	usage := fmt.Errorf("%w: --input: read error", ErrUsage)
	if got := ExitCode(afterSending(false, usage)); got != ExitUsage {
		t.Errorf("nothing sent: exit %d, want 2", got)
	}
	if got := ExitCode(afterSending(true, usage)); got != ExitAborted {
		t.Errorf("after sending: exit %d, want 3", got)
	}
	if got := afterSending(true, ErrIncomplete); got != ErrIncomplete {
		t.Errorf("after sending, ErrIncomplete became %v", got)
	}
}

// TestValidateTouchesNothing: a job that fails validation creates no
// state, no report and sends nothing, and a clash is told apart from other
// usage errors.
func TestValidateTouchesNothing(t *testing.T) {
	fake, url := startFake(t, linqfake.Options{})
	dir := t.TempDir()
	in := filepath.Join(dir, "export.csv")
	if err := os.WriteFile(in, []byte("phone_number,first_name\n+12125550101,Ada\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	job := func(mutate func(*Job)) *Job {
		j := &Job{Input: in, Report: filepath.Join(dir, "r.csv"), StateFile: filepath.Join(dir, "st.db"),
			Getenv:  func(k string) string { return map[string]string{"LINQ_API_V3_API_KEY": testToken}[k] },
			BaseURL: url, Normalize: NormalizeOptions{Region: "US"}, Apply: fastApply, SnapshotTimeout: 1e9}
		mutate(j)
		return j
	}
	tests := []struct {
		name  string
		job   *Job
		clash bool
	}{
		{"bad encoding", job(func(j *Job) { j.Source.Encoding = "foo" }), false},
		{"bad region", job(func(j *Job) { j.Normalize.Region = "XX" }), false},
		{"report is the input", job(func(j *Job) { j.Report = in }), true},
		{"report is the state", job(func(j *Job) { j.Report = j.StateFile }), true},
		{"no key", job(func(j *Job) { j.Getenv = func(string) string { return "" } }), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer tt.job.Close()
			err := tt.job.Run(context.Background(), context.Background())
			if ExitCode(err) != ExitUsage || errors.Is(err, ErrPathClash) != tt.clash {
				t.Fatalf("Run: %v (exit %d), want a usage error, clash %v", err, ExitCode(err), tt.clash)
			}
			if tt.job.Summary() != nil {
				t.Errorf("the run started")
			}
			for _, name := range []string{"st.db", "r.csv"} {
				if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
					t.Errorf("%s was created", name)
				}
			}
			if n := len(fake.Requests()); n != 0 {
				t.Errorf("%d requests sent", n)
			}
		})
	}
}

// The live cards are read from the moment the run has its state and its
// outputs, while it is recorded; a run that fails before, on its outputs
// (exit 2) or on another run's lock (exit 3), sends nothing.
func TestNoReadBeforeOutputs(t *testing.T) {
	fake, url := startFake(t, linqfake.Options{})
	dir := t.TempDir()
	in := filepath.Join(dir, "export.csv")
	if err := os.WriteFile(in, []byte("phone_number,first_name\n+12125550101,Ada\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	job := func(state, planOut string) *Job {
		return &Job{Input: in, Report: filepath.Join(dir, "r.csv"), StateFile: state, PlanOut: planOut, DryRun: true,
			Getenv:  func(k string) string { return map[string]string{"LINQ_API_V3_API_KEY": testToken}[k] },
			BaseURL: url, Normalize: NormalizeOptions{Region: "US"}, Apply: fastApply, SnapshotTimeout: 1e9}
	}
	held, err := OpenState(filepath.Join(dir, "held.db"), "acct", "plan")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	for _, tc := range []struct {
		name string
		job  *Job
		exit int
	}{
		{"--out cannot be created", job(filepath.Join(dir, "st.db"), filepath.Join(dir, "no-such-dir", "plan.jsonl")), ExitUsage},
		{"state held by another run", job(filepath.Join(dir, "held.db"), ""), ExitAborted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer tc.job.Close()
			err := tc.job.Run(context.Background(), context.Background())
			if ExitCode(err) != tc.exit {
				t.Fatalf("Run: %v (exit %d), want exit %d", err, ExitCode(err), tc.exit)
			}
			if n := len(fake.Requests()); n != 0 {
				t.Errorf("%d requests sent", n)
			}
		})
	}
	// A run that gets that far reads the cards and the lines, once each.
	j := job(filepath.Join(dir, "st.db"), "")
	defer j.Close()
	if err := j.Run(context.Background(), context.Background()); err != nil && !errors.Is(err, ErrIncomplete) {
		t.Fatal(err)
	}
	// The fake logs a request once its handler returns, which may be
	// after the client has read the answer: wait a little for the log.
	var gets []string
	for deadline := time.Now().Add(time.Second); ; time.Sleep(5 * time.Millisecond) {
		gets = gets[:0]
		for _, r := range fake.Requests() {
			gets = append(gets, r.Method+" "+r.Path)
		}
		if len(gets) >= 2 || time.Now().After(deadline) {
			break
		}
	}
	slices.Sort(gets)
	if want := []string{"GET /v3/contact_card", "GET /v3/phone_numbers"}; !slices.Equal(gets, want) {
		t.Errorf("requests %q, want %q", gets, want)
	}
}

// A saved plan of one shard is applied with that shard's state, the one it
// was planned with (as --shard picks it for plan and apply), so the shards'
// plans apply at once without contending and undo --shard finds the run.
func TestSavedPlanUsesItsShardsState(t *testing.T) {
	_, url := startFake(t, linqfake.Options{}, seeded(6, "Old")...)
	dir := t.TempDir()
	env := map[string]string{"LINQ_API_V3_API_KEY": testToken, "XDG_STATE_HOME": dir}
	getenv := func(k string) string { return env[k] }
	in := filepath.Join(dir, "export.csv")
	if err := os.WriteFile(in, []byte(export(6, "New")), 0o600); err != nil {
		t.Fatal(err)
	}
	shard := Shard{Index: 0, Count: 2}
	plan := filepath.Join(dir, "plan.jsonl")
	job := func(mutate func(*Job)) *Job {
		j := &Job{Getenv: getenv, BaseURL: url, Normalize: NormalizeOptions{Region: "US"},
			Plan: PlanOptions{Empty: EmptyKeep, OnDuplicate: DuplicateError}, Apply: fastApply, SnapshotTimeout: 10 * time.Second}
		mutate(j)
		return j
	}
	for _, j := range []*Job{
		job(func(j *Job) {
			j.DryRun, j.Input, j.Shard, j.PlanOut, j.Report = true, in, shard, plan, filepath.Join(dir, "p.csv")
		}),
		job(func(j *Job) { j.PlanFile, j.Report = plan, filepath.Join(dir, "a.csv") }),
	} {
		err := j.Run(context.Background(), context.Background())
		j.Close()
		if err != nil {
			t.Fatalf("%s: %v", j.command(), err)
		}
	}
	path, err := StatePath(getenv, "", Account(url, testToken), shard)
	if err != nil {
		t.Fatal(err)
	}
	st, err := OpenState(path, Account(url, testToken), "test")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	runs, err := st.Runs(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	var commands []string
	for _, r := range runs {
		commands = append(commands, r.Command)
	}
	slices.Sort(commands)
	if !slices.Equal(commands, []string{"apply", "plan"}) {
		t.Errorf("the shard's state holds runs %v, want the plan and its apply", commands)
	}
}

// --max-changes stops an export and a saved plan of it the same way: one
// lifecycle checks the count before anything is sent, and every record is
// reported skipped with the reason.
func TestMaxChangesSameForBothSources(t *testing.T) {
	fake, url := startFake(t, linqfake.Options{}, seeded(6, "Old")...)
	plan := filepath.Join(t.TempDir(), "plan.jsonl")
	if res := runSync(t, url, export(6, "New"), func(j *Job) { j.DryRun, j.PlanOut = true, plan }); res.err != nil {
		t.Fatalf("plan: %v", res.err)
	}
	limit, _ := ParseChangeLimit("5")
	fromExport := runSync(t, url, export(6, "New"), func(j *Job) { j.MaxChanges = limit })
	fromPlan := runSync(t, url, export(6, "New"), func(j *Job) { j.Input, j.PlanFile, j.MaxChanges = "", plan, limit })
	for _, res := range []runResult{fromExport, fromPlan} {
		if !errors.Is(res.err, ErrAborted) || !strings.Contains(res.err.Error(), "--max-changes 5") {
			t.Fatalf("error %v, want an abort naming --max-changes", res.err)
		}
		checkAccounted(t, res.rows, 6)
	}
	for i := range fromExport.rows {
		e, p := fromExport.rows[i], fromPlan.rows[i]
		if e["action"] != p["action"] || e["result"] != "skipped" || p["result"] != "skipped" || e["error_message"] != p["error_message"] {
			t.Errorf("row %d: export %v, saved plan %v", i, e, p)
		}
	}
	if w := writes(fake.Requests()); len(w) != 0 {
		t.Errorf("%d writes despite --max-changes", len(w))
	}
}
