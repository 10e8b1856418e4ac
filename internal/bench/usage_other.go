//go:build !unix

package main

import (
	"os"
	"time"
)

// childUsage returns the CPU time of a child process; the peak resident
// set size is only known on Unix (0 here).
func childUsage(ps *os.ProcessState) (time.Duration, int64) {
	return ps.UserTime() + ps.SystemTime(), 0
}

// selfCPU is only known on Unix.
func selfCPU() time.Duration { return 0 }

// stuckSignal is sent to a bulksync run that overran its time; with no
// SIGQUIT here, an interrupt.
var stuckSignal os.Signal = os.Interrupt
