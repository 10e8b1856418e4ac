package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

func TestHeldOutputExitZeroPrintsNothing(t *testing.T) {
	var stdout, stderr bytes.Buffer
	h, out, errOut := newHeldOutput(&stdout, &stderr)
	fmt.Fprintln(out, "before hold")
	h.hold()
	fmt.Fprintln(out, "held out")
	fmt.Fprintln(errOut, "held err")
	h.end(0)
	if stdout.String() != "before hold\n" || stderr.Len() != 0 {
		t.Fatalf("exit 0 printed stdout %q stderr %q", stdout.String(), stderr.String())
	}
	fmt.Fprintln(errOut, "after end")
	if stderr.String() != "after end\n" {
		t.Fatalf("a write after end was held: %q", stderr.String())
	}
}

func TestHeldOutputReleasedOnFailure(t *testing.T) {
	var both bytes.Buffer // one writer for both shows the order
	var stderr bytes.Buffer
	h, out, errOut := newHeldOutput(&both, &stderr)
	h.hold()
	fmt.Fprintln(out, "1 out")
	fmt.Fprintln(errOut, "2 err")
	fmt.Fprintln(out, "3 out")
	if both.Len() != 0 || stderr.Len() != 0 {
		t.Fatal("output was not held")
	}
	h.end(1)
	if both.String() != "1 out\n3 out\n" || stderr.String() != "2 err\n" {
		t.Fatalf("released stdout %q stderr %q", both.String(), stderr.String())
	}
}

func TestHeldOutputKeepsTheHead(t *testing.T) {
	var stdout, stderr bytes.Buffer
	h, _, errOut := newHeldOutput(&stdout, &stderr)
	h.hold()
	line := strings.Repeat("x", 99) + "\n"
	n := holdCap/len(line) + 50
	for i := 0; i < n; i++ {
		fmt.Fprint(errOut, line)
	}
	fmt.Fprintln(errOut, "the end") // after the cap: cut too, though it would fit
	h.end(3)
	kept := holdCap / len(line) * len(line)
	got := stderr.String()
	if !strings.HasPrefix(got, strings.Repeat(line, holdCap/len(line))) {
		t.Fatal("the head was not kept whole")
	}
	rest := got[kept:]
	want := fmt.Sprintf("bulksync: --quiet: %d more bytes of output were cut; the first %d are above (the report has every row)\n", n*len(line)-kept+len("the end\n"), kept)
	if rest != want {
		t.Fatalf("after the head: %q, want %q", rest, want)
	}
}
