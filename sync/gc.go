package sync

import (
	"os"
	"runtime/debug"
)

// bigAccount is the number of live cards from which a run collects
// garbage at GOGC=50 rather than Go's default of 100.
//
// A run against a big account holds its live cards, its lines and the
// first pass's index for its whole length: about 105 MB at a million
// cards, all in pointer-free slices and maps, which a collection marks in
// milliseconds. GOGC=100 lets the heap grow to twice that before
// collecting; 50 keeps it at 1.5 times (a 1M-row plan against 1M cards:
// 250 -> 195 MB of peak RSS). A smaller account keeps the default: there
// the heap is small anyway, and collecting twice as often costs CPU that
// shows (a 100k-row plan against 100k cards: 12% of its wall time, for 7
// MB of peak RSS, 47 -> 54 MB), in apply too, whose garbage has pointers.
const bigAccount = 500_000

// tightenGC lowers GOGC to 50 for a run against cards live cards, if the
// account is big and GOGC is not set in the environment, and returns what
// puts the setting back.
func tightenGC(cards int) (restore func()) {
	if cards < bigAccount || os.Getenv("GOGC") != "" {
		return func() {}
	}
	old := debug.SetGCPercent(50)
	return func() { debug.SetGCPercent(old) }
}
