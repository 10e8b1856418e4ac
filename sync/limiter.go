package sync

import (
	"context"
	stdsync "sync"
	"time"

	"golang.org/x/time/rate"
)

// limiter is the one rate limiter every attempt of a run waits on. It starts
// at --rate (or unlimited) and adapts to the server: a 429 cuts the rate to
// a little under the rate the server was accepting, and each quiet second
// after that lets it climb back by a few percent, never above --rate. A run
// thus settles just under the server's limit instead of hammering it.
//
// The cut is measured on accepted answers (anything but a 429), not on
// attempts: a client sending 1600 req/s to a server that takes 200 lands
// near 200 at the first cut, instead of shaving 10% a second for twenty
// seconds.
type limiter struct {
	mu        stdsync.Mutex
	lim       *rate.Limiter
	ceiling   rate.Limit // --rate; rate.Inf when unlimited
	now       func() time.Time
	lastCut   time.Time // last 429 that cut the rate
	lastRaise time.Time
	// A meter of accepted answers in the current and the previous
	// one-second window: the rate the server was taking when a 429 came.
	windowStart time.Time
	windowCount int
	prevRate    float64
	// peak is the best accepted rate of a full window. No cut goes below
	// half of it: 429s that come whatever the rate (a shared upstream
	// limit, a flaky gateway) would otherwise shave 10% a second, without
	// end, until the run crawls. The price: a server that lowers its limit
	// below half its old one mid-run sees more 429s, each waited out.
	peak float64
}

const (
	floorShare     = 0.5  // no cut goes below this share of the peak
	throttleFactor = 0.9  // on a 429, the new rate is this share of the achieved one
	recoverFactor  = 1.03 // each second without a 429 raises the rate this much
	minRate        = 0.5  // req/s: never stall completely
)

func newLimiter(perSecond float64, now func() time.Time) *limiter {
	ceiling := rate.Inf
	if perSecond > 0 {
		ceiling = rate.Limit(perSecond)
	}
	burst := 1
	if ceiling == rate.Inf {
		burst = 0
	}
	t := now()
	return &limiter{lim: rate.NewLimiter(ceiling, burst), ceiling: ceiling, now: now, windowStart: t, lastRaise: t}
}

// Wait blocks until the next attempt may start.
func (l *limiter) Wait(ctx context.Context) error {
	l.mu.Lock()
	l.recover(l.now())
	lim := l.lim
	l.mu.Unlock()
	return lim.Wait(ctx)
}

// Accepted is called for every answer that is not a 429.
func (l *limiter) Accepted() {
	l.mu.Lock()
	l.meter(l.now())
	l.mu.Unlock()
}

func (l *limiter) meter(t time.Time) {
	if el := t.Sub(l.windowStart); el >= time.Second {
		l.prevRate = float64(l.windowCount) / el.Seconds()
		l.peak = max(l.prevRate, l.peak)
		l.windowStart, l.windowCount = t, 0
	}
	l.windowCount++
}

func (l *limiter) recover(t time.Time) {
	cur := l.lim.Limit()
	if cur == l.ceiling || t.Sub(l.lastCut) < time.Second || t.Sub(l.lastRaise) < time.Second {
		return
	}
	// The +1 keeps the climb from a very low rate from taking minutes.
	next := rate.Limit(float64(cur)*recoverFactor + 1)
	if next > l.ceiling {
		next = l.ceiling
	}
	l.lastRaise = t
	l.set(next)
}

// Throttled is called on every 429. Several workers see 429s from the same
// overload, so the rate is cut at most once a second.
func (l *limiter) Throttled() {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.now()
	if t.Sub(l.lastCut) < time.Second {
		return
	}
	achieved := l.prevRate
	if el := t.Sub(l.windowStart).Seconds(); el > 0.2 && float64(l.windowCount)/el > achieved {
		achieved = float64(l.windowCount) / el
	}
	var next float64
	switch cur := l.lim.Limit(); {
	case achieved > 0 && cur != rate.Inf:
		next = min(achieved, float64(cur)) * throttleFactor
	case achieved > 0:
		next = achieved * throttleFactor
	case cur != rate.Inf:
		// Nothing measured yet: no basis for a finer cut than halving.
		next = float64(cur) / 2
	default:
		// Unlimited and nothing measured: the 429's own wait must do.
		return
	}
	l.lastCut, l.lastRaise = t, t
	l.set(rate.Limit(max(next, floorShare*l.peak, minRate)))
}

// set changes the rate; once limited, a burst of one keeps attempts evenly
// spaced, which is what a server's own limiter wants to see.
func (l *limiter) set(r rate.Limit) {
	if r == rate.Inf {
		l.lim.SetBurst(0)
	} else if l.lim.Burst() < 1 {
		l.lim.SetBurst(1)
	}
	l.lim.SetLimit(r)
}

// Rate returns the current limit in requests per second; 0 means unlimited.
func (l *limiter) Rate() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r := l.lim.Limit(); r != rate.Inf {
		return float64(r)
	}
	return 0
}
