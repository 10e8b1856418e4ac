package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/bulksync/bulksync/gen/linq"
	"github.com/bulksync/bulksync/internal/observe"
	"github.com/bulksync/bulksync/sync"
)

// syncOptions are the flags plan and apply share.
type syncOptions struct {
	input         string
	report        string
	summaryJSON   string
	preset        string
	maps          mapFlag
	delimiter     string
	encoding      string
	region        string
	empty         string
	onDuplicate   string
	createMissing bool
	maxChanges    string
	baseURL       string
	apiKeyFile    string
	timeout       time.Duration
	state         string
	respectEdits  bool
	shard         string
	planOut       string            // plan only
	planIn        string            // apply only
	apply         sync.ApplyOptions // retries for both; the rest for apply only
	obs           observe.Options   // progress, logs, metrics
}

func (o *syncOptions) addFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.input, "input", "", "CSV or CRM export to read (\"-\" for standard input)")
	fs.StringVar(&o.report, "report", "", "CSV report to write (default bulksync-<command>-<time>.csv)")
	fs.StringVar(&o.summaryJSON, "summary-json", "", "also write the summary as JSON to this file")
	fs.StringVar(&o.preset, "preset", "auto", "column names: auto, generic, hubspot or salesforce")
	fs.Var(&o.maps, "map", "field=Column: read a field from this column (repeatable; fields: phone_number, first_name, last_name, image_url)")
	fs.StringVar(&o.delimiter, "delimiter", "", "cell delimiter: , ; tab (default: detected from the header)")
	fs.StringVar(&o.encoding, "encoding", "utf-8", "input encoding: utf-8, windows-1252, latin-1 or utf-16")
	fs.StringVar(&o.region, "region", "US", "region for phone numbers written without a country code (ISO 3166)")
	fs.StringVar(&o.empty, "empty", "keep", "what a blank cell means: keep (leave the card's value) or clear")
	fs.StringVar(&o.onDuplicate, "on-duplicate", "error", "a phone number on several records: error (apply none), first or last")
	fs.BoolVar(&o.createMissing, "create-missing", false, "create cards for numbers that have none")
	fs.StringVar(&o.maxChanges, "max-changes", "", "abort before any write when the plan has more changes than N or P% of the records")
	fs.StringVar(&o.baseURL, "base-url", "", "Linq API base URL (default $LINQ_API_V3_BASE_URL or "+sync.DefaultBaseURL+")")
	fs.StringVar(&o.apiKeyFile, "api-key-file", "", "file holding the API key (default: $LINQ_API_V3_API_KEY)")
	fs.StringVar(&o.shard, "shard", "", "i/n: only the records of shard i of n (0-based), by a stable hash of the phone number;\neach shard has its own report and state")
	fs.StringVar(&o.state, "state", "", "state database (default $XDG_STATE_HOME/bulksync/<account>.db)")
	fs.BoolVar(&o.respectEdits, "respect-manual-edits", false, "leave fields edited in Linq since bulksync set them alone, unless the export changed them too")
	fs.DurationVar(&o.timeout, "snapshot-timeout", 2*time.Minute, "time limit for reading all live cards")
	o.apply = sync.DefaultApplyOptions
	fs.IntVar(&o.apply.MaxAttempts, "max-attempts", o.apply.MaxAttempts, "attempts per request for transient failures and 429s")
	fs.DurationVar(&o.apply.BackoffBase, "backoff-base", o.apply.BackoffBase, "first retry waits up to this long; doubles per attempt")
	fs.DurationVar(&o.apply.BackoffMax, "backoff-max", o.apply.BackoffMax, "longest wait between attempts (Retry-After may ask for more)")
	o.obs.AddFlags(fs)
}

// mapFlag collects --map field=Column.
type mapFlag map[string]string

func (m *mapFlag) String() string { return "" }

func (m *mapFlag) Set(v string) error {
	field, column, ok := strings.Cut(v, "=")
	if !ok || field == "" || column == "" {
		return fmt.Errorf("want field=Column, e.g. first_name=\"Given Name\"")
	}
	if *m == nil {
		*m = make(map[string]string)
	}
	(*m)[field] = column
	return nil
}

// config checks the flags and builds a run's configuration, less the input,
// report, summary and state, which the caller opens. It also returns the
// account fingerprint that keys the state.
func (o *syncOptions) config(e *env, dryRun bool) (sync.Config, string, error) {
	var cfg sync.Config
	switch {
	case o.input == "" && o.planIn == "":
		return cfg, "", fmt.Errorf("%w: --input is required: the CSV or CRM export to read", sync.ErrUsage)
	case o.input != "" && o.planIn != "":
		return cfg, "", fmt.Errorf("%w: --input and --plan exclude each other: a saved plan already holds the records", sync.ErrUsage)
	}
	delim, err := parseDelimiter(o.delimiter)
	if err != nil {
		return cfg, "", err
	}
	if err := sync.CheckRegion(o.region); err != nil {
		return cfg, "", err
	}
	empty, err := sync.ParseEmptyPolicy(o.empty)
	if err != nil {
		return cfg, "", err
	}
	dup, err := sync.ParseDuplicatePolicy(o.onDuplicate)
	if err != nil {
		return cfg, "", err
	}
	limit, err := sync.ParseChangeLimit(o.maxChanges)
	if err != nil {
		return cfg, "", err
	}
	shard, err := sync.ParseShard(o.shard)
	if err != nil {
		return cfg, "", err
	}
	if shard.Count > 0 && o.planIn != "" {
		return cfg, "", fmt.Errorf("%w: --shard goes with plan --out, not apply --plan: a saved plan already holds one shard's records", sync.ErrUsage)
	}
	preset := o.preset
	if preset == "auto" {
		preset = ""
	}
	client, account, err := clientFromEnv(e, o.baseURL, o.apiKeyFile, o.timeout, o.apply.Concurrency)
	if err != nil {
		return cfg, "", err
	}
	return sync.Config{
		Source:     sync.SourceOptions{Preset: preset, Map: o.maps, Delimiter: delim, Encoding: o.encoding},
		Normalize:  sync.NormalizeOptions{Region: o.region},
		Plan:       sync.PlanOptions{Empty: empty, OnDuplicate: dup, CreateMissing: o.createMissing, RespectManualEdits: o.respectEdits},
		MaxChanges: limit,
		Shard:      shard,
		DryRun:     dryRun,
		Apply:      o.apply,
		Client:     client,
	}, account, nil
}

func parseDelimiter(s string) (rune, error) {
	switch s {
	case "":
		return 0, nil
	case ",", ";":
		return rune(s[0]), nil
	case "tab", "\t", `\t`:
		return '\t', nil
	}
	return 0, fmt.Errorf("%w: --delimiter: unknown %q; allowed: \",\", \";\", tab", sync.ErrUsage, s)
}

// credentials reads the base URL and API key from flags and the SDK's
// environment variables.
func credentials(e *env, baseURL, apiKeyFile string) (base, key string, err error) {
	base = baseURL
	if base == "" {
		base = e.getenv("LINQ_API_V3_BASE_URL")
	}
	if base == "" {
		base = sync.DefaultBaseURL
	}
	key = e.getenv("LINQ_API_V3_API_KEY")
	if apiKeyFile != "" {
		b, err := os.ReadFile(apiKeyFile)
		if err != nil {
			return "", "", fmt.Errorf("%w: --api-key-file: %v", sync.ErrUsage, err)
		}
		key = strings.TrimSpace(string(b))
		if key == "" {
			return "", "", fmt.Errorf("%w: --api-key-file: %s is empty", sync.ErrUsage, apiKeyFile)
		}
	}
	return base, key, nil
}

// clientFromEnv builds the API client and the account fingerprint. The key
// is kept only inside the client.
func clientFromEnv(e *env, baseURL, apiKeyFile string, timeout time.Duration, conns int) (*linq.ClientWithResponses, string, error) {
	base, key, err := credentials(e, baseURL, apiKeyFile)
	if err != nil {
		return nil, "", err
	}
	client, err := sync.NewClient(base, key, sync.NewHTTPClient(conns, timeout))
	if err != nil {
		return nil, "", err
	}
	return client, sync.Account(base, key), nil
}

// statePath is --state, or the account's default; each shard has its own,
// so the shards of one export can run at once.
func statePath(e *env, flag, account string, shard sync.Shard) (string, error) {
	if flag != "" {
		return flag, nil
	}
	if shard.Count > 0 {
		account = fmt.Sprintf("%s-shard-%d-of-%d", account, shard.Index, shard.Count)
	}
	return sync.DefaultStatePath(e.getenv, account)
}

// openInput opens the export. Standard input is spooled to a temporary file
// because planning reads the input twice.
func openInput(name string, stdin io.Reader) (*os.File, func(), error) {
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: --input: %v", sync.ErrUsage, err)
		}
		return f, func() { f.Close() }, nil
	}
	f, err := os.CreateTemp("", "bulksync-stdin-*.csv")
	if err != nil {
		return nil, nil, fmt.Errorf("%w: spooling standard input: %v", sync.ErrUsage, err)
	}
	cleanup := func() { f.Close(); os.Remove(f.Name()) }
	if _, err := io.Copy(f, stdin); err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("%w: reading standard input: %v", sync.ErrUsage, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		cleanup()
		return nil, nil, err
	}
	return f, cleanup, nil
}

// runSync is the body of plan and apply.
func runSync(ctx context.Context, e *env, o *syncOptions, command string) (runErr error) {
	if err := o.apply.Check(); err != nil {
		return err
	}
	obs, err := observe.Start(e.stderr, &o.obs, command, o.shard, o.apply.Rate)
	if err != nil {
		return err
	}
	// The progress display stops before the summary; the metrics are
	// written last, whatever the outcome, even for a run that never started
	// (their exit code says why).
	var summary *sync.Summary
	defer func() { obs.Finish(summary, exitCode(runErr)) }()
	cfg, account, err := o.config(e, command == "plan")
	if err != nil {
		return err
	}
	cfg.Events = obs.Events
	var savedPlan *os.File
	if o.planIn != "" {
		if savedPlan, err = os.Open(o.planIn); err != nil {
			return fmt.Errorf("%w: --plan: %v", sync.ErrUsage, err)
		}
		defer savedPlan.Close()
	} else {
		in, closeIn, err := openInput(o.input, e.stdin)
		if err != nil {
			return err
		}
		defer closeIn()
		cfg.Input = in
	}

	path, err := statePath(e, o.state, account, cfg.Shard)
	if err != nil {
		return err
	}
	state, err := sync.OpenState(path, account, command)
	if err != nil {
		return err
	}
	defer state.Close()
	cfg.State = state

	reportPath := o.report
	if reportPath == "" {
		reportPath = fmt.Sprintf("bulksync-%s-%s.csv", command, time.Now().Format("20060102-150405"))
	}
	rf, err := os.Create(reportPath)
	if err != nil {
		return fmt.Errorf("%w: --report: %v", sync.ErrUsage, err)
	}
	report, err := sync.NewReportWriter(rf)
	if err != nil {
		rf.Close()
		return fmt.Errorf("%w: --report: %v", sync.ErrUsage, err)
	}
	cfg.Report = report
	cfg.Summary = sync.NewSummary(command)
	summary = cfg.Summary
	cfg.Summary.Input, cfg.Summary.Report = o.input, reportPath
	if abs, err := filepath.Abs(reportPath); err == nil {
		cfg.Summary.Report = abs
	}
	input := o.input
	if o.planIn != "" {
		input = "plan:" + o.planIn
		cfg.Summary.Input = input
	}
	if err := state.BeginRun(ctx, sync.RunInfo{Command: command, Input: input, Report: cfg.Summary.Report}); err != nil {
		rf.Close()
		os.Remove(reportPath)
		return err
	}
	var planFile *os.File
	if o.planOut != "" {
		if planFile, err = os.Create(o.planOut); err != nil {
			rf.Close()
			os.Remove(reportPath)
			return fmt.Errorf("%w: --out: %v", sync.ErrUsage, err)
		}
		cfg.PlanOut = sync.NewPlanWriter(planFile, account, o.input)
	}

	// ctx ends on the first interrupt: the run stops gracefully. e.hard ends
	// on the second and cuts requests in flight.
	cfg.Stop = ctx
	if savedPlan != nil {
		runErr = sync.RunSaved(e.hard, cfg, savedPlan, account)
	} else {
		runErr = sync.Run(e.hard, cfg)
	}
	if planFile != nil {
		runErr = closePlan(planFile, cfg.PlanOut, runErr)
	}
	if err := report.Flush(); err != nil && runErr == nil {
		runErr = fmt.Errorf("%w: --report: %v", sync.ErrAborted, err)
	}
	if err := rf.Close(); err != nil && runErr == nil {
		runErr = fmt.Errorf("%w: --report: %v", sync.ErrAborted, err)
	}
	if errors.Is(runErr, sync.ErrUsage) && report.Rows() == 0 {
		// Nothing was planned: leave no empty report behind to be mistaken
		// for a run's result.
		os.Remove(reportPath)
		cfg.Summary.Report = ""
	}
	obs.StopProgress()
	runErr = finishSummary(e, cfg.Summary, o.summaryJSON, runErr)
	if err := state.EndRun(cfg.Summary); err != nil {
		// The run itself is done and reported; only its history entry is
		// incomplete. Say so, but keep the run's own exit code.
		fmt.Fprintf(e.stderr, "bulksync: %v\n", err)
	}
	return runErr
}

// closePlan completes the --out file, or removes it when the plan is not
// whole (an abort or interrupt): a partial plan must never be applied.
func closePlan(f *os.File, pw *sync.PlanWriter, runErr error) error {
	if runErr == nil || errors.Is(runErr, sync.ErrIncomplete) {
		err := pw.Close()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			return runErr
		}
		runErr = fmt.Errorf("%w: --out: %v", sync.ErrAborted, err)
	}
	f.Close()
	os.Remove(f.Name())
	return runErr
}

// finishSummary prints the summary on stderr and writes --summary-json.
func finishSummary(e *env, s *sync.Summary, jsonPath string, runErr error) error {
	s.Duration = time.Since(s.Started).Seconds()
	s.ExitCode = exitCode(runErr)
	if runErr != nil && !errors.Is(runErr, sync.ErrIncomplete) {
		s.Error = runErr.Error()
	}
	if errors.Is(runErr, sync.ErrUsage) && s.Records == 0 {
		// A usage error before any record: the message says it all.
		return runErr
	}
	s.WriteText(e.stderr)
	if jsonPath != "" {
		f, err := os.Create(jsonPath)
		if err == nil {
			err = s.WriteJSON(f)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			fmt.Fprintf(e.stderr, "bulksync: --summary-json: %v\n", err)
		}
	}
	return runErr
}
