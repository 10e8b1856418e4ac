package sync

import (
	"context"
	"math"
	stdsync "sync"
	"time"
)

// limiter is the one rate limiter every attempt of a run waits on. It starts
// at --rate (or unlimited) and learns the server's limit from its 429s, so a
// run settles just under the limit instead of hammering it or crawling.
//
// The design follows the AWS SDKs' adaptive retry mode (a client-side pacer
// whose rate follows CUBIC) with three changes, because a migration of a few
// thousand rows has no minutes to warm up in:
//
//   - The rate is measured from what the server accepted while the client
//     was sending, by send time, in 10 ms slots. Slots in which nothing was
//     sent (every worker waiting out a Retry-After) and slots still waiting
//     for answers do not count, so a cut never comes from a window spent
//     waiting.
//   - A server's token bucket accepts exactly its limit while it is
//     overloaded, so when the window before the 429 was refused throughout,
//     its accepted rate is the limit: one cut lands 3% under it, room for
//     the bucket to refill. A 429 at the end of a window of successes (the
//     rate just crossed the limit) cuts 10%, never below what the window
//     accepted, and aims back just under the rate that failed. A window too short to
//     measure (the server's burst, drained in a few milliseconds) is not
//     trusted: the rate then restarts low and doubles every searchDouble
//     until the next 429 gives a real measurement.
//   - 429s that come whatever the rate (a shared upstream limit, a flaky
//     gateway) are measured too: when a cut does not lower their share,
//     they are taken as background and not cut for, and the rate searches
//     upwards again from where that cut found it (doubling, as before the
//     first 429) until a window refused throughout shows a real limit, so
//     they cannot starve the run.
//
// Before the first 429, with no --rate, the rate starts at startRate and
// doubles every startDouble (a slow start): 32 workers let go at once onto a
// server taking 50 a second were 27 429s before any answer came back. It
// ends unlimited when the rate passes unlimitedRate, about 130 ms in; past
// the first 60 ms or so the workers, not the pacer, bound the rate, so it
// costs about 45 ms of sending at 20 ms a request.
//
// Some 429s only bound the limit. A server with a burst of one, sent
// between one and two times its limit, accepts every other request, so a
// window refused throughout shows as little as half its limit; and what a
// search accepted between two 429s (its bucket empty at both) is a floor.
// The rate that failed, or what the window sent, is a ceiling. While that
// ceiling (hi) lies well above the floor (wmax), the rate bisects the
// bracket in steps: a step that lasts long enough without a 429 raises the
// floor, a 429 in it lowers the ceiling. A step must last long enough to
// drain what the server accepted before its first 429 (about its bucket),
// or a full bucket would pass a rate above the limit as clean.
//
// After a cut the rate climbs back along a cubic curve: quickly towards the
// rate that last failed, flat near it, then gently above it, so a server
// that raised its limit is found again within seconds. A 429 while probing
// above a measured limit, after a clean hold at it, returns under the limit
// at once and doubles the hold before the next probe (1 s up to 8 s): a
// server with a burst refuses nothing until its bucket runs dry, so a late
// cut would cost a cluster of 429s each time. When the rows left would take
// less than endGuard at the measured limit, it no longer probes: a failed
// probe there would keep its row waiting out a Retry-After after all the
// others.
//
// A 429 whose Retry-After is 2 s or more holds every attempt until then
// (closeGate), not only its row: no request would pass before. That is
// what a fixed-window server says when its window is spent (Linq documents
// "30 messages per 60-second window"); letting other rows go meanwhile
// only burnt their attempts, and failed rows. Such a server accepts its
// whole window at once, so its rate is measured over a whole cycle, from
// one gate's end to the next 429 (measureCycle).
//
// Between two 429s the server's bucket was empty at both ends, so what it
// accepted in between is a floor for its limit (floorSince). A 429 while
// holding under a measured limit lowers that limit to this floor: a step
// just above the limit can pass as clean while the bucket drains slowly.
//
// A server with a burst of 1 (single: it accepted no two attempts much
// closer than its limit's spacing, though closer ones went) refuses any
// release less than 1/limit after the last one it accepted. There the rate
// must hold within a few percent of the limit, and which few is decided by
// how evenly releases arrive, not by the bucket. So once the bracket is
// narrow the hold moves in small steps (creepUp): up creepFirst after a
// hold of at least a second without a 429, doubling while they stay clean,
// and down to singleCut of itself (or the level the last rise left) at a
// 429, with no dip, since such a bucket is owed nothing, and a longer hold
// before the next rise. The cubic curve restarted 3% under a measured limit
// after each failed probe, and probes failed near the limit by jitter
// alone, so the hold stayed about 5% under it. The pacer does not catch up
// late releases on such a server either (pacer.go). Its limit also shows in
// the gaps between releases: the shortest gap it accepted and the longest
// it refused lie either side of 1/limit, so once those are known (when the
// search first measures it, or during the bisection that follows, once the
// answers to the search are in) the hold starts singleCut under that
// (gapLimit) rather than bisecting up from what a window refused throughout
// accepted, about half the limit. All this only up to singleMaxRate: above
// it a hold 2% under the limit is closer than releases arrive evenly.
type limiter struct {
	mu      stdsync.Mutex
	now     func() time.Time
	ceiling float64 // --rate; 0 when unlimited
	// timerOnly waits on the runtime timer alone, without the precise
	// last stretch of pacer.go: the benchmark's baseline.
	timerOnly bool

	// The pacer: attempts are spaced 1/rate apart. A waiting attempt holds
	// a slot of one generation; a cut starts a new generation, so attempts
	// queued at the old spacing wait again at the new one.
	rate    float64 // current attempts per second; 0: unlimited
	next    time.Time
	last    time.Time // when the last attempt was let go
	gen     uint64
	genRate float64 // the rate when gen began

	// The curve the rate follows since the last cut.
	phase   phase
	cutAt   time.Time
	cutRate float64 // the rate set by the last cut
	wmax    float64 // cubic: the rate that last failed, or the measured limit
	// hold is how long the rate stays at wmax before probing above it;
	// it grows each time a probe above a measured limit fails.
	hold     time.Duration
	lastCut  time.Time
	lastLook time.Time // when a 429 was last weighed
	// noisy is set when 429s kept coming right after a cut, below the
	// measured limit; checked once per cut.
	noisy, noiseChecked bool
	// cutShare is the share of 429s in the window that made the last cut
	// that measured one: after a cut for a real limit the share falls,
	// and after a cut for background 429s it does not. A cut that
	// measures none (a failed step or probe, a gate) keeps it: weighed
	// against 0, the few 429s of a hold just over a limit measured a
	// little high passed for background ones.
	cutShare float64
	// hi is the lowest rate known to have failed since the limit was
	// last measured, 0 when unknown. While it lies well above wmax the
	// limit is known only to lie between them, and the rate bisects
	// that bracket in steps (stepAt, stepRate) instead of creeping up
	// the cubic curve.
	hi       float64
	stepAt   time.Time
	stepRate float64
	// burst is what the server accepted before its first 429: at most
	// its bucket, plus what the bucket gained meanwhile. A step must
	// last long enough to drain that much, or the bucket could hide a
	// rate above the limit.
	burst float64

	// A 429 asking for a wait of minGate or more closes a gate: no
	// attempt goes before gateUntil (closeGate). gateFrom is when it
	// closed, until the meter has counted the gate as a wait. What the
	// server accepted since the last gate opened (cycleFrom) measures a
	// server that refuses for whole windows (measureCycle).
	gateFrom, gateUntil time.Time
	cycleFrom           time.Time
	cycleOK             int
	// gaps measures the gaps between releases that the server accepted
	// and refused: whether it holds one token (single), and where its
	// limit lies then (gapLimit).
	gaps releaseGaps
	// creep is the next rise of the hold at wmax on such a server after a
	// clean hold (singleHold), clean the level that rise left (the last
	// one known to hold without a 429), and risen the level it reached.
	creep, clean, risen float64
	// pairing is set while the second release of a pair goes at once
	// after the first (pairProbe); paired once that happened.
	pairing, paired bool

	// left, when set, counts the rows not yet finished: near the end of
	// a run the rate no longer probes above the limit (ending).
	left func() int
	// trace, when set, is told of every decision (the model's
	// LIMITER_TRACE).
	trace func(now time.Time, format string, args ...any)

	meter     meter
	born      int64     // the slot the limiter was made in
	busy      int       // attempts waiting in the pacer or in flight
	idleSince time.Time // when busy last fell to 0; zero while busy
}

type phase int

const (
	phaseOpen   phase = iota // no 429 yet: --rate, or unlimited once the slow start ended
	phaseStart               // no 429 yet, no --rate: from startRate, double every startDouble
	phaseSearch              // the limit is unknown: double every searchDouble
	phaseCubic               // the limit was measured: cubic around wmax
)

const (
	slotDur         = 10 * time.Millisecond
	meterSlots      = 256 // 2.56 s of history
	minWindow       = 100 * time.Millisecond
	maxWindow       = time.Second // a cut measures at most this much before the 429
	minAccepted     = 4           // answers a window needs to be trusted
	searchDouble    = 100 * time.Millisecond
	startRate       = 100 // req/s: the slow start's first rate
	startDouble     = 10 * time.Millisecond
	unlimitedRate   = 1e6                    // req/s: far beyond any server, so no limit at all
	cubicK          = 700 * time.Millisecond // back to wmax this long after a cut
	maxHold         = 8 * time.Second        // the longest hold at wmax before probing
	probeAfter      = 300 * time.Millisecond // past the hold, the curve is this long above wmax before a 429 is a failed probe
	cubicC          = 0.015                  // above wmax: +1.5% after 1 s, +12% after 2 s, +40% after 3 s
	minRate         = 0.5                    // req/s: never stall completely
	cutCooldown     = time.Second            // between cuts while the 429 share is small
	maxPace         = 50 * time.Millisecond  // a waiting attempt looks at the schedule again at least this often
	cutShareOfLimit = 0.97                   // a cut goes this far under the measured limit, so the server's bucket refills
	crossedShare    = 0.95                   // after a single 429, return to this share of the rate that failed
	backoffFactor   = 0.9                    // a cut after a single 429 goes this far under the current rate
	backgroundShare = 0.02                   // this share of 429s right after a cut is background noise
	minIdle         = 50 * time.Millisecond  // a shorter gap without any attempt is not a wait
	appWindow       = 100 * time.Millisecond // the rate is capped at three times what was sent in this window
	bracketWide     = 1.06                   // bisect while hi is more than this many times wmax
	stepAfter       = 200 * time.Millisecond // a bisection step begins this long after a cut
	stepLen         = 300 * time.Millisecond // a step must last this long, and stepOK answers, without a 429
	stepOK          = 15
	endGuard        = 3 * time.Second // no probe above wmax when the rows left take less than this at it
	// minGate is the shortest Retry-After that holds every attempt, not
	// only the row that met it. Retry-After is in whole seconds, rounded
	// up: "1" may mean 20 ms, while "2" or more means no request passes
	// for more than a second, at any rate above 1 a second or in a fixed
	// window that will not reset before then.
	minGate        = 2 * time.Second
	singleGap      = 0.5   // accepted attempts never closer than this share of 1/wmax: a burst-1 server
	singleTried    = 0.75  // ... if attempts closer than this share of the closest accepted were sent
	creepFirst     = 0.005 // a burst-1 hold rises this much after its first clean hold, doubling after each
	creepMax       = 0.04
	singleCut      = 0.98                   // a 429 while holding at wmax on a burst-1 server lowers it this much
	gapAgree       = 1.2                    // the longest refused gap and the shortest accepted one within this factor
	singleCooldown = 250 * time.Millisecond // between two 2% cuts of a burst-1 hold
	// singleMaxRate is the highest limit taken for a burst-1 server's:
	// above it 2% of the limit's spacing (0.2 ms at 100/s) is less than
	// how unevenly releases arrive (bench figure 6j: arrival gaps up to
	// 0.4 ms shorter than due at the 99th percentile), so neither the gaps
	// nor a hold 2% under the limit work; the model's 200/s and 1000/s
	// burst-1 cells met more 429s with them.
	singleMaxRate = 100
)

// meter counts attempts by the slot in which they were sent.
type meter struct {
	slots [meterSlots]slotCount
}

type slotCount struct {
	idx                       int64 // which slot this entry holds
	sent, done, ok, throttled int32
	idle                      time.Duration // no attempt was waiting or in flight

}

func slotOf(t time.Time) int64 { return t.UnixNano() / int64(slotDur) }

func (m *meter) at(idx int64) *slotCount {
	s := &m.slots[uint64(idx)%meterSlots]
	if s.idx != idx {
		*s = slotCount{idx: idx}
	}
	return s
}

// peek returns the slot idx, or nil when the ring holds a newer or older one.
func (m *meter) peek(idx int64) *slotCount {
	s := &m.slots[uint64(idx)%meterSlots]
	if s.idx != idx {
		return nil
	}
	return s
}

// addIdle records that no attempt was waiting or in flight from a to b.
func (m *meter) addIdle(a, b time.Time) {
	first, last := slotOf(a), slotOf(b)
	first = max(first, last-meterSlots+1)
	for i := first; i <= last; i++ {
		start := time.Unix(0, i*int64(slotDur))
		from, to := maxTime(a, start), minTime(b, start.Add(slotDur))
		if to.After(from) {
			m.at(i).idle += to.Sub(from)
		}
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// window measures the slots from..to (inclusive): the time the client was
// sending in them (waiting in the pacer or with requests in flight, not
// waiting out a Retry-After) and what was sent and answered. Slots with
// answers still to come are left out of active, ok, thr and sent; okAll and
// activeAll count them, for when no slot is complete yet.
type window struct {
	active, activeAll time.Duration
	sent, ok, thr     int
	okAll, sentAll    int
	pendingAll        int // sent, no answer yet
}

func (m *meter) window(from, to, born int64, idleSince time.Time) window {
	var w window
	if !idleSince.IsZero() && to*int64(slotDur)-idleSince.UnixNano() < int64(minIdle) {
		idleSince = time.Time{} // too short a gap to be a wait, so far
	}
	for i := to; i >= from && to-i < meterSlots; i-- {
		if i < born {
			break
		}
		act := slotDur
		if !idleSince.IsZero() {
			start := time.Unix(0, i*int64(slotDur))
			if !start.Before(idleSince) {
				continue
			}
		}
		s := m.peek(i)
		if s == nil {
			w.active += act
			w.activeAll += act
			continue
		}
		act -= min(s.idle, act)
		w.activeAll += act
		w.okAll += int(s.ok)
		w.sentAll += int(s.sent)
		w.pendingAll += int(s.sent - s.done)
		if s.done < s.sent {
			continue
		}
		w.active += act
		w.sent += int(s.sent)
		w.ok += int(s.ok)
		w.thr += int(s.throttled)
	}
	return w
}

func (w window) reliable() bool { return w.active >= minWindow && w.ok >= minAccepted }

func (w window) rate() float64 {
	if w.active <= 0 {
		return 0
	}
	return float64(w.ok) / w.active.Seconds()
}

// saturated reports whether the window was refused again and again, not
// just at its end: its client sent above the limit throughout. A random 5%
// of 429s can reach 10% in a small window, not with 8 of them.
func (w window) saturated() bool {
	return (w.thr >= 8 && w.share() >= 0.1) || (w.thr >= 3 && w.share() >= 0.3)
}

func (w window) share() float64 {
	if w.sent == 0 {
		return 0
	}
	return float64(w.thr) / float64(w.sent)
}

func newLimiter(perSecond float64, now func() time.Time) *limiter {
	l := &limiter{now: now}
	l.gaps.minSent = math.MaxInt64
	l.idleSince = now() // nothing was sent before the limiter existed
	l.born = slotOf(l.idleSince)
	if perSecond > 0 {
		l.ceiling, l.rate = perSecond, perSecond
	} else {
		// The clock of the slow start begins at the first attempt.
		l.phase, l.rate, l.cutRate = phaseStart, startRate, startRate
	}
	return l
}

// Wait blocks until the next attempt may be sent, and returns the time it
// was let go: the caller hands it back to Done with the attempt's answer.
func (l *limiter) Wait(ctx context.Context) (time.Time, error) {
	var t ticket
	return l.wait(ctx, &t)
}

// wait is Wait with the ticket in the caller's hands (FixedPacer reads the
// time it was planned for). The last stretch of a wait is slept precisely
// (pacer.go).
func (l *limiter) wait(ctx context.Context, t *ticket) (time.Time, error) {
	precise := haveNanosleep && !l.timerOnly
	for {
		now := l.now()
		d := l.take(now, t)
		if d <= 0 {
			return now, nil
		}
		if err := pause(ctx, d, precise); err != nil {
			l.mu.Lock()
			l.end(l.now())
			l.mu.Unlock()
			return time.Time{}, err
		}
	}
}

// ticket is a waiting attempt's place in the pacer's schedule.
type ticket struct {
	at    time.Time
	due   time.Time // at, or later: minGap after the last release (pacer.go)
	gen   uint64
	ok    bool
	begun bool // counted in busy
}

// take returns how long the attempt holding t must wait before it looks
// again; 0 lets it go now, and counts it as sent. It looks again at least
// every maxPace, and every startDouble during the slow start, because its
// place in the schedule was given at the rate of the time: the slow start's
// first tickets are 10 ms apart, and a worker holding the 32nd must not
// sleep 300 ms while the rate doubles under it.
func (l *limiter) take(now time.Time, t *ticket) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !t.begun {
		t.begun = true
		l.begin(now)
	}
	l.follow(now)
	if now.Before(l.gateUntil) {
		t.ok = false                // scheduled afresh from gateUntil
		return l.gateUntil.Sub(now) // nothing shortens a gate
	}
	if !l.gateFrom.IsZero() {
		// The gate was a wait, not a window in which the server accepted
		// nothing.
		l.meter.addIdle(l.gateFrom, l.gateUntil)
		l.gateFrom = time.Time{}
	}
	if l.rate > 0 {
		if !t.ok || t.gen != l.gen {
			at := now
			if l.next.After(at) {
				at = l.next
			}
			l.next = at.Add(l.interval())
			*t = ticket{at: at, gen: l.gen, ok: true, begun: true} // still counted in busy
		}
		t.due = t.at
		if !l.last.IsZero() && !l.pairing {
			t.due = maxTime(t.due, l.last.Add(l.minGap()))
		}
		if d := t.due.Sub(now); d > 0 {
			if l.phase == phaseStart {
				return min(d, startDouble)
			}
			return min(d, maxPace)
		}
	}
	l.gaps.sent(now)
	l.last = now
	l.meter.at(slotOf(now)).sent++
	l.pairing = false
	if l.pairProbe(now) {
		// The next attempt waiting goes at once.
		l.pairing, l.paired = true, true
		l.gen++
		l.next = now
	}
	return 0
}

// pairProbe reports whether the next two releases should go back to back:
// once a run, when the limit is measured low enough for a burst-1 server
// and no two releases went closer than singleTried of the closest accepted
// gap. Until then the gaps cannot tell such a server (single) from one with
// a bucket, which accepts a pair: the first write of a run may be refused
// (the reads of the cards and the lines took the token) and the search that
// follows starts far below the limit and doubles, so no short gap is tried.
// The pair goes only after a second without a 429 since the rate came back
// from the last cut, in which a bucket refills: then it costs one 429 on a
// burst-1 server and nothing on one with a bucket. (Sent while the rate
// was above the limit, a pair meets an empty bucket either way.) Never
// under a --rate (ceiling): it bounds every gap, the pair's too.
func (l *limiter) pairProbe(now time.Time) bool {
	g := &l.gaps
	if l.paired || l.ceiling > 0 || l.phase != phaseCubic || l.wmax <= 0 || l.wmax > singleMaxRate ||
		g.minOK <= 0 || float64(g.minSent) < singleTried*float64(g.minOK) ||
		now.Sub(l.lastCut) < cubicK+time.Second {
		return false
	}
	w := l.meter.window(slotOf(l.lastCut)+1, slotOf(now), l.born, l.idleSince)
	return w.thr == 0 && w.ok >= minAccepted
}

func (l *limiter) interval() time.Duration {
	return time.Duration(float64(time.Second) / l.rate)
}

// begin and end bracket an attempt, from its wait in the pacer to its
// answer, so that the meter knows when the client was not sending at all.
func (l *limiter) begin(now time.Time) {
	// Gaps shorter than minIdle are the client's own work between
	// requests, not waits; they stay in the measured time.
	if l.busy == 0 && !l.idleSince.IsZero() && now.Sub(l.idleSince) >= minIdle {
		l.meter.addIdle(l.idleSince, now)
	}
	if l.phase == phaseStart && l.cutAt.IsZero() {
		l.cutAt = now
	}
	l.busy++
	l.idleSince = time.Time{}
}

func (l *limiter) end(now time.Time) {
	if l.busy--; l.busy == 0 {
		l.idleSince = now
	}
}

// Outcome of one attempt, for Done.
type attemptResult int

const (
	attemptAccepted  attemptResult = iota // any answer but a 429
	attemptThrottled                      // 429 / 1007
	attemptLost                           // no answer
)

// Done records the answer of the attempt Wait let go at sent. A 429 with
// the server's wait goes to Throttled instead.
func (l *limiter) Done(sent time.Time, res attemptResult) {
	if res == attemptThrottled {
		l.Throttled(sent, 0)
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.record(l.now(), sent, res)
}

// Throttled records a 429 for the attempt Wait let go at sent, with the
// wait the server asked for (Retry-After), 0 when it gave none.
func (l *limiter) Throttled(sent time.Time, retryAfter time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.record(now, sent, attemptThrottled)
	if retryAfter < minGate {
		l.throttled(now, sent)
		return
	}
	if !l.measureCycle(now, sent, retryAfter) {
		l.throttled(now, sent)
	}
	l.closeGate(now, now.Add(retryAfter))
}

func (l *limiter) record(now, sent time.Time, res attemptResult) {
	l.end(now)
	l.gaps.answered(sent, res)
	if s := l.meter.peek(slotOf(sent)); s != nil {
		s.done++
		switch res {
		case attemptAccepted:
			s.ok++
		case attemptThrottled:
			s.throttled++
		}
	}
	if res == attemptAccepted && !l.cycleFrom.IsZero() && !sent.Before(l.cycleFrom) {
		l.cycleOK++
	}
}

// closeGate lets no attempt go before until: the server said that none
// would pass before then. The attempts waiting are scheduled again from
// until at the rate of the time, not all let go at once.
func (l *limiter) closeGate(now, until time.Time) {
	if !until.After(l.gateUntil) {
		return
	}
	if !now.Before(l.gateUntil) {
		l.gateFrom = now // a new gate, not a longer one
	}
	l.gateUntil = until
	l.cycleFrom, l.cycleOK = until, 0
	l.gen++
	l.genRate = l.rate
	l.next = until
}

// measureCycle is the limit of a server that asks for long waits: what it
// accepted from the end of the last gate to when it says the next request
// will pass. A fixed-window server (Linq documents "30 messages per 60-second
// window") accepts its whole window at once and refuses the rest until the
// window ends, so no short window measures it: the accepted rate is huge at
// the start of a window and nothing after. Over a whole cycle it is the
// window's count over its length (plus up to the second Retry-After rounds
// up). It reports whether it set the rate; only the first 429 after a gate
// measures.
func (l *limiter) measureCycle(now, sent time.Time, retryAfter time.Duration) bool {
	if l.cycleFrom.IsZero() || sent.Before(l.cycleFrom) || l.cycleOK < minAccepted {
		return false
	}
	limit := float64(l.cycleOK) / now.Add(retryAfter).Sub(l.cycleFrom).Seconds()
	next := max(cutShareOfLimit*limit, minRate)
	if l.ceiling > 0 {
		next = min(next, l.ceiling)
	}
	l.phase, l.wmax, l.hi = phaseCubic, limit, 0
	l.stepRate, l.stepAt = 0, time.Time{}
	l.noisy = false
	l.cut(now, next)
	l.lastLook = now
	return true
}

// throttled decides whether a 429 for an attempt sent at sent cuts the
// rate, and to what.
func (l *limiter) throttled(now, sent time.Time) {
	if l.trace != nil {
		l.trace(now, "429 sent %v ago: phase %d rate %.2f wmax %.2f hi %.2f step %.2f", now.Sub(sent), l.phase, l.rate, l.wmax, l.hi, l.stepRate)
		defer func() {
			l.trace(now, "  now phase %d rate %.2f wmax %.2f hi %.2f hold %v", l.phase, l.rate, l.wmax, l.hi, l.hold)
		}()
	}
	first := l.phase == phaseOpen || l.phase == phaseStart // no 429 yet
	if !first {
		if sent.Before(l.lastCut) {
			return // sent before the last cut, which already answered it
		}
		if l.singleHold(now) {
			// A 429 while holding at wmax on a burst-1 server: some
			// release came too close to the last accepted one. Nothing
			// is owed to its bucket, so there is no dip: hold a little
			// lower, and longer before rising again. At most once per
			// singleCooldown: 429s that come whatever the rate must
			// not walk the hold down 2% at each.
			if now.Sub(l.lastCut) < singleCooldown {
				return
			}
			l.follow(now)
			l.hi = l.wmax
			if l.clean > 0 && l.wmax == l.risen {
				// A rise that failed at once returns to the level it
				// left. Only while wmax is still what the rise made
				// it: a measured limit set since (the gaps, a new cut)
				// must not fall back to a level left long ago.
				l.wmax = min(singleCut*l.wmax, l.clean)
			} else {
				l.wmax = singleCut * l.wmax
			}
			l.hold = min(max(2*l.hold, 2*time.Second), maxHold)
			l.creep = creepFirst
			l.cut(now, l.wmax)
			l.cutAt = now.Add(-cubicK) // held at wmax already: no climb back
			return
		}
		if l.phase == phaseCubic && l.stepRate > 0 && !sent.Before(l.stepAt) {
			// A bisection step failed: the limit lies under its rate.
			// Return to what was last clean and bisect again.
			l.hi = l.stepRate
			l.stepRate, l.stepAt = 0, time.Time{}
			if l.hi <= bracketWide*l.wmax {
				// The last step: it failed just above the limit, as a
				// probe would, so the first probe waits as after one.
				l.hold = max(l.hold, time.Second)
			}
			l.cut(now, cutShareOfLimit*l.wmax)
			return
		}
		if l.phase == phaseCubic && l.probing(sent) && l.cleanHold() {
			// A probe above the measured limit failed: the limit did not
			// rise. Return under it at once, before the probe costs a
			// cluster of 429s, and probe less often from now on.
			// What the probe had accepted until now raises the limit:
			// a burst-1 server accepts less than its limit in a window
			// refused throughout, so a measured limit may be low.
			l.follow(now)
			l.hold = min(max(2*l.hold, time.Second), maxHold)
			probe := l.meter.window(slotOf(l.cutAt.Add(cubicK)), slotOf(sent), l.born, l.idleSince)
			if probe.reliable() {
				l.wmax = max(l.wmax, cutShareOfLimit*probe.rate())
			}
			if l.hi == 0 || l.rate < l.hi {
				l.hi = l.rate
			}
			l.cut(now, cutShareOfLimit*l.wmax)
			return
		}
		since := l.meter.window(max(slotOf(l.lastCut), slotOf(now.Add(-maxWindow))), slotOf(now), l.born, l.idleSince)
		share := since.share()
		if now.Sub(l.lastLook) < cutCooldown && !since.saturated() {
			return
		}
		if !since.reliable() && (share < 0.5 || since.thr < 3) {
			return // too soon after the last cut to measure anything
		}
		l.lastLook = now
	}
	l.follow(now)
	cur := l.rate

	// The window before the 429: from the last cut, up to maxWindow back;
	// while searching, only the last step or so, at the rate that failed.
	back := maxWindow
	if l.phase == phaseSearch {
		back = 3 * searchDouble / 2
	}
	from := slotOf(sent.Add(-back))
	if !first {
		from = max(from, slotOf(l.lastCut))
	}
	w := l.meter.window(from, slotOf(sent), l.born, l.idleSince)
	if first {
		l.burst = float64(w.okAll + w.pendingAll)
	}

	var next float64
	switch {
	case w.reliable():
		accepted := w.rate()
		if cur > 0 && accepted >= cur {
			return // accepting all we send: this 429 is not about the rate
		}
		switch {
		case l.noisy && !w.saturated() && (l.phase == phaseSearch || cur == 0):
			// Background 429s while searching upwards again (below):
			// only a window refused throughout is about the rate.
			return
		case cur == 0 || w.saturated():
			// Refused again and again through the window: the server was
			// full all along, and what it accepted is its limit.
			if !first {
				// The slot of the last cut holds attempts sent before
				// it, at the rate that failed, accepted by the bucket
				// that made that rate fail: not the limit.
				if after := l.meter.window(max(from, slotOf(l.lastCut)+1), slotOf(sent), l.born, l.idleSince); after.reliable() {
					accepted = min(accepted, after.rate())
				}
			}
			l.wmax, next = accepted, cutShareOfLimit*accepted
			l.noisy = false
			// It accepted its limit, or, with a burst of one, as little
			// as half of it: the limit lies between what was accepted
			// and what was sent.
			l.hi = float64(w.sent) / w.active.Seconds()
		case l.phase == phaseStart:
			// The slow start's first 429. The bucket of a server with a
			// burst hides its limit until it runs dry, so the step
			// before had no 429 whatever the limit: search again from
			// under what was accepted, which the burst inflates.
			next = min(accepted, cur/2)
		case l.phase == phaseCubic && l.background(now):
			// 429s came even right after the last cut, below the rate
			// the server had just accepted: they come whatever the rate
			// (a shared upstream limit, a flaky gateway). Cutting for them
			// would walk the rate down, cut after cut, until the run
			// starves. The cut bought nothing, so what it measured was no
			// limit either: search upwards again from here, as before the
			// first 429, until a window refused throughout shows a real
			// one.
			if l.phase == phaseCubic {
				l.phase, l.cutAt, l.cutRate = phaseSearch, now, max(cur, l.wmax)
				l.setRate(l.cutRate, now, false)
			}
			return
		default:
			// A few 429s at the end of a window of successes: the rate
			// just crossed the limit, which lies between what was accepted
			// and the current rate. Back off a step, never below what was
			// accepted, and return towards just under the rate that failed.
			// What was accepted includes what the server's bucket held
			// when the window began, so it is trusted only to within
			// the margin a measured limit gets.
			l.wmax = crossedShare * cur
			if l.hi == 0 || cur < l.hi {
				l.hi = cur // what just failed bounds the limit from above
			}
			next = max(cutShareOfLimit*accepted, backoffFactor*cur)
			switch l.phase {
			case phaseSearch:
				next = max(accepted, cur/2) // the previous step had no 429
				// The 429 that began the search and this one bracket
				// what the server accepted in between: a floor. The
				// rate that failed is a ceiling. Bisect between.
				if lo, ok := l.floorSince(l.cutAt, sent); ok && lo < l.wmax {
					l.wmax, l.hi = lo, cur
					next = cutShareOfLimit * l.wmax
				}
			case phaseCubic:
				// The same floor since the last cut: the limit may lie
				// under wmax. A bisection step just above the limit
				// passes as clean while the server's bucket drains
				// slowly, and leaves a wmax above the limit; the hold
				// under it then met a 429 each time the bucket ran dry.
				if lo, ok := l.floorSince(l.lastCut, sent); ok && lo < l.wmax {
					l.wmax = lo
					next = min(next, cutShareOfLimit*lo)
				}
			}
		}
		if l.phase == phaseSearch {
			if lim, ok := l.gapLimit(); ok && singleCut*lim > l.wmax && (l.hi == 0 || lim < l.hi) {
				// A burst-1 server: the gaps it took and refused
				// put its limit closer than any window can.
				l.wmax, l.hi = singleCut*lim, lim
				next = cutShareOfLimit * l.wmax
			}
		}
		if l.phase == phaseStart {
			l.phase = phaseSearch
		} else {
			l.phase = phaseCubic
		}
	default:
		// A window too short to measure, such as the server's burst
		// drained in milliseconds: restart at what was accepted spread
		// over minWindow, and search upwards from there.
		// After an earlier cut, only a flood of 429s gets here: halve,
		// and return towards just under the rate that failed.
		// Answers still to come count as accepted: with a slow server the
		// 429s come back first.
		next = float64(max(w.okAll+w.pendingAll, 1)) / max(w.activeAll, minWindow).Seconds()
		switch {
		case l.phase == phaseStart:
			// As above: the step before the first 429 proves nothing, and
			// what was accepted, a burst perhaps, is spread over a
			// further minWindow. Answers still to come are not counted:
			// sent in the last milliseconds, at the highest rates, most
			// of them will be 429s.
			l.phase = phaseSearch
			next = float64(max(w.okAll, 1)) / (w.activeAll + minWindow).Seconds()
			if cur > 0 {
				next = min(next, cur/2)
			}
			cur = 0
		case l.phase == phaseOpen:
			l.phase = phaseSearch
		case l.phase == phaseSearch:
			l.wmax, l.phase = cutShareOfLimit*cur, phaseCubic
		case l.phase == phaseCubic:
			l.wmax = min(l.wmax, cutShareOfLimit*cur)
		}
		if cur > 0 {
			next = max(next, cur/2)
		}
	}
	next = max(next, minRate)
	if l.ceiling > 0 {
		next = min(next, l.ceiling)
	}
	l.stepRate, l.stepAt = 0, time.Time{}
	l.cut(now, next)
	l.cutShare = w.share()
	if l.trace != nil {
		l.trace(now, "cut: window thr %d sent %d ok %d active %v share %.3f saturated %v", w.thr, w.sent, w.ok, w.active, w.share(), w.saturated())
	}
}

// cut sets the rate to next at once, rescheduling the attempts already
// waiting, and starts the curve back from there (follow); the 429s after it
// are weighed afresh (background).
func (l *limiter) cut(now time.Time, next float64) {
	l.cutAt, l.lastCut, l.cutRate = now, now, next
	l.noiseChecked = false
	l.setRate(next, now, true)
}

// floorSince is what the server accepted per second from the slot after
// from's to sent's, when that window is reliable. With a 429 at both ends
// the server's bucket was empty at both, so this is at most its limit (less
// only where the bucket overflowed): a floor. Less one answer: the bucket
// may have held most of a token at the first.
func (l *limiter) floorSince(from, sent time.Time) (float64, bool) {
	w := l.meter.window(slotOf(from)+1, slotOf(sent), l.born, l.idleSince)
	if !w.reliable() {
		return 0, false
	}
	return float64(w.ok-1) / w.active.Seconds(), true
}

// ending reports whether the rows left would take less than endGuard at
// wmax. Probing above wmax then gains little, and a failed probe makes its
// row wait out a Retry-After at the very end, which lengthens the whole
// run by that wait: 6% of a 15 s run at Retry-After: 1.
func (l *limiter) ending() bool {
	return l.left != nil && float64(l.left()) < endGuard.Seconds()*l.wmax
}

// probing reports whether an attempt sent at sent went while the cubic
// curve was above wmax, probing for a higher limit.
func (l *limiter) probing(sent time.Time) bool {
	return sent.After(l.cutAt.Add(cubicK + l.hold + probeAfter))
}

// cleanHold reports whether the server accepted every attempt between the
// return to wmax and the probe above it: then a 429 is about the probe,
// not background noise.
func (l *limiter) cleanHold() bool {
	if l.noisy {
		return false
	}
	// From the slot after the cut: the cut's own 429 may share its slot.
	w := l.meter.window(slotOf(l.cutAt)+1, slotOf(l.cutAt.Add(cubicK+l.hold+probeAfter)), l.born, l.idleSince)
	return w.thr == 0 && w.ok >= minAccepted
}

// background reports whether the 429s are background noise: whether the
// window after the last cut, while the rate was still climbing back, already
// had a share of them. After a right cut a rate-limited server answers none.
func (l *limiter) background(now time.Time) bool {
	if !l.noiseChecked {
		end := l.lastCut.Add(cubicK * 4 / 5)
		if now.Before(end) {
			return false
		}
		w := l.meter.window(slotOf(l.lastCut), slotOf(end), l.born, l.idleSince)
		share := w.share()
		l.noisy = l.noisy || (w.thr >= 2 && share >= backgroundShare && share >= l.cutShare/2)
		if l.trace != nil {
			l.trace(now, "background check: thr %d sent %d share %.3f cutShare %.3f -> noisy %v", w.thr, w.sent, share, l.cutShare, l.noisy)
		}
		l.noiseChecked = true
	}
	return l.noisy
}

// step runs the bisection of the bracket wmax..hi: a step at the middle of
// it that lasts stepLen and stepOK answers without a 429 raises wmax to
// its rate (a 429 in a step lowers hi: see throttled). Once the bracket
// is narrow the cubic curve takes over from wmax.
func (l *limiter) step(now time.Time) float64 {
	need := stepLen
	if l.stepRate > l.wmax {
		need = max(need, time.Duration(2*l.burst/(l.stepRate-l.wmax)*float64(time.Second)))
	}
	if l.stepRate > 0 && now.Sub(l.stepAt) >= need {
		w := l.meter.window(slotOf(l.stepAt)+1, slotOf(now), l.born, l.idleSince)
		if w.thr == 0 && w.ok >= stepOK {
			if l.trace != nil {
				l.trace(now, "step at %.2f clean, hi %.2f", l.stepRate, l.hi)
			}
			l.wmax, l.stepRate = l.stepRate, 0
			if l.hi <= bracketWide*l.wmax {
				// Narrow: hold at wmax from now, as after a return.
				l.cutAt, l.cutRate = now.Add(-cubicK), l.wmax
				return l.wmax
			}
		}
	}
	if l.stepRate == 0 {
		l.stepAt, l.stepRate = now, (l.wmax+l.hi)/2
	}
	return l.stepRate
}

// single reports whether the server looks like it holds one token (burst
// 1): it accepted no two attempts much closer than the measured limit's
// spacing, though closer ones were let go. Such a server refuses a release
// that comes less than 1/limit after the last one it accepted, however few
// came before. A client that never sent closer does not know.
func (l *limiter) single() bool {
	g := &l.gaps
	return l.wmax > 0 && l.wmax <= singleMaxRate && g.minOK > 0 && g.minOK.Seconds()*l.wmax >= singleGap &&
		float64(g.minSent) < singleTried*float64(g.minOK)
}

// gapLimit is the limit a burst-1 server shows by the gaps between the
// releases it took and refused: it accepts none closer than 1/limit to the
// last one it accepted, and refuses any. So the shortest gap it accepted
// and the longest it refused lie either side of 1/limit, up to how unevenly
// requests arrive; the lower of the two rates is taken. ok is false unless
// those two gaps lie within gapAgree of each other (a server with a burst
// accepts gaps far shorter than some it refuses; while the answers to the
// releases near the limit are still to come, the longest refused gap known
// is far shorter; where arrivals are uneven against the limit's spacing the
// gaps say little) and shorter gaps were tried.
func (l *limiter) gapLimit() (float64, bool) {
	g := &l.gaps
	if g.minOK <= 0 || g.maxRef <= 0 || float64(g.maxRef) > gapAgree*float64(g.minOK) ||
		gapAgree*float64(g.maxRef) < float64(g.minOK) || float64(g.minSent) >= singleTried*float64(g.minOK) {
		return 0, false
	}
	lim := 1 / max(g.minOK, g.maxRef).Seconds()
	return lim, lim <= singleMaxRate
}

// singleHold reports whether the rate holds at a measured limit on a
// burst-1 server: the bracket is narrow and the climb back is over.
func (l *limiter) singleHold(now time.Time) bool {
	return l.phase == phaseCubic && l.stepRate == 0 && l.hi <= bracketWide*l.wmax &&
		!l.cutAt.IsZero() && now.Sub(l.cutAt) >= cubicK && l.single()
}

// creepUp raises the hold at wmax on a burst-1 server by creep after each
// clean hold, doubling creep each time, so the hold converges on the
// highest rate the server takes without 429s instead of restarting the
// cubic curve 3% under it after every one.
func (l *limiter) creepUp(now time.Time) float64 {
	held := l.cutAt.Add(cubicK)
	if now.Sub(held) < max(l.hold, time.Second) || l.ending() {
		return l.wmax
	}
	w := l.meter.window(slotOf(held)+1, slotOf(now), l.born, l.idleSince)
	if w.thr == 0 && w.ok >= minAccepted {
		if l.creep == 0 {
			l.creep = creepFirst
		}
		l.clean = l.wmax
		l.wmax *= 1 + l.creep
		l.risen = l.wmax
		l.creep = min(2*l.creep, creepMax)
		if l.trace != nil {
			l.trace(now, "clean hold: wmax %.2f", l.wmax)
		}
	}
	l.cutAt = now.Add(-cubicK)
	return l.wmax
}

// follow moves the rate along the curve of the current phase.
func (l *limiter) follow(now time.Time) {
	var r float64
	t := now.Sub(l.cutAt).Seconds()
	switch l.phase {
	case phaseOpen:
		return
	case phaseStart:
		l.start(now, t)
		return
	case phaseSearch:
		r = l.cutRate * math.Exp2(t/searchDouble.Seconds())
	case phaseCubic:
		k := cubicK.Seconds()
		if l.hi > bracketWide*l.wmax {
			// Bisecting: a burst-1 server's gaps may have put its
			// limit closer since, once the answers came in.
			if lim, ok := l.gapLimit(); ok && singleCut*lim > l.wmax && lim < l.hi {
				if l.trace != nil {
					l.trace(now, "gaps put the limit at %.2f", lim)
				}
				l.wmax, l.hi, l.stepRate = singleCut*lim, lim, 0
				l.cutAt, l.cutRate = now.Add(-cubicK), l.wmax
			}
		}
		bisect := l.hi > bracketWide*l.wmax && now.Sub(l.cutAt) >= stepAfter
		if bisect && l.ending() {
			// A step above wmax is a probe too: near the end its 429
			// would outlast the run (ending). Hold at wmax instead.
			l.stepRate, l.stepAt, bisect = 0, time.Time{}, false
		}
		if bisect {
			r = l.step(now)
		} else if l.singleHold(now) {
			r = l.creepUp(now)
		} else if t < k {
			x := 1 - t/k
			r = l.wmax - (l.wmax-l.cutRate)*x*x*x
		} else {
			x := max(0, t-k-l.hold.Seconds())
			if l.ending() {
				x = 0 // hold at wmax to the end
			}
			r = l.wmax * (1 + cubicC*x*x*x)
		}
	}
	// No higher than twice what was sent lately: while every worker waits
	// out a Retry-After, the curve must not run away unused.
	span := appWindow
	if l.rate > 0 {
		span = max(span, time.Duration(3*float64(time.Second)/l.rate))
	}
	used := l.meter.window(slotOf(now.Add(-span)), slotOf(now), l.born, l.idleSince)
	r = min(r, max(l.cutRate, l.wmaxIf(), 3*float64(used.sentAll)/span.Seconds()))
	if l.ceiling > 0 {
		r = min(r, l.ceiling)
	}
	if r > unlimitedRate {
		r = 0 // unlimited again
	}
	l.setRate(r, now, false)
}

// start follows the slow start: the rate doubles every startDouble from
// startRate, so that the first wave of --concurrency workers cannot flood a
// low limit (at 50 req/s with a burst of 5, 32 requests sent at once are
// 27 429s), until the first 429, or until it passes unlimitedRate: then it
// is unlimited.
//
// It used to end as soon as what was sent fell under a quarter of the
// rate, as if the workers and not the pacer bound it. On a busy machine
// that is also what a few late answers look like: it ended while most
// workers were still waiting in the pacer, and they all went at once, onto
// a server whose bucket had just run dry: 20 429s within a millisecond,
// two thirds of the budget of a 4,000-row run at 200 req/s. Paced to the
// end, those workers go one interval apart, and the first 429 to come back
// stops the rest.
func (l *limiter) start(now time.Time, t float64) {
	if l.cutAt.IsZero() {
		return // no attempt yet
	}
	r := l.cutRate * math.Exp2(t/startDouble.Seconds())
	if r > unlimitedRate {
		l.phase, r = phaseOpen, 0
	}
	l.setRate(r, now, false)
}

// setRate changes the pacer's rate. A cut, or a rise of more than 10%,
// reschedules the attempts already waiting.
func (l *limiter) setRate(r float64, now time.Time, cut bool) {
	l.rate = r
	if cut || l.genRate == 0 || r == 0 || r > 1.1*l.genRate {
		l.gen++
		l.genRate = r
		l.next = now
		if r > 0 && !l.last.IsZero() {
			if t := l.last.Add(l.interval()); t.After(now) {
				l.next = t
			}
		}
	}
}

// wmaxIf is wmax while following the cubic curve, else 0.
func (l *limiter) wmaxIf() float64 {
	if l.phase == phaseCubic {
		return l.wmax
	}
	return 0
}

// Rate returns the current limit in requests per second; 0 means unlimited.
func (l *limiter) Rate() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rate
}

// releaseGaps follows the releases in the order they went, with their
// answers, which come back in another order (a 429 before the latency an
// accepted answer has): the gap from each accepted release to the one
// before it, and from each refused release to the last accepted before it,
// are known once every release before it has its answer.
type releaseGaps struct {
	ring    [gapRing]gapRelease
	n, done uint64 // releases logged, and those weighed (all answered)
	lastOK  time.Time
	// minOK is the shortest gap between two accepted releases, maxRef
	// the longest from an accepted release to a refused one after it
	// (0: none yet), minSent the shortest between two releases.
	minOK, maxRef, minSent time.Duration
}

type gapRelease struct {
	at  time.Time
	res int8 // 0 until answered, else 1 + attemptResult
}

const gapRing = 256 // releases followed; more in flight than this give up the oldest

func (g *releaseGaps) sent(at time.Time) {
	if g.n > 0 {
		g.minSent = min(g.minSent, at.Sub(g.ring[(g.n-1)%gapRing].at))
	}
	if g.n-g.done == gapRing {
		// The oldest release still has no answer: give it up, and
		// with it what came before.
		g.done++
		g.lastOK = time.Time{}
		g.weigh()
	}
	g.ring[g.n%gapRing] = gapRelease{at: at}
	g.n++
}

func (g *releaseGaps) answered(at time.Time, res attemptResult) {
	for i := g.n; i > g.done; i-- {
		if e := &g.ring[(i-1)%gapRing]; e.res == 0 && e.at.Equal(at) {
			e.res = 1 + int8(res)
			g.weigh()
			return
		}
	}
}

// weigh takes the releases whose answers, and all before them, are in.
func (g *releaseGaps) weigh() {
	for ; g.done < g.n; g.done++ {
		e := g.ring[g.done%gapRing]
		switch e.res {
		case 0:
			return
		case 1 + int8(attemptAccepted):
			if !g.lastOK.IsZero() {
				if gap := e.at.Sub(g.lastOK); g.minOK == 0 || gap < g.minOK {
					g.minOK = gap
				}
			}
			g.lastOK = e.at
		case 1 + int8(attemptThrottled):
			if !g.lastOK.IsZero() {
				g.maxRef = max(g.maxRef, e.at.Sub(g.lastOK))
			}
		default:
			g.lastOK = time.Time{} // no answer: accepted or not, unknown
		}
	}
}
