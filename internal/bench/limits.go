package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// limitCell is one server of the rate-limit matrix (figure 6).
type limitCell struct {
	limit      float64
	burst      int
	latency    time.Duration
	retryAfter string        // the fake's --retry-after: seconds, none or 250ms
	network    time.Duration // the fake's --network-delay (figure 6n)
}

func (c limitCell) name() string {
	name := fmt.Sprintf("limit %g, burst %d, latency %v, Retry-After %s", c.limit, c.burst, c.latency, c.retryAfter)
	if c.network > 0 {
		name += fmt.Sprintf(", %v away", c.network)
	}
	return name
}

// limitResult is how apply fared against one cell, from the request log.
type limitResult struct {
	share     float64       // successful writes/s ÷ limit, first to last success
	throttled float64       // 429s ÷ PATCH requests
	reach     time.Duration // from the first 429 to 90% of the limit over a second; -1: never
	failed    int
	err       error
}

// goals of figure 6, per cell.
const (
	cellRateGoal      = 0.95
	cellThrottledGoal = 0.01
	cellReachGoal     = 3 * time.Second
)

func (r limitResult) meets() (rate, throttled, reach bool) {
	return r.share >= cellRateGoal, r.throttled <= cellThrottledGoal, r.reach >= 0 && r.reach <= cellReachGoal
}

// limitCells is the matrix: each limit with a burst of 1 and of a tenth of
// a second's worth, with no latency and 20 ms, and each Retry-After style.
func limitCells(limits []float64, latencies []time.Duration, styles []string) []limitCell {
	var cells []limitCell
	for _, l := range limits {
		for _, b := range []int{1, max(1, int(l/10))} {
			for _, lat := range latencies {
				for _, ra := range styles {
					cells = append(cells, limitCell{limit: l, burst: b, latency: lat, retryAfter: ra})
				}
			}
		}
	}
	return cells
}

// rateMatrix is figure 6: apply with the default --rate 0 and --concurrency
// 32 against servers with different limits, bursts, latencies and
// Retry-After styles; each run lasts about limitSeconds at the limit.
func (b *bench) rateMatrix(ctx context.Context) []figure {
	sz := b.sz
	cells := limitCells(sz.matrixLimits, sz.matrixLatencies, sz.matrixStyles)
	if sz.matrixCells != nil {
		cells = slices.DeleteFunc(cells, func(c limitCell) bool { return !sz.matrixCells.MatchString(c.name()) })
		if len(cells) == 0 {
			return []figure{{id: "6", name: "rate-limit matrix", err: fmt.Errorf("-cells %q matches no cell", sz.matrixCells)}}
		}
	}
	results := make([]limitResult, len(cells))
	for i, c := range cells {
		fmt.Fprintf(b.log, "bench: figure 6: cell %d/%d: %s\n", i+1, len(cells), c.name())
		results[i] = b.limitRun(ctx, fmt.Sprintf("fig6-%d", i), c, int(c.limit*sz.matrixSeconds))
		if ctx.Err() != nil {
			break
		}
	}
	b.sections = append(b.sections, matrixMarkdown(cells, results))

	var okRate, okThrottled, okReach, measured int
	var worst []string
	for i, r := range results {
		if r.err != nil {
			worst = append(worst, fmt.Sprintf("%s: %v", cells[i].name(), r.err))
			continue
		}
		measured++
		a, t, re := r.meets()
		okRate += b2i(a)
		okThrottled += b2i(t)
		okReach += b2i(re)
	}
	n := float64(len(cells))
	detail := fmt.Sprintf("%d of %d cells measured; see the matrix below", measured, len(cells))
	if len(worst) > 0 {
		detail += "; errors: " + strings.Join(worst, "; ")
	}
	figs := []figure{
		{id: "6a", name: fmt.Sprintf("rate-limit matrix (%d servers), --rate 0, --concurrency 32: cells with ≥ 95%% of the limit over the whole run", len(cells)),
			value: float64(okRate) / n, shown: fmt.Sprintf("%d/%d", okRate, len(cells)), goal: atLeast(1, "all"), detail: detail},
		{id: "6b", name: "the same runs: cells with ≤ 1% of PATCH requests answered 429",
			value: float64(okThrottled) / n, shown: fmt.Sprintf("%d/%d", okThrottled, len(cells)), goal: atLeast(1, "all"), detail: detail},
		{id: "6c", name: "the same runs: cells reaching 90% of the limit (over one second) within 3 s of the first 429",
			value: float64(okReach) / n, shown: fmt.Sprintf("%d/%d", okReach, len(cells)), goal: atLeast(1, "all"), detail: detail},
	}
	if sz.matrixCells == nil { // a part of the matrix is a quick look at a few cells; -only 6j / 6w run 6j / 6w alone
		figs = append(figs, b.jitterFigure(ctx), b.windowFigure(ctx), b.farFigure(ctx))
	}
	return figs
}

// farFigure is figure 6n, for information: cells of the matrix against a
// server some way off (the fake's --network-delay), whose 429s come back
// as late as its other answers. The fake's --latency is its own time,
// paid only by accepted writes, so in the matrix a 429 comes back at once:
// one reading of a real server, whose answers all cross the network.
func (b *bench) farFigure(ctx context.Context) figure {
	fig := figure{id: "6n", name: "servers further away (fake --network-delay: 429s as late as other answers), --concurrency 32: share of the limit · 429s · time to 90%"}
	var shown, details []string
	for i, c := range b.sz.farCells {
		fmt.Fprintf(b.log, "bench: figure 6n: %s\n", c.name())
		r := b.limitRun(ctx, fmt.Sprintf("fig6n-%d", i), c, int(c.limit*b.sz.matrixSeconds))
		if r.err != nil {
			fig.err = fmt.Errorf("%s: %w", c.name(), r.err)
			return fig
		}
		reach := "never"
		if r.reach >= 0 {
			reach = fmt.Sprintf("%.1f s", r.reach.Seconds())
		}
		cell := fmt.Sprintf("%s · %s · %s", percent(r.share), percent(r.throttled), reach)
		shown = append(shown, cell)
		details = append(details, fmt.Sprintf("%s: %s, %d rows failed", c.name(), cell, r.failed))
	}
	fig.shown = strings.Join(shown, "; ")
	fig.detail = strings.Join(details, "; ")
	return fig
}

// farCellsText lists the cells of figure 6n for BENCHMARKS.md.
func farCellsText(cells []limitCell) string {
	var parts []string
	for _, c := range cells {
		parts = append(parts, c.name())
	}
	return strings.Join(parts, "; ")
}

func (b *bench) farOnly(ctx context.Context) []figure {
	return []figure{b.farFigure(ctx)}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// limitRun applies rows against a fake set up as c and measures the run.
func (b *bench) limitRun(ctx context.Context, name string, c limitCell, rows int) limitResult {
	args := []string{"--rate-limit", strconv.FormatFloat(c.limit, 'f', -1, 64), "--burst", strconv.Itoa(c.burst),
		"--retry-after", c.retryAfter}
	if c.latency > 0 {
		args = append(args, "--latency", c.latency.String())
	}
	if c.network > 0 {
		args = append(args, "--network-delay", c.network.String())
	}
	res, err := b.apply(ctx, applyRun{name: name, rows: rows, fakeArgs: args, flags: []string{"--concurrency", "32"}})
	if err != nil {
		return limitResult{err: err}
	}
	if res.stats.OK < 2 {
		return limitResult{err: fmt.Errorf("only %d PATCH requests answered 200", res.stats.OK)}
	}
	r := limitResult{
		share:     res.stats.okRate() / c.limit,
		throttled: res.stats.throttledShare(),
		reach:     reachAfterThrottle(res.entries, c.limit, 0.9),
		failed:    res.apply.summary.Results["failed"],
	}
	return r
}

// reachAfterThrottle is the time from the first 429 to the first moment
// the server had accepted share×limit PATCHes in the second before; 0 when
// that came before any 429, -1 when never.
func reachAfterThrottle(entries []logEntry, limit, share float64) time.Duration {
	var oks []time.Time
	var first429 time.Time
	for _, e := range entries {
		if e.Method != http.MethodPatch {
			continue
		}
		switch e.Status {
		case http.StatusOK:
			oks = append(oks, e.Time)
		case http.StatusTooManyRequests:
			if first429.IsZero() {
				first429 = e.Time
			}
		}
	}
	j := 0
	for i, t := range oks {
		for oks[j].Before(t.Add(-time.Second)) {
			j++
		}
		if float64(i-j+1) >= share*limit {
			if first429.IsZero() || t.Before(first429) {
				return 0
			}
			return t.Sub(first429)
		}
	}
	return -1
}

// matrixMarkdown lays out figure 6: a row per server, a column per
// Retry-After style, each cell "share of the limit · 429 share · time to
// 90%", with ✓ when all three goals are met.
func matrixMarkdown(cells []limitCell, results []limitResult) string {
	var styles []string
	for _, c := range cells {
		if !slices.Contains(styles, c.retryAfter) {
			styles = append(styles, c.retryAfter)
		}
	}
	var b strings.Builder
	b.WriteString("## Figure 6: the rate-limit matrix\n\n")
	b.WriteString("`bulksync apply --concurrency 32` (default `--rate 0`) against `bulksync fake-api --rate-limit L --burst B --latency D --retry-after S`; " +
		"each run has L × the run length rows. Each cell: successful writes/s ÷ L over the whole run (first to last success) · share of PATCHes answered 429 · " +
		"time from the first 429 to 90% of L over one second (\"never\": not in the run). ✓ when ≥ 95%, ≤ 1% and ≤ 3 s.\n\n")
	b.WriteString("| limit | burst | latency |")
	for _, s := range styles {
		b.WriteString(" Retry-After " + s + " |")
	}
	b.WriteString("\n|--:|--:|--:|")
	for range styles {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for i := 0; i < len(cells); i += len(styles) {
		c := cells[i]
		fmt.Fprintf(&b, "| %g | %d | %v |", c.limit, c.burst, c.latency)
		for k := range styles {
			if i+k >= len(results) {
				b.WriteString(" — |")
				continue
			}
			b.WriteString(" " + cellText(results[i+k]) + " |")
		}
		b.WriteString("\n")
	}
	return b.String()
}

func cellText(r limitResult) string {
	if r.err != nil {
		return "error: " + strings.ReplaceAll(r.err.Error(), "|", `\|`)
	}
	reach := "never"
	if r.reach >= 0 {
		reach = fmt.Sprintf("%.1f s", r.reach.Seconds())
	}
	s := fmt.Sprintf("%s · %s · %s", percent(r.share), percent(r.throttled), reach)
	if a, t, re := r.meets(); a && t && re {
		s += " ✓"
	}
	if r.failed > 0 {
		s += fmt.Sprintf(" (%d rows failed)", r.failed)
	}
	return s
}

// noisyThrottle is figure 7: a server answering a random 5% of requests
// 429 with Retry-After: 1 whatever the rate (the soak's), against the same
// server without them. The rate is over the middle 90% of the rows (5th to
// 95th percentile success), so that the last rows waiting out a
// Retry-After, which any client must, do not hide a starved limiter.
func (b *bench) noisyThrottle(ctx context.Context) []figure {
	sz := b.sz
	fig := figure{id: "7", name: fmt.Sprintf("apply, %v latency, --concurrency 32, 5%% of answers 429 whatever the rate: rows/s ÷ the same without them", sz.latency),
		goal: atLeast(0.8, "≥ 80%")}
	rows := int(sz.noisySeconds * 32 / sz.latency.Seconds())
	var rates [2]float64
	var whole [2]float64
	var throttled int
	for i, extra := range [][]string{nil, {"--fail-429", "0.05", "--random-seed", "1"}} {
		fmt.Fprintf(b.log, "bench: figure 7: apply %d rows, %v latency %v\n", rows, sz.latency, extra)
		res, err := b.apply(ctx, applyRun{name: fmt.Sprintf("fig7-%d", i), rows: rows,
			fakeArgs: append([]string{"--latency", sz.latency.String()}, extra...), flags: []string{"--concurrency", "32"}})
		if err == nil && res.stats.OK != rows {
			err = fmt.Errorf("%d of %d PATCH requests answered 200", res.stats.OK, rows)
		}
		if err != nil {
			fig.err = err
			return []figure{fig}
		}
		rates[i], whole[i] = middleRate(res.entries), res.stats.okRate()
		throttled = res.stats.Throttled
	}
	fig.value = rates[1] / rates[0]
	fig.shown = percent(fig.value)
	fig.detail = fmt.Sprintf("middle 90%% of the rows: %.0f rows/s against %.0f/s; whole runs %.0f/s against %.0f/s (%s, the last rows wait out their Retry-After); %d rows, %d answers 429",
		rates[1], rates[0], whole[1], whole[0], percent(whole[1]/whole[0]), rows, throttled)
	return []figure{fig}
}

// middleRate is the rate of successful PATCHes between the 5th and the 95th
// percentile of them.
func middleRate(entries []logEntry) float64 {
	var oks []time.Time
	for _, e := range entries {
		if e.Method == http.MethodPatch && e.Status == http.StatusOK {
			oks = append(oks, e.Time)
		}
	}
	lo, hi := len(oks)/20, len(oks)*19/20
	if hi <= lo || !oks[hi].After(oks[lo]) {
		return 0
	}
	return float64(hi-lo) / oks[hi].Sub(oks[lo]).Seconds()
}
