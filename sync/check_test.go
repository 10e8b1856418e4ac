package sync

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// CheckState reads a state without creating, migrating or locking
// anything, and sees a lock another run holds.
func TestCheckState(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "acct.db")
	listing := func() []string {
		var names []string
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			names = append(names, strings.TrimPrefix(p, dir))
			return nil
		})
		return names
	}

	before := listing()
	r := CheckState(path, "acct")
	if r.Status != CheckOK || !strings.Contains(r.Message, "does not exist yet") {
		t.Errorf("no state: %+v", r)
	}
	if got := listing(); !slices.Equal(got, before) {
		t.Errorf("CheckState created %v", got)
	}

	st, err := OpenState(path, "acct", "apply")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.BeginRun(context.Background(), RunInfo{Command: "apply"}); err != nil {
		t.Fatal(err)
	}
	r = CheckState(path, "acct")
	if r.Status != CheckWarn || !strings.Contains(r.Message, "1 runs") || !strings.Contains(r.Message, "locked by bulksync apply, pid") {
		t.Errorf("state locked by a run: %+v", r)
	}
	if r := CheckState(path, "other"); r.Status != CheckFail || !strings.Contains(r.Message, "another account") {
		t.Errorf("another account's state: %+v", r)
	}
	if err := st.EndRun(NewSummary("apply")); err != nil {
		t.Fatal(err)
	}
	st.Close()

	before = listing()
	r = CheckState(path, "acct")
	if r.Status != CheckOK || !strings.Contains(r.Message, "the last apply at") {
		t.Errorf("state after the run: %+v", r)
	}
	if got := listing(); !slices.Equal(got, before) {
		t.Errorf("CheckState changed the files: %v, was %v", got, before)
	}
}

func TestCheckExitCode(t *testing.T) {
	ok := CheckResult{Status: CheckOK}
	warn := CheckResult{Status: CheckWarn, Remote: true}
	local := CheckResult{Status: CheckFail}
	remote := CheckResult{Status: CheckFail, Remote: true}
	for _, c := range []struct {
		rs   []CheckResult
		want int
	}{
		{[]CheckResult{ok, warn}, 0},
		{[]CheckResult{ok, local}, 2},
		{[]CheckResult{local, remote}, 3},
		{[]CheckResult{remote, local}, 3},
	} {
		if got := CheckExitCode(c.rs); got != c.want {
			t.Errorf("%+v: exit %d, want %d", c.rs, got, c.want)
		}
	}
}
