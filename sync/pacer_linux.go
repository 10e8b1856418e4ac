package sync

import (
	"time"

	"golang.org/x/sys/unix"
)

// haveNanosleep: Linux's netpoller rounds timer waits up to whole
// milliseconds, so the limiter finishes its waits with nanosleep(2).
const haveNanosleep = true

// preciseSleep blocks the calling goroutine's thread for d. A signal (the
// runtime preempts with SIGURG) may end it early, with EINTR: the limiter
// then looks at the clock and sleeps again.
func preciseSleep(d time.Duration) {
	ts := unix.NsecToTimespec(int64(d))
	unix.Nanosleep(&ts, nil) // early or not, the caller looks at the clock again
}
