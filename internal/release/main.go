// Command release builds bulksync's release archives (make release).
//
// For each platform it cross-compiles ./cmd/bulksync with CGO_ENABLED=0 and
// -trimpath (modernc SQLite is pure Go, so the binaries are static and need
// no libc), stamps the version with -X, packs the binary with README.md and
// docs/operations.md into bulksync_<version>_<os>_<arch>.tar.gz (.zip for
// Windows), and writes SHA256SUMS in the format `sha256sum -c` reads.
//
// The archives are reproducible: the same source, version and -mtime give
// byte-identical files, whoever builds them and wherever. Go's builds are
// reproducible given -trimpath and a fixed toolchain; the archives have
// sorted entries, owner 0, fixed modes and mtimes, and no gzip name or time.
// The VCS stamp is turned off (-buildvcs=false) so that a build from a git
// checkout and one from a source tarball match; -X carries the revision.
//
// After building, it verifies what it wrote as a user would: the checksums,
// then each archive's binary with `go version -m` (GOOS, GOARCH,
// CGO_ENABLED=0, -trimpath), and the host's binary with --version.
//
// Usage:
//
//	go run ./internal/release -version v1.2.0 -revision $(git rev-parse HEAD) -mtime $(git log -1 --format=%ct)
//	go run ./internal/release -verify-only -version v1.2.0 -revision ...
//	go run ./internal/release -platforms linux/amd64 -binary build/image/bulksync -version ...
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
)

// Platforms are the release targets.
var Platforms = []string{"linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64", "windows/amd64"}

func main() {
	var o Options
	platforms := flag.String("platforms", strings.Join(Platforms, " "), "GOOS/GOARCH pairs, space- or comma-separated")
	flag.StringVar(&o.Out, "out", "dist", "directory for the archives and SHA256SUMS")
	flag.StringVar(&o.Version, "version", "", "version to stamp (required), e.g. v1.2.0")
	flag.StringVar(&o.Revision, "revision", "", "VCS revision to stamp (required, may be \"unknown\")")
	flag.Int64Var(&o.Mtime, "mtime", 0, "modification time of the archive entries, Unix seconds (required; e.g. the commit time)")
	verifyOnly := flag.Bool("verify-only", false, "verify the archives in -out without building")
	binary := flag.String("binary", "", "only build the binary of the one -platforms to this path (make image)")
	flag.Parse()
	if flag.NArg() > 0 {
		fatalf("unexpected argument %q", flag.Arg(0))
	}
	o.Platforms = strings.FieldsFunc(*platforms, func(r rune) bool { return r == ' ' || r == ',' })
	if err := o.check(); err != nil {
		fatalf("%v", err)
	}
	if *binary != "" {
		if len(o.Platforms) != 1 {
			fatalf("-binary: give exactly one -platforms, not %q", *platforms)
		}
		if err := BuildBinary(o.Platforms[0], *binary, o.Version, o.Revision); err != nil {
			fatalf("%v", err)
		}
		return
	}
	if !*verifyOnly {
		if err := Build(o, os.Stderr); err != nil {
			fatalf("%v", err)
		}
	}
	if err := Verify(o, os.Stderr); err != nil {
		fatalf("verify: %v", err)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "release: "+format+"\n", args...)
	os.Exit(1)
}
