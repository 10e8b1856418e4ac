package cliflag

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"testing"
)

func positive(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("--n: %q is not a count of 1 or more", s)
	}
	return n, nil
}

// A Value is parsed as the command line is: a bad one is its parse
// function's error as it is, a good one is stored, and help shows the
// form and the default.
func TestValue(t *testing.T) {
	newSet := func() (*flag.FlagSet, *int, *bytes.Buffer) {
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		var out bytes.Buffer
		fs.SetOutput(&out)
		fs.Usage = func() { PrintDefaults(fs) }
		var n int
		Value(fs, &n, "n", "N", "3", positive, "how many")
		return fs, &n, &out
	}
	fs, n, _ := newSet()
	if *n != 3 {
		t.Errorf("default: got %d, want 3", *n)
	}
	if err := Parse(fs, []string{"--n", "7"}); err != nil || *n != 7 {
		t.Errorf("--n 7: got %d, %v", *n, err)
	}
	fs, n, out := newSet()
	err := Parse(fs, []string{"--n", "0", "--other"})
	if err == nil || err.Error() != `--n: "0" is not a count of 1 or more` || *n != 3 || out.Len() != 0 {
		t.Errorf("--n 0: got %d, err %v, output %q", *n, err, out.String())
	}
	fs, _, out = newSet()
	if err := Parse(fs, []string{"-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	if want := "  --n N\n    \thow many (default 3)\n"; !strings.Contains(out.String(), want) {
		t.Errorf("help %q does not have %q", out.String(), want)
	}
}
