//go:build unix

package main

import (
	"os"
	"runtime"
	"syscall"
	"time"
)

// childUsage returns the CPU time (user + system) and the peak resident set
// size, in bytes, of a child process that has exited.
func childUsage(ps *os.ProcessState) (time.Duration, int64) {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok || ru == nil {
		return ps.UserTime() + ps.SystemTime(), 0
	}
	return ps.UserTime() + ps.SystemTime(), maxRSSBytes(ru.Maxrss)
}

// selfCPU returns the CPU time the bench process has used so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// maxRSSBytes converts ru_maxrss: kilobytes on Linux and most Unixes,
// bytes on macOS.
func maxRSSBytes(v int64) int64 {
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		return v
	}
	return v * 1024
}

// stuckSignal is sent to a bulksync run that overran its time: SIGQUIT,
// on which the Go runtime prints every goroutine's stack before exiting,
// so a run that stalled says where.
var stuckSignal os.Signal = syscall.SIGQUIT
