package sync

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestCheckPaths(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "export.csv")
	if err := os.WriteFile(in, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(in, filepath.Join(dir, "link.csv")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(dir, filepath.Join(dir, "sub")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "target.csv"), filepath.Join(dir, "dangling.csv")); err != nil {
		t.Fatal(err)
	}
	at := func(name string) string { return filepath.Join(dir, name) }
	for _, tt := range []struct {
		name  string
		paths []PathArg
		want  string // "" for no clash
	}{
		{"distinct", []PathArg{{"--input", at("export.csv"), false}, {"--report", at("r.csv"), true}}, ""},
		{"two inputs may be one file", []PathArg{{"--input", at("export.csv"), false}, {"--plan", at("link.csv"), false}}, ""},
		{"report is the input", []PathArg{{"--input", at("export.csv"), false}, {"--report", at("export.csv"), true}}, "--report"},
		{"through a symlink", []PathArg{{"--input", at("export.csv"), false}, {"--report", at("link.csv"), true}}, "--report " + at("link.csv") + " is the same file as --input"},
		{"new files through a directory symlink", []PathArg{{"--report", at("new.csv"), true}, {"--out", at("sub/new.csv"), true}}, "--out"},
		{"a dangling symlink's target", []PathArg{{"--report", at("dangling.csv"), true}, {"--out", at("target.csv"), true}}, "--out"},
		{"the input named first or second", []PathArg{{"--summary-json", at("export.csv"), true}, {"--input", at("export.csv"), false}}, "--summary-json " + at("export.csv") + " is the same file as --input"},
		{"standard input is no file", []PathArg{{"--input", "-", false}, {"--report", "-", true}}, ""},
	} {
		err := CheckPaths(tt.paths)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.want != "" && (err == nil || !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.want)
		}
	}
}

// A stop ends the wait for an input that does not come: a FIFO no one
// writes to (whose very opening blocks), or standard input left open.
func TestOpenInputStops(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	stop, cancel := context.WithCancelCause(context.Background())
	cancel(errors.New("interrupted by SIGINT"))
	fifo := filepath.Join(t.TempDir(), "in.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	defer r.Close()
	for _, name := range []string{fifo, "-"} {
		_, _, err := openInput(stop, name, r)
		if !errors.Is(err, ErrAborted) || !strings.Contains(err.Error(), "interrupted by SIGINT while reading") {
			t.Errorf("%s: error %v, want an interrupt", name, err)
		}
	}
	left, _ := os.ReadDir(os.Getenv("TMPDIR"))
	if len(left) != 0 {
		t.Errorf("spool files left behind: %v", left)
	}
}

// Standard input is spooled to a private file whose name is gone at once.
func TestOpenInputSpools(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	f, cleanup, err := openInput(context.Background(), "-", strings.NewReader("phone_number,first_name\n"))
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("spool file mode %v, want 0600", fi.Mode().Perm())
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("the spool file is still named: %v", left)
	}
	b, _ := io.ReadAll(f)
	if string(b) != "phone_number,first_name\n" {
		t.Errorf("spooled %q", b)
	}
}
