package sync

import (
	"context"
	"errors"
	"slices"
	stdsync "sync"
	"testing"
	"time"
)

// Releases are never early, and are due at least minGap apart whatever the
// sleep: the precise last stretch only ends a wait, it never shortens one.
func TestFixedPacerSchedule(t *testing.T) {
	for _, timerOnly := range []bool{false, true} {
		const rate, n, workers = 2000, 60, 8
		p := NewFixedPacer(rate, timerOnly)
		var mu stdsync.Mutex
		var due []time.Time
		var wg stdsync.WaitGroup
		jobs := make(chan struct{}, n)
		for range n {
			jobs <- struct{}{}
		}
		close(jobs)
		for range workers {
			wg.Go(func() {
				for range jobs {
					at, released, err := p.Wait(context.Background())
					if err != nil {
						t.Error(err)
						return
					}
					if released.Before(at) {
						t.Errorf("timerOnly %v: released %v before it was due", timerOnly, at.Sub(released))
					}
					mu.Lock()
					due = append(due, at)
					mu.Unlock()
					p.Done(released)
				}
			})
		}
		wg.Wait()
		if len(due) != n {
			t.Fatalf("timerOnly %v: %d releases, want %d", timerOnly, len(due), n)
		}
		// No two releases were due closer than minGap.
		slices.SortFunc(due, time.Time.Compare)
		for i := 1; i < n; i++ {
			if gap := due[i].Sub(due[i-1]); gap < minGap(time.Second/rate) {
				t.Fatalf("timerOnly %v: releases %d and %d due %v apart, want ≥ %v", timerOnly, i-1, i, gap, minGap(time.Second/rate))
			}
		}
		if p.l.busy != 0 {
			t.Errorf("timerOnly %v: busy = %d after every attempt ended", timerOnly, p.l.busy)
		}
	}
}

// A wait ends with its context, in the runtime-timer part and in the
// precise part alike.
func TestPauseCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, d := range []time.Duration{time.Hour, preciseLead / 2} {
		for _, precise := range []bool{false, true} {
			if err := pause(ctx, d, precise); !errors.Is(err, context.Canceled) {
				t.Errorf("pause(%v, precise %v) with a cancelled context = %v, want context.Canceled", d, precise, err)
			}
		}
	}
}

// A worker waiting its turn at a slow rate gives up when its context is
// cancelled, long before its turn.
func TestLimiterWaitCancelWhileWaiting(t *testing.T) {
	l := newLimiter(0.01, time.Now) // 100 s between attempts
	if _, err := l.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error)
	go func() {
		_, err := l.Wait(ctx)
		errc <- err
	}()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait = %v, want context.Canceled", err)
	}
	l.Done(time.Now(), attemptAccepted)
	if l.busy != 0 {
		t.Errorf("busy = %d after every attempt ended", l.busy)
	}
}

// A late release pushes the next one back to minGap after it, so that no
// two releases are closer than the limit's spacing; the schedule itself
// does not move, so the next ones catch up.
func TestLimiterLateReleaseKeepsGap(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_000_000, 0)}
	l := newLimiter(50, clock.now) // tickets 20 ms apart
	var a, b, c ticket
	if d := l.take(clock.now(), &a); d != 0 {
		t.Fatalf("first attempt waits %v", d)
	}
	if d := l.take(clock.now(), &b); d != 20*time.Millisecond {
		t.Fatalf("second attempt waits %v, want 20ms", d)
	}
	if d := l.take(clock.now(), &c); d != 40*time.Millisecond {
		t.Fatalf("third attempt waits %v, want 40ms", d)
	}
	clock.advance(25 * time.Millisecond) // the second is let go 5 ms late
	if d := l.take(clock.now(), &b); d != 0 {
		t.Fatalf("second attempt, late, waits %v more", d)
	}
	clock.advance(15 * time.Millisecond) // the third's planned time
	want := minGap(20*time.Millisecond) - 15*time.Millisecond
	if d := l.take(clock.now(), &c); d != want {
		t.Fatalf("third attempt, on time 15 ms after a late one, waits %v, want %v", d, want)
	}
	clock.advance(want)
	if d := l.take(clock.now(), &c); d != 0 {
		t.Fatalf("third attempt, minGap after the second, waits %v more", d)
	}
}

// A server holding one token (burst 1) refuses a request that comes less
// than 1/limit after the last one it accepted, so once it shows as such
// (no two accepted attempts much closer than the measured limit's spacing)
// a late release is not caught up: the next waits a whole interval after
// it.
func TestLimiterBurstOneNoCatchUp(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_000_000, 0)}
	l := newLimiter(50, clock.now) // tickets 20 ms apart
	for range 2 {
		var tk ticket
		if d := l.take(clock.now(), &tk); d != 0 {
			t.Fatalf("attempt waits %v", d)
		}
		l.Done(clock.now(), attemptAccepted)
		clock.advance(20 * time.Millisecond)
	}
	// As measured: attempts were let go 5 ms apart (a search above the
	// limit), and the server accepted none closer than 20 ms.
	l.wmax, l.gaps.minSent = 50, 5*time.Millisecond
	if !l.single() {
		t.Fatalf("accepted attempts 20 ms apart at a measured limit of 50/s: not taken for a burst-1 server")
	}
	var a, b ticket
	if d := l.take(clock.now(), &a); d != 0 {
		t.Fatalf("first attempt waits %v", d)
	}
	if d := l.take(clock.now(), &b); d != 20*time.Millisecond {
		t.Fatalf("second attempt waits %v, want 20ms", d)
	}
	clock.advance(5 * time.Millisecond)
	var c ticket
	l.take(clock.now(), &c)              // planned 40 ms after the first
	clock.advance(20 * time.Millisecond) // the second is let go 5 ms late
	if d := l.take(clock.now(), &b); d != 0 {
		t.Fatalf("second attempt, late, waits %v more", d)
	}
	clock.advance(15 * time.Millisecond) // the third's planned time
	if d := l.take(clock.now(), &c); d != 5*time.Millisecond {
		t.Fatalf("third attempt, on time 15 ms after a late one, waits %v, want 5ms (20 ms after it)", d)
	}

	// A server with a burst takes attempts closer than its limit's
	// spacing: there the schedule is caught up as before.
	b1 := newLimiter(1000, clock.now)
	for range 2 {
		var tk ticket
		b1.take(clock.now(), &tk)
		b1.Done(clock.now(), attemptAccepted)
		clock.advance(time.Millisecond)
	}
	b1.wmax = 50
	if b1.single() || b1.minGap() != minGap(b1.interval()) {
		t.Fatalf("accepted attempts 1 ms apart: taken for a burst-1 server (gap after a release %v)", b1.minGap())
	}
}

// Above singleMaxRate a server is not taken for a burst-1 one, whatever
// its gaps: releases arrive too unevenly against its spacing there for a
// hold 2% under its limit (the model's 200/s burst-1 cells met more 429s).
func TestLimiterBurstOneOnlyAtLowLimits(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_000_000, 0)}
	for _, tc := range []struct {
		limit float64
		want  bool
	}{{50, true}, {100, true}, {200, false}} {
		l := newLimiter(1000, clock.now)
		for range 2 {
			var tk ticket
			l.take(clock.now(), &tk)
			l.Done(clock.now(), attemptAccepted)
			clock.advance(time.Duration(float64(time.Second) / tc.limit))
		}
		l.wmax, l.gaps.minSent = tc.limit, time.Duration(float64(time.Second)/tc.limit/4)
		if got := l.single(); got != tc.want {
			t.Errorf("accepted attempts 1/%g s apart, none closer: single %v, want %v", tc.limit, got, tc.want)
		}
	}
}
