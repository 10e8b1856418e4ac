// Package observe shows how a run goes, as the engine reports it through
// sync.Events: a progress bar or stats lines (progress.go), logs (logs.go)
// and Prometheus metrics (metrics.go), all on standard error through one
// Console (console.go), which erases the bar before any other line.
//
// The events come from the run's goroutine and its apply workers at once;
// they only bump counters or log a line. One goroutine per run draws the
// progress. Nothing here decides anything about the run: package sync does,
// and cmd/bulksync wires the two.
package observe

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/bulksync/bulksync/internal/cliflag"
	"github.com/bulksync/bulksync/sync"
)

// Options are the flags for watching a run: progress, logs and metrics.
// Empty log settings mean the defaults, for runs built without flags (demo).
type Options struct {
	Quiet         bool // no progress display; cmd/bulksync defines --quiet, and holds all output
	StatsInterval time.Duration
	LogFormat     string
	LogLevel      string
	MetricsFile   string
	Pushgateway   string
}

const defaultStatsInterval = 30 * time.Second

// AddFlags defines the options' flags on fs, all but --quiet, which
// cmd/bulksync defines for every command that has it.
func (o *Options) AddFlags(fs *flag.FlagSet) {
	fs.DurationVar(&o.StatsInterval, "stats-interval", defaultStatsInterval, "when standard error is not a terminal (cron), print a stats line this often")
	cliflag.Choice(fs, &o.LogFormat, "log-format", "text", LogFormats, "log format on standard error")
	cliflag.Choice(fs, &o.LogLevel, "log-level", defaultLogLevel, LogLevels, "log level: debug (every request), info (retries, rows not synced), warn (failed rows) or error")
	fs.StringVar(&o.MetricsFile, "metrics-file", "", "at the end, write Prometheus metrics to this file (node exporter textfile collector; written atomically)")
	fs.StringVar(&o.Pushgateway, "pushgateway", "", "at the end, push Prometheus metrics to this Pushgateway URL (job \"bulksync\")")
}

// Observer is one run's progress display, logger and metrics, all fed by
// the engine's events.
type Observer struct {
	// Events is what the engine reports to (sync.Job.Events).
	Events   sync.Events
	progress *progress // nil with --quiet
	metrics  *metrics  // nil without --metrics-file and --pushgateway
	log      *slog.Logger
	con      *Console
	started  time.Time
}

// Log is the run's logger (sync.Job.Log), for what the engine notices
// beside its rows and attempts.
func (obs *Observer) Log() *slog.Logger { return obs.log }

// Check validates the flags, naming the one at fault, without starting
// anything.
func (o *Options) Check() error {
	if _, err := newLogger(io.Discard, o.LogFormat, o.LogLevel); err != nil {
		return err
	}
	if o.StatsInterval <= 0 && !o.Quiet {
		return fmt.Errorf("%w: --stats-interval: must be more than 0, such as 30s or 5m; got %v", sync.ErrUsage, o.StatsInterval)
	}
	return checkPushgateway(o.Pushgateway)
}

// Start checks the options and starts the progress display on stderr.
// command is plan or apply; rate is --rate. Every line the run writes
// there carries the command and the shard: log lines, and with
// --log-format json the stats, summary and error records too.
func Start(stderr io.Writer, o *Options, command string, shard sync.Shard, rate float64) (*Observer, error) {
	con := NewConsole(stderr)
	con.SetFormat(o.LogFormat)
	con.With(slog.String("command", command))
	if shard.Count > 0 {
		con.With(slog.String("shard", shard.String()))
	}
	log, err := newLogger(con, o.LogFormat, o.LogLevel)
	if err != nil {
		return nil, err
	}
	interval := o.StatsInterval
	if interval <= 0 && !o.Quiet {
		return nil, fmt.Errorf("%w: --stats-interval: must be more than 0, such as 30s or 5m; got %v", sync.ErrUsage, interval)
	}
	if err := checkPushgateway(o.Pushgateway); err != nil {
		return nil, err
	}
	log = log.With("command", command)
	if shard.Count > 0 {
		log = log.With("shard", shard.String())
	}
	obs := &Observer{log: log, con: con, started: time.Now()}
	events := fanout{logEvents{log}}
	if !o.Quiet {
		prefix := "bulksync"
		if shard.Count > 0 {
			prefix += " shard " + shard.String()
		}
		// No bar with JSON logs: every line must parse, so stats
		// lines (records) take its place even on a terminal.
		obs.progress = newProgress(con, prefix, command == "apply", con.tty && !con.JSON(), interval, rate, obs.started)
		obs.progress.start()
		events = append(events, obs.progress)
	}
	if o.MetricsFile != "" || o.Pushgateway != "" {
		obs.metrics = newMetrics(command, shard.String(), o.MetricsFile, o.Pushgateway)
		events = append(events, obs.metrics)
	}
	obs.Events = events
	return obs, nil
}

// StopProgress erases the bar; call it before printing the summary.
func (obs *Observer) StopProgress() {
	if obs.progress != nil {
		obs.progress.finish()
	}
}

// Finish ends the run's observation: the progress display stops, and the
// metrics are written and pushed. s is nil when the run stopped before it
// had a summary; code is the run's exit code. Metrics problems are printed,
// never returned: they do not change the exit code.
func (obs *Observer) Finish(s *sync.Summary, code int) {
	obs.StopProgress()
	took := time.Since(obs.started)
	if s != nil && s.Duration > 0 {
		took = time.Duration(s.Duration * float64(time.Second))
	}
	if s != nil {
		obs.log.Info("run finished", "exit_code", code, "records", s.Records, "changes", s.Changes, "duration_seconds", took.Seconds())
	}
	if obs.metrics == nil {
		return
	}
	for _, p := range obs.metrics.finish(s, code, took, time.Now()) {
		obs.con.Notice(slog.LevelWarn, p)
	}
}

// fanout hands each event to several observers in turn. Each is quick and
// safe for concurrent use, so the fan-out is too.
type fanout []sync.Events

func (f fanout) Planned(records, changes int) {
	for _, e := range f {
		e.Planned(records, changes)
	}
}

func (f fanout) Attempted(ev sync.AttemptEvent) {
	for _, e := range f {
		e.Attempted(ev)
	}
}

func (f fanout) Reported(r sync.ReportRow) {
	for _, e := range f {
		e.Reported(r)
	}
}
