package main

import (
	"fmt"
	"io"
	"time"

	"github.com/bulksync/bulksync/internal/atomicfile"
	"github.com/bulksync/bulksync/internal/htmlreport"
	"github.com/bulksync/bulksync/sync"
)

// htmlOut is plan/apply --html: a second sink for the report rows, written
// as one page when the run ends. Nil when --html was not given.
type htmlOut struct {
	path string
	rows *htmlreport.Collector
}

func newHTMLOut(path, command string) *htmlOut {
	if path == "" {
		return nil
	}
	return &htmlOut{path: path, rows: htmlreport.New(command)}
}

// events hands every report row to the page as well as to next.
func (h *htmlOut) events(next sync.Events) sync.Events {
	if h == nil {
		return next
	}
	return htmlEvents{next, h.rows}
}

// write renders the page, 0600, replacing any earlier one atomically; a
// run whose report was dropped (a usage error before any row) writes none.
func (h *htmlOut) write(input string, rows int, runErr error) error {
	if h == nil || rows == 0 {
		return runErr
	}
	err := atomicfile.Write(h.path, true, func(w io.Writer) error { return h.rows.Write(w, input, time.Now()) })
	if err != nil && runErr == nil {
		return fmt.Errorf("%w: --html: %v", sync.ErrAborted, err)
	}
	return runErr
}

type htmlEvents struct {
	sync.Events
	rows *htmlreport.Collector
}

func (h htmlEvents) Reported(r sync.ReportRow) {
	if h.Events != nil {
		h.Events.Reported(r)
	}
	h.rows.Add(r)
}

func (h htmlEvents) Planned(records, changes int) {
	if h.Events != nil {
		h.Events.Planned(records, changes)
	}
}

func (h htmlEvents) Attempted(a sync.AttemptEvent) {
	if h.Events != nil {
		h.Events.Attempted(a)
	}
}
