// Package atomicfile writes a file whole or not at all: the content goes to
// a temporary file, mode 0600, next to the target, which then takes the
// target's name in one step. A reader never sees half a file, and a run that
// fails or is killed leaves no truncated backup or page behind.
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Write calls fill with a writer to a new temporary file in path's
// directory and, when fill succeeds, gives that file path's name.
//
// With replace false an existing path is refused (fs.ErrExist), checked at
// the moment of the link, not before, so it is safe against a file that
// appears meanwhile: a backup never overwrites the input it was meant to
// protect, or the state. With replace true an existing file is replaced
// atomically, as a report is.
func Write(path string, replace bool, fill func(io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := fill(tmp); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if replace {
		return os.Rename(tmp.Name(), path)
	}
	// link(2) fails with EEXIST when path exists: no-clobber in one step.
	lerr := os.Link(tmp.Name(), path)
	if lerr == nil {
		os.Remove(tmp.Name())
		return nil
	}
	if errors.Is(lerr, fs.ErrExist) {
		return fmt.Errorf("%s already exists: %w", path, fs.ErrExist)
	}
	// A file system without hard links: check, then rename. The window
	// between the two is the best such a file system allows.
	if _, serr := os.Lstat(path); serr == nil {
		return fmt.Errorf("%s already exists: %w", path, fs.ErrExist)
	}
	return os.Rename(tmp.Name(), path)
}
