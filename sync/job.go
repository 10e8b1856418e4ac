package sync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/bulksync/bulksync/gen/linq"
)

// A Job is one run of plan or apply, its whole life in one place.
// cmd/bulksync fills it from flags, then:
//
//	Validate  every check that can end in exit 2 (ErrUsage): the options,
//	          the credentials, the paths (no output may be an input, the
//	          state or another output), the input's header or the saved
//	          plan's checksum. It reads, and creates, locks or sends nothing.
//	Run       takes the state's lock, opens the outputs, starts the run's
//	          history row, then runs one lifecycle for both kinds of input
//	          (runner.run in run.go): snapshot, lines, first pass, absent
//	          cards, --max-changes, second pass (report or send), finish.
//	          An export is planned (exportChanges), a saved plan checked
//	          (savedChanges) against the live cards. Run then closes the
//	          outputs and ends the history row.
//	Close     releases the input.
//
// Exit 2 promises that nothing was sent: once a request has gone out, Run
// never returns an error that maps to ExitUsage; a late one (the input
// could not be read the second time) is ErrAborted.
type Job struct {
	DryRun bool // plan: nothing is written remotely

	// The records come from Input, an export ("-": Stdin), or from
	// PlanFile, a plan saved by plan --out; never both.
	Input      string
	Stdin      io.Reader
	PlanFile   string
	AllowEmpty bool // an export with a header and no records is not an error

	// Report is the CSV report; "" makes a new file named after the
	// command, the time and the shard. PlanOut (plan --out) saves the plan.
	Report  string
	PlanOut string
	// OtherOutputs are files the caller writes (--summary-json, --html,
	// --metrics-file): Validate checks them against the inputs and the
	// other outputs like the job's own.
	OtherOutputs []PathArg

	// StateFile is --state; "" is the account's default, found with Getenv.
	StateFile string
	Getenv    func(string) string
	// BaseURL and APIKeyFile are the flags; "" falls back to the SDK's
	// environment variables (Credentials).
	BaseURL    string
	APIKeyFile string

	Source          SourceOptions
	Normalize       NormalizeOptions
	Plan            PlanOptions
	MaxChanges      ChangeLimit
	Apply           ApplyOptions
	Shard           Shard
	SnapshotTimeout time.Duration // bounds the reading of the live cards, retries included
	MaxDuration     time.Duration // after this no new request starts; 0 = no limit
	ReportAbsent    bool

	Events Events
	Log    *slog.Logger
	// Finish, when set, is called once the report is complete, before the
	// run's history row ends, with the summary and the run's error; it
	// writes the outputs the caller keeps (the HTML page) and returns the
	// run's error, or a new one when it failed.
	Finish func(*Summary, error) error

	// newLimiter, when set, makes apply's limiter instead of newLimiter:
	// tests look at the limiter a run uses.
	newLimiter func(perSecond float64, now func() time.Time) *limiter
	// keepLimit, when set, bounds the records the first pass of an export
	// keeps for the second (exportChanges.keepLimit): tests run the second
	// pass that reads the input again on short exports.
	keepLimit int

	// Set by Validate.
	validated  bool
	account    string
	client     *linq.ClientWithResponses
	sent       *sentTransport
	statePath  string
	input      *os.File // the export, or the spool holding it
	closeInput func()
	plan       *os.File
	planHeader planHeader
	planShard  Shard // the saved plan's shard, from its header
	summary    *Summary
	reportPath string
}

// command names the run in reports, history and file names.
func (j *Job) command() string {
	if j.DryRun {
		return "plan"
	}
	return "apply"
}

// Validate runs every check that can end in exit 2, before the run
// touches anything: the error wraps ErrUsage. It reads the input (stop
// ends the wait for a FIFO that never opens, with ErrAborted) and keeps it
// open for Run; call Close when done. A second call does nothing.
func (j *Job) Validate(stop context.Context) error {
	if j.validated {
		return nil
	}
	switch {
	case j.Input == "" && j.PlanFile == "":
		return fmt.Errorf("%w: --input is required: the CSV or CRM export to read", ErrUsage)
	case j.Input != "" && j.PlanFile != "":
		return fmt.Errorf("%w: --input and --plan exclude each other: a saved plan already holds the records", ErrUsage)
	case j.Shard.Count > 0 && j.PlanFile != "":
		return fmt.Errorf("%w: --shard goes with plan --out, not apply --plan: a saved plan already holds one shard's records", ErrUsage)
	case j.MaxDuration < 0:
		return fmt.Errorf("%w: --max-duration: must be positive, e.g. 6h; got %v", ErrUsage, j.MaxDuration)
	case j.SnapshotTimeout <= 0:
		return fmt.Errorf("%w: --snapshot-timeout: must be positive, e.g. 2m; got %v", ErrUsage, j.SnapshotTimeout)
	}
	if err := j.Apply.Check(); err != nil {
		return err
	}
	if err := CheckRegion(j.Normalize.Region); err != nil {
		return err
	}
	hc := NewHTTPClient(j.Apply.Concurrency, j.Apply.RequestTimeout)
	j.sent = &sentTransport{next: hc.Transport}
	hc.Transport = j.sent
	var err error
	if j.client, j.account, err = Connect(j.Getenv, j.BaseURL, j.APIKeyFile, hc); err != nil {
		return err
	}
	// A saved plan is read first: its header's shard picks the state, the
	// one its shard's plan was made with.
	if j.PlanFile != "" {
		if err := j.openPlan(); err != nil {
			return err
		}
	}
	if j.statePath, err = StatePath(j.Getenv, j.StateFile, j.account, j.RunShard()); err != nil {
		j.Close()
		return err
	}
	if err := CheckPaths(j.paths()); err != nil {
		j.Close()
		return err
	}
	if j.PlanFile == "" {
		if j.input, j.closeInput, err = openInput(stop, j.Input, j.Stdin); err != nil {
			return err
		}
		if err := CheckInput(j.input, j.Source, j.AllowEmpty); err != nil {
			j.Close()
			return err
		}
	}
	j.validated = true
	return nil
}

// RunShard is the shard the run covers: --shard, or a saved plan's, from
// its header (known once Validate has read it).
func (j *Job) RunShard() Shard {
	if j.PlanFile != "" {
		return j.planShard
	}
	return j.Shard
}

// openPlan opens the saved plan and reads it through (checksum, account,
// header), keeping it open for Run.
func (j *Job) openPlan() error {
	var err error
	if j.plan, err = os.Open(j.PlanFile); err != nil {
		return fmt.Errorf("%w: --plan: %v", ErrUsage, err)
	}
	if j.planHeader, err = checkSavedPlan(j.plan, j.account); err != nil {
		j.Close()
		return err
	}
	if j.planShard, err = ParseShard(j.planHeader.Shard); err != nil {
		j.Close()
		return fmt.Errorf("%w: --plan: the header's shard: %v", ErrUsage, err)
	}
	return nil
}

// paths lists the files the run reads and writes, for CheckPaths.
func (j *Job) paths() []PathArg {
	return append([]PathArg{
		{"--input", j.Input, false},
		{"--plan", j.PlanFile, false},
		{"--api-key-file", j.APIKeyFile, false},
		{"--state", j.statePath, false},
		{"--report", j.Report, true},
		{"--out", j.PlanOut, true},
	}, j.OtherOutputs...)
}

// Close releases the input Validate opened.
func (j *Job) Close() {
	if j.closeInput != nil {
		j.closeInput()
		j.closeInput = nil
	}
	if j.plan != nil {
		j.plan.Close()
		j.plan = nil
	}
}

// ReportPath is the report's path as given, or as made for a default
// name; "" before Run opened it.
func (j *Job) ReportPath() string { return j.reportPath }

// Summary is the run's summary, once Run has started it; nil before.
func (j *Job) Summary() *Summary { return j.summary }

// Run carries the job out (see Job). hard ends the run at once: requests
// in flight are cancelled. stop ends it gracefully: no new request starts,
// requests in flight finish, and the rest of the records are reported
// skipped. The error wraps ErrIncomplete, ErrUsage or ErrAborted, which
// ExitCode maps to the exit code; the summary's ExitCode says the same.
func (j *Job) Run(hard, stop context.Context) (runErr error) {
	if err := j.Validate(stop); err != nil {
		return err
	}
	if j.MaxDuration > 0 {
		var cancel context.CancelFunc
		stop, cancel = context.WithTimeoutCause(stop, j.MaxDuration, fmt.Errorf("--max-duration %v reached", j.MaxDuration))
		defer cancel()
	}
	state, err := OpenState(j.statePath, j.account, j.command())
	if err != nil {
		return err
	}
	defer state.Close()

	out, err := j.openOutputs()
	if err != nil {
		return err
	}
	j.reportPath = out.report.path
	j.summary = NewSummary(j.command())
	j.summary.Input, j.summary.Report = j.Input, out.report.path
	if abs, err := filepath.Abs(out.report.path); err == nil {
		j.summary.Report = abs
	}
	if j.PlanFile != "" {
		j.summary.Input = "plan:" + j.PlanFile
	}
	// The live cards and the account's lines are read from here on, while
	// the run is recorded and the input's header read again: against a
	// big account they are most of a plan's fixed cost. Not before: every
	// failure up to here is a usage error, whose exit 2 promises that
	// nothing was sent.
	reads := startLiveReads(hard, stop, j.client.ClientInterface, j.Apply, j.SnapshotTimeout, j.Events)
	defer reads.abandon()
	if err := state.BeginRun(hard, RunInfo{Command: j.command(), Input: j.summary.Input, Report: j.summary.Report}); err != nil {
		out.remove()
		return afterSending(j.sent.used(), err)
	}
	defer func() {
		j.summary.End(runErr)
		if err := state.EndRun(j.summary); err != nil && j.Log != nil {
			// The run itself is done and reported; only its history
			// entry is incomplete. Say so, but keep the run's own error.
			j.Log.Error("cannot end the run's history row", "error", err.Error())
		}
	}()

	r := &runner{
		maxChanges: j.MaxChanges, dryRun: j.DryRun, requests: j.Apply, plan: j.Plan,
		stop: stop, snapshotTimeout: j.SnapshotTimeout, client: j.client,
		report: out.reportWriter, summary: j.summary, state: state, shard: j.RunShard(),
		events: j.Events, log: j.Log, reportAbsent: j.ReportAbsent, reads: reads,
		newLimiter: j.newLimiter,
	}
	if out.planOut != nil {
		r.planOut = NewPlanWriter(out.planOut.f, j.account, j.Input)
	}
	var src changeSource
	if j.plan != nil {
		src = &savedChanges{plan: j.plan, account: j.account, header: j.planHeader}
	} else {
		src = &exportChanges{input: j.input, source: j.Source, normalize: j.Normalize, plan: j.Plan, shard: j.Shard, keepLimit: j.keepLimit}
	}
	runErr = r.run(hard, src)
	runErr = out.close(r.planOut, runErr)
	runErr = afterSending(j.sent.used(), runErr)
	if out.removedReport {
		j.summary.Report = ""
	}
	if j.Finish != nil {
		runErr = j.Finish(j.summary, runErr)
	}
	return runErr
}

// outputs are the files Run writes itself.
type outputs struct {
	report        *output
	reportWriter  *ReportWriter
	planOut       *output
	removedReport bool
}

// openOutputs opens the report and plan --out. A default report name is
// new (never an existing file); the files named by flags are truncated only
// once all are open.
func (j *Job) openOutputs() (*outputs, error) {
	out := &outputs{report: &output{flag: "--report", path: j.Report}}
	open := []*output{out.report}
	if j.Report == "" {
		prefix := "bulksync-" + j.command() + "-" + time.Now().Format("20060102-150405")
		if s := j.RunShard(); s.Count > 0 {
			prefix += fmt.Sprintf("-shard-%d-of-%d", s.Index, s.Count)
		}
		f, name, err := createUnique(prefix, ".csv")
		if err != nil {
			return nil, fmt.Errorf("%w: --report: %v", ErrUsage, err)
		}
		out.report.path, out.report.f, out.report.created = name, f, true
		open = nil
	}
	if j.PlanOut != "" {
		out.planOut = &output{flag: "--out", path: j.PlanOut}
		open = append(open, out.planOut)
	}
	if err := openOutputs(open); err != nil {
		closeOutputs([]*output{out.report}, true)
		return nil, err
	}
	rw, err := NewReportWriter(out.report.f)
	if err != nil {
		out.remove()
		return nil, fmt.Errorf("%w: --report: %v", ErrUsage, err)
	}
	out.reportWriter = rw
	return out, nil
}

// remove closes the outputs and removes the ones this run created.
func (out *outputs) remove() {
	closeOutputs([]*output{out.report}, true)
	if out.planOut != nil {
		closeOutputs([]*output{out.planOut}, true)
	}
}

// close completes the outputs at the end of a run. A usage error that
// came before any row leaves no report behind to be mistaken for a run's
// result (only a file this run created is removed).
func (out *outputs) close(pw *PlanWriter, runErr error) error {
	if out.planOut != nil {
		runErr = closePlan(out.planOut, pw, runErr)
	}
	if err := out.reportWriter.Flush(); err != nil && runErr == nil {
		runErr = fmt.Errorf("%w: --report: %v", ErrAborted, err)
	}
	if err := out.report.f.Close(); err != nil && runErr == nil {
		runErr = fmt.Errorf("%w: --report: %v", ErrAborted, err)
	}
	if errors.Is(runErr, ErrUsage) && out.reportWriter.Rows() == 0 && out.report.created {
		os.Remove(out.report.path)
		out.removedReport = true
	}
	return runErr
}

// closePlan completes the --out file, or empties it when the plan is not
// whole (an abort or interrupt): a partial plan must never be applied. A
// file this run created is removed instead.
func closePlan(out *output, pw *PlanWriter, runErr error) error {
	if runErr == nil || errors.Is(runErr, ErrIncomplete) {
		err := pw.Close()
		if cerr := out.f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			return runErr
		}
		runErr = fmt.Errorf("%w: --out: %v", ErrAborted, err)
	} else {
		out.f.Close()
	}
	if out.created {
		os.Remove(out.path)
	} else {
		os.Truncate(out.path, 0)
	}
	return runErr
}

// afterSending keeps exit 2's promise that nothing was sent: once a
// request went out, a usage error (an input that cannot be read a second
// time) aborts the run instead.
func afterSending(sent bool, err error) error {
	if sent && ExitCode(err) == ExitUsage {
		return fmt.Errorf("%w: %v (after requests were sent; the report says which records were done)", ErrAborted, err)
	}
	return err
}

// sentTransport notes whether any request went out, so that a late error
// is never reported as exit 2 (nothing sent).
type sentTransport struct {
	next http.RoundTripper
	any  atomic.Bool
}

func (t *sentTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.any.Store(true)
	return t.next.RoundTrip(r)
}

func (t *sentTransport) used() bool { return t != nil && t.any.Load() }
