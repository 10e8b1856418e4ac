package main

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	stdsync "sync"
)

// quietUsage is --quiet's help, the same for every command that has it.
const quietUsage = "print nothing at all (stdout and stderr) unless the exit code is not 0; then everything, up to 1 MiB:\ncron mails only on trouble (no progress bar or stats lines either)"

// quietFlag is --quiet, one flag for every command that takes it (plan,
// apply, check, export, undo, runs): parseFlags starts holding the
// output once the command line has parsed with --quiet, and main releases
// it, or drops it, when the exit code is known. Until then nothing has
// been printed: a command prints nothing before its flags are parsed.
type quietFlag struct {
	p    *bool
	held *heldOutput // nil: nothing to hold (the demo's inner runs)
}

// addQuiet defines --quiet on fs, stored in *p.
func addQuiet(fs *flag.FlagSet, e *env, p *bool) {
	fs.Var(quietFlag{p, e.held}, "quiet", quietUsage)
}

func (q quietFlag) String() string {
	if q.p == nil { // the zero value flag.isZeroValue makes
		return "false"
	}
	return strconv.FormatBool(*q.p)
}

func (q quietFlag) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("want true or false, or --quiet alone")
	}
	*q.p = v
	return nil
}

func (q quietFlag) IsBoolFlag() bool { return true }

// holdIfQuiet starts holding the output of a command whose --quiet is set.
func holdIfQuiet(fs *flag.FlagSet) {
	f := fs.Lookup("quiet")
	if f == nil {
		return
	}
	if q, ok := f.Value.(quietFlag); ok && *q.p && q.held != nil {
		q.held.hold()
	}
}

// holdCap is the most --quiet keeps of a run's output. A failing run of
// 100,000 rows logs a line per failed row; the head says what went wrong,
// and the report has every row.
const holdCap = 1 << 20

// heldOutput is --quiet: a command prints nothing at all unless it
// fails. Cron mails whatever a job prints, so a nightly run that
// prints its summary mails every night and the mail that matters drowns;
// held output reaches the terminal (and the mail) only when the exit code
// is not 0. Standard output and standard error are kept in one list, so
// that released output keeps the order it was written in.
type heldOutput struct {
	mu      stdsync.Mutex
	holding bool
	parts   []heldPart
	size    int // bytes in parts
	cut     int // bytes dropped after holdCap
	stdout  io.Writer
	stderr  io.Writer
}

type heldPart struct {
	w io.Writer
	b []byte
}

// newHeldOutput wraps stdout and stderr; nothing is held until hold.
func newHeldOutput(stdout, stderr io.Writer) (h *heldOutput, out, errOut io.Writer) {
	h = &heldOutput{stdout: stdout, stderr: stderr}
	return h, heldWriter{h, stdout}, heldWriter{h, stderr}
}

// hold starts keeping what is written.
func (h *heldOutput) hold() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.holding = true
}

// end stops holding: with a code other than 0 what was kept is written
// out, followed by a line saying how much was cut; with 0 it is dropped.
// Later writes go straight through.
func (h *heldOutput) end(code int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.holding {
		return
	}
	h.holding = false
	parts, size, cut := h.parts, h.size, h.cut
	h.parts, h.size, h.cut = nil, 0, 0
	if code == 0 {
		return
	}
	for _, p := range parts {
		p.w.Write(p.b)
	}
	if cut > 0 {
		fmt.Fprintf(h.stderr, "bulksync: --quiet: %d more bytes of output were cut; the first %d are above (the report has every row)\n", cut, size)
	}
}

// heldWriter is one of the two streams.
type heldWriter struct {
	h *heldOutput
	w io.Writer
}

func (hw heldWriter) Write(p []byte) (int, error) {
	h := hw.h
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.holding {
		return hw.w.Write(p)
	}
	// Whole writes only, and none after the first that does not fit:
	// what is kept is the head, and no line (no JSON record) is cut in
	// two.
	if h.cut > 0 || h.size+len(p) > holdCap {
		h.cut += len(p)
		return len(p), nil
	}
	h.parts = append(h.parts, heldPart{hw.w, append([]byte(nil), p...)})
	h.size += len(p)
	return len(p), nil
}

// Fd is the stream's file descriptor, so that the console still knows a
// terminal through the wrapper; ^0 (no terminal) when it is not a file.
func (hw heldWriter) Fd() uintptr {
	if f, ok := hw.w.(interface{ Fd() uintptr }); ok {
		return f.Fd()
	}
	return ^uintptr(0)
}
