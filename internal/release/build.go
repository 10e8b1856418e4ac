package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Options say what to build and how to stamp it.
type Options struct {
	Platforms []string // GOOS/GOARCH
	Out       string   // directory for the archives and SHA256SUMS
	Version   string
	Revision  string
	Mtime     int64 // archive entries' modification time, Unix seconds
}

// minMtime is 1980-01-01: zip cannot store earlier times.
const minMtime = 315532800

var safeName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]*$`)

func (o Options) check() error {
	if !safeName.MatchString(o.Version) {
		return fmt.Errorf("-version %q: want letters, digits and . _ + - (it names the archives), e.g. v1.2.0", o.Version)
	}
	if !safeName.MatchString(o.Revision) {
		return fmt.Errorf("-revision %q: want a commit hash or \"unknown\"", o.Revision)
	}
	if o.Mtime < minMtime {
		return fmt.Errorf("-mtime %d: want Unix seconds from 1980 on (zip cannot store earlier times), e.g. $(git log -1 --format=%%ct)", o.Mtime)
	}
	if len(o.Platforms) == 0 {
		return errors.New("-platforms: none given")
	}
	for _, p := range o.Platforms {
		if !slices.Contains(Platforms, p) {
			return fmt.Errorf("-platforms: unknown %q; allowed: %s", p, strings.Join(Platforms, " "))
		}
	}
	return nil
}

// archiveName is the file name of a platform's archive in Out.
func (o Options) archiveName(platform string) string {
	goos, _, _ := strings.Cut(platform, "/")
	ext := ".tar.gz"
	if goos == "windows" {
		ext = ".zip"
	}
	return o.dirName(platform) + ext
}

// dirName is the directory the archive unpacks into.
func (o Options) dirName(platform string) string {
	goos, goarch, _ := strings.Cut(platform, "/")
	return fmt.Sprintf("bulksync_%s_%s_%s", o.Version, goos, goarch)
}

func exeName(platform string) string {
	if strings.HasPrefix(platform, "windows/") {
		return "bulksync.exe"
	}
	return "bulksync"
}

// docs are shipped next to the binary, relative to the module root.
var docs = []string{"README.md", "docs/operations.md"}

// Build cross-compiles every platform and writes the archives and
// SHA256SUMS into o.Out, replacing earlier ones.
func Build(o Options, log io.Writer) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "bulksync-release-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return err
	}
	old, _ := filepath.Glob(filepath.Join(o.Out, "bulksync_*"))
	for _, f := range append(old, filepath.Join(o.Out, "SHA256SUMS")) {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}

	mtime := time.Unix(o.Mtime, 0).UTC()
	sums := map[string]string{}
	for _, p := range o.Platforms {
		start := time.Now()
		bin := filepath.Join(tmp, strings.ReplaceAll(p, "/", "_"), exeName(p))
		if err := buildBinary(root, p, bin, o.Version, o.Revision); err != nil {
			return err
		}
		dir := o.dirName(p)
		files := []archiveFile{{Name: dir + "/" + exeName(p), Path: bin, Mode: 0o755}}
		for _, d := range docs {
			files = append(files, archiveFile{Name: dir + "/" + d, Path: filepath.Join(root, d), Mode: 0o644})
		}
		name := o.archiveName(p)
		var buf bytes.Buffer
		if strings.HasSuffix(name, ".zip") {
			err = writeZip(&buf, files, mtime)
		} else {
			err = writeTarGz(&buf, files, mtime)
		}
		if err != nil {
			return fmt.Errorf("%s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(o.Out, name), buf.Bytes(), 0o644); err != nil {
			return err
		}
		sum := sha256.Sum256(buf.Bytes())
		sums[name] = hex.EncodeToString(sum[:])
		fmt.Fprintf(log, "release: %s (%d bytes, %.1fs)\n", filepath.Join(o.Out, name), buf.Len(), time.Since(start).Seconds())
	}
	return os.WriteFile(filepath.Join(o.Out, "SHA256SUMS"), formatSums(sums), 0o644)
}

// BuildBinary builds one platform's release binary at out and checks its
// build information, for the container image.
func BuildBinary(platform, out, version, revision string) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	if out, err = filepath.Abs(out); err != nil {
		return err
	}
	if err := buildBinary(root, platform, out, version, revision); err != nil {
		return err
	}
	return checkBuildInfo(out, platform)
}

// buildBinary compiles ./cmd/bulksync for one platform. Every setting that
// changes the output is given here rather than inherited, so that the
// builder's environment (GOFLAGS, GOAMD64, CGO_ENABLED) cannot leak in.
func buildBinary(root, platform, out, version, revision string) error {
	goos, goarch, _ := strings.Cut(platform, "/")
	ldflags := fmt.Sprintf("-s -w -X main.version=%s -X main.revision=%s", version, revision)
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags", ldflags, "-o", out, "./cmd/bulksync")
	cmd.Dir = root
	cmd.Env = append(os.Environ(),
		"CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch,
		"GOFLAGS=", "GOAMD64=v1", "GOARM64=v8.0", "GOEXPERIMENT=")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build for %s: %v\n%s", platform, err, b)
	}
	return nil
}

// moduleRoot is the directory of bulksync's go.mod.
func moduleRoot() (string, error) {
	b, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %v", err)
	}
	gomod := strings.TrimSpace(string(b))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the bulksync module: run from its checkout")
	}
	return filepath.Dir(gomod), nil
}

// formatSums writes "<sha256>  <name>" lines sorted by name, as sha256sum
// does, so that `sha256sum -c SHA256SUMS` checks a download.
func formatSums(sums map[string]string) []byte {
	var b bytes.Buffer
	for _, name := range slices.Sorted(maps.Keys(sums)) {
		fmt.Fprintf(&b, "%s  %s\n", sums[name], name)
	}
	return b.Bytes()
}

// parseSums reads a SHA256SUMS file.
func parseSums(b []byte) (map[string]string, error) {
	sums := map[string]string{}
	for i, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		sum, name, ok := strings.Cut(line, "  ")
		if !ok || len(sum) != 64 || name == "" {
			return nil, fmt.Errorf("SHA256SUMS line %d: want \"<sha256>  <file>\", got %q", i+1, line)
		}
		sums[name] = sum
	}
	return sums, nil
}
