package main

import (
	"bytes"
	"strings"
	"testing"
)

// bulksync --help, bulksync with no command, and every command's -h and
// --help end with the EXIT STATUS section, and exit 0 when asked for.
func TestHelpEndsWithExitStatus(t *testing.T) {
	type call struct {
		args     []string
		wantCode int
		stdout   bool // the help goes to stdout rather than stderr
	}
	calls := []call{
		{[]string{"--help"}, 0, true},
		{[]string{"-h"}, 0, true},
		{[]string{"help"}, 0, true},
		{nil, 2, false},
	}
	for _, c := range commands() {
		calls = append(calls, call{[]string{c.name, "-h"}, 0, false}, call{[]string{c.name, "--help"}, 0, false})
	}
	names := map[string]bool{}
	for _, c := range calls {
		var stdout, stderr bytes.Buffer
		code := run(c.args, &env{stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }})
		out := stderr.String()
		if c.stdout {
			out = stdout.String()
		}
		if code != c.wantCode {
			t.Errorf("bulksync %s: exit %d, want %d", strings.Join(c.args, " "), code, c.wantCode)
		}
		if !strings.HasSuffix(out, exitStatusHelp) {
			t.Errorf("bulksync %s: the help does not end with EXIT STATUS:\n%s", strings.Join(c.args, " "), out)
		}
		if len(c.args) > 0 {
			names[c.args[0]] = true
		}
	}
	for _, want := range []string{"plan", "apply", "runs", "demo", "fake-api"} {
		if !names[want] {
			t.Errorf("command %s not checked", want)
		}
	}
}

// The observability flags are listed for plan and apply.
func TestHelpListsObservabilityFlags(t *testing.T) {
	for _, cmd := range []string{"plan", "apply"} {
		var stderr bytes.Buffer
		run([]string{cmd, "-h"}, &env{stdout: &bytes.Buffer{}, stderr: &stderr, getenv: func(string) string { return "" }})
		for _, flag := range []string{"-quiet", "-stats-interval", "-log-format", "-log-level", "-metrics-file", "-pushgateway"} {
			if !strings.Contains(stderr.String(), "  "+flag+" ") && !strings.Contains(stderr.String(), "  "+flag+"\n") {
				t.Errorf("%s -h does not list %s", cmd, flag)
			}
		}
	}
}
