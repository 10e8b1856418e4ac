package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"time"
)

// applyRun is one apply against a fresh fake: the fake is seeded with rows
// cards (first_name Old), bulksync applies an export of the same rows
// (first_name New), so every row is a PATCH that really changes the card.
// With planFirst, `bulksync plan` runs over the same files first.
type applyRun struct {
	name      string
	rows      int
	fakeArgs  []string
	flags     []string // apply flags
	planFirst bool
}

// applyResult is how an applyRun went, as the fake and the processes saw it.
type applyResult struct {
	entries []logEntry // the fake's request log, by arrival
	stats   writeStats
	apply   child
	plan    child // zero unless planFirst
}

// apply carries out r and reads the fake's request log once it has stopped.
func (b *bench) apply(ctx context.Context, r applyRun) (applyResult, error) {
	var res applyResult
	input := filepath.Join(b.dir, r.name+"-export.csv")
	if err := writeFile(input, r.rows, writeExport); err != nil {
		return res, err
	}
	f, err := b.startFake(ctx, fakeSpec{name: r.name, seedRows: r.rows, requestLog: true, args: r.fakeArgs})
	if err != nil {
		return res, err
	}
	defer f.stop()
	if r.planFirst {
		if res.plan, err = b.runSync(ctx, f, "plan", input, b.sz.childTimeout); err != nil {
			return res, err
		}
	}
	if res.apply, err = b.runSync(ctx, f, "apply", input, b.sz.childTimeout, r.flags...); err != nil {
		return res, err
	}
	if err := f.stop(); err != nil {
		return res, err
	}
	entries, err := readLog(f.logPath)
	if err != nil {
		return res, err
	}
	res.entries, res.stats = entries, patchStats(entries, time.Time{})
	s := res.apply.summary
	if b.verbose {
		fmt.Fprintf(b.log, "    %s: %d PATCH, %d ok, %d 429; summary results %v errors %v\n",
			r.name, res.stats.Requests, res.stats.OK, res.stats.Throttled, s.Results, s.ErrorCodes)
	}
	if s.Records != r.rows || s.Changes != r.rows {
		return res, fmt.Errorf("%s: the plan has %d records and %d changes, want %d of each", r.name, s.Records, s.Changes, r.rows)
	}
	return res, nil
}

// applyThroughput is figure 1: apply against a server that takes a fixed
// time per request, as a share of what the minimal net/http loop of figure
// 3 does with the same requests, workers and latency. The loop, not C
// workers that never pause, is the bar: the fake and the machine keep any
// client some way under C/latency, and that share is shown beside.
func (b *bench) applyThroughput(ctx context.Context) []figure {
	var figs []figure
	lat := b.sz.latency
	for i, c := range b.sz.concurrencies {
		fig := figure{
			id:   "1" + string(rune('a'+i)),
			name: fmt.Sprintf("apply, %v latency, --concurrency %d: rows/s ÷ the minimal net/http loop's", lat, c),
		}
		if c >= 32 {
			fig.goal = atLeast(0.98, "≥ 98%")
		}
		rows := int(b.sz.applySeconds * float64(c) / lat.Seconds())
		fmt.Fprintf(b.log, "bench: figure %s: apply %d rows at --concurrency %d, %v latency\n", fig.id, rows, c, lat)
		res, err := b.apply(ctx, applyRun{
			name:     "fig" + fig.id,
			rows:     rows,
			fakeArgs: []string{"--latency", lat.String()},
			flags:    []string{"--concurrency", strconv.Itoa(c)},
		})
		if err == nil && res.stats.OK != rows {
			err = fmt.Errorf("%d of %d PATCH requests answered 200 (%d sent)", res.stats.OK, rows, res.stats.Requests)
		}
		var raw rawResult
		if err == nil {
			fmt.Fprintf(b.log, "bench: figure %s: raw loop, %d rows, %d workers, %v latency\n", fig.id, rows, c, lat)
			if raw, err = b.rawRun(ctx, "fig"+fig.id+"-raw", rows, c, lat); err != nil {
				err = fmt.Errorf("the minimal loop: %w", err)
			}
		}
		if err != nil {
			fig.err = err
			figs = append(figs, fig)
			continue
		}
		window := res.stats.applyWindow(lat)
		got := float64(rows) / window.Seconds()
		ideal := float64(c) / lat.Seconds()
		fig.value, fig.shown = got/raw.rate, percent(got/raw.rate)
		fig.detail = fmt.Sprintf("%d rows in %.2f s = %.0f rows/s, %s of the ideal %.0f/s; minimal net/http loop %.0f rows/s, %s of the ideal (its mean round trip %.1f ms); whole process %.2f s",
			rows, window.Seconds(), got, percent(got/ideal), ideal, raw.rate, percent(raw.rate/ideal),
			raw.roundTrip.Seconds()*1000, res.apply.wall.Seconds())
		figs = append(figs, fig)
	}
	return figs
}

// applyUnderLimit is figure 2: apply with the default --rate 0 against a
// server that answers 429 above a rate, which the limiter must learn.
func (b *bench) applyUnderLimit(ctx context.Context) []figure {
	sz := b.sz
	rateFig := figure{id: "2a", name: fmt.Sprintf("apply under a %g req/s server limit (burst %d), --rate 0, --concurrency %d: successful writes/s ÷ limit", sz.limitRate, sz.limitBurst, sz.limitWorkers),
		goal: atLeast(0.95, "≥ 95%")}
	shareFig := figure{id: "2b", name: "the same run: share of PATCH requests answered 429", goal: atMost(0.01, "≤ 1%")}
	rows := int(sz.limitRate * sz.limitSeconds)
	fmt.Fprintf(b.log, "bench: figure 2: apply %d rows under a %g req/s limit\n", rows, sz.limitRate)
	res, err := b.apply(ctx, applyRun{
		name: "fig2",
		rows: rows,
		fakeArgs: []string{"--latency", sz.latency.String(),
			"--rate-limit", strconv.FormatFloat(sz.limitRate, 'f', -1, 64), "--burst", strconv.Itoa(sz.limitBurst)},
		flags: []string{"--concurrency", strconv.Itoa(sz.limitWorkers)},
	})
	if err == nil && res.stats.OK < 2 {
		err = fmt.Errorf("only %d PATCH requests answered 200", res.stats.OK)
	}
	if err != nil {
		rateFig.err, shareFig.err = err, err
		return []figure{rateFig, shareFig}
	}
	st := res.stats
	// The last two thirds, once the limiter has had time to settle.
	late := patchStats(res.entries, st.FirstOK.Add(st.LastOK.Sub(st.FirstOK)/3))
	failed := res.apply.summary.Results["failed"]
	rateFig.value = st.okRate() / sz.limitRate
	rateFig.shown = percent(rateFig.value)
	rateFig.detail = fmt.Sprintf("%d writes ok in %.1f s = %.1f/s; last 2/3 of the run %s; %d rows failed",
		st.OK, st.LastOK.Sub(st.FirstOK).Seconds(), st.okRate(), percent(late.okRate()/sz.limitRate), failed)
	shareFig.value = st.throttledShare()
	shareFig.shown = percent(shareFig.value)
	shareFig.detail = fmt.Sprintf("%d of %d PATCH requests; last 2/3 of the run %s (%d of %d)",
		st.Throttled, st.Requests, percent(late.throttledShare()), late.Throttled, late.Requests)
	return []figure{rateFig, shareFig}
}

// applyVersusRaw is figure 3: apply with no server latency, so the client's
// own cost shows, against a minimal net/http loop sending the same PATCH
// requests to the same kind of fake. Each side runs zeroRepeats times,
// interleaved, and its best run counts.
func (b *bench) applyVersusRaw(ctx context.Context) []figure {
	sz := b.sz
	rows, c := sz.zeroRows, sz.zeroWorkers
	ratioFig := figure{id: "3a", name: fmt.Sprintf("apply, no latency, --concurrency %d: rows/s ÷ minimal net/http loop's", c), goal: atLeast(0.75, "≥ 75%")}
	cpuFig := figure{id: "3b", name: "the same apply: CPU per row of the apply phase ÷ the minimal loop's", goal: atMost(1.6, "≤ 1.6×")}
	var bestRaw, bestApply float64
	// CPU is taken as the least of the runs on each side, independently of
	// which run was fastest: another process's load inflates CPU time too
	// (cache misses, wake-ups), never deflates it.
	var rawCPU, applyCPU, planCPU, wholeCPU time.Duration
	for rep := range sz.zeroRepeats {
		fmt.Fprintf(b.log, "bench: figure 3: raw loop, %d rows, %d workers (run %d)\n", rows, c, rep+1)
		raw, err := b.rawRun(ctx, fmt.Sprintf("fig3-raw%d", rep), rows, c, 0)
		if err != nil {
			ratioFig.err, cpuFig.err = err, err
			return []figure{ratioFig, cpuFig}
		}
		bestRaw = max(bestRaw, raw.rate)
		rawCPU = minCPU(rawCPU, raw.cpu)
		fmt.Fprintf(b.log, "bench: figure 3: bulksync apply, %d rows, --concurrency %d (run %d)\n", rows, c, rep+1)
		res, err := b.apply(ctx, applyRun{
			name:      fmt.Sprintf("fig3-apply%d", rep),
			rows:      rows,
			flags:     []string{"--concurrency", strconv.Itoa(c)},
			planFirst: true,
		})
		if err == nil && res.stats.OK != rows {
			err = fmt.Errorf("%d of %d PATCH requests answered 200", res.stats.OK, rows)
		}
		if err != nil {
			ratioFig.err, cpuFig.err = err, err
			return []figure{ratioFig, cpuFig}
		}
		bestApply = max(bestApply, float64(rows)/res.stats.applyWindow(0).Seconds())
		applyCPU = minCPU(applyCPU, res.apply.cpu-res.plan.cpu)
		wholeCPU = minCPU(wholeCPU, res.apply.cpu)
		planCPU = minCPU(planCPU, res.plan.cpu)
	}
	ratioFig.value = bestApply / bestRaw
	ratioFig.shown = percent(ratioFig.value)
	ratioFig.detail = fmt.Sprintf("bulksync %.0f rows/s, raw loop %.0f rows/s; %d rows, best of %d runs each", bestApply, bestRaw, rows, sz.zeroRepeats)

	per10k := func(d time.Duration) float64 { return d.Seconds() * 10_000 / float64(rows) }
	cpuFig.value = applyCPU.Seconds() / rawCPU.Seconds()
	cpuFig.shown = fmt.Sprintf("%.2f×", cpuFig.value)
	cpuFig.detail = fmt.Sprintf("apply phase %.2f CPU s/10k rows (apply process %.2f less plan process %.2f), minimal loop %.2f s/10k (its own process); whole apply process %.2f× the loop; least of %d runs each",
		per10k(applyCPU), per10k(wholeCPU), per10k(planCPU), per10k(rawCPU), wholeCPU.Seconds()/rawCPU.Seconds(), sz.zeroRepeats)
	return []figure{ratioFig, cpuFig}
}

// minCPU is the lesser of two CPU times, where 0 means none yet.
func minCPU(cur, d time.Duration) time.Duration {
	if cur == 0 || d < cur {
		return d
	}
	return cur
}

// rawRun runs the baseline loop against a fresh fake seeded like apply's.
// Its rate is measured from the request log, as apply's is.
func (b *bench) rawRun(ctx context.Context, name string, rows, workers int, latency time.Duration) (rawResult, error) {
	var args []string
	if latency > 0 {
		args = []string{"--latency", latency.String()}
	}
	f, err := b.startFake(ctx, fakeSpec{name: name, seedRows: rows, requestLog: true, args: args})
	if err != nil {
		return rawResult{}, err
	}
	defer f.stop()
	ctx, cancel := context.WithTimeout(ctx, b.sz.childTimeout)
	defer cancel()
	r, err := b.runRawLoop(ctx, f.url, rows, workers)
	if err != nil {
		return rawResult{}, err
	}
	if err := f.stop(); err != nil {
		return rawResult{}, err
	}
	entries, err := readLog(f.logPath)
	if err != nil {
		return rawResult{}, err
	}
	st := patchStats(entries, time.Time{})
	if st.OK != rows {
		return rawResult{}, fmt.Errorf("raw loop: %d of %d PATCH requests answered 200", st.OK, rows)
	}
	r.rate = float64(rows) / st.applyWindow(latency).Seconds()
	return r, nil
}

// planCase is one plan of figure 4: an export of rows rows against a fake
// with cards live cards, and its goal as a multiple of one encoding/csv read.
type planCase struct {
	rows, cards int
	goal        float64
}

// planVersusRead is figure 4: `bulksync plan` over large exports, each
// against a fake holding as many live cards as the export has rows (the
// scale issue 12 asks for), against one bare encoding/csv read of the same
// file by the bench; then the peak RSS of the last, largest plan, and the
// first export again as .xlsx.
func (b *bench) planVersusRead(ctx context.Context) []figure {
	sz := b.sz
	var figs []figure
	var first child // the plan of the first case, which figure 4's .xlsx plan is compared with
	var firstFake *fake
	for i, pc := range sz.planCases {
		fig := figure{
			id:   "4" + string(rune('a'+i)),
			name: fmt.Sprintf("plan of %s rows (%s cards live): wall time ÷ one encoding/csv read", count(pc.rows), count(pc.cards)),
			goal: atMost(pc.goal, fmt.Sprintf("≤ %g×", pc.goal)),
		}
		plan, fixed, f, err := b.planCase(ctx, fig.id, pc)
		last := i == len(sz.planCases)-1
		if f != nil {
			if i == 0 {
				firstFake = f
			} else if err := f.stop(); err != nil {
				fmt.Fprintf(b.log, "bench: %v\n", err)
			}
		}
		if err != nil {
			fig.err = err
			figs = append(figs, fig)
			if last {
				figs = append(figs, figure{id: "4" + string(rune('a'+i+1)), name: fmt.Sprintf("the plan of %s rows: peak RSS", count(pc.rows)), goal: atMost(sz.planPeakMB, fmt.Sprintf("≤ %g MB", sz.planPeakMB)), err: err})
			}
			continue
		}
		if i == 0 {
			first = plan.child
		}
		fig.value = plan.wall.Seconds() / plan.raw.wall.Seconds()
		fig.shown = times(fig.value)
		fig.detail = fmt.Sprintf("plan %.2f s, read %.3f s (median of %d); less the %.2f s of a 1-row plan: %s; CPU: plan %.2f s ÷ read %.3f s = %s; peak RSS %s",
			plan.wall.Seconds(), plan.raw.wall.Seconds(), sz.rawRepeats,
			fixed.wall.Seconds(), times((plan.wall-fixed.wall).Seconds()/plan.raw.wall.Seconds()),
			plan.cpu.Seconds(), plan.raw.cpu.Seconds(), times(plan.cpu.Seconds()/plan.raw.cpu.Seconds()), megabytes(plan.maxRSS))
		figs = append(figs, fig)
		if last {
			figs = append(figs, figure{
				id:     "4" + string(rune('a'+i+1)),
				name:   fmt.Sprintf("the plan of %s rows (%s cards live): peak RSS", count(pc.rows), count(pc.cards)),
				value:  float64(plan.maxRSS) / 1e6,
				shown:  megabytes(plan.maxRSS),
				goal:   atMost(sz.planPeakMB, fmt.Sprintf("≤ %g MB", sz.planPeakMB)),
				detail: fmt.Sprintf("ru_maxrss of the plan process; a 1-row plan against the same fake peaks at %s", megabytes(fixed.maxRSS)),
			})
		}
	}
	if first.wall > 0 && firstFake != nil {
		figs = append(figs, b.planXLSX(ctx, firstFake, "4"+string(rune('a'+len(sz.planCases)+1)), sz.planCases[0].rows, first))
	}
	if firstFake != nil {
		if err := firstFake.stop(); err != nil {
			fmt.Fprintf(b.log, "bench: %v\n", err)
		}
	}
	return figs
}

// timedPlan is a plan process and the raw read of its input.
type timedPlan struct {
	child
	raw rawRead
}

// planCase starts a fake seeded with pc.cards cards, runs a 1-row plan
// against it (process start, flag parsing and the GET of every card and
// line: the part of a plan that does not grow with the input) and then the
// plan of pc.rows rows. The fake is returned running, to be stopped by the
// caller, even when a plan failed.
func (b *bench) planCase(ctx context.Context, id string, pc planCase) (plan timedPlan, fixed child, f *fake, err error) {
	fmt.Fprintf(b.log, "bench: figure %s: fake with %d cards, plan of %d rows\n", id, pc.cards, pc.rows)
	f, err = b.startFake(ctx, fakeSpec{name: "fig" + id, seedRows: pc.cards})
	if err != nil {
		return plan, fixed, nil, err
	}
	one := filepath.Join(b.dir, "fig"+id+"-1-export.csv")
	if err = writeFile(one, 1, writeExport); err != nil {
		return plan, fixed, f, err
	}
	if fixed, err = b.runSync(ctx, f, "plan", one, b.sz.childTimeout); err != nil {
		return plan, fixed, f, fmt.Errorf("1-row plan: %w", err)
	}
	input := filepath.Join(b.dir, "fig"+id+"-export.csv")
	plan.child, plan.raw, err = b.planRun(ctx, f, input, pc.rows)
	return plan, fixed, f, err
}

// rawRead is how long the baseline read of figure 4 took.
type rawRead struct {
	wall, cpu time.Duration
}

// planRun writes an export of rows rows, times the raw read of it (a
// warm-up read first, then the median of rawRepeats, wall and CPU each) and
// runs plan over it.
func (b *bench) planRun(ctx context.Context, f *fake, input string, rows int) (child, rawRead, error) {
	var raw rawRead
	if err := writeFile(input, rows, writeExport); err != nil {
		return child{}, raw, err
	}
	var walls, cpus []time.Duration
	for i := range b.sz.rawRepeats + 1 {
		if err := ctx.Err(); err != nil {
			return child{}, raw, context.Cause(ctx)
		}
		cpu0, start := selfCPU(), time.Now()
		n, err := rawCSVRead(input)
		if err != nil {
			return child{}, raw, err
		}
		if n != rows {
			return child{}, raw, fmt.Errorf("raw read of %s: %d records, want %d", input, n, rows)
		}
		if i > 0 {
			walls, cpus = append(walls, time.Since(start)), append(cpus, selfCPU()-cpu0)
		}
	}
	slices.Sort(walls)
	slices.Sort(cpus)
	raw = rawRead{wall: walls[len(walls)/2], cpu: cpus[len(cpus)/2]}
	plan, err := b.runSync(ctx, f, "plan", input, b.sz.childTimeout)
	if err != nil {
		return plan, raw, err
	}
	if plan.summary.Records != rows {
		return plan, raw, fmt.Errorf("plan read %d records, want %d", plan.summary.Records, rows)
	}
	return plan, raw, nil
}
func megabytes(n int64) string { return fmt.Sprintf("%.0f MB", float64(n)/1e6) }

// count writes 100000 as 100k and 1000000 as 1M.
func count(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return strconv.Itoa(n/1_000_000) + "M"
	case n >= 1000 && n%1000 == 0:
		return strconv.Itoa(n/1000) + "k"
	}
	return strconv.Itoa(n)
}
