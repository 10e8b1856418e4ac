package sync

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrPathClash is the usage error of a run whose outputs would overwrite
// an input or each other. Nothing at all may be written then, not even the
// metrics that other usage errors leave for an alert.
var ErrPathClash = errors.New("an output is an input or another output")

// clashError is a usage error and a path clash.
type clashError struct{ msg string }

func (e clashError) Error() string { return e.msg }

func (e clashError) Is(target error) bool { return target == ErrPathClash || target == ErrUsage }

func clash(format string, args ...any) error {
	return clashError{ErrUsage.Error() + ": " + fmt.Sprintf(format, args...)}
}

// A PathArg is one file a run reads or writes, named by its flag.
type PathArg struct {
	Flag   string // "--report", "--state", ...
	Path   string
	Output bool // the run creates, truncates or replaces it
}

// CheckPaths refuses a run whose outputs would overwrite one of its inputs
// or each other: a mistyped --report export.csv must not turn the export
// into a one-line report. Files are compared by identity (os.SameFile, so a
// symlink or a hard link to the input counts), and a file that does not
// exist yet by its absolute path with the directories' symlinks resolved.
// It runs before anything is created, opened for writing or locked, so a
// clash touches nothing.
func CheckPaths(paths []PathArg) error {
	type file struct {
		PathArg
		id   os.FileInfo // nil when the file does not exist (yet)
		real string      // absolute, symlinks resolved as far as they exist
	}
	var files []file
	for _, p := range paths {
		if p.Path == "" || p.Path == "-" {
			continue
		}
		f := file{PathArg: p, real: resolvePath(p.Path)}
		if fi, err := os.Stat(p.Path); err == nil {
			f.id = fi
		}
		files = append(files, f)
	}
	for i, a := range files {
		for _, b := range files[:i] {
			if !a.Output && !b.Output {
				continue // two inputs may well be the same file
			}
			same := a.real == b.real
			if a.id != nil && b.id != nil {
				same = os.SameFile(a.id, b.id)
			}
			if !same {
				continue
			}
			if a.Flag == b.Flag {
				return clash("%s %s is given twice", a.Flag, a.Path)
			}
			// Name the output second: it is the one to change.
			in, out := b, a
			if b.Output && !a.Output {
				in, out = a, b
			}
			return clash("%s %s is the same file as %s %s; it would be overwritten: give %s another file (nothing was written)",
				out.Flag, out.Path, in.Flag, in.Path, out.Flag)
		}
	}
	return nil
}

// resolvePath returns the absolute path of name with every symlink that
// exists resolved: for a file that does not exist yet, its directory's, and
// for a dangling symlink, its target's.
func resolvePath(name string) string {
	abs, err := filepath.Abs(name)
	if err != nil {
		return filepath.Clean(name)
	}
	for range 40 { // as many links as Linux follows
		if real, err := filepath.EvalSymlinks(abs); err == nil {
			return real
		}
		fi, err := os.Lstat(abs)
		if err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			target, err := os.Readlink(abs)
			if err != nil {
				break
			}
			if !filepath.IsAbs(target) {
				target = filepath.Join(filepath.Dir(abs), target)
			}
			abs = target
			continue
		}
		break
	}
	dir, base := filepath.Split(abs)
	if dir == abs || base == "" {
		return abs
	}
	return filepath.Join(resolvePath(filepath.Clean(dir)), base)
}

// output is a file a run writes, opened before any of them is truncated.
type output struct {
	flag    string
	path    string
	f       *os.File
	created bool // this run created it: it may be removed again
}

// openOutputs opens every output for writing, mode 0600 when created (they
// hold customers' names), and truncates the ones that existed only once all
// are open: a directory that does not exist or a file that cannot be
// written is a usage error that leaves every existing file as it was. A
// path in unique gets a fresh name instead of being overwritten (see
// createUnique).
func openOutputs(outs []*output) error {
	for i, o := range outs {
		f, created, err := openNoTrunc(o.path)
		if err != nil {
			closeOutputs(outs[:i], true)
			return fmt.Errorf("%w: %s: %v", ErrUsage, o.flag, err)
		}
		o.f, o.created = f, created
	}
	for _, o := range outs {
		if o.created {
			continue
		}
		if fi, err := o.f.Stat(); err == nil && !fi.Mode().IsRegular() {
			continue // /dev/stdout, a FIFO: nothing to truncate
		}
		if err := o.f.Truncate(0); err != nil {
			closeOutputs(outs, true)
			return fmt.Errorf("%w: %s: %v", ErrUsage, o.flag, err)
		}
	}
	return nil
}

// openNoTrunc opens name for writing without truncating it, creating it
// 0600 when it does not exist.
func openNoTrunc(name string) (*os.File, bool, error) {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		return f, true, nil
	}
	if !errors.Is(err, fs.ErrExist) {
		return nil, false, err
	}
	f, err = os.OpenFile(name, os.O_WRONLY, 0)
	return f, false, err
}

// closeOutputs closes outputs; with remove, it also removes the ones this
// run created, never a file that was there before.
func closeOutputs(outs []*output, remove bool) {
	for _, o := range outs {
		if o.f == nil {
			continue
		}
		o.f.Close()
		if remove && o.created {
			os.Remove(o.path)
		}
	}
}

// createUnique creates a new file named prefix + ext, or prefix-2 + ext,
// -3, ... when that exists: a default report name is never overwritten, so
// shards or runs started in the same second each get their own.
func createUnique(prefix, ext string) (*os.File, string, error) {
	for n := 1; ; n++ {
		name := prefix + ext
		if n > 1 {
			name = fmt.Sprintf("%s-%d%s", prefix, n, ext)
		}
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			return f, name, nil
		}
		if !errors.Is(err, fs.ErrExist) || n >= 1000 {
			return nil, "", err
		}
	}
}
