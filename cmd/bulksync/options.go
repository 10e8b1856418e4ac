package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"time"

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
	region        string // checked: a supported ISO 3166 code
	regionColumn  string
	empty         string
	onDuplicate   string
	createMissing bool
	maxChanges    sync.ChangeLimit
	baseURL       string
	apiKeyFile    string
	timeout       time.Duration
	maxDuration   time.Duration
	allowEmpty    bool
	state         string
	respectEdits  bool
	reportAbsent  bool
	shard         sync.Shard
	planOut       string            // plan only
	show          int               // plan only: changed rows printed
	planIn        string            // apply only
	apply         sync.ApplyOptions // retries for both; the rest for apply only
	obs           observe.Options   // progress, logs, metrics
}

func (o *syncOptions) addFlags(fs *flag.FlagSet, e *env) {
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
	cliflag.Value(fs, &o.region, "region", "CODE", "US", parseRegion, "region for phone numbers written without a country code, where the row has no country:\nan ISO 3166 code such as US, GB, DE")
	fs.StringVar(&o.regionColumn, "region-column", "", "column holding each row's country (a name such as United Kingdom, or an ISO code such as GB)\nfor its numbers written without +; presets read HubSpot's Country/Region, Salesforce's\nMailingCountryCode/MailingCountry, generic country_code/country")
	cliflag.Choice(fs, &o.empty, "empty", "keep", sync.EmptyPolicies, "what a blank cell means: keep (leave the card's value) or clear")
	cliflag.Choice(fs, &o.onDuplicate, "on-duplicate", "error", sync.DuplicatePolicies, "a phone number on several records: error (apply none), first or last")
	fs.BoolVar(&o.createMissing, "create-missing", false, "create cards for numbers that have none")
	cliflag.Value(fs, &o.maxChanges, "max-changes", "N|P%", "", sync.ParseChangeLimit, "abort before any write when the plan has more changes than N (e.g. 500) or P% of the records\n(e.g. 5%, from 0% to 100%)")
	fs.StringVar(&o.baseURL, "base-url", "", "Linq API base URL (default $LINQ_API_V3_BASE_URL or "+sync.DefaultBaseURL+")")
	fs.StringVar(&o.apiKeyFile, "api-key-file", "", "file holding the API key (default: $LINQ_API_V3_API_KEY)")
	cliflag.Value(fs, &o.shard, "shard", "i/n", "", sync.ParseShard, "only the records of shard i of n (0 <= i < n, e.g. 0/4), by a stable hash of the phone number;\neach shard has its own report and state")
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
	addQuiet(fs, e, &o.obs.Quiet)
}

// parseRegion checks --region; the value stays as given (Normalize
// upper-cases it).
func parseRegion(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("%w: --region: empty; use an ISO 3166 code such as US, GB, DE", sync.ErrUsage)
	}
	return s, sync.CheckRegion(s)
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

// job turns the flags into the run they describe. Values that do not
// parse are usage errors naming their flag; the rest is checked by
// Job.Validate.
func (o *syncOptions) job(e *env, dryRun bool) (*sync.Job, error) {
	delim, err := sync.ParseDelimiter(o.delimiter)
	if err != nil {
		return nil, err
	}
	if o.regionColumn != "" {
		if c, ok := o.maps[sync.FieldRegion]; ok && c != o.regionColumn {
			return nil, fmt.Errorf("%w: --region-column %q and --map region=%q name two columns; give one", sync.ErrUsage, o.regionColumn, c)
		}
		o.maps.Set(sync.FieldRegion + "=" + o.regionColumn)
	}
	empty, err := sync.ParseEmptyPolicy(o.empty)
	if err != nil {
		return nil, err
	}
	dup, err := sync.ParseDuplicatePolicy(o.onDuplicate)
	if err != nil {
		return nil, err
	}
	preset := o.preset
	if preset == "auto" {
		preset = ""
	}
	return &sync.Job{
		DryRun:     dryRun,
		Input:      o.input,
		Stdin:      e.stdin,
		PlanFile:   o.planIn,
		AllowEmpty: o.allowEmpty,
		Report:     o.report,
		PlanOut:    o.planOut,
		OtherOutputs: []sync.PathArg{
			{Flag: "--summary-json", Path: o.summaryJSON, Output: true},
			{Flag: "--html", Path: o.html, Output: true},
			{Flag: "--metrics-file", Path: o.obs.MetricsFile, Output: true},
		},
		StateFile:       o.state,
		Getenv:          e.getenv,
		BaseURL:         o.baseURL,
		APIKeyFile:      o.apiKeyFile,
		Source:          sync.SourceOptions{Format: o.format, Sheet: o.sheet, Preset: preset, Map: o.maps, Delimiter: delim, Encoding: o.encoding},
		Normalize:       sync.NormalizeOptions{Region: o.region},
		Plan:            sync.PlanOptions{Empty: empty, OnDuplicate: dup, CreateMissing: o.createMissing, RespectManualEdits: o.respectEdits},
		MaxChanges:      o.maxChanges,
		Apply:           o.apply,
		Shard:           o.shard,
		SnapshotTimeout: o.timeout,
		MaxDuration:     o.maxDuration,
		ReportAbsent:    o.reportAbsent,
	}, nil
}

// runSync is the body of plan and apply: the flags become a sync.Job,
// which is validated before anything else happens (exit 2 means nothing
// was sent and no file was touched), then watched while it runs.
func runSync(ctx context.Context, e *env, o *syncOptions, command string) (runErr error) {
	if err := o.obs.Check(); err != nil {
		return err
	}
	// From here on, with --log-format json, every line on stderr is a
	// JSON record (main's final error line included).
	observe.NewConsole(e.stderr).SetFormat(o.obs.LogFormat)
	job, err := o.job(e, command == "plan")
	if err != nil {
		return err
	}
	defer job.Close()
	// ctx ends on the first interrupt: the run stops gracefully. e.hard
	// ends on the second and cuts requests in flight.
	if err := job.Validate(ctx); err != nil {
		if !errors.Is(err, sync.ErrPathClash) {
			// The metrics still say the run failed, for the alert on
			// them; only a clash, which may name the metrics file
			// itself, writes nothing at all.
			quiet := o.obs
			quiet.Quiet = true
			if obs, oerr := observe.Start(e.stderr, &quiet, command, o.shard, 0); oerr == nil {
				obs.Finish(nil, exitCode(err))
			}
		}
		return err
	}
	// A saved plan's shard comes from its header: the logs and metrics
	// carry it as they would for the plan --shard that made it.
	obs, err := observe.Start(e.stderr, &o.obs, command, job.RunShard(), o.apply.Rate)
	if err != nil {
		return err
	}
	// The progress display stops before the summary; the metrics are
	// written last, whatever the outcome.
	defer func() { obs.Finish(job.Summary(), exitCode(runErr)) }()
	html := newHTMLOut(o.html, command)
	job.Events = html.events(obs.Events)
	job.Log = obs.Log()
	job.Finish = func(s *sync.Summary, runErr error) error {
		return html.write(s.Input, s.Rows(), runErr)
	}
	runErr = job.Run(e.hard, ctx)
	obs.StopProgress()
	summary := job.Summary()
	if summary == nil {
		return runErr
	}
	if o.show > 0 && summary.Report != "" {
		showReport(e.stdout, job.ReportPath(), o.show, summary.Actions[sync.ActionCreate]+summary.Actions[sync.ActionUpdate])
	}
	return finishSummary(e, summary, o.summaryJSON, runErr)
}

// finishSummary prints the summary on stderr and writes --summary-json:
// whenever the run got as far as having a summary, exits 2 and 3 included,
// so that a monitor reading the file sees every run's outcome.
func finishSummary(e *env, s *sync.Summary, jsonPath string, runErr error) error {
	if jsonPath != "" {
		// Whole or not at all, 0600: a monitor never reads half a file.
		if err := atomicfile.Write(jsonPath, true, s.WriteJSON); err != nil {
			observe.NewConsole(e.stderr).Notice(slog.LevelError, fmt.Sprintf("--summary-json: %v", err))
		}
	}
	if errors.Is(runErr, sync.ErrUsage) && s.Records == 0 {
		// A usage error before any record: the message says it all.
		return runErr
	}
	if con := observe.NewConsole(e.stderr); con.JSON() {
		// One record, whatever --log-level: the summary always prints.
		con.Record(slog.LevelInfo, "summary", s.Attrs()...)
	} else {
		s.WriteText(e.stderr)
	}
	return runErr
}
