package sync

import "errors"

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
