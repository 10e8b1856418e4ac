package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// version and revision are set at link time by release builds
// (make release: -ldflags "-X main.version=v1.2.0 -X main.revision=<commit>"),
// because a build from a source archive, or with -buildvcs=false as in CI,
// has no VCS information of its own. Left empty, they come from the build
// information the go command embeds.
var (
	version  string
	revision string
)

// buildVersion returns the version and revision this binary was built
// from: the link-time values first, then the module version (set by
// "go install ...@v1.2.0") and the VCS stamp (a build in a git checkout).
func buildVersion() (ver, rev string) {
	ver, rev = version, revision
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return orUnknown(ver, "devel"), orUnknown(rev, "unknown")
	}
	if ver == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		ver = bi.Main.Version
	}
	if rev == "" {
		var modified bool
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if rev != "" && modified {
			rev += "+dirty"
		}
	}
	return orUnknown(ver, "devel"), orUnknown(rev, "unknown")
}

func orUnknown(s, unknown string) string {
	if s == "" {
		return unknown
	}
	return s
}

// printVersion writes one line, e.g.
// "bulksync v1.2.0 (revision 1a2b3c4, go1.26.0, linux/amd64)".
func printVersion(w io.Writer) {
	ver, rev := buildVersion()
	fmt.Fprintf(w, "bulksync %s (revision %s, %s, %s/%s)\n", ver, rev, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
