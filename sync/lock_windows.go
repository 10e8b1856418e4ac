package sync

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

// On Windows the lock is LockFileEx on one byte far beyond the end of the
// file: Windows locks are mandatory, and locking the JSON the holder writes
// at the start would stop the next run from reading who holds it. Like an
// flock, Windows drops it when the process dies.
func lockRange(f *os.File, flags uint32) error {
	ol := &windows.Overlapped{Offset: 0, OffsetHigh: 0x7fffffff}
	return windows.LockFileEx(windows.Handle(f.Fd()), flags|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, ol)
}

func tryLock(f *os.File) error {
	return lockRange(f, windows.LOCKFILE_EXCLUSIVE_LOCK)
}

func unlock(f *os.File) {
	ol := &windows.Overlapped{Offset: 0, OffsetHigh: 0x7fffffff}
	windows.UnlockFileEx(windows.Handle(f.Fd()), 0, 1, 0, ol)
}

// lockHeld reports whether another process holds the lock on f.
func lockHeld(f *os.File) (bool, error) {
	err := lockRange(f, 0)
	if errors.Is(err, windows.ERROR_LOCK_VIOLATION) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	unlock(f)
	return false, nil
}
