// Command bench measures bulksync against baselines taken in the same run
// and writes BENCHMARKS.md.
//
// It builds bulksync once, then, per scenario, starts `bulksync fake-api` as
// a process of its own, generates the CSV files and runs `bulksync plan` or
// `apply` as child processes, as a user would. Every figure is a ratio: to
// an ideal (C requests per latency), to a server limit, or to a baseline
// measured in this run by the bench itself (a minimal net/http loop, a bare
// encoding/csv read), because absolute numbers on a shared, noisy machine
// say little. Apply throughput is read from the fake's request log, which
// holds the arrival time of every request, so process start, the snapshot
// and planning are not counted in it.
//
//	go run ./internal/bench            # full run, about 15 minutes (the rate-limit matrix is 36 runs of ~15 s); writes BENCHMARKS.md
//	go run ./internal/bench -quick     # smoke run, a few seconds; writes nothing
//	go run ./internal/bench -only 3 -v # one figure, with each child's summary
//	go run ./internal/bench -only 6j     # the jitter of the limiter's releases, precise and timer side by side, 30 s
//	go run ./internal/bench -only 6w     # apply against fixed-window servers (fake --window), about 35 s
//	go run ./internal/bench -only 6n     # apply against rate-limited servers 25 ms away (fake --network-delay), about 35 s
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// sizes are the knobs of one run; full and quick below.
type sizes struct {
	latency       time.Duration // fake latency of figures 1 and 2
	applySeconds  float64       // ideal apply time of each figure 1 run
	concurrencies []int         // figure 1
	limitRate     float64       // figure 2: fake --rate-limit
	limitBurst    int           // figure 2: fake --burst
	limitSeconds  float64       // figure 2: ideal length of the run
	limitWorkers  int           // figure 2: --concurrency
	zeroRows      int           // figure 3
	zeroWorkers   int           // figure 3: --concurrency and raw goroutines
	zeroRepeats   int           // figure 3: runs of each side, best kept
	planCases     []planCase    // figure 4, the last one for peak RSS
	planPeakMB    float64       // figure 4: goal for the last plan's peak RSS
	rawRepeats    int           // figure 4: timed raw reads, median kept
	// figure 6: the rate-limit matrix
	matrixLimits    []float64
	matrixLatencies []time.Duration
	matrixStyles    []string       // the fake's --retry-after
	matrixSeconds   float64        // each run lasts this long at the limit
	matrixCells     *regexp.Regexp // -cells: only the cells whose name matches; nil: all
	windowRuns      []windowRun    // figure 6w
	farCells        []limitCell    // figure 6n
	noisySeconds    float64        // figure 7: ideal length of each run
	childTimeout    time.Duration  // one bulksync process
	total           time.Duration  // the whole bench
}

var fullSizes = sizes{
	latency:         20 * time.Millisecond,
	applySeconds:    4,
	concurrencies:   []int{8, 32, 64},
	limitRate:       200,
	limitBurst:      10,
	limitSeconds:    20,
	limitWorkers:    32,
	zeroRows:        30_000,
	zeroWorkers:     32,
	zeroRepeats:     2,
	planCases:       []planCase{{rows: 100_000, cards: 100_000, goal: 20}, {rows: 1_000_000, cards: 1_000_000, goal: 25}},
	planPeakMB:      250,
	rawRepeats:      3,
	matrixLimits:    []float64{50, 200, 1000},
	matrixLatencies: []time.Duration{0, 20 * time.Millisecond},
	matrixStyles:    []string{"seconds", "none", "250ms"},
	matrixSeconds:   15,
	windowRuns:      []windowRun{{limit: 50, window: time.Second, rows: 750}, {limit: 200, window: 10 * time.Second, rows: 3900}},
	farCells: []limitCell{{limit: 50, burst: 5, retryAfter: "seconds", network: 25 * time.Millisecond},
		{limit: 200, burst: 20, retryAfter: "seconds", network: 25 * time.Millisecond}},
	noisySeconds: 8,
	childTimeout: 5 * time.Minute,
	total:        40 * time.Minute,
}

var quickSizes = sizes{
	latency:         20 * time.Millisecond,
	applySeconds:    0.5,
	concurrencies:   []int{8, 32},
	limitRate:       200,
	limitBurst:      10,
	limitSeconds:    3,
	limitWorkers:    32,
	zeroRows:        3_000,
	zeroWorkers:     32,
	zeroRepeats:     1,
	planCases:       []planCase{{rows: 10_000, cards: 10_000, goal: 20}, {rows: 50_000, cards: 50_000, goal: 25}},
	planPeakMB:      250,
	rawRepeats:      1,
	matrixLimits:    []float64{200},
	matrixLatencies: []time.Duration{0},
	matrixStyles:    []string{"seconds", "250ms"},
	matrixSeconds:   3,
	windowRuns:      []windowRun{{limit: 100, window: time.Second, rows: 200}},
	farCells:        []limitCell{{limit: 200, burst: 20, retryAfter: "seconds", network: 25 * time.Millisecond}},
	noisySeconds:    1,
	childTimeout:    time.Minute,
	total:           4 * time.Minute,
}

// bench is one run: where things are, and the fakes to stop at the end.
type bench struct {
	root    string // module root
	dir     string // temporary files
	bin     string // bulksync, built for this run
	token   string // the fake's bearer token, random per run
	sz      sizes
	verbose bool
	log     io.Writer // progress
	fakes   []*fake
	// sections are markdown written after the table (figure 6's matrix).
	sections []string
}

func main() {
	if spec := os.Getenv(rawLoopEnv); spec != "" {
		os.Exit(rawLoopChild(spec))
	}
	os.Exit(run())
}

func run() int {
	var (
		quick   = flag.Bool("quick", false, "smoke run: small sizes, a few seconds; writes no BENCHMARKS.md unless -out is given")
		out     = flag.String("out", "BENCHMARKS.md", "markdown file to write, relative to the module root; \"\" writes none")
		only    = flag.String("only", "", "comma-separated figures to run (1 to 7, or 6j / 6w / 6n: the jitter probe / the fixed-window runs / the far servers of figure 6 alone); writes no BENCHMARKS.md unless -out is given")
		keep    = flag.Bool("keep", false, "keep the temporary directory (CSV files, reports, request logs)")
		verbose = flag.Bool("v", false, "print each bulksync run's summary")
		cells   = flag.String("cells", "", "figure 6: run only the cells whose name matches this regular expression, e.g. 'limit 50, burst 5,'; names are as the progress lines print them")
	)
	flag.Parse()
	explicit := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	if (*quick || *only != "") && !explicit["out"] {
		*out = ""
	}
	sz := fullSizes
	if *quick {
		sz = quickSizes
	}
	want, err := parseOnly(*only)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: -only: %v\n", err)
		return 2
	}
	if *cells != "" {
		if sz.matrixCells, err = regexp.Compile(*cells); err != nil {
			fmt.Fprintf(os.Stderr, "bench: -cells: %v\n", err)
			return 2
		}
		if !explicit["out"] {
			*out = "" // a part of the matrix is not a BENCHMARKS.md
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeoutCause(ctx, sz.total, fmt.Errorf("the bench ran over %v", sz.total))
	defer cancel()

	b := &bench{sz: sz, verbose: *verbose, log: os.Stderr}
	if b.root, err = moduleRoot(); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		return 2
	}
	if b.dir, err = os.MkdirTemp("", "bulksync-bench-*"); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		return 2
	}
	if *keep {
		fmt.Fprintf(b.log, "bench: files in %s\n", b.dir)
	} else {
		defer os.RemoveAll(b.dir)
	}
	b.token = randomToken()
	defer b.stopFakes()

	started, loadBefore := time.Now(), loadAverage()
	fmt.Fprintf(b.log, "bench: building bulksync\n")
	if b.bin, err = build(ctx, b.root, b.dir); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		return 2
	}
	var figs []figure
	for _, f := range []struct {
		id  string
		run func(context.Context) []figure
	}{{"1", b.applyThroughput}, {"2", b.applyUnderLimit}, {"3", b.applyVersusRaw}, {"4", b.planVersusRead}, {"5", b.htmlPage}, {"6", b.rateMatrix}, {"6j", b.jitterOnly}, {"6w", b.windowOnly}, {"6n", b.farOnly}, {"7", b.noisyThrottle}} {
		if want[f.id] && ((f.id != "6j" && f.id != "6w" && f.id != "6n") || !want["6"]) {
			figs = append(figs, f.run(ctx)...)
			b.stopFakes()
		}
	}
	elapsed := time.Since(started).Round(time.Second)

	fmt.Print(formatText(figs))
	for _, sec := range b.sections {
		fmt.Print("\n" + sec)
	}
	code := 0
	for _, f := range figs {
		if f.err != nil {
			code = 1
		}
	}
	if *out != "" {
		path := *out
		if !filepath.IsAbs(path) {
			path = filepath.Join(b.root, path)
		}
		env := b.environment(ctx, *quick, elapsed)
		env.load = fmt.Sprintf("%s at the start, %s at the end", loadBefore, loadAverage())
		if err := writeMarkdown(path, env, figs, b.sections, b.sz); err != nil {
			fmt.Fprintf(os.Stderr, "bench: %v\n", err)
			return 1
		}
		fmt.Fprintf(b.log, "bench: wrote %s\n", path)
	}
	return code
}

// parseOnly reads -only; every figure when s is empty. "6j" is the jitter
// probe alone, "6w" the fixed-window runs alone, "6n" the far servers
// alone, without the matrix of figure 6 (which includes all three).
func parseOnly(s string) (map[string]bool, error) {
	want := map[string]bool{"1": true, "2": true, "3": true, "4": true, "5": true, "6": true, "7": true}
	if s == "" {
		return want, nil
	}
	picked := map[string]bool{}
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if !want[p] && p != "6j" && p != "6w" && p != "6n" {
			return nil, fmt.Errorf("%q is not a figure; figures are 1 to 7, 6j, 6w and 6n", p)
		}
		picked[p] = true
	}
	return picked, nil
}

// stopFakes stops every fake still running.
func (b *bench) stopFakes() {
	for _, f := range b.fakes {
		if err := f.stop(); err != nil {
			fmt.Fprintf(b.log, "bench: %v\n", err)
		}
	}
	b.fakes = nil
}

// moduleRoot is the directory of the go.mod governing the working directory.
func moduleRoot() (string, error) {
	out, err := exec.Command(goTool(), "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %v", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside a Go module: run the bench from the bulksync repository")
	}
	return filepath.Dir(mod), nil
}

func randomToken() string {
	var b [16]byte
	rand.Read(b[:])
	return "bench-" + hex.EncodeToString(b[:])
}

// environment describes the machine for BENCHMARKS.md.
type environment struct {
	date      string
	goVersion string
	cpu       string
	cores     int
	mode      string
	elapsed   time.Duration
	load      string // load averages before and after, a hint of how noisy the run was
}

func (b *bench) environment(ctx context.Context, quick bool, elapsed time.Duration) environment {
	env := environment{
		date:      time.Now().UTC().Format("2006-01-02 15:04 MST"),
		goVersion: runtime.Version(),
		cpu:       cpuModel(),
		cores:     runtime.NumCPU(),
		mode:      "full",
		elapsed:   elapsed,
	}
	if quick {
		env.mode = "quick (-quick: small sizes, a smoke test, not a measurement)"
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, goTool(), "version").Output(); err == nil {
		env.goVersion = strings.TrimSpace(string(out))
	}
	return env
}

// loadAverage is the 1-minute load average of /proc/loadavg, or "unknown".
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if fields := strings.Fields(string(data)); err == nil && len(fields) > 0 {
		return fields[0]
	}
	return "unknown"
}

// cpuModel is the first "model name" of /proc/cpuinfo, or GOARCH.
func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for line := range bytes.Lines(data) {
		k, v, ok := strings.Cut(string(line), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}
