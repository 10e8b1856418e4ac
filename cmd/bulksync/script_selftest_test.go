package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// The scripts' custom commands are tests too: one that cannot fail proves
// nothing. TestScriptCommandsFail runs testdata/script_selftest, where
//
//	fail_<command>_*.txtar  must fail, with the message of its "want:" line
//	pass_<command>_*.txtar  must pass
//
// Each check (scriptChecks) has a fail_ script for a check that does not
// hold, and a fail_<command>_negated script for "!" on one that does. Each
// action (scriptActions) must refuse "!".
func TestScriptCommandsFail(t *testing.T) {
	const dir = "../../testdata/script_selftest"
	files, err := filepath.Glob(filepath.Join(dir, "*.txtar"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts in %s (%v)", dir, err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".txtar")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case strings.HasPrefix(name, "fail_"):
				want := wantLine(string(b))
				if want == "" {
					t.Fatalf("%s has no \"want: \" line saying how it fails", file)
				}
				expectScript(t, file, want)
			case strings.HasPrefix(name, "pass_"):
				expectScript(t, file, "")
			default:
				t.Fatalf("%s: name must start with fail_ or pass_", file)
			}
		})
	}
	for name := range scriptChecks {
		for _, prefix := range []string{"fail_" + name + "_", "fail_" + name + "_negated"} {
			if !slices.ContainsFunc(files, func(f string) bool { return strings.HasPrefix(filepath.Base(f), prefix) }) {
				t.Errorf("check %s has no %s*.txtar in %s", name, prefix, dir)
			}
		}
	}
	for name := range scriptActions {
		t.Run("refuse_negated_"+name, func(t *testing.T) {
			t.Parallel()
			file := filepath.Join(t.TempDir(), "negated_"+name+".txtar")
			if err := os.WriteFile(file, []byte("! "+name+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			expectScript(t, file, name+` does not take "!"`)
		})
	}
}

// wantLine is the text after "want: " in a script's comment lines.
func wantLine(script string) string {
	for line := range strings.Lines(script) {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "# want: "); ok {
			return rest
		}
		if strings.HasPrefix(line, "-- ") {
			break // the files begin
		}
	}
	return ""
}

// expectScript runs one script with the scripts' commands and checks that
// it passes (want == "") or fails with a FAIL line holding want.
func expectScript(t *testing.T, file, want string) {
	t.Helper()
	rt := &recordingT{}
	p := scriptParams("")
	p.Files = []string{file}
	func() {
		defer rt.recover()
		testscript.RunT(rt, p)
	}()
	log := rt.log.String()
	switch {
	case want == "" && rt.failed:
		t.Errorf("%s failed, want it to pass:\n%s", file, log)
	case want != "" && !rt.failed:
		t.Errorf("%s passed, want it to fail with %q:\n%s", file, want, log)
	case want != "" && !failLineHas(log, want):
		t.Errorf("%s failed, but not with %q:\n%s", file, want, log)
	}
}

// failLineHas reports whether one of the log's FAIL lines holds want.
func failLineHas(log, want string) bool {
	for line := range strings.Lines(log) {
		if strings.Contains(line, "FAIL: ") && strings.Contains(line, want) {
			return true
		}
	}
	return false
}

// recordingT runs a script in the calling goroutine and records whether it
// failed, where *testing.T would fail the test. testscript calls Run once
// per script and FailNow to stop one.
type recordingT struct {
	failed bool
	log    strings.Builder
}

var errStopScript = errors.New("script stopped")

func (r *recordingT) Skip(args ...any) {
	r.Log(append([]any{"SKIP:"}, args...)...)
	panic(errStopScript)
}

func (r *recordingT) Fatal(args ...any) {
	r.Log(args...)
	r.FailNow()
}

func (r *recordingT) FailNow() {
	r.failed = true
	panic(errStopScript)
}

func (r *recordingT) Parallel()       {}
func (r *recordingT) Log(args ...any) { fmt.Fprintln(&r.log, args...) }
func (r *recordingT) Verbose() bool   { return false }
func (r *recordingT) Run(_ string, f func(testscript.T)) {
	defer r.recover()
	f(r)
}

// recover stops the panic that FailNow and Skip use to end a script.
func (r *recordingT) recover() {
	if e := recover(); e != nil && e != errStopScript {
		panic(e)
	}
}
