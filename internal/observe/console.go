package observe

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	stdsync "sync"
	"sync/atomic"

	"golang.org/x/term"
)

// Console is standard error, shared by the progress bar and everything else
// written there (logs, the summary, error messages, the signal notice). The
// bar is drawn on the last line without a newline; anything else written
// while it is shown erases it first, and the bar's next tick redraws it
// below. Writes are serialised, so log lines from several workers never
// interleave.
type Console struct {
	mu  stdsync.Mutex
	w   io.Writer
	tty bool // w is a terminal: a bar may be drawn
	fd  int  // w's file descriptor when tty, for its width
	bar bool // the bar is on the current line
	// erased is signalled when a write erased the bar, so that the bar is
	// drawn again at once below that write, not at the next tick.
	erased chan struct{}
	// records is set by SetFormat("json"): then every line bulksync itself
	// writes here (summary, stats, notices, the final error) is a JSON
	// record, so that a log collector can parse every line.
	// It is atomic: the signal notice is written from another goroutine.
	records atomic.Pointer[slog.Logger]
}

// SetFormat says how lines outside the logger are written: "json" makes
// each one a JSON record; anything else keeps text.
func (c *Console) SetFormat(format string) {
	if format != "json" {
		c.records.Store(nil)
		return
	}
	// Level debug: these records are not subject to --log-level. The
	// summary, the final error and the stats lines are what a run prints
	// at every level in text, and JSON must not lose them.
	c.records.Store(slog.New(slog.NewJSONHandler(c, &slog.HandlerOptions{Level: slog.LevelDebug})))
}

// JSON reports whether the console writes JSON records.
func (c *Console) JSON() bool { return c.records.Load() != nil }

// Record writes one JSON record, whatever --log-level; in text mode it
// writes nothing (callers print their text form instead).
func (c *Console) Record(level slog.Level, msg string, attrs ...slog.Attr) {
	if r := c.records.Load(); r != nil {
		r.LogAttrs(context.Background(), level, msg, attrs...)
	}
}

// Notice prints a line of bulksync's own, outside the log: in text
// "bulksync: msg", in JSON a record at level.
func (c *Console) Notice(level slog.Level, msg string, attrs ...slog.Attr) {
	if c.JSON() {
		c.Record(level, msg, attrs...)
		return
	}
	fmt.Fprintf(c, "bulksync: %s\n", msg)
}

// NewConsole wraps w, once: a console passed in is returned as it is.
func NewConsole(w io.Writer) *Console {
	if c, ok := w.(*Console); ok {
		return c
	}
	c := &Console{w: w, erased: make(chan struct{}, 1)}
	// Any writer with a descriptor: --quiet's wrapper passes the file's on.
	if f, ok := w.(interface{ Fd() uintptr }); ok && term.IsTerminal(int(f.Fd())) {
		c.tty, c.fd = true, int(f.Fd())
	}
	return c
}

// eraseBar is the ANSI sequence that returns to the start of the line and
// erases it.
const eraseBar = "\r\033[K"

func (c *Console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bar {
		io.WriteString(c.w, eraseBar)
		c.bar = false
		select {
		case c.erased <- struct{}{}:
		default: // a redraw is already due
		}
	}
	return c.w.Write(p)
}

// clearBar erases the bar if it is shown.
func (c *Console) clearBar() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bar {
		io.WriteString(c.w, eraseBar)
		c.bar = false
	}
}

// width is the terminal's width in columns, or 80 when unknown.
func (c *Console) width() int {
	if c.tty {
		if w, _, err := term.GetSize(c.fd); err == nil && w > 0 {
			return w
		}
	}
	return 80
}

// barWriter is what the progress bar draws through: its output stays on the
// current line, so the console marks the bar as shown.
type barWriter struct{ c *Console }

func (b barWriter) Write(p []byte) (int, error) {
	b.c.mu.Lock()
	defer b.c.mu.Unlock()
	b.c.bar = true
	return b.c.w.Write(p)
}
