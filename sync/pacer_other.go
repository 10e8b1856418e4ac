//go:build !linux

package sync

import "time"

// haveNanosleep: elsewhere the limiter waits on the runtime timer alone.
// The netpollers of the BSDs and macOS (kqueue) and Solaris (event ports)
// take their timeouts in nanoseconds, so their timers are not rounded up
// to a millisecond as Linux's epoll_wait rounds them.
const haveNanosleep = false

// preciseSleep is not called where haveNanosleep is false.
func preciseSleep(d time.Duration) { time.Sleep(d) }
