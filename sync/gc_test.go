package sync

import (
	"runtime/debug"
	"testing"
)

// Only a big account tightens the collector, and the setting comes back.
func TestTightenGC(t *testing.T) {
	t.Setenv("GOGC", "") // as if unset: tightenGC reads the environment
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)
	restore := tightenGC(bigAccount - 1)
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("a small account set GOGC %d", got)
	}
	restore()
	restore = tightenGC(bigAccount)
	if got := debug.SetGCPercent(50); got != 50 {
		t.Errorf("a big account: GOGC %d, want 50", got)
	}
	restore()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("after the run: GOGC %d, want 100 back", got)
	}
	t.Setenv("GOGC", "200")
	restore = tightenGC(bigAccount)
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GOGC set in the environment was overridden: %d", got)
	}
	restore()
}
