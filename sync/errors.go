package sync

import "errors"

// The exit codes, as DESIGN.md and --help list them.
const (
	ExitOK         = 0 // every record ended ok (or planned)
	ExitIncomplete = 1 // the run completed; some records did not sync
	ExitUsage      = 2 // usage, configuration or input error: nothing was sent, nothing clobbered
	ExitAborted    = 3 // the run stopped early (see ErrAborted)
)

// ExitCode maps a run's error to its exit code. An error that wraps none
// of the sentinels was not foreseen and may have come after a write, so it
// is ExitAborted: ExitUsage promises that nothing was sent.
func ExitCode(err error) int {
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, ErrIncomplete):
		return ExitIncomplete
	case errors.Is(err, ErrAborted):
		return ExitAborted
	case errors.Is(err, ErrUsage):
		return ExitUsage
	default:
		return ExitAborted
	}
}

// Sentinel errors behind the exit codes. cmd/bulksync maps them with
// errors.Is; everything in sync wraps one of them when a run cannot go on.
var (
	// ErrIncomplete: the run finished but some records did not sync
	// (failed, invalid, duplicate, missing, inactive). Exit 1.
	ErrIncomplete = errors.New("some records did not sync")

	// ErrUsage: a bad flag, configuration or input file; nothing was
	// written remotely. Exit 2.
	ErrUsage = errors.New("usage error")

	// ErrAborted: the run stopped early: 401/403 from the API, --max-changes
	// exceeded, interrupted, the lock is held, or the remote snapshot could
	// not be read. Exit 3.
	ErrAborted = errors.New("aborted")
)
