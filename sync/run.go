package sync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/bulksync/bulksync/gen/linq"
	"golang.org/x/sync/errgroup"
)

// runner carries out one run of a Job (job.go): the same lifecycle for an
// export and for a saved plan, which differ only in their changeSource
// (changes.go). Job.Run fills it.
type runner struct {
	maxChanges ChangeLimit
	dryRun     bool         // plan only: no write request is sent
	requests   ApplyOptions // how requests are made: the snapshot's and the writes'
	plan       PlanOptions
	// stop, when done, stops the run gracefully: no new request starts,
	// requests in flight finish, and the rest of the records are reported
	// skipped. Cancelling run's own context instead cuts requests in
	// flight. The snapshot, which writes nothing, is cut at once by either.
	stop context.Context
	// snapshotTimeout bounds each read before planning (the live cards,
	// the account's lines), retries and waits included; 0 = no limit.
	snapshotTimeout time.Duration
	client          *linq.ClientWithResponses
	report          *ReportWriter
	summary         *Summary
	// state supplies what bulksync applied before (image URLs, drift) and
	// records what this run applies.
	state *State
	// planOut, in a dry run, receives every change: plan --out.
	planOut *PlanWriter
	// shard is the shard of the records the run covers (--shard i/n, or a
	// saved plan's header): it decides the absent cards and the lines
	// reported unhealthy.
	shard        Shard
	events       Events
	log          *slog.Logger
	reportAbsent bool // a report row for each live card no record names

	absent *Cards // the live cards no record names; written by finish

	// reads, when not nil, are the reads of the live cards and the lines,
	// started by Job.Run before the run began (startLiveReads); run
	// starts them itself otherwise.
	reads *liveReads

	// newLimiter makes apply's limiter; nil is newLimiter (see Job).
	newLimiter func(perSecond float64, now func() time.Time) *limiter
}

// run is the life of every run, an export's or a saved plan's:
//
//	snapshot     read the live cards; a stop here reports every record
//	             as not attempted (unplanned) and ends the run
//	lines        read the account's phone numbers (startLines), while the
//	             snapshot is read
//	known        load what the state says bulksync applied before
//	first pass   count the records and the changes and note the numbers
//	             named; an interrupt ends the pass, not the report
//	absent       the live cards of the shard that no record names
//	max-changes  check the count of changes before anything is sent
//	second pass  a dry run or an aborted run reports each change unsent;
//	             otherwise execute sends them
//	finish       the absent rows, the report flushed, the run's error
//
// Every record gets exactly one report row, even when the run aborts. The
// error wraps ErrUsage, ErrAborted or ErrIncomplete, which decide the exit
// code.
func (r *runner) run(ctx context.Context, src changeSource) error {
	if r.events == nil {
		r.events = noEvents{}
	}
	reads := r.reads
	if err := src.open(r.summary); err != nil {
		if reads != nil {
			reads.abandon()
		}
		return err
	}
	defer src.close()
	if reads == nil {
		reads = startLiveReads(ctx, r.stop, r.client.ClientInterface, r.requests, r.snapshotTimeout, r.events)
	}
	cards, err := reads.cards.wait()
	if err != nil {
		reads.lines.abandon()
		if r.stop.Err() == nil {
			return err
		}
		return r.unplanned(err, src.unplanned)
	}
	defer tightenGC(cards.Len())()
	lines, err := r.linesOf(ctx, reads.lines)
	if err != nil {
		return err
	}
	var known map[string]Applied
	if r.state != nil {
		if known, err = r.state.Load(ctx); err != nil {
			return err
		}
	}

	// First pass: duplicates and the number of changes, which must both be
	// known before any write. An interrupt here does not lose the report:
	// the second pass still lists every record, as not attempted.
	first, err := src.firstPass(liveState{cards, lines, known}, func() error {
		if r.stop.Err() != nil {
			return errInterrupted
		}
		return nil
	})
	var interrupted error
	if err == errInterrupted {
		interrupted = fmt.Errorf("%w: %v", ErrAborted, context.Cause(r.stop))
	} else if err != nil {
		return err
	}
	r.summary.Records, r.summary.Changes = first.records, first.changes
	r.events.Planned(first.records, first.changes)
	if interrupted == nil {
		r.summary.InputSHA256 = first.inputSHA256
		if r.planOut != nil {
			r.planOut.header.InputSHA256 = first.inputSHA256
			r.planOut.SetShard(r.shard)
		}
		// Only a complete first pass knows which cards no record names.
		r.setAbsent(absentCards(cards, r.shard, first.named))
	}
	abort := interrupted
	if abort == nil {
		abort = r.maxChanges.Check(first.changes, first.records)
	}

	if r.dryRun || abort != nil {
		err := src.changes(func(c Change) error {
			if r.planOut != nil {
				if err := r.planOut.Write(&c); err != nil {
					return err
				}
			}
			// A dry run over --max-changes still shows the plan; only an
			// interrupt leaves its rows unplanned.
			if r.dryRun {
				return r.write(&c, planned(&c, interrupted, true))
			}
			return r.write(&c, planned(&c, abort, false))
		})
		if err != nil {
			return err
		}
		return r.finish(abort)
	}
	return r.execute(ctx, src.changes)
}

// execute is the second pass of a real run: each change that needs a write
// goes to errgroup workers, one per request slot (crew); the rest are
// reported at once. The workers take changes from an unbuffered channel,
// which gives backpressure, so memory stays flat however long the input. A
// failed row is a report row, not a group error: only a failure to write
// the report stops the group.
func (r *runner) execute(ctx context.Context, changes func(each func(Change) error) error) error {
	stop, stopWith := context.WithCancelCause(r.stop)
	defer stopWith(nil)
	makeLimiter := r.newLimiter
	if makeLimiter == nil {
		makeLimiter = newLimiter
	}
	a := &sender{
		events:   r.events,
		client:   r.client.ClientInterface,
		opts:     r.requests,
		plan:     r.plan,
		state:    r.state,
		limiter:  makeLimiter(r.requests.Rate, time.Now),
		slots:    make(chan struct{}, r.requests.Concurrency),
		stop:     stop,
		stopWith: stopWith,
		sleep:    sleepCtx,
	}
	// The limiter stops probing for a higher limit near the end of the run.
	var finished atomic.Int64
	if total := r.summary.Changes; total > 0 {
		a.limiter.left = func() int { return total - int(finished.Load()) }
	}
	g, gctx := errgroup.WithContext(ctx)
	// Workers take the changes from a channel, rather than a goroutine per
	// change: a new goroutine's stack grew anew for every change, which
	// cost a few percent of apply's CPU at no latency. The channel is
	// unbuffered, so reading the input waits while every worker is busy.
	type job struct {
		seq int
		c   Change
	}
	jobs := make(chan job)
	// The report lists the rows in input order, however the requests end.
	order := newReorder(r.report.Write, reorderPerSlot*r.requests.Concurrency)
	crew := newCrew(g, r.requests.Concurrency, rowsPerSlot*r.requests.Concurrency)
	crew.work = func() error {
		for j := range jobs {
			o := a.sendChange(ctx, &j.c)
			finished.Add(1)
			if o.Result == ResultOK && o.Card != nil && r.state != nil {
				r.state.SaveApplied(&j.c, *o.Card)
			}
			if err := r.writeAt(order, j.seq, &j.c, o); err != nil {
				return err // ends the group's context: no more jobs are sent
			}
			if crew.spare() {
				return nil
			}
		}
		return nil
	}
	a.away = crew.away
	crew.start()
	err := changes(func(c Change) error {
		seq, err := order.take()
		if err != nil {
			return fmt.Errorf("%w: writing the report: %v", ErrAborted, err)
		}
		switch {
		case !c.IsWrite():
			return r.writeAt(order, seq, &c, unsent(&c))
		case gctx.Err() != nil || a.stopped() != nil:
			return r.writeAt(order, seq, &c, a.stoppedOutcome(Outcome{}, answer{}, a.why(gctx)))
		}
		select {
		case jobs <- job{seq, c}:
			return nil
		case <-gctx.Done():
			return r.writeAt(order, seq, &c, a.stoppedOutcome(Outcome{}, answer{}, a.why(gctx)))
		}
	})
	close(jobs)
	if gerr := g.Wait(); err == nil {
		err = gerr
	}
	if err != nil {
		return err
	}
	return r.finish(a.abortErr(ctx))
}

// liveReads are the reads before planning: the live cards (a stop here
// reports every record as not attempted) and the account's phone numbers
// (an aid: the run goes on without them). Each is under way in a goroutine
// of its own: against a big account both lists are large, each is decoded
// as it streams in, and on two cores the two reads take the time of the
// longer.
type liveReads struct {
	cards *read[*Cards]
	lines *read[*Lines]
}

// startLiveReads starts both reads. Each ends at once, with the reason, on
// stop (first interrupt, --max-duration) as well as on ctx, and after
// timeout (--snapshot-timeout; 0 = no limit): nothing is written while they
// run, so there is nothing to let finish. Their attempts are told to events.
func startLiveReads(ctx, stop context.Context, client linq.ClientInterface, opts ApplyOptions, timeout time.Duration, events Events) *liveReads {
	if events == nil {
		events = noEvents{}
	}
	opts = opts.withDefaults()
	return &liveReads{
		lines: startRead(ctx, stop, timeout, func(ctx context.Context) (*Lines, error) {
			return FetchLines(ctx, client, opts, events)
		}),
		cards: startRead(ctx, stop, timeout, func(ctx context.Context) (*Cards, error) {
			return FetchSnapshot(ctx, client, opts, events)
		}),
	}
}

// abandon stops both reads and waits for them to end; their results are
// not used, and nothing of them is logged or counted.
func (lr *liveReads) abandon() {
	lr.cards.abandon()
	lr.lines.abandon()
}

// read is one read before planning, under way in a goroutine of its own.
type read[T any] struct {
	cancel func()
	done   chan struct{}
	v      T
	err    error
}

func startRead[T any](ctx, stop context.Context, timeout time.Duration, fetch func(context.Context) (T, error)) *read[T] {
	rctx, cancel := readContext(ctx, stop, timeout)
	rd := &read[T]{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(rd.done)
		rd.v, rd.err = fetch(rctx)
	}()
	return rd
}

// wait waits for the read to end and returns its result.
func (rd *read[T]) wait() (T, error) {
	<-rd.done
	rd.cancel()
	return rd.v, rd.err
}

// abandon stops the read and waits for it to end.
func (rd *read[T]) abandon() {
	rd.cancel()
	<-rd.done
}

// readContext bounds one of the reads before planning (the live cards, the
// account's lines): it ends on ctx, on stop, and after timeout (0 = no
// limit), with the reason as its cause.
func readContext(ctx, stop context.Context, timeout time.Duration) (context.Context, func()) {
	sctx, cancel := context.WithCancelCause(ctx)
	stopAfter := context.AfterFunc(stop, func() { cancel(context.Cause(stop)) })
	cancelT := func() {}
	if timeout > 0 {
		sctx, cancelT = context.WithTimeoutCause(sctx, timeout, fmt.Errorf("--snapshot-timeout %v reached", timeout))
	}
	return sctx, func() {
		cancelT()
		stopAfter()
		cancel(nil)
	}
}

// unplanned reports every record as not attempted when the run stopped
// before the live cards were read: nothing could be planned, so a row's
// action is blank unless the record is invalid in itself. It returns
// runErr, the reason.
func (r *runner) unplanned(runErr error, records func(each func(Change) error) error) error {
	n := 0
	err := records(func(c Change) error {
		n++
		o := Outcome{Result: ResultSkipped, Message: "not attempted: the run stopped before the live cards were read (" + context.Cause(r.stop).Error() + ")"}
		if c.Action == ActionInvalid {
			o.Message = ""
		}
		return r.write(&c, o)
	})
	r.summary.Records = n
	if err != nil {
		return err
	}
	return r.finish(runErr)
}

// rowsPerSlot bounds the rows in progress, per --concurrency request slot.
// With 5% of answers a 429 with Retry-After: 1 at 20 ms a request, about
// three rows per slot are waiting at any time; eight leave room.
const rowsPerSlot = 8

// crew is execute's set of workers: one per request slot, and a spare one
// for each row waiting out a retry without its slot, up to most. A row
// waiting out a Retry-After holds no slot (sender.attempts), and the spare
// worker keeps that slot busy with the rows behind it; when the row is back
// the spare ends after its row. A fixed crew of most workers did the same,
// but with seven workers queued for each slot every answer handed the slot
// to another goroutine, which had to be woken before the next request
// went: about a point of figure 1 at --concurrency 64.
type crew struct {
	g          *errgroup.Group
	base, most int64
	work       func() error
	workers    atomic.Int64 // running
	waiting    atomic.Int64 // rows waiting out a retry without a slot
}

func newCrew(g *errgroup.Group, base, most int) *crew {
	return &crew{g: g, base: int64(base), most: int64(max(base, most))}
}

// start starts the base workers.
func (c *crew) start() {
	c.workers.Add(c.base)
	for range c.base {
		c.g.Go(c.work)
	}
}

// away is told when a row lets go of its request slot for a retry wait
// (+1) and when it is back to take one again (-1). A row going away brings
// in a spare worker, unless most are running.
func (c *crew) away(delta int) {
	if c.waiting.Add(int64(delta)); delta <= 0 {
		return
	}
	for {
		n := c.workers.Load()
		if n >= c.most || n >= c.base+c.waiting.Load() {
			return
		}
		if c.workers.CompareAndSwap(n, n+1) {
			c.g.Go(c.work)
			return
		}
	}
}

// spare reports, after a worker's row, whether it is no longer needed:
// more workers run than slots plus rows away. It then counts itself out.
func (c *crew) spare() bool {
	for {
		n := c.workers.Load()
		if n <= c.base+c.waiting.Load() {
			return false
		}
		if c.workers.CompareAndSwap(n, n-1) {
			return true
		}
	}
}

// unsent is the outcome of a change execute does not send.
func unsent(c *Change) Outcome {
	if c.Action == ActionNoop {
		return Outcome{Result: ResultOK}
	}
	return Outcome{Result: ResultSkipped}
}

// why names the reason no new request may start.
func (a *sender) why(gctx context.Context) error {
	if cause := a.stopped(); cause != nil {
		return cause
	}
	return context.Cause(gctx)
}

// abortErr is the run's error when it stopped early, wrapping ErrAborted.
func (a *sender) abortErr(ctx context.Context) error {
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
func (r *runner) write(c *Change, o Outcome) error {
	return r.writeAt(nil, 0, c, o)
}

// writeAt reports change number seq of execute's second pass: counted and
// told to Events now, in the order the rows finish, so that progress, logs
// and metrics follow the requests as they end (the HTML page sorts its
// rows itself); written to the report in input order, through order.
func (r *runner) writeAt(order *reorder, seq int, c *Change, o Outcome) error {
	row := NewReportRow(c, o)
	r.summary.Count(row, c.Drift)
	r.events.Reported(row)
	var err error
	if order != nil {
		err = order.done(seq, row)
	} else {
		err = r.report.Write(row)
	}
	if err != nil {
		return fmt.Errorf("%w: writing the report: %v", ErrAborted, err)
	}
	return nil
}

// linesOf waits for the lines. The list is an aid, not a gate: when it cannot
// be read the run goes on without the check, and says so once at warn.
// Lines that are not healthy are counted in the summary and listed at
// info. Only an interrupt while reading is an error.
func (r *runner) linesOf(ctx context.Context, rd *read[*Lines]) (*Lines, error) {
	lines, err := rd.wait()
	log := r.log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w: interrupted while reading the account's phone numbers", ErrAborted)
		}
		if r.stop.Err() != nil {
			// The run stops: the first pass reports every record as not
			// attempted, with the reason.
			return nil, nil
		}
		log.Warn("cannot read the account's phone numbers (GET /v3/phone_numbers); going on without checking the export's numbers against them",
			"error", err.Error())
		r.summary.setLinesUnchecked(err.Error())
		return nil, nil
	}
	var unhealthy []Line
	for _, l := range lines.Unhealthy() {
		if r.shard.Has(Desired{Phone: l.Phone}) {
			unhealthy = append(unhealthy, l)
		}
	}
	for _, l := range unhealthy {
		log.Info("line not healthy", "phone_number", l.Phone, "reputation", l.Reputation,
			"health_status", l.Health, "doc_url", l.DocURL)
	}
	r.summary.setLines(lines.Len(), len(unhealthy))
	return lines, nil
}

// setAbsent keeps the cards no record names, for the summary and, with
// reportAbsent, the report.
func (r *runner) setAbsent(cards *Cards) {
	r.absent = cards
	r.summary.setAbsent(cards.Len())
}

// writeAbsent reports the cards no record names, one row each, after every
// record's row. They are not told to Events: they are not records of the
// export, so progress and metrics of the run's rows leave them out.
func (r *runner) writeAbsent() error {
	if !r.reportAbsent {
		return nil
	}
	for c := range r.absent.Sorted() {
		row := ReportRow{
			PhoneNumber:  c.Phone,
			Action:       ActionAbsent,
			Result:       ResultSkipped,
			FirstNameOld: c.FirstName,
			LastNameOld:  c.LastName,
			ImageURLOld:  c.ImageURL,
			ErrorMessage: "a live card that no record of the export names; nothing is changed (the API has no delete)",
		}
		r.summary.Count(row, false)
		if err := r.report.Write(row); err != nil {
			return fmt.Errorf("%w: writing the report: %v", ErrAborted, err)
		}
	}
	return nil
}

// finish reports the absent cards, flushes the report and turns the counts
// into the run's error.
func (r *runner) finish(runErr error) error {
	if err := r.writeAbsent(); err != nil {
		return err
	}
	if err := r.report.Flush(); err != nil {
		return fmt.Errorf("%w: writing the report: %v", ErrAborted, err)
	}
	if runErr != nil {
		return runErr
	}
	if !r.summary.Synced() {
		return ErrIncomplete
	}
	return nil
}
