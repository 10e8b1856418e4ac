package main

import (
	"bytes"
	"regexp"
	"runtime"
	"testing"
)

// --version prints one line; release builds' link-time values win over the
// build information.
func TestVersion(t *testing.T) {
	for _, arg := range []string{"--version", "-version", "version"} {
		var stdout bytes.Buffer
		if code := run([]string{arg}, &env{stdout: &stdout, stderr: &bytes.Buffer{}, getenv: func(string) string { return "" }}); code != 0 {
			t.Fatalf("bulksync %s: exit %d", arg, code)
		}
		// A test binary has no VCS stamp and a "(devel)" module version.
		want := `^bulksync \S+ \(revision \S+, ` + regexp.QuoteMeta(runtime.Version()) + `, ` + runtime.GOOS + `/` + runtime.GOARCH + `\)\n$`
		if !regexp.MustCompile(want).MatchString(stdout.String()) {
			t.Errorf("bulksync %s printed %q, want %s", arg, stdout.String(), want)
		}
	}

	defer func(v, r string) { version, revision = v, r }(version, revision)
	version, revision = "v1.2.3", "0123abc"
	var stdout bytes.Buffer
	printVersion(&stdout)
	want := "bulksync v1.2.3 (revision 0123abc, " + runtime.Version() + ", " + runtime.GOOS + "/" + runtime.GOARCH + ")\n"
	if stdout.String() != want {
		t.Errorf("with link-time values: %q, want %q", stdout.String(), want)
	}
}
