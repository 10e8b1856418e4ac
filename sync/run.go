package sync

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/bulksync/bulksync/gen/linq"
	"golang.org/x/sync/errgroup"
)

// Config is one run's parameters. cmd/bulksync fills it from flags.
type Config struct {
	Input      io.ReadSeeker // the export; read twice (see Planner), so it must seek
	Source     SourceOptions
	Normalize  NormalizeOptions
	Plan       PlanOptions
	MaxChanges ChangeLimit
	DryRun     bool // plan only: no write request is sent
	Apply      ApplyOptions
	// Stop, when done, stops the run gracefully: no new request starts,
	// requests in flight finish, and the rest of the records are reported
	// skipped. Cancelling Run's own context instead cuts requests in flight.
	// The snapshot, which writes nothing, is cut at once by either.
	Stop context.Context
	// SnapshotTimeout bounds the whole reading of the live cards, retries
	// and waits included; 0 = no limit.
	SnapshotTimeout time.Duration
	Client          *linq.ClientWithResponses
	Report          *ReportWriter
	Summary         *Summary
	// State, when set, supplies what bulksync applied before (image URLs,
	// drift) and records what this run applies. The caller opens it, calls
	// BeginRun before Run and EndRun after.
	State *State
	// PlanOut, in a dry run, receives every change: plan --out.
	PlanOut *PlanWriter
	// Shard limits the run to one shard of the records (--shard i/n).
	Shard Shard
	// Events, when set, is told what happens, for progress, logs and
	// metrics.
	Events Events
	// Log, when set, receives what the run notices beside its rows: that
	// the account's phone numbers could not be read (warn), and the lines
	// that are not healthy (info).
	Log *slog.Logger
	// ReportAbsent adds a report row (action absent, result skipped, no
	// line) for each live card of the shard that no record names. They are
	// counted in the summary either way.
	ReportAbsent bool

	absent []Card // the live cards no record names; written by finish
}

// Run plans every record of the input against the live cards and, unless
// DryRun, applies the plan. Every record gets exactly one report row, even
// when the run aborts. The error wraps ErrUsage, ErrAborted or
// ErrIncomplete, which decide the exit code.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Events == nil {
		cfg.Events = noEvents{}
	}
	// Read the header before anything touches the network, so a wrong file
	// or mapping fails fast with exit 2. The first pass reads the whole
	// input through this source, so it also fingerprints it for the run
	// history.
	hash := sha256.New()
	src, serr := OpenSource(io.TeeReader(cfg.Input, hash), cfg.Source)
	if serr != nil {
		return serr
	}
	defer src.Close()
	cfg.Summary.Preset, cfg.Summary.InputFormat = src.Preset(), src.Input()

	cards, err := cfg.snapshot(ctx)
	if err != nil {
		if cfg.Stop == nil || cfg.Stop.Err() == nil {
			return err
		}
		// Stopped before anything could be planned: every record is still
		// reported, as not attempted.
		if _, serr := cfg.Input.Seek(0, io.SeekStart); serr != nil {
			return err
		}
		if src, serr = OpenSource(cfg.Input, cfg.Source); serr != nil {
			return err
		}
		defer src.Close()
		return cfg.unplanned(err, func(each func(Change) error) error {
			return cfg.eachRecord(src, func(d Desired) error {
				c := Change{Desired: d}
				if d.Invalid != "" {
					c.Action, c.Detail = ActionInvalid, d.Invalid
				}
				return each(c)
			})
		})
	}
	lines, err := cfg.fetchLines(ctx)
	if err != nil {
		return err
	}

	stop := cfg.Stop
	if stop == nil {
		stop = ctx
	}
	// First pass: duplicates and the number of changes. An interrupt here
	// does not lose the report: the second pass still lists every record,
	// as not attempted.
	var known map[string]Applied
	if cfg.State != nil {
		if known, err = cfg.State.Load(ctx); err != nil {
			return err
		}
	}
	planner := NewPlanner(cards, lines, known, cfg.Plan)
	var abort, interrupted error
	if err := cfg.eachRecord(src, func(d Desired) error {
		planner.Observe(d)
		if stop.Err() != nil {
			return errInterrupted
		}
		return nil
	}); err == errInterrupted {
		interrupted = fmt.Errorf("%w: %v", ErrAborted, context.Cause(stop))
	} else if err != nil {
		return err
	}
	cfg.Summary.Records, cfg.Summary.Changes = planner.Records(), planner.Changes()
	cfg.Events.Planned(planner.Records(), planner.Changes())
	if interrupted == nil {
		cfg.Summary.InputSHA256 = hex.EncodeToString(hash.Sum(nil))
		if cfg.PlanOut != nil {
			cfg.PlanOut.header.InputSHA256 = cfg.Summary.InputSHA256
			cfg.PlanOut.header.Shard = cfg.Shard.String()
		}
		// Only a complete first pass knows which cards no record names.
		cfg.setAbsent(planner.Absent(cfg.Shard))
	}
	abort = interrupted
	if abort == nil {
		abort = cfg.MaxChanges.Check(planner.Changes(), planner.Records())
	}

	if _, err := cfg.Input.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("%w: rewinding the input: %v", ErrUsage, err)
	}
	src, err = OpenSource(cfg.Input, cfg.Source)
	if err != nil {
		return err
	}
	defer src.Close()

	if cfg.DryRun || abort != nil {
		err := cfg.eachRecord(src, func(d Desired) error {
			c := planner.Decide(d)
			if cfg.PlanOut != nil {
				if err := cfg.PlanOut.Write(&c); err != nil {
					return err
				}
			}
			// A dry run over --max-changes still shows the plan; only an
			// interrupt leaves its rows unplanned.
			if cfg.DryRun {
				return cfg.write(&c, planned(&c, interrupted, true))
			}
			return cfg.write(&c, planned(&c, abort, false))
		})
		if err != nil {
			return err
		}
		return cfg.finish(abort)
	}
	return cfg.apply(ctx, func(each func(Change) error) error {
		return cfg.eachRecord(src, func(d Desired) error { return each(planner.Decide(d)) })
	})
}

// apply is the second pass of a real run: each change that needs a write
// goes to a bounded errgroup of workers; the rest are reported at once. The
// group's limit gives backpressure, so memory stays flat however long the
// input. A failed row is a report row, not a group error: only a failure to
// write the report stops the group.
func (cfg *Config) apply(ctx context.Context, changes func(each func(Change) error) error) error {
	stopParent := cfg.Stop
	if stopParent == nil {
		stopParent = ctx
	}
	stop, stopWith := context.WithCancelCause(stopParent)
	defer stopWith(nil)
	a := &applier{
		events:   cfg.Events,
		client:   cfg.Client.ClientInterface,
		opts:     cfg.Apply,
		plan:     cfg.Plan,
		state:    cfg.State,
		limiter:  newLimiter(cfg.Apply.Rate, time.Now),
		slots:    make(chan struct{}, cfg.Apply.Concurrency),
		stop:     stop,
		stopWith: stopWith,
		sleep:    sleepCtx,
	}
	g, gctx := errgroup.WithContext(ctx)
	// More rows than request slots: a row waiting out a Retry-After holds
	// no slot, and the rows behind it keep the connections busy.
	g.SetLimit(rowsPerSlot * cfg.Apply.Concurrency)
	// The report lists the rows in input order, however the requests end.
	order := newReorder(cfg.Report.Write, reorderPerSlot*cfg.Apply.Concurrency)
	err := changes(func(c Change) error {
		seq, err := order.take()
		if err != nil {
			return fmt.Errorf("%w: writing the report: %v", ErrAborted, err)
		}
		switch {
		case !c.IsWrite():
			return cfg.writeAt(order, seq, &c, unsent(&c))
		case gctx.Err() != nil || a.stopped() != nil:
			return cfg.writeAt(order, seq, &c, a.stoppedOutcome(Outcome{}, answer{}, a.why(gctx)))
		}
		g.Go(func() error {
			o := a.apply(ctx, &c)
			if o.Result == ResultOK && o.Card != nil && cfg.State != nil {
				cfg.State.Record(&c, *o.Card)
			}
			return cfg.writeAt(order, seq, &c, o)
		})
		return nil
	})
	if gerr := g.Wait(); err == nil {
		err = gerr
	}
	if err != nil {
		return err
	}
	return cfg.finish(a.abortErr(ctx))
}

// snapshot reads the live cards. It ends at once, with the reason, on the
// run's stop (first interrupt, --max-duration) as well as on ctx, and after
// SnapshotTimeout: nothing is written while it runs, so there is nothing
// to let finish.
func (cfg *Config) snapshot(ctx context.Context) (map[string]Card, error) {
	sctx, cancel := cfg.readContext(ctx)
	defer cancel()
	return FetchSnapshot(sctx, cfg.Client.ClientInterface, cfg.Apply.withDefaults(), cfg.Events)
}

// readContext bounds one of the reads before planning (the live cards, the
// account's lines): it ends on ctx, on the run's stop, and after
// SnapshotTimeout, with the reason as its cause.
func (cfg *Config) readContext(ctx context.Context) (context.Context, func()) {
	sctx, cancel := context.WithCancelCause(ctx)
	var stopAfter func() bool
	if cfg.Stop != nil {
		stopAfter = context.AfterFunc(cfg.Stop, func() { cancel(context.Cause(cfg.Stop)) })
	}
	cancelT := func() {}
	if d := cfg.SnapshotTimeout; d > 0 {
		sctx, cancelT = context.WithTimeoutCause(sctx, d, fmt.Errorf("--snapshot-timeout %v reached", d))
	}
	return sctx, func() {
		cancelT()
		if stopAfter != nil {
			stopAfter()
		}
		cancel(nil)
	}
}

// unplanned reports every record as not attempted when the run stopped
// before the live cards were read: nothing could be planned, so a row's
// action is blank unless the record is invalid in itself. It returns
// runErr, the reason.
func (cfg *Config) unplanned(runErr error, records func(each func(Change) error) error) error {
	n := 0
	err := records(func(c Change) error {
		n++
		o := Outcome{Result: ResultSkipped, Message: "not attempted: the run stopped before the live cards were read (" + context.Cause(cfg.Stop).Error() + ")"}
		if c.Action == ActionInvalid {
			o.Message = ""
		}
		return cfg.write(&c, o)
	})
	cfg.Summary.Records = n
	if err != nil {
		return err
	}
	return cfg.finish(runErr)
}

// rowsPerSlot bounds the rows in progress, per --concurrency request slot.
// With 5% of answers a 429 with Retry-After: 1 at 20 ms a request, about
// three rows per slot are waiting at any time; eight leave room.
const rowsPerSlot = 8

// unsent is the outcome of a record apply does not send.
func unsent(c *Change) Outcome {
	if c.Action == ActionNoop {
		return Outcome{Result: ResultOK}
	}
	return Outcome{Result: ResultSkipped}
}

// why names the reason no new request may start.
func (a *applier) why(gctx context.Context) error {
	if cause := a.stopped(); cause != nil {
		return cause
	}
	return context.Cause(gctx)
}

// abortErr is the run's error when it stopped early, wrapping ErrAborted.
func (a *applier) abortErr(ctx context.Context) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w: interrupted; requests in flight were cancelled", ErrAborted)
	}
	if cause := a.stopped(); cause != nil {
		return fmt.Errorf("%w: %v", ErrAborted, cause)
	}
	return nil
}

var errInterrupted = errors.New("interrupted")

// planned is the outcome of a change that is not sent: in a dry run, or in
// a run that --max-changes stopped.
func planned(c *Change, abort error, dryRun bool) Outcome {
	switch {
	case !c.IsWrite() && c.Action != ActionNoop:
		return Outcome{Result: ResultSkipped}
	case dryRun && abort == nil:
		return Outcome{Result: ResultPlanned}
	default:
		return Outcome{Result: ResultSkipped, Message: "not attempted: " + abort.Error()}
	}
}

// write reports one change, in a pass that reports the records one by one
// as it reads them.
func (cfg *Config) write(c *Change, o Outcome) error {
	return cfg.writeAt(nil, 0, c, o)
}

// writeAt reports change number seq of apply's second pass: counted and
// told to Events now, in the order the rows finish, so that progress, logs
// and metrics follow the requests as they end (the HTML page sorts its
// rows itself); written to the report in input order, through order.
func (cfg *Config) writeAt(order *reorder, seq int, c *Change, o Outcome) error {
	row := NewReportRow(c, o)
	cfg.Summary.Count(row, c.Drift)
	cfg.Events.Reported(row)
	var err error
	if order != nil {
		err = order.done(seq, row)
	} else {
		err = cfg.Report.Write(row)
	}
	if err != nil {
		return fmt.Errorf("%w: writing the report: %v", ErrAborted, err)
	}
	return nil
}

// fetchLines reads the account's phone numbers for the plan's not_owned
// check, bounded as the snapshot is (readContext). The list is an aid, not
// a gate: when it cannot be read the run goes on without the check, and
// says so once at warn. Lines that are not
// healthy are counted in the summary and listed at info. Only an interrupt
// while reading is an error.
func (cfg *Config) fetchLines(ctx context.Context) (*Lines, error) {
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	lctx, cancel := cfg.readContext(ctx)
	defer cancel()
	lines, err := FetchLines(lctx, cfg.Client.ClientInterface, cfg.Apply.withDefaults(), cfg.Events)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w: interrupted while reading the account's phone numbers", ErrAborted)
		}
		if cfg.Stop != nil && cfg.Stop.Err() != nil {
			// The run stops: the first pass reports every record as not
			// attempted, with the reason.
			return nil, nil
		}
		log.Warn("cannot read the account's phone numbers (GET /v3/phone_numbers); going on without checking the export's numbers against them",
			"error", err.Error())
		cfg.Summary.setLinesUnchecked(err.Error())
		return nil, nil
	}
	var unhealthy []Line
	for _, l := range lines.Unhealthy() {
		if cfg.Shard.Has(Desired{Phone: l.Phone}) {
			unhealthy = append(unhealthy, l)
		}
	}
	for _, l := range unhealthy {
		log.Info("line not healthy", "phone_number", l.Phone, "reputation", l.Reputation,
			"health_status", l.Health, "doc_url", l.DocURL)
	}
	cfg.Summary.setLines(lines.Len(), len(unhealthy))
	return lines, nil
}

// setAbsent keeps the cards no record names, for the summary and, with
// ReportAbsent, the report.
func (cfg *Config) setAbsent(cards []Card) {
	cfg.absent = cards
	cfg.Summary.setAbsent(len(cards))
}

// writeAbsent reports the cards no record names, one row each, after every
// record's row. They are not told to Events: they are not records of the
// export, so progress and metrics of the run's rows leave them out.
func (cfg *Config) writeAbsent() error {
	if !cfg.ReportAbsent {
		return nil
	}
	for _, c := range cfg.absent {
		row := ReportRow{
			PhoneNumber:  c.Phone,
			Action:       ActionAbsent,
			Result:       ResultSkipped,
			FirstNameOld: c.FirstName,
			LastNameOld:  c.LastName,
			ImageURLOld:  c.ImageURL,
			ErrorMessage: "a live card that no record of the export names; nothing is changed (the API has no delete)",
		}
		cfg.Summary.Count(row, false)
		if err := cfg.Report.Write(row); err != nil {
			return fmt.Errorf("%w: writing the report: %v", ErrAborted, err)
		}
	}
	return nil
}

// finish reports the absent cards, flushes the report and turns the counts
// into the run's error.
func (cfg *Config) finish(runErr error) error {
	if err := cfg.writeAbsent(); err != nil {
		return err
	}
	if err := cfg.Report.Flush(); err != nil {
		return fmt.Errorf("%w: writing the report: %v", ErrAborted, err)
	}
	if runErr != nil {
		return runErr
	}
	if !cfg.Summary.Synced() {
		return ErrIncomplete
	}
	return nil
}

// eachRecord reads, normalises and hands on every record of the source
// that belongs to the shard.
func (cfg *Config) eachRecord(src RecordSource, fn func(Desired) error) error {
	for {
		rec, err := src.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		d := Normalize(rec, cfg.Normalize)
		if !cfg.Shard.Has(d) {
			continue
		}
		if err := fn(d); err != nil {
			return err
		}
	}
}
