package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// The archives depend only on the files' names, contents and the given
// mode and mtime: not on the files' own times, modes or owner, nor on the
// order they are given in.
func TestArchivesAreReproducible(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode, mtime time.Time) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		return p
	}
	mtime := time.Unix(1700000000, 0).UTC()
	pack := func(stamp time.Time, mode os.FileMode, reverse bool) (tgz, zp []byte) {
		files := []archiveFile{
			{Name: "d/bulksync", Path: write("bin", "\x7fELF binary", mode, stamp), Mode: 0o755},
			{Name: "d/README.md", Path: write("readme", "# read me\n", mode, stamp), Mode: 0o644},
		}
		if reverse {
			files[0], files[1] = files[1], files[0]
		}
		var a, b bytes.Buffer
		if err := writeTarGz(&a, files, mtime); err != nil {
			t.Fatal(err)
		}
		if err := writeZip(&b, files, mtime); err != nil {
			t.Fatal(err)
		}
		return a.Bytes(), b.Bytes()
	}
	tgz1, zip1 := pack(time.Now(), 0o600, false)
	tgz2, zip2 := pack(time.Now().Add(-time.Hour), 0o644, true)
	if !bytes.Equal(tgz1, tgz2) {
		t.Error("two tar.gz of the same files differ")
	}
	if !bytes.Equal(zip1, zip2) {
		t.Error("two zips of the same files differ")
	}

	gz, err := gzip.NewReader(bytes.NewReader(tgz1))
	if err != nil {
		t.Fatal(err)
	}
	if gz.Name != "" || !gz.ModTime.IsZero() {
		t.Errorf("gzip header has name %q, time %v: want neither", gz.Name, gz.ModTime)
	}
	tr := tar.NewReader(gz)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" || !h.ModTime.Equal(mtime) {
			t.Errorf("%s: uid %d gid %d %q/%q mtime %v: want 0/0, no names, %v", h.Name, h.Uid, h.Gid, h.Uname, h.Gname, h.ModTime, mtime)
		}
		if want := map[string]int64{"d/bulksync": 0o755, "d/README.md": 0o644}[h.Name]; h.Mode != want {
			t.Errorf("%s: mode %o, want %o", h.Name, h.Mode, want)
		}
	}
	if got := strings.Join(names, " "); got != "d/README.md d/bulksync" {
		t.Errorf("tar entries %q, want sorted", got)
	}

	zr, err := zip.NewReader(bytes.NewReader(zip1), int64(len(zip1)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		if !f.Modified.Equal(mtime) {
			t.Errorf("zip %s: modified %v, want %v", f.Name, f.Modified, mtime)
		}
	}
	if _, mode, err := extract("x.zip", zip1, "d/bulksync"); err != nil || mode.Perm() != 0o755 {
		t.Errorf("zip d/bulksync: mode %v, err %v; want 0755", mode, err)
	}
}

func TestSumsRoundTrip(t *testing.T) {
	sums := map[string]string{
		"b.zip":    strings.Repeat("b", 64),
		"a.tar.gz": strings.Repeat("a", 64),
	}
	b := formatSums(sums)
	want := strings.Repeat("a", 64) + "  a.tar.gz\n" + strings.Repeat("b", 64) + "  b.zip\n"
	if string(b) != want {
		t.Errorf("SHA256SUMS:\n%s\nwant (sorted, sha256sum's format):\n%s", b, want)
	}
	got, err := parseSums(b)
	if err != nil || len(got) != 2 || got["b.zip"] != sums["b.zip"] {
		t.Errorf("parseSums: %v, %v", got, err)
	}
	if _, err := parseSums([]byte("nonsense\n")); err == nil {
		t.Error("parseSums accepted a malformed line")
	}
}

func TestOptionsCheck(t *testing.T) {
	good := Options{Platforms: []string{"linux/amd64"}, Version: "v1.2.0", Revision: "unknown", Mtime: minMtime}
	if err := good.check(); err != nil {
		t.Fatal(err)
	}
	// Each bad option is refused, naming its flag.
	for flag, o := range map[string]Options{
		"-version":   {Platforms: good.Platforms, Version: "../x", Revision: "r", Mtime: minMtime},
		"-revision":  {Platforms: good.Platforms, Version: "v1", Revision: "", Mtime: minMtime},
		"-mtime":     {Platforms: good.Platforms, Version: "v1", Revision: "r", Mtime: 0},
		"-platforms": {Platforms: []string{"plan9/386"}, Version: "v1", Revision: "r", Mtime: minMtime},
	} {
		if err := o.check(); err == nil || !strings.HasPrefix(err.Error(), flag+" ") && !strings.HasPrefix(err.Error(), flag+":") {
			t.Errorf("%s: got %v, want an error naming %s", flag, err, flag)
		}
	}
}

// A release of the host's platform, twice: identical SHA256SUMS; then the
// archive verifies (checksums, go version -m, --version), and a tampered
// archive or a binary of another revision does not. It compiles bulksync
// without cgo: a minute or two on an idle machine with a cold cache, but
// more than go test's 10-minute limit on a loaded one, so it runs only
// with BULKSYNC_RELEASE_TEST=1; CI runs make release-check instead.
func TestReleaseHost(t *testing.T) {
	if testing.Short() || os.Getenv("BULKSYNC_RELEASE_TEST") != "1" {
		t.Skip("compiles a release binary: set BULKSYNC_RELEASE_TEST=1")
	}
	host := runtime.GOOS + "/" + runtime.GOARCH
	o := Options{Platforms: []string{host}, Version: "v0.0.0-test", Revision: "0123456789abcdef", Mtime: 1700000000}
	var runs [2][]byte
	for i := range runs {
		o.Out = filepath.Join(t.TempDir(), "dist")
		if err := Build(o, io.Discard); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(o.Out, "SHA256SUMS"))
		if err != nil {
			t.Fatal(err)
		}
		runs[i] = b
	}
	if !bytes.Equal(runs[0], runs[1]) {
		t.Errorf("two release runs differ:\n%s\n%s", runs[0], runs[1])
	}
	if err := Verify(o, io.Discard); err != nil {
		t.Fatal(err)
	}

	other := o
	other.Revision = "fedcba"
	if err := Verify(other, io.Discard); err == nil || !strings.Contains(err.Error(), "--version printed") {
		t.Errorf("a binary of another revision verified: %v", err)
	}
	archive := filepath.Join(o.Out, o.archiveName(host))
	b, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 1
	if err := os.WriteFile(archive, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Verify(o, io.Discard); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("a tampered archive verified: %v", err)
	}
}
