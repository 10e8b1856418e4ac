package main

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// windowRun is one fixed-window server of figure 6w: the fake's
// --rate-limit L --window W, the only kind of limit Linq documents ("30
// messages per 60-second window"), with Retry-After in seconds as it
// documents too.
type windowRun struct {
	limit  float64
	window time.Duration
	rows   int
}

// windowFigure is figure 6w, for information: how much of a fixed-window
// server's capacity apply uses, and the share of its requests answered 429.
func (b *bench) windowFigure(ctx context.Context) figure {
	fig := figure{id: "6w", name: "fixed-window servers (fake --window, Retry-After in seconds), --concurrency 32: share of the windows' capacity used"}
	var shown, details []string
	for i, w := range b.sz.windowRuns {
		fmt.Fprintf(b.log, "bench: figure 6w: %g/s in %v windows, %d rows\n", w.limit, w.window, w.rows)
		res, err := b.apply(ctx, applyRun{name: fmt.Sprintf("fig6w-%d", i), rows: w.rows,
			fakeArgs: []string{"--rate-limit", strconv.FormatFloat(w.limit, 'f', -1, 64), "--window", w.window.String()},
			flags:    []string{"--concurrency", "32"}})
		if err == nil && res.stats.OK != w.rows {
			err = fmt.Errorf("%g/s in %v windows: %d of %d PATCH requests answered 200", w.limit, w.window, res.stats.OK, w.rows)
		}
		if err != nil {
			fig.err = err
			return fig
		}
		share, windows := windowShare(res.entries, w.limit, w.window)
		shown = append(shown, percent(share))
		details = append(details, fmt.Sprintf("%g/s in %v windows, %d rows: %s of %d windows' capacity, %d of %d PATCHes 429 (%s), %.1f s from the first to the last accepted",
			w.limit, w.window, w.rows, percent(share), windows, res.stats.Throttled, res.stats.Requests, percent(res.stats.throttledShare()),
			res.stats.LastOK.Sub(res.stats.FirstOK).Seconds()))
	}
	fig.shown = strings.Join(shown, " · ")
	fig.detail = strings.Join(details, "; ")
	return fig
}

// windowShare replays the fake's windows over its request log (each opens
// with the first request after the last one ended; every request counts)
// and returns what was accepted against the limit over the time the
// windows took: from the first window's start to the last one's, plus the
// share of a window the last one used. A client sending each window's n at
// its start, or spreading them evenly, scores 100%.
func windowShare(entries []logEntry, limit float64, window time.Duration) (float64, int) {
	n := max(1, math.Round(limit*window.Seconds()))
	var first, start time.Time
	windows, accepted, inLast := 0, 0, 0
	for _, e := range entries {
		if windows == 0 || !e.Time.Before(start.Add(window)) {
			start, inLast = e.Time, 0
			if windows == 0 {
				first = start
			}
			windows++
		}
		if e.Status != http.StatusTooManyRequests {
			accepted++
			inLast++
		}
	}
	if windows == 0 {
		return 0, 0
	}
	span := start.Sub(first).Seconds() + window.Seconds()*float64(inLast)/n
	return float64(accepted) / (limit * span), windows
}

func (b *bench) windowOnly(ctx context.Context) []figure {
	return []figure{b.windowFigure(ctx)}
}

// windowRunsText lists the runs of figure 6w for BENCHMARKS.md.
func windowRunsText(runs []windowRun) string {
	var parts []string
	for _, w := range runs {
		parts = append(parts, fmt.Sprintf("%g/s in %v windows, %d rows", w.limit, w.window, w.rows))
	}
	return strings.Join(parts, " and ")
}
