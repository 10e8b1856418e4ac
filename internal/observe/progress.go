package observe

import (
	"fmt"
	"log/slog"
	"math"
	"strconv"
	stdsync "sync"
	"sync/atomic"
	"time"

	"github.com/bulksync/bulksync/sync"
	"github.com/schollz/progressbar/v3"
)

// barTick is how often the bar is redrawn: often enough to look alive,
// rarely enough to cost nothing.
const barTick = 200 * time.Millisecond

// progress shows how a run advances, on standard error only: a bar when
// standard error is a terminal, otherwise (cron, CI, a pipe) one stats line
// every --stats-interval and nothing else. The engine's events only bump
// atomic counters, so a worker never waits on the terminal; one goroutine
// draws.
type progress struct {
	con      *Console
	prefix   string // "bulksync", or "bulksync shard 1/4"
	apply    bool   // show the limiter's rate: plan sends no request
	bar      bool   // draw a bar rather than stats lines
	interval time.Duration

	// Updated by the events, from any goroutine.
	total   atomic.Int64  // records to report; -1 until Planned
	done    atomic.Int64  // report rows written
	failed  atomic.Int64  // rows whose result is failed
	limiter atomic.Uint64 // math.Float64bits of the limiter's rate; 0 = unlimited

	// Owned by the drawing goroutine (or the test driving draw), except
	// for the bar, which Planned makes.
	pb       atomic.Pointer[progressbar.ProgressBar] // made by Planned in bar mode
	noDesc   atomic.Bool                             // the terminal is too narrow for the description
	lastDone int64
	lastAt   time.Time

	running  bool // start was called; set and read by the run's goroutine only
	stop     chan struct{}
	exited   chan struct{}
	stopOnce stdsync.Once
}

// newProgress prepares the display; start begins drawing. rate is --rate,
// the limiter's rate until the first attempt says otherwise.
func newProgress(con *Console, prefix string, apply, bar bool, interval time.Duration, rate float64, now time.Time) *progress {
	p := &progress{con: con, prefix: prefix, apply: apply, bar: bar, interval: interval,
		lastAt: now, stop: make(chan struct{}), exited: make(chan struct{})}
	p.total.Store(-1)
	p.limiter.Store(math.Float64bits(rate))
	return p
}

func (p *progress) Planned(records, changes int) {
	if p.bar {
		p.newBar(int64(records))
	}
	p.total.Store(int64(records))
}

func (p *progress) Attempted(ev sync.AttemptEvent) { p.limiter.Store(math.Float64bits(ev.Rate)) }

func (p *progress) Reported(r sync.ReportRow) {
	p.done.Add(1)
	if r.Result == sync.ResultFailed {
		p.failed.Add(1)
	}
}

// start draws every barTick (bar) or every interval (stats lines) until
// finish.
func (p *progress) start() {
	every := p.interval
	if p.bar {
		every = barTick
	}
	t := time.NewTicker(every)
	var erased <-chan struct{} // nil, never ready, without a bar
	if p.bar {
		erased = p.con.erased
	}
	p.running = true
	go func() {
		defer close(p.exited)
		defer t.Stop()
		for {
			select {
			case now := <-t.C:
				p.draw(now)
			case <-erased:
				// A log line erased the bar: draw it again below.
				p.draw(time.Now())
			case <-p.stop:
				return
			}
		}
	}()
}

// finish stops drawing and erases the bar, so that what follows (the
// summary) starts on a clean line. It may be called more than once, and
// without start.
func (p *progress) finish() {
	p.stopOnce.Do(func() {
		close(p.stop)
		if p.running {
			<-p.exited
		}
		p.con.clearBar()
	})
}

func (p *progress) draw(now time.Time) {
	if p.bar {
		p.drawBar(now)
		return
	}
	if p.con.JSON() {
		p.statsRecord(now)
		return
	}
	fmt.Fprintln(p.con, p.statsLine(now))
}

// statsRecord is statsLine as a JSON record (msg "stats"), for
// --log-format json.
func (p *progress) statsRecord(now time.Time) {
	// The console adds the command and the shard.
	total := p.total.Load()
	if total < 0 {
		p.con.Record(slog.LevelInfo, "planning: reading the export and the live cards")
		return
	}
	done, rate := p.advance(now)
	attrs := []slog.Attr{slog.Int64("done", done), slog.Int64("total", total),
		slog.Float64("rows_per_second", math.Round(rate*10)/10), slog.Int64("failed", p.failed.Load())}
	if p.apply {
		attrs = append(attrs, slog.Float64("limiter_rate", math.Float64frombits(p.limiter.Load())))
	}
	p.con.Record(slog.LevelInfo, "stats", attrs...)
}

// advance returns the rows done and the rate since the previous call.
func (p *progress) advance(now time.Time) (done int64, rate float64) {
	done = p.done.Load()
	if el := now.Sub(p.lastAt).Seconds(); el > 0 {
		rate = float64(done-p.lastDone) / el
	}
	p.lastDone, p.lastAt = done, now
	return done, rate
}

// statsLine is one line for a log file, such as
//
//	bulksync: 1200/5000 rows (24%), 40.1 rows/s, 3 failed, limiter 180 req/s
//
// the rate being that since the previous line.
func (p *progress) statsLine(now time.Time) string {
	total := p.total.Load()
	if total < 0 {
		return p.prefix + ": planning: reading the export and the live cards"
	}
	done, rate := p.advance(now)
	pct := int64(100)
	if total > 0 {
		pct = 100 * done / total
	}
	line := fmt.Sprintf("%s: %d/%d rows (%d%%), %.1f rows/s, %d failed", p.prefix, done, total, pct, rate, p.failed.Load())
	if p.apply {
		line += ", limiter " + p.limiterText()
	}
	return line
}

func (p *progress) limiterText() string {
	r := math.Float64frombits(p.limiter.Load())
	switch {
	case r <= 0:
		return "unlimited"
	case r >= 10:
		return strconv.FormatFloat(r, 'f', 0, 64) + " req/s"
	default:
		return strconv.FormatFloat(r, 'f', 1, 64) + " req/s"
	}
}

// description is what the bar shows after its counts.
func (p *progress) description() string {
	if !p.apply {
		return ""
	}
	return fmt.Sprintf("%d failed, limiter %s", p.failed.Load(), p.limiterText())
}

func (p *progress) drawBar(now time.Time) {
	total := p.total.Load()
	switch {
	case total < 0:
		barWriter{p.con}.Write([]byte(eraseBar + p.prefix + ": reading the export and the live cards…"))
		return
	case total == 0:
		p.con.clearBar()
		return
	}
	pb := p.pb.Load()
	desc := ""
	if !p.noDesc.Load() {
		desc = p.description()
	}
	pb.Describe(desc)
	// Set renders (counts and rates are shown), which also redraws a bar
	// that a log line erased.
	pb.Set64(p.done.Load())
}

// newBar makes the bar once the number of records is known. It is started
// at once, without drawing, so that its rates count from the plan.
func (p *progress) newBar(total int64) {
	if total <= 0 {
		return
	}
	// The line must fit the terminal: a line that wraps cannot be redrawn
	// in place. Narrower terminals lose the time estimate, then the
	// description. The description may grow by a few characters.
	descLen := len(p.description()) + 6
	predict := true
	width := p.barWidth(total, descLen, predict)
	if width < 10 {
		predict = false
		width = p.barWidth(total, descLen, predict)
	}
	if width < 10 {
		p.noDesc.Store(true)
		width = p.barWidth(total, 0, predict)
	}
	pb := progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(barWriter{p.con}),
		progressbar.OptionSetWidth(min(max(width, 10), 40)),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("rows"),
		progressbar.OptionSetPredictTime(predict),
		progressbar.OptionShowDescriptionAtLineEnd(),
		progressbar.OptionUseANSICodes(true),
	)
	pb.StartWithoutRender()
	p.pb.Store(pb)
}

// barWidth is the bar's width that makes its line fit the terminal:
//
//	" 24% |█████     | (1200/5000, 40 rows/s) [30s:1m35s] 3 failed, limiter 180 req/s"
func (p *progress) barWidth(total int64, descLen int, predict bool) int {
	digits := len(strconv.FormatInt(total, 10))
	fixed := 6 + 2 + (2*digits + 17) + 1 + descLen
	if predict {
		fixed += 15
	}
	return p.con.width() - 1 - fixed
}
