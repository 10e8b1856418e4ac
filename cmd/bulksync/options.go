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
	"github.com/bulksync/bulksync/internal/atomicfile"
	"github.com/bulksync/bulksync/internal/cliflag"
	"github.com/bulksync/bulksync/internal/observe"
	"github.com/bulksync/bulksync/sync"
)

// syncOptions are the flags plan and apply share.
type syncOptions struct {
	input         string
	report        string
	summaryJSON   string
	html          string // --html: the report as a page for review
	format        string
	sheet         string
	preset        string
	maps          mapFlag
	delimiter     string
	encoding      string
	region        string
	regionColumn  string
	empty         string
	onDuplicate   string
	createMissing bool
	maxChanges    string
	baseURL       string
	apiKeyFile    string
	timeout       time.Duration
	maxDuration   time.Duration
	allowEmpty    bool
	state         string
	respectEdits  bool
	reportAbsent  bool
	shard         string
	planOut       string            // plan only
	show          int               // plan only: changed rows printed
	planIn        string            // apply only
	apply         sync.ApplyOptions // retries for both; the rest for apply only
	obs           observe.Options   // progress, logs, metrics
}

func (o *syncOptions) addFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.input, "input", "", "CSV or .xlsx export to read (\"-\" for standard input)")
	cliflag.Choice(fs, &o.format, "format", "auto", sync.InputFormats, "input format; auto: an .xlsx workbook is told by its content, not its name")
	fs.StringVar(&o.sheet, "sheet", "", "xlsx: the sheet to read (default: the first)")
	fs.StringVar(&o.report, "report", "", "CSV report to write (default: a new file bulksync-<command>-<time>[-shard-i-of-n].csv,\nnever an existing one)")
	fs.StringVar(&o.summaryJSON, "summary-json", "", "also write the summary as JSON to this file (whole, 0600, on exit 2 and 3 too; fields in README)")
	fs.StringVar(&o.html, "html", "", "also write the report as one self-contained HTML page for review (opens offline)")
	cliflag.Choice(fs, &o.preset, "preset", "auto", sync.Presets, "whose column names the export has; auto: detected from the header")
	fs.Var(&o.maps, "map", "read a field from another column: `field=Column` (repeatable; fields: phone_number, first_name, last_name, image_url;\nregion=Column is --region-column)")
	cliflag.Choice(fs, &o.delimiter, "delimiter", "", sync.Delimiters, "CSV cell delimiter (default: detected from the header)")
	cliflag.Choice(fs, &o.encoding, "encoding", "auto", sync.Encodings, "CSV encoding; auto: UTF-16 if the file starts with its byte-order mark, windows-1252 if its first MiB is not\nvalid UTF-8, otherwise UTF-8")
	fs.StringVar(&o.region, "region", "US", "region for phone numbers written without a country code (ISO 3166),\nwhere the row has no country")
	fs.StringVar(&o.regionColumn, "region-column", "", "column holding each row's country (a name such as United Kingdom, or an ISO code such as GB)\nfor its numbers written without +; presets read HubSpot's Country/Region, Salesforce's\nMailingCountryCode/MailingCountry, generic country_code/country")
	cliflag.Choice(fs, &o.empty, "empty", "keep", sync.EmptyPolicies, "what a blank cell means: keep (leave the card's value) or clear")
	cliflag.Choice(fs, &o.onDuplicate, "on-duplicate", "error", sync.DuplicatePolicies, "a phone number on several records: error (apply none), first or last")
	fs.BoolVar(&o.createMissing, "create-missing", false, "create cards for numbers that have none")
	fs.StringVar(&o.maxChanges, "max-changes", "", "abort before any write when the plan has more changes than N or P% of the records")
	fs.StringVar(&o.baseURL, "base-url", "", "Linq API base URL (default $LINQ_API_V3_BASE_URL or "+sync.DefaultBaseURL+")")
	fs.StringVar(&o.apiKeyFile, "api-key-file", "", "file holding the API key (default: $LINQ_API_V3_API_KEY)")
	fs.StringVar(&o.shard, "shard", "", "i/n: only the records of shard i of n (0-based), by a stable hash of the phone number;\neach shard has its own report and state")
	fs.StringVar(&o.state, "state", "", "state database (default $XDG_STATE_HOME/bulksync/<account>.db)")
	fs.BoolVar(&o.reportAbsent, "report-absent", false, "add a report row (action absent, result skipped, empty line) for each live card no record names;\nthe summary counts them either way, and nothing is sent for them")
	fs.BoolVar(&o.respectEdits, "respect-manual-edits", false, "leave fields edited in Linq since bulksync set them alone, unless the export changed them too")
	fs.DurationVar(&o.timeout, "snapshot-timeout", 2*time.Minute, "time limit for reading all live cards, retries and waits included")
	fs.DurationVar(&o.maxDuration, "max-duration", 0, "stop the run after this long (e.g. 6h): no new request starts, requests in flight finish,\nthe rest are reported skipped, exit 3; 0 = no limit")
	fs.BoolVar(&o.allowEmpty, "allow-empty", false, "accept an input with a header and no records (otherwise exit 2: a broken upstream export\nusually looks like that)")
	o.apply = sync.DefaultApplyOptions
	fs.DurationVar(&o.apply.MaxRetryWait, "max-retry-wait", o.apply.MaxRetryWait, "longest wait a 429 or 5xx (Retry-After) may ask for; a longer one fails the row, or the\nreading of the live cards, at once; 0 = no limit")
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
	delim, err := sync.ParseDelimiter(o.delimiter)
	if err != nil {
		return cfg, "", err
	}
	if err := sync.CheckRegion(o.region); err != nil {
		return cfg, "", err
	}
	if o.regionColumn != "" {
		if c, ok := o.maps[sync.FieldRegion]; ok && c != o.regionColumn {
			return cfg, "", fmt.Errorf("%w: --region-column %q and --map region=%q name two columns; give one", sync.ErrUsage, o.regionColumn, c)
		}
		o.maps.Set(sync.FieldRegion + "=" + o.regionColumn)
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
	client, account, err := clientFromEnv(e, o.baseURL, o.apiKeyFile, o.apply.Concurrency)
	if err != nil {
		return cfg, "", err
	}
	return sync.Config{
		Source:     sync.SourceOptions{Format: o.format, Sheet: o.sheet, Preset: preset, Map: o.maps, Delimiter: delim, Encoding: o.encoding},
		Normalize:  sync.NormalizeOptions{Region: o.region},
		Plan:       sync.PlanOptions{Empty: empty, OnDuplicate: dup, CreateMissing: o.createMissing, RespectManualEdits: o.respectEdits},
		MaxChanges: limit,
		Shard:      shard,
		DryRun:     dryRun,
		// Requests carry their own limits: the snapshot this one, over all
		// its attempts; each write --request-timeout.
		SnapshotTimeout: o.timeout,
		Apply:           o.apply,
		Client:          client,
		ReportAbsent:    o.reportAbsent,
	}, account, nil
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
func clientFromEnv(e *env, baseURL, apiKeyFile string, conns int) (*linq.ClientWithResponses, string, error) {
	base, key, err := credentials(e, baseURL, apiKeyFile)
	if err != nil {
		return nil, "", err
	}
	client, err := sync.NewClient(base, key, sync.NewHTTPClient(conns, 0))
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

// openInput opens the export. Standard input, a FIFO or a process
// substitution (--input <(cmd)) is spooled to a temporary file first,
// because planning reads the input twice. Reading it may block for as long
// as the writer takes (opening a FIFO blocks until one appears): stop (the
// first interrupt, --max-duration) ends the wait.
func openInput(stop context.Context, name string, stdin io.Reader) (*os.File, func(), error) {
	if name != "-" {
		fi, err := os.Stat(name)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: --input: %v", sync.ErrUsage, err)
		}
		if fi.IsDir() {
			return nil, nil, fmt.Errorf("%w: --input: %s is a directory", sync.ErrUsage, name)
		}
		if fi.Mode().IsRegular() {
			f, err := os.Open(name)
			if err != nil {
				return nil, nil, fmt.Errorf("%w: --input: %v", sync.ErrUsage, err)
			}
			return f, func() { f.Close() }, nil
		}
	}
	what := "standard input"
	if name != "-" {
		what = "--input " + name
	}
	spool, cleanup, err := spoolFile()
	if err != nil {
		return nil, nil, fmt.Errorf("%w: spooling %s: %v", sync.ErrUsage, what, err)
	}
	copied := make(chan error, 1)
	go func() {
		src := stdin
		if name != "-" {
			f, err := os.Open(name)
			if err != nil {
				copied <- err
				return
			}
			defer f.Close()
			src = f
		}
		_, err := io.Copy(spool, src)
		copied <- err
	}()
	select {
	case err = <-copied:
	case <-stop.Done():
		// The copy is left blocked on its read; the process ends soon.
		cleanup()
		return nil, nil, fmt.Errorf("%w: %v while reading %s", sync.ErrAborted, context.Cause(stop), what)
	}
	if err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("%w: reading %s: %v", sync.ErrUsage, what, err)
	}
	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("%w: spooling %s: %v", sync.ErrUsage, what, err)
	}
	return spool, cleanup, nil
}

// spoolFile creates the temporary file that holds a non-seekable input,
// 0600 since it holds customers' names. Its name is removed at once where
// the system allows it, so even a killed run leaves no copy behind; cleanup
// closes it and removes it where that failed.
func spoolFile() (*os.File, func(), error) {
	f, err := os.CreateTemp("", "bulksync-input-*.csv")
	if err != nil {
		return nil, nil, err
	}
	removed := os.Remove(f.Name()) == nil
	return f, func() {
		f.Close()
		if !removed {
			os.Remove(f.Name())
		}
	}, nil
}

// paths lists the files a run reads and writes, for checkPaths. The state
// database is found as the run will find it; when the credentials or the
// shard are wrong, it is left out, since the run stops on that error anyway.
func (o *syncOptions) paths(e *env) []runPath {
	state := o.state
	if state == "" {
		if base, key, err := credentials(e, o.baseURL, o.apiKeyFile); err == nil && key != "" {
			if shard, err := sync.ParseShard(o.shard); err == nil {
				state, _ = statePath(e, "", sync.Account(base, key), shard)
			}
		}
	}
	return []runPath{
		{"--input", o.input, false},
		{"--plan", o.planIn, false},
		{"--api-key-file", o.apiKeyFile, false},
		{"--state", state, false},
		{"--report", o.report, true},
		{"--out", o.planOut, true},
		{"--summary-json", o.summaryJSON, true},
		{"--html", o.html, true},
		{"--metrics-file", o.obs.MetricsFile, true},
	}
}

// runSync is the body of plan and apply. Every check that can end in exit 2
// comes before the lock, the state, any output file and any request: exit 2
// means nothing was sent and no file was touched.
func runSync(ctx context.Context, e *env, o *syncOptions, command string) (runErr error) {
	if err := o.apply.Check(); err != nil {
		return err
	}
	if o.maxDuration < 0 {
		return fmt.Errorf("%w: --max-duration: must be positive, e.g. 6h; got %v", sync.ErrUsage, o.maxDuration)
	}
	if o.timeout <= 0 {
		return fmt.Errorf("%w: --snapshot-timeout: must be positive, e.g. 2m; got %v", sync.ErrUsage, o.timeout)
	}
	// Before the observer: the metrics file is one of the outputs.
	if err := checkPaths(o.paths(e)); err != nil {
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
	// ctx ends on the first interrupt: the run stops gracefully, as it does
	// after --max-duration. e.hard ends on the second and cuts requests in
	// flight.
	stop := ctx
	if o.maxDuration > 0 {
		var cancel context.CancelFunc
		stop, cancel = context.WithTimeoutCause(ctx, o.maxDuration, fmt.Errorf("--max-duration %v reached", o.maxDuration))
		defer cancel()
	}
	cfg, account, err := o.config(e, command == "plan")
	if err != nil {
		return err
	}
	html := newHTMLOut(o.html, command)
	cfg.Events = html.events(obs.Events)
	cfg.Log = obs.Log()
	var savedPlan *os.File
	if o.planIn != "" {
		if savedPlan, err = os.Open(o.planIn); err != nil {
			return fmt.Errorf("%w: --plan: %v", sync.ErrUsage, err)
		}
		defer savedPlan.Close()
		if err := sync.CheckSavedPlan(savedPlan, account); err != nil {
			return err
		}
	} else {
		in, closeIn, err := openInput(stop, o.input, e.stdin)
		if err != nil {
			return err
		}
		defer closeIn()
		if err := sync.CheckInput(in, cfg.Source, o.allowEmpty); err != nil {
			return err
		}
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

	// The outputs: a default report name is new (never an existing file);
	// the files named by flags are truncated only once all are open.
	reportOut := &output{flag: "--report", path: o.report}
	outs := []*output{reportOut}
	if o.report == "" {
		prefix := "bulksync-" + command + "-" + time.Now().Format("20060102-150405")
		if cfg.Shard.Count > 0 {
			prefix += fmt.Sprintf("-shard-%d-of-%d", cfg.Shard.Index, cfg.Shard.Count)
		}
		f, name, err := createUnique(prefix, ".csv")
		if err != nil {
			return fmt.Errorf("%w: --report: %v", sync.ErrUsage, err)
		}
		reportOut.path, reportOut.f, reportOut.created = name, f, true
		outs = nil
	}
	var planOut *output
	if o.planOut != "" {
		planOut = &output{flag: "--out", path: o.planOut}
		outs = append(outs, planOut)
	}
	if err := openOutputs(outs); err != nil {
		closeOutputs([]*output{reportOut}, true)
		return err
	}
	rf, reportPath := reportOut.f, reportOut.path
	removeOutputs := func() {
		closeOutputs([]*output{reportOut}, true)
		if planOut != nil {
			closeOutputs([]*output{planOut}, true)
		}
	}
	report, err := sync.NewReportWriter(rf)
	if err != nil {
		removeOutputs()
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
		removeOutputs()
		return err
	}
	if planOut != nil {
		cfg.PlanOut = sync.NewPlanWriter(planOut.f, account, o.input)
	}

	cfg.Stop = stop
	if savedPlan != nil {
		runErr = sync.RunSaved(e.hard, cfg, savedPlan, account)
	} else {
		runErr = sync.Run(e.hard, cfg)
	}
	if planOut != nil {
		runErr = closePlan(planOut, cfg.PlanOut, runErr)
	}
	if err := report.Flush(); err != nil && runErr == nil {
		runErr = fmt.Errorf("%w: --report: %v", sync.ErrAborted, err)
	}
	if err := rf.Close(); err != nil && runErr == nil {
		runErr = fmt.Errorf("%w: --report: %v", sync.ErrAborted, err)
	}
	if errors.Is(runErr, sync.ErrUsage) && report.Rows() == 0 && reportOut.created {
		// Nothing was planned: leave no empty report behind to be mistaken
		// for a run's result. Only a file this run created is removed.
		os.Remove(reportPath)
		cfg.Summary.Report = ""
	}
	runErr = html.write(cfg.Summary.Input, report.Rows(), runErr)
	obs.StopProgress()
	if o.show > 0 && cfg.Summary.Report != "" {
		showReport(e.stdout, reportPath, o.show)
	}
	runErr = finishSummary(e, cfg.Summary, o.summaryJSON, runErr)
	if err := state.EndRun(cfg.Summary); err != nil {
		// The run itself is done and reported; only its history entry is
		// incomplete. Say so, but keep the run's own exit code.
		fmt.Fprintf(e.stderr, "bulksync: %v\n", err)
	}
	return runErr
}

// closePlan completes the --out file, or empties it when the plan is not
// whole (an abort or interrupt): a partial plan must never be applied. A
// file this run created is removed instead.
func closePlan(out *output, pw *sync.PlanWriter, runErr error) error {
	if runErr == nil || errors.Is(runErr, sync.ErrIncomplete) {
		err := pw.Close()
		if cerr := out.f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			return runErr
		}
		runErr = fmt.Errorf("%w: --out: %v", sync.ErrAborted, err)
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

// finishSummary prints the summary on stderr and writes --summary-json:
// whenever the run got as far as having a summary, exits 2 and 3 included,
// so that a monitor reading the file sees every run's outcome.
func finishSummary(e *env, s *sync.Summary, jsonPath string, runErr error) error {
	s.Duration = time.Since(s.Started).Seconds()
	s.ExitCode = exitCode(runErr)
	if runErr != nil && !errors.Is(runErr, sync.ErrIncomplete) {
		s.Error = runErr.Error()
	}
	if jsonPath != "" {
		// Whole or not at all, 0600: a monitor never reads half a file.
		if err := atomicfile.Write(jsonPath, true, s.WriteJSON); err != nil {
			fmt.Fprintf(e.stderr, "bulksync: --summary-json: %v\n", err)
		}
	}
	if errors.Is(runErr, sync.ErrUsage) && s.Records == 0 {
		// A usage error before any record: the message says it all.
		return runErr
	}
	s.WriteText(e.stderr)
	return runErr
}
