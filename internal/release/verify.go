package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
)

// Verify checks the archives in o.Out as someone who downloaded them
// would: SHA256SUMS lists exactly the expected archives with their
// checksums; each holds the binary, built for its platform without cgo and
// with -trimpath (go version -m); the host's binary prints the version.
func Verify(o Options, log io.Writer) error {
	b, err := os.ReadFile(filepath.Join(o.Out, "SHA256SUMS"))
	if err != nil {
		return err
	}
	sums, err := parseSums(b)
	if err != nil {
		return err
	}
	var want []string
	for _, p := range o.Platforms {
		want = append(want, o.archiveName(p))
	}
	if got := slices.Sorted(maps.Keys(sums)); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		return fmt.Errorf("SHA256SUMS lists %v, want %v", got, want)
	}
	tmp, err := os.MkdirTemp("", "bulksync-verify-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	for _, p := range o.Platforms {
		name := o.archiveName(p)
		data, err := os.ReadFile(filepath.Join(o.Out, name))
		if err != nil {
			return err
		}
		if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != sums[name] {
			return fmt.Errorf("%s: checksum does not match SHA256SUMS", name)
		}
		member := o.dirName(p) + "/" + exeName(p)
		bin, mode, err := extract(name, data, member)
		if err != nil {
			return fmt.Errorf("%s: %v", name, err)
		}
		if mode&0o111 == 0 {
			return fmt.Errorf("%s: %s is not executable (mode %o)", name, member, mode)
		}
		path := filepath.Join(tmp, strings.ReplaceAll(p, "/", "_"), exeName(p))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, bin, 0o755); err != nil {
			return err
		}
		if err := checkBuildInfo(path, p); err != nil {
			return fmt.Errorf("%s: %v", name, err)
		}
		if p == runtime.GOOS+"/"+runtime.GOARCH {
			if err := checkVersion(path, o.Version, o.Revision); err != nil {
				return fmt.Errorf("%s: %v", name, err)
			}
		}
		fmt.Fprintf(log, "release: verified %s\n", name)
	}
	return nil
}

// extract returns one member of a .tar.gz or .zip archive and its mode.
func extract(name string, data []byte, member string) ([]byte, os.FileMode, error) {
	if strings.HasSuffix(name, ".zip") {
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return nil, 0, err
		}
		for _, f := range zr.File {
			if f.Name == member {
				rc, err := f.Open()
				if err != nil {
					return nil, 0, err
				}
				defer rc.Close()
				b, err := io.ReadAll(rc)
				return b, f.Mode(), err
			}
		}
		return nil, 0, fmt.Errorf("no %s in the archive", member)
	}
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, 0, err
	}
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, 0, fmt.Errorf("no %s in the archive", member)
		}
		if err != nil {
			return nil, 0, err
		}
		if hdr.Name == member {
			b, err := io.ReadAll(tr)
			return b, hdr.FileInfo().Mode(), err
		}
	}
}

// checkBuildInfo reads the build information of a binary of any platform
// with go version -m and checks how it was built.
func checkBuildInfo(path, platform string) error {
	out, err := exec.Command("go", "version", "-m", path).CombinedOutput()
	if err != nil {
		return fmt.Errorf("go version -m: %v\n%s", err, out)
	}
	info := parseBuildInfo(string(out))
	goos, goarch, _ := strings.Cut(platform, "/")
	for key, want := range map[string]string{
		"path":        "github.com/bulksync/bulksync/cmd/bulksync",
		"GOOS":        goos,
		"GOARCH":      goarch,
		"CGO_ENABLED": "0",
		"-trimpath":   "true",
	} {
		if info[key] != want {
			return fmt.Errorf("go version -m: %s is %q, want %q\n%s", key, info[key], want, out)
		}
	}
	return nil
}

// parseBuildInfo turns go version -m's "path ...", "build KEY=VALUE" lines
// into a map.
func parseBuildInfo(out string) map[string]string {
	info := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		switch fields[0] {
		case "path":
			info["path"] = fields[1]
		case "build":
			k, v, _ := strings.Cut(strings.Join(fields[1:], " "), "=")
			info[k] = v
		}
	}
	return info
}

// checkVersion runs the binary: it must start and report the stamped
// version and revision.
func checkVersion(path, version, revision string) error {
	out, err := exec.Command(path, "--version").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s --version: %v\n%s", filepath.Base(path), err, out)
	}
	want := fmt.Sprintf("bulksync %s (revision %s, ", version, revision)
	if !strings.HasPrefix(string(out), want) {
		return fmt.Errorf("--version printed %q, want it to start with %q", out, want)
	}
	return nil
}
