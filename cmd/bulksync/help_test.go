package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulksync/bulksync/sync"
)

// helpOf runs bulksync ARGS and returns the exit code and the help: on
// stdout for bulksync's own, on stderr for a command's.
func helpOf(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(args, &env{stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }})
	return code, stdout.String(), stderr.String()
}

// bulksync's own help ends with the EXIT STATUS section, as do plan's and
// apply's, the commands whose exit code a script branches on; the other
// commands' help does not carry it. -h and --help exit 0.
func TestHelpExitStatusOnlyForPlanAndApply(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		code, stdout, _ := helpOf(args...)
		if code != 0 || !strings.HasSuffix(stdout, exitStatusHelp) {
			t.Errorf("bulksync %s: exit %d, want 0 and a help ending with EXIT STATUS:\n%s", args[0], code, stdout)
		}
	}
	if code, _, stderr := helpOf(); code != 2 || !strings.HasSuffix(stderr, exitStatusHelp) {
		t.Errorf("bulksync with no command: exit %d, want 2 and the help on stderr:\n%s", code, stderr)
	}
	checked := map[string]bool{}
	for _, c := range commands() {
		for _, h := range []string{"-h", "--help"} {
			code, _, help := helpOf(c.name, h)
			if code != 0 {
				t.Errorf("bulksync %s %s: exit %d, want 0", c.name, h, code)
			}
			if !strings.Contains(help, "Flags:\n") {
				t.Errorf("bulksync %s %s: no help on stderr:\n%s", c.name, h, help)
			}
			want := c.name == "plan" || c.name == "apply"
			if got := strings.Contains(help, "EXIT STATUS"); got != want {
				t.Errorf("bulksync %s %s: EXIT STATUS shown: %v, want %v", c.name, h, got, want)
			}
			if want && !strings.HasSuffix(help, exitStatusHelp) {
				t.Errorf("bulksync %s %s: the help does not end with EXIT STATUS:\n%s", c.name, h, help)
			}
		}
		checked[c.name] = true
	}
	for _, want := range []string{"plan", "apply", "runs", "export", "check", "demo", "fake-api"} {
		if !checked[want] {
			t.Errorf("command %s not checked", want)
		}
	}
}

// Help writes flags as --name, as the README and the docs do, never as
// Go's default -name; an enumerated flag lists its values in place of its
// type.
func TestHelpShowsDoubleDashFlags(t *testing.T) {
	for _, c := range commands() {
		_, _, help := helpOf(c.name, "-h")
		for _, line := range strings.Split(help, "\n") {
			if strings.HasPrefix(line, "  -") && !strings.HasPrefix(line, "  --") {
				t.Errorf("bulksync %s -h: flag line %q is not --name", c.name, line)
			}
		}
	}
	for cmd, want := range map[string][]string{
		"plan":   {"  --input string\n", "  --empty keep|clear\n", "  --preset auto|generic|hubspot|salesforce\n", "  --encoding auto|utf-8|windows-1252|latin-1|utf-16\n", "  --format auto|csv|xlsx\n", "  --delimiter ,|;|tab\n", "  --on-duplicate error|first|last\n", "(default keep)"},
		"apply":  {"  --input string\n", "  --concurrency int\n", "  --log-level debug|info|warn|error\n"},
		"runs":   {"  --format table|csv|json\n"},
		"export": {"  --format csv|jsonl\n", "  --output string\n"},
	} {
		_, _, help := helpOf(cmd, "-h")
		for _, w := range want {
			if !strings.Contains(help, w) {
				t.Errorf("bulksync %s -h does not show %q:\n%s", cmd, w, help)
			}
		}
	}
}

// The observability flags are listed for plan and apply.
func TestHelpListsObservabilityFlags(t *testing.T) {
	for _, cmd := range []string{"plan", "apply"} {
		_, _, help := helpOf(cmd, "-h")
		for _, flag := range []string{"--quiet", "--stats-interval", "--log-format", "--log-level", "--metrics-file", "--pushgateway"} {
			if !strings.Contains(help, "  "+flag+" ") && !strings.Contains(help, "  "+flag+"\n") {
				t.Errorf("%s -h does not list %s", cmd, flag)
			}
		}
	}
}

// An enumerated flag with a value it does not allow fails as the command
// line is parsed: exit 2 with one line naming the flag, the value and the
// allowed values, and nothing else done: no state database, no report, no
// help dump.
func TestEnumFlagsRefusedWhenParsed(t *testing.T) {
	tests := []struct {
		cmd, flag, bad, allowed string
	}{
		{"plan", "--preset", "nope", "auto, generic, hubspot, salesforce"},
		{"plan", "--empty", "nope", "keep, clear"},
		{"apply", "--empty", "KEEPS", "keep, clear"},
		{"plan", "--on-duplicate", "newest", "error, first, last"},
		{"apply", "--on-duplicate", "nope", "error, first, last"},
		{"plan", "--encoding", "utf-7", "auto, utf-8, windows-1252, latin-1, utf-16"},
		{"plan", "--delimiter", "|", `",", ";", tab`},
		{"plan", "--format", "xls", "auto, csv, xlsx"},
		{"apply", "--format", "json", "auto, csv, xlsx"},
		{"plan", "--log-format", "xml", "text, json"},
		{"apply", "--log-level", "verbose", "debug, info, warn, error"},
		{"runs", "--format", "yaml", "table, csv, json"},
		{"export", "--format", "xml", "csv, jsonl"},
	}
	dir := t.TempDir()
	t.Chdir(dir)
	os.WriteFile("x.csv", []byte("phone_number,first_name\n+14155550100,Ada\n"), 0o600)
	getenv := func(k string) string {
		switch k {
		case "LINQ_API_V3_API_KEY":
			return "k"
		case "LINQ_API_V3_BASE_URL":
			return "http://127.0.0.1:1"
		case "XDG_STATE_HOME":
			return filepath.Join(dir, "state")
		}
		return ""
	}
	for _, tt := range tests {
		// Refused as it is parsed, the bad value is reported before the
		// stray argument after it and the missing --input or --output,
		// which later checks would report.
		args := []string{tt.cmd, tt.flag, tt.bad, "stray"}
		var stdout, stderr bytes.Buffer
		code := run(args, &env{stdout: &stdout, stderr: &stderr, getenv: getenv})
		want := "bulksync " + tt.cmd + ": usage error: " + tt.flag + ": unknown \"" + tt.bad + "\"; allowed: " + tt.allowed + "\n"
		if code != 2 || stderr.String() != want || stdout.Len() != 0 {
			t.Errorf("bulksync %s: exit %d, stderr %q, stdout %q; want exit 2, stderr %q", strings.Join(args, " "), code, stderr.String(), stdout.String(), want)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("refused runs left files behind: %v", names)
	}
}

// A value is accepted in any case and in its other spellings, and stored
// as the engine expects it.
func TestEnumFlagsCanonical(t *testing.T) {
	var o syncOptions
	e := &env{stderr: &bytes.Buffer{}}
	fs := newFlagSet(e, "plan", "", "")
	o.addFlags(fs, e)
	if err := parseFlags(fs, []string{"--empty", "Clear", "--delimiter", `\t`, "--encoding", "UTF-8", "--preset", "HubSpot", "--log-format", "JSON"}); err != nil {
		t.Fatal(err)
	}
	got := []string{o.empty, o.delimiter, o.encoding, o.preset, o.obs.LogFormat}
	want := []string{"clear", "tab", "utf-8", "hubspot", "json"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("parsed %q, want %q", got, want)
	}
}

// Other flag errors are one line too, naming the flag as --name and
// pointing at the help.
func TestFlagErrorsOneLine(t *testing.T) {
	for _, args := range [][]string{
		{"plan", "--bogus"},
		{"plan", "--show", "many"},
		{"runs", "--limit"},
	} {
		code, stdout, stderr := helpOf(args...)
		if code != 2 || stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, args[1]) || !strings.Contains(stderr, "'bulksync "+args[0]+" -h' lists the flags") {
			t.Errorf("bulksync %s: exit %d, stderr %q; want exit 2 and one line naming %s", strings.Join(args, " "), code, stderr, args[1])
		}
	}
}

// --region, --shard and --max-changes are refused as the command line is
// parsed, before the stray argument after them: exit 2, one line naming
// the flag, the value and the forms it takes; help shows the forms in
// place of a type.
func TestValueFlagsRefusedWhenParsed(t *testing.T) {
	tests := []struct {
		cmds        []string
		flag, bad   string
		form, error string
	}{
		{[]string{"plan", "apply", "check"}, "--region", "XX", "CODE", `--region: unknown region "XX"; use an ISO 3166 code such as US, GB, DE`},
		{[]string{"plan"}, "--region", "", "CODE", `--region: empty; use an ISO 3166 code such as US, GB, DE`},
		{[]string{"plan", "apply", "check", "undo"}, "--shard", "4/4", "i/n", `--shard: "4/4" is not i/n with 0 <= i < n, e.g. 0/4 for the first of four shards`},
		{[]string{"plan"}, "--shard", "1", "i/n", `--shard: "1" is not i/n with 0 <= i < n, e.g. 0/4 for the first of four shards`},
		{[]string{"plan", "apply", "check"}, "--max-changes", "lots", "N|P%", `--max-changes: "lots" is not a count (e.g. 500) or a percentage from 0% to 100% (e.g. 5%)`},
		{[]string{"apply"}, "--max-changes", "101%", "N|P%", `--max-changes: "101%" is not a count (e.g. 500) or a percentage from 0% to 100% (e.g. 5%)`},
		{[]string{"apply"}, "--max-changes", "-1", "N|P%", `--max-changes: "-1" is not a count (e.g. 500) or a percentage from 0% to 100% (e.g. 5%)`},
	}
	for _, tt := range tests {
		for _, cmd := range tt.cmds {
			args := []string{cmd, tt.flag, tt.bad, "stray"}
			code, stdout, stderr := helpOf(args...)
			want := "bulksync " + cmd + ": usage error: " + tt.error + "\n"
			if code != 2 || stderr != want || stdout != "" {
				t.Errorf("bulksync %q: exit %d, stderr %q, stdout %q; want exit 2, stderr %q", args, code, stderr, stdout, want)
			}
			_, _, help := helpOf(cmd, "-h")
			if !strings.Contains(help, "  "+tt.flag+" "+tt.form+"\n") {
				t.Errorf("bulksync %s -h does not show %s %s:\n%s", cmd, tt.flag, tt.form, help)
			}
		}
	}
	// Good values parse into what the run uses.
	var o syncOptions
	e := &env{stderr: &bytes.Buffer{}}
	fs := newFlagSet(e, "plan", "", "")
	o.addFlags(fs, e)
	if err := parseFlags(fs, []string{"--region", "gb", "--shard", "1/4", "--max-changes", "5%"}); err != nil {
		t.Fatal(err)
	}
	if o.region != "gb" || o.shard != (sync.Shard{Index: 1, Count: 4}) || o.maxChanges.String() != "5%" {
		t.Errorf("parsed region %q shard %v max-changes %v", o.region, o.shard, o.maxChanges)
	}
}

// Every command that can run from cron takes --quiet, with one help text.
func TestQuietOnEveryCronCommand(t *testing.T) {
	for _, cmd := range []string{"plan", "apply", "check", "export", "undo", "runs"} {
		_, _, help := helpOf(cmd, "-h")
		if !strings.Contains(help, "  --quiet\n    \t"+strings.ReplaceAll(quietUsage, "\n", "\n    \t")+"\n") {
			t.Errorf("bulksync %s -h does not show --quiet with its usage:\n%s", cmd, help)
		}
	}
}
