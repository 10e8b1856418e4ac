package atomicfile

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.csv")
	write := func(replace bool, s string) error {
		return Write(path, replace, func(w io.Writer) error { _, err := io.WriteString(w, s); return err })
	}
	if err := write(false, "one"); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("stat: %v, %v; want mode 0600", fi, err)
	}
	if err := write(false, "two"); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second write without replace: %v, want ErrExist", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "one" {
		t.Fatalf("file holds %q after a refused write, want %q", b, "one")
	}
	if err := write(true, "three"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "three" {
		t.Fatalf("file holds %q, want %q", b, "three")
	}
	// A failing fill leaves the target and no temporary file behind.
	boom := errors.New("boom")
	if err := Write(path, true, func(io.Writer) error { return boom }); err != boom {
		t.Fatalf("got %v, want boom", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "three" {
		t.Fatalf("file holds %q after a failed write", b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("directory holds %d entries, want 1 (no temporary file left)", len(ents))
	}
}
