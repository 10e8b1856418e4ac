package sync

import (
	"context"
	"testing"
	"time"
)

// fakeClock lets the limiter's windows be driven without sleeping.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestLimiterThrottleAndRecover(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_000_000, 0)}
	l := newLimiter(0, clock.now)
	if l.Rate() != 0 {
		t.Fatalf("unlimited limiter reports %v", l.Rate())
	}
	// 300 accepted answers in one second, then a 429: the rate drops under 300.
	for range 300 {
		l.meter(clock.t)
		clock.advance(time.Second / 300)
	}
	l.Throttled()
	got := l.Rate()
	if got < 200 || got > 300*throttleFactor+1 {
		t.Fatalf("after a 429 at ~300 req/s the rate is %.1f, want about %.0f", got, 300*throttleFactor)
	}
	// More 429s within the same second do not cut again.
	l.Throttled()
	if l.Rate() != got {
		t.Errorf("second 429 in the same second cut the rate to %.1f", l.Rate())
	}
	// Quiet seconds raise it again, a little at a time.
	clock.advance(1100 * time.Millisecond)
	l.recover(clock.t)
	if r := l.Rate(); r <= got || r > got*recoverFactor+1.01 {
		t.Errorf("after a quiet second rate = %.2f, want just above %.2f", r, got)
	}
}

func TestLimiterCeiling(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_000_000, 0)}
	l := newLimiter(50, clock.now)
	if l.Rate() != 50 {
		t.Fatalf("rate = %v, want 50", l.Rate())
	}
	l.Throttled()
	if l.Rate() != 25 {
		t.Errorf("a 429 with nothing measured: rate = %v, want half of 50", l.Rate())
	}
	for range 200 {
		clock.advance(2 * time.Second)
		l.recover(clock.t)
	}
	if l.Rate() != 50 {
		t.Errorf("recovered rate = %v, want the --rate ceiling 50", l.Rate())
	}
	if err := l.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// A run already paced by the limiter meets a 429: the rate drops by the
// throttle factor, not by half.
func TestLimiterThrottleWhilePaced(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_000_000, 0)}
	l := newLimiter(200, clock.now)
	for range 200 {
		l.meter(clock.t)
		clock.advance(time.Second / 200)
	}
	l.Throttled()
	if got, want := l.Rate(), 200*throttleFactor; got < want-1 || got > want+1 {
		t.Errorf("rate after a 429 while paced at 200/s = %.1f, want %.0f", got, want)
	}
}

// 429s that come whatever the rate must not starve the run: cuts stop at
// half the best rate the server accepted.
func TestLimiterFloor(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_000_000, 0)}
	l := newLimiter(0, clock.now)
	for range 2 { // two full windows at 400 accepted/s
		for range 400 {
			l.meter(clock.t)
			clock.advance(time.Second / 400)
		}
	}
	for range 120 { // two minutes with a 429 every second
		for range 50 {
			l.meter(clock.t)
			clock.advance(time.Second / 50)
		}
		l.Throttled()
	}
	if got := l.Rate(); got < 0.5*400 {
		t.Errorf("after two minutes of steady 429s the rate is %.1f req/s: the run is starving", got)
	}
}
