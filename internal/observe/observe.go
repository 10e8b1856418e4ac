package main

import (
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/bulksync/bulksync/sync"
)

// obsOptions are the flags for watching a run: progress, logs and metrics.
// Empty log settings mean the defaults, for runs built without flags (demo).
type obsOptions struct {
	quiet         bool
	statsInterval time.Duration
	logFormat     string
	logLevel      string
	metricsFile   string
	pushgateway   string
}

const defaultStatsInterval = 30 * time.Second

func (o *obsOptions) addFlags(fs *flag.FlagSet) {
	fs.BoolVar(&o.quiet, "quiet", false, "no progress bar or stats lines (errors, logs and the summary still print)")
	fs.DurationVar(&o.statsInterval, "stats-interval", defaultStatsInterval, "when standard error is not a terminal (cron), print a stats line this often")
	fs.StringVar(&o.logFormat, "log-format", "text", "log format on standard error: text or json")
	fs.StringVar(&o.logLevel, "log-level", defaultLogLevel, "log level: debug (every request), info (retries, rows not synced), warn (failed rows) or error")
	fs.StringVar(&o.metricsFile, "metrics-file", "", "at the end, write Prometheus metrics to this file (node exporter textfile collector; written atomically)")
	fs.StringVar(&o.pushgateway, "pushgateway", "", "at the end, push Prometheus metrics to this Pushgateway URL (job \"bulksync\")")
}

// observer is one run's progress display, logger and metrics, all fed by
// the engine's events.
type observer struct {
	events   sync.Events
	progress *progress // nil with --quiet
	metrics  *metrics  // nil without --metrics-file and --pushgateway
	log      *slog.Logger
	con      *console
	started  time.Time
}

// startObserver checks the flags and starts the progress display. command
// is plan or apply; shard is --shard as given.
func startObserver(e *env, o *obsOptions, command, shardFlag string, rate float64) (*observer, error) {
	con := newConsole(e.stderr)
	log, err := newLogger(con, o.logFormat, o.logLevel)
	if err != nil {
		return nil, err
	}
	interval := o.statsInterval
	if interval <= 0 && !o.quiet {
		return nil, fmt.Errorf("%w: --stats-interval: must be more than 0, such as 30s or 5m; got %v", sync.ErrUsage, interval)
	}
	if err := checkPushgateway(o.pushgateway); err != nil {
		return nil, err
	}
	shard, err := sync.ParseShard(shardFlag)
	if err != nil {
		return nil, err
	}
	log = log.With("command", command)
	if shard.Count > 0 {
		log = log.With("shard", shard.String())
	}
	obs := &observer{log: log, con: con, started: time.Now()}
	events := fanout{logEvents{log}}
	if !o.quiet {
		prefix := "bulksync"
		if shard.Count > 0 {
			prefix += " shard " + shard.String()
		}
		obs.progress = newProgress(con, prefix, command == "apply", con.tty, interval, rate, obs.started)
		obs.progress.start()
		events = append(events, obs.progress)
	}
	if o.metricsFile != "" || o.pushgateway != "" {
		obs.metrics = newMetrics(command, shard.String(), o.metricsFile, o.pushgateway)
		events = append(events, obs.metrics)
	}
	obs.events = events
	return obs, nil
}

// stopProgress erases the bar; call it before printing the summary.
func (obs *observer) stopProgress() {
	if obs.progress != nil {
		obs.progress.finish()
	}
}

// finish ends the run's observation: the progress display stops, and the
// metrics are written and pushed. s is nil when the run stopped before it
// had a summary. Metrics problems are printed, never returned: they do not
// change the exit code.
func (obs *observer) finish(s *sync.Summary, runErr error) {
	obs.stopProgress()
	code := exitCode(runErr)
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
		fmt.Fprintf(obs.con, "bulksync: %s\n", p)
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
