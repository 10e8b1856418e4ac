package observe

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
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
	records atomic.Pointer[recorder]
	setMu   stdsync.Mutex // SetFormat and With
	format  string
	attrs   []slog.Attr // on every record: the command, the shard (With)
}

// recorder writes the JSON records; keys are those of the attrs it puts on
// every record.
type recorder struct {
	log  *slog.Logger
	keys []string
}

// SetFormat says how lines outside the logger are written: "json" makes
// each one a JSON record; anything else keeps text.
func (c *Console) SetFormat(format string) {
	c.setMu.Lock()
	defer c.setMu.Unlock()
	c.format = format
	c.setRecorder()
}

func (c *Console) setRecorder() {
	if c.format != "json" {
		c.records.Store(nil)
		return
	}
	// Level debug: these records are not subject to --log-level. The
	// summary, the final error and the stats lines are what a run prints
	// at every level in text, and JSON must not lose them.
	r := &recorder{log: slog.New(slog.NewJSONHandler(c, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	var args []any
	for _, a := range c.attrs {
		args = append(args, a)
		r.keys = append(r.keys, a.Key)
	}
	r.log = r.log.With(args...)
	c.records.Store(r)
}

// With puts attrs on every record from now on, as the run's logger has
// them: a log collector selects a run's lines by command (and shard), the
// stats and the summary included. An attr replaces one of the same key.
func (c *Console) With(attrs ...slog.Attr) {
	c.setMu.Lock()
	defer c.setMu.Unlock()
	for _, a := range attrs {
		i := slices.IndexFunc(c.attrs, func(b slog.Attr) bool { return b.Key == a.Key })
		if i < 0 {
			c.attrs = append(c.attrs, a)
		} else {
			c.attrs[i] = a
		}
	}
	c.setRecorder()
}

// JSON reports whether the console writes JSON records.
func (c *Console) JSON() bool { return c.records.Load() != nil }

// Record writes one JSON record, whatever --log-level; in text mode it
// writes nothing (callers print their text form instead). An attr of a
// key the console already puts on every record (With) is left out: a
// JSON object with a key twice is one that many parsers take half of.
func (c *Console) Record(level slog.Level, msg string, attrs ...slog.Attr) {
	r := c.records.Load()
	if r == nil {
		return
	}
	own := attrs[:0:0]
	for _, a := range attrs {
		if !slices.Contains(r.keys, a.Key) {
			own = append(own, a)
		}
	}
	r.log.LogAttrs(context.Background(), level, msg, own...)
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
