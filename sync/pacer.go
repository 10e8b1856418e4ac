package sync

import (
	"context"
	"time"
)

// Releasing attempts on time.
//
// A server whose token bucket holds one request (burst 1) refuses any
// request that arrives less than 1/L after the last one it accepted, so the
// limiter's release times, not only its rate, decide what such a server
// takes: a release that is late is time lost, and the next one, released
// on time, comes too soon after it and is a 429. The runtime's timers are
// late by up to a millisecond or more on Linux, because the netpoller
// sleeps in whole milliseconds (epoll_wait's timeout): at 1000 req/s that
// is the whole interval.
//
// So a waiting attempt sleeps on a runtime timer until preciseLead before
// its release, looks at the schedule again (a cut may have moved it), and
// sleeps the rest with nanosleep(2) in its own goroutine. That blocks only
// the thread the goroutine runs on (the runtime hands that thread's P to
// the others while it sleeps), wakes a tenth of a millisecond late rather
// than a millisecond, and costs a thread switch per release. Handing the
// wake to another goroutine instead (one precise sleeper, a channel to the
// workers) is worse: the woken goroutine can sit behind a P that has just
// entered a syscall, milliseconds late at the 99th percentile.
//
// Where there is no nanosleep to call (pacer_other.go), or for the
// benchmark's baseline (timerOnly), the whole wait is on the runtime timer.
// Figure 6j of the benchmark measures both side by side.

// minGap is the shortest gap between two releases at a rate of one per
// interval. The schedule puts tickets interval apart, but a release that
// was late leaves the next one, on time, closer than that to it, and a
// burst-1 server refuses it. So a release also waits for minGap after the
// last one. Not the whole interval: the schedule would then slip by every
// release's lateness and never catch up. A cut sets the rate cutShareOfLimit
// under the measured limit, so minGap is then the limit's own spacing, and
// a late release is caught up 3% of an interval per release. On a burst-1
// server the rate holds within 2% of the limit (creepUp), where minGap would
// come under the limit's spacing: there a release waits the whole interval
// (limiter.minGap).
func minGap(interval time.Duration) time.Duration {
	return time.Duration(cutShareOfLimit * float64(interval))
}

// minGap is the shortest gap after the last release at the current rate.
// On a burst-1 server (single) there is no catching up: the rate holds just
// under the limit, and a release closer than the interval to the last
// would come under the limit's own spacing.
func (l *limiter) minGap() time.Duration {
	if l.single() {
		return l.interval()
	}
	return minGap(l.interval())
}

// preciseLead is how long before its release an attempt stops sleeping on
// the runtime timer: above the timer's usual lateness (p90 about 1 ms on an
// idle machine), far below the limiter's maxPace.
const preciseLead = 2 * time.Millisecond

// pause sleeps up to d, the wait take returned, or until ctx is done. With
// precise set, a wait longer than preciseLead ends preciseLead early, so the
// caller, looking at the schedule again, finds only the last stretch left,
// and that stretch is slept precisely. A precise sleep is not interrupted by
// ctx; it lasts at most preciseLead.
func pause(ctx context.Context, d time.Duration, precise bool) error {
	if precise && d <= preciseLead {
		if err := ctx.Err(); err != nil {
			return err
		}
		preciseSleep(d)
		return nil
	}
	if precise {
		d -= preciseLead
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// FixedPacer is the limiter as apply uses it with --rate when every answer
// is accepted. The benchmark measures its release times (figure 6j).
type FixedPacer struct{ l *limiter }

// NewFixedPacer paces at rate attempts per second. With timerOnly it waits
// on the runtime timer alone, as the limiter did before pacer.go.
func NewFixedPacer(rate float64, timerOnly bool) *FixedPacer {
	l := newLimiter(rate, time.Now)
	l.timerOnly = timerOnly
	return &FixedPacer{l: l}
}

// Wait blocks until the next attempt may go, and returns the time it was
// due (its place in the schedule, or minGap after the last release if that
// was later) and the time it was let go.
func (p *FixedPacer) Wait(ctx context.Context) (due, released time.Time, err error) {
	var t ticket
	released, err = p.l.wait(ctx, &t)
	return t.due, released, err
}

// Done ends the attempt let go at released, as accepted.
func (p *FixedPacer) Done(released time.Time) { p.l.Done(released, attemptAccepted) }
