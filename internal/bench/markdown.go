package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// notesMarker starts the part of BENCHMARKS.md that the bench keeps as it
// is when it rewrites the file: findings and analysis written by hand.
const notesMarker = "<!-- notes below are kept by make bench -->"

// writeMarkdown writes BENCHMARKS.md, keeping the notes of the old file.
func writeMarkdown(path string, env environment, figs []figure, sections []string, sz sizes) error {
	notes := ""
	if old, err := os.ReadFile(path); err == nil {
		if _, after, ok := bytes.Cut(old, []byte(notesMarker)); ok {
			notes = string(after)
		}
	}
	var b strings.Builder
	b.WriteString(markdown(env, figs, sz))
	for _, sec := range sections {
		b.WriteString("\n" + sec)
	}
	b.WriteString("\n" + notesMarker)
	if notes == "" {
		notes = "\n"
	}
	b.WriteString(notes)
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// markdown is the generated part of BENCHMARKS.md.
func markdown(env environment, figs []figure, sz sizes) string {
	var b strings.Builder
	b.WriteString("# Benchmarks\n\n")
	b.WriteString("Written by `make bench` (`go run ./internal/bench`; `-quick` for a smoke run that writes nothing). " +
		"Every figure is a ratio against an ideal, a server limit or a baseline measured in the same run, because the " +
		"machine is shared and noisy: compare ratios between runs, not absolute numbers. " +
		"bulksync runs as its own processes (built once with `go build`), against `bulksync fake-api` processes on loopback, " +
		"a fresh one per scenario, seeded with generated cards.\n\n")
	fmt.Fprintf(&b, "- date: %s\n- go: %s\n- cpu: %s, %d cores\n- load average (1 min): %s\n- run: %s, %s in all\n\n",
		env.date, env.goVersion, env.cpu, env.cores, env.load, env.mode, env.elapsed)
	b.WriteString(formatMarkdown(figs))
	b.WriteString("\n## How each figure is measured\n\n")
	for _, line := range methods(sz) {
		b.WriteString("- " + line + "\n")
	}
	return b.String()
}

// methods says, one line per figure, how it is measured.
func methods(sz sizes) []string {
	return []string{
		fmt.Sprintf("**1** Fake with `--latency %v`, seeded with N cards whose first_name is Old; `bulksync apply --concurrency C` over an export of the same N numbers with first_name New, so each row is one PATCH that changes a card; N = %g s × C / latency. "+
			"Throughput = N ÷ (last PATCH's arrival − first PATCH's arrival + latency), from the fake's request log, so process start, the snapshot GET and planning are left out; "+
			"Baseline: the minimal net/http loop of figure 3 sending the same requests at the same latency and concurrency, right after, measured the same way; the figure is bulksync's throughput ÷ the loop's. "+
			"C clients that never pause would score exactly C/latency; the share of that ideal each side reached is shown beside, as how near it the fake and the machine let any client come.", sz.latency, sz.applySeconds),
		fmt.Sprintf("**2** Fake with `--latency %v --rate-limit %g --burst %d` (a token bucket holding %d requests), %d rows as in 1; bulksync apply with `--concurrency %d` and the default `--rate 0`, so its limiter learns the limit from 429s. "+
			"From the request log: PATCHes answered 200, minus one, ÷ the time between the first and the last of them, ÷ %g; and 429 answers ÷ all PATCHes. "+
			"The last two thirds of the run (from a third of the way between first and last success) are shown beside, once the limiter has settled.",
			sz.latency, sz.limitRate, sz.limitBurst, sz.limitBurst, int(sz.limitRate*sz.limitSeconds), sz.limitWorkers, sz.limitRate),
		fmt.Sprintf("**3** Fake with no latency; %d rows as in 1, at concurrency %d, measured as in 1 (latency 0). Baseline: a minimal loop, %d goroutines sending the same PATCH requests "+
			"(bearer token, JSON body, body read and discarded, `http.Transport` with `MaxIdleConnsPerHost` %d) to a fresh fake, timed from its request log the same way; it runs as a process of its own (the bench binary started again), so that its CPU is read from its rusage as bulksync's is. "+
			"%d run(s) of each side, interleaved; 3a keeps the best rate of each side. "+
			"3b compares CPU (user + system from each child's rusage) per row of the apply phase: bulksync's is its apply process less a `plan` process of the same files run just before (both start, fetch the snapshot and plan), the loop's is its whole process; the least of the runs of each side counts. The whole apply process's ratio is shown beside. "+
			"Both the fake and the client share the machine's cores.", sz.zeroRows, sz.zeroWorkers, sz.zeroWorkers, sz.zeroWorkers, sz.zeroRepeats),
		fmt.Sprintf("**4** For each of %s: a fake seeded with as many cards as the export has rows (an account behind N live cards has N lines too), no latency; a generic export whose numbers are those cards, first_name New (every row an update). "+
			"Plan = wall time of the `bulksync plan` process, start to exit, the GETs of every card and every line included; it reads the input twice by design (duplicates and --max-changes must be known before any write). "+
			"Baseline: one pass of `encoding/csv` (default settings) over the same file in the bench process, after one warm-up read, median of %d; CPU times (rusage) are compared too, being less sensitive to other load than wall time. "+
			"Peak RSS = `ru_maxrss` of the plan process, the largest plan's shown as its own figure. A 1-row plan against the same fake gives the fixed cost (process start + GET of every card and line), shown beside. "+
			"The last figure of 4 plans the first export again saved as .xlsx (excelize's stream writer, phone numbers stored as numbers) against the same fake: its wall time ÷ that of the CSV plan, for information.",
			planCases(sz.planCases), sz.rawRepeats),
		"**5** `plan --html` pages of made-up rows (a quarter each create, update, noop, invalid; `htmlreport.WriteSample`), opened from file:// in headless Chromium (chromedp, fresh profile, no network). " +
			"Time to interactive = from Navigate to the page's script having parsed the rows and drawn the first window (`body[data-ready]`), best of 2 loads, after one warm-up load. " +
			"Baseline: the same page with 100 rows, the browser's fixed cost. The number of rows in the DOM after loading shows that rows are drawn on demand. " +
			"Skipped, not failed, where Chromium is not installed.",
		fmt.Sprintf("**6** The matrix below: a fresh fake per cell with `--rate-limit L --burst B --latency D --retry-after S` (limits %s; bursts 1 and L/10; latencies %v; Retry-After in whole seconds as Linq documents it, none, or a fixed `retry-after-ms`), "+
			"L × %g rows as in 1, `bulksync apply --concurrency 32` with the default `--rate 0`. From the request log: the share of the limit as in 2, the share of 429s, and the time from the first 429 to the first moment the fake had accepted 90%% of L in the second before. "+
			"6a–6c count the cells meeting each goal. "+
			"6j: in the bench process, 32 workers wait on the limiter at a fixed rate (`sync.FixedPacer`, as apply with `--rate`), with its precise sleep and with the runtime timer alone (as before sync/pacer.go), one after the other: "+
			"first without requests at 50, 200 and 1000 releases/s (how late each release is against the time it was due, and the process's CPU per release), then sending PATCHes to a fake without a limit at 200 and 1000/s for 2 s each. "+
			"From the fake's request log, how much shorter each gap between consecutive arrivals is than between the times they were due; the highest share s of a burst-1 limit L reachable with ≤ 1%% refused is where 1/(s·L) − 1/L covers its 99th percentile. "+
			"Last, the share of 429s when pacing at 95%% of a burst-1 limit of 200 and 1000/s, 2 s each (the pacer does not slow down for them). "+
			"6w, for information: a fake with `--rate-limit L --window W` (a fixed window, the only kind of limit Linq documents, with Retry-After in seconds until it ends) for %s, `--concurrency 32`; "+
			"from the request log, the fake's windows replayed (each opens with the first request after the last ended), and what was accepted ÷ L × the time they took, from the first window's start to the last one's plus the share of a window the last used: "+
			"sending each window's requests at its start, or spreading them evenly, scores 100%%. "+
			"6n, for information: cells as in the matrix against a fake with `--network-delay N` as well (each request waits N before the fake sees it, so every answer, 429s included, comes at least N late; in the matrix a 429 pays no latency and comes back at once): %s; measured as the matrix.",
			joinFloats(sz.matrixLimits), sz.matrixLatencies, sz.matrixSeconds, windowRunsText(sz.windowRuns), farCellsText(sz.farCells)),
		fmt.Sprintf("**7** Fake with `--latency %v`, %g s × 32 / latency rows as in 1, `--concurrency 32`, with and without `--fail-429 0.05` (5%% of answers 429 with Retry-After: 1 whatever the rate, as in the soak). "+
			"Rate = successful PATCHes between the 5th and 95th percentile of them ÷ the time between, so that the last rows waiting out a Retry-After (which any client must) do not hide the steady rate; the whole-run rates are shown beside.", sz.latency, sz.noisySeconds),
	}
}

func joinFloats(fs []float64) string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = strconv.FormatFloat(f, 'f', -1, 64)
	}
	return strings.Join(parts, ", ")
}

// planCases writes figure 4's cases as "100k rows against 100k cards and ...".
func planCases(cases []planCase) string {
	parts := make([]string, len(cases))
	for i, pc := range cases {
		parts[i] = fmt.Sprintf("%s rows against %s cards", count(pc.rows), count(pc.cards))
	}
	return strings.Join(parts, " and ")
}
