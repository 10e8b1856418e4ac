package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	stdsync "sync"
	"time"
)

const (
	// fakeStartTimeout bounds the wait for a fake's "listening on" line
	// (seeding 1M cards takes about 3 s on a quiet machine, several times
	// that at a load of 15).
	fakeStartTimeout = 2 * time.Minute
	// stopTimeout bounds the wait for a process to exit after SIGINT;
	// the fake itself gives requests in flight 3 s.
	stopTimeout = 10 * time.Second
)

// build compiles bulksync into dir and returns the binary's path.
func build(ctx context.Context, root, dir string) (string, error) {
	bin := filepath.Join(dir, "bulksync")
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool(), "build", "-o", bin, "./cmd/bulksync")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/bulksync: %v\n%s", err, out)
	}
	return bin, nil
}

// goTool is the go command that runs the bench, else the one on PATH.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "go"
}

// childEnv is the bench's environment without any LINQ_ or XDG_STATE_HOME
// variable, so that a key, base URL or state set in the shell cannot leak
// into a measurement.
func childEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LINQ_") && !strings.HasPrefix(kv, "XDG_STATE_HOME=") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// fake is a running `bulksync fake-api` process.
type fake struct {
	name    string
	url     string // http://127.0.0.1:PORT
	logPath string // its --request-log, "" when none
	cmd     *exec.Cmd
	done    chan error // the process's Wait result, once
	stderr  *bytes.Buffer
	stopped bool
}

// fakeSpec says how to start a fake.
type fakeSpec struct {
	name       string
	seedRows   int      // cards phone(0..seedRows-1) with first_name Old
	requestLog bool     // write --request-log
	args       []string // further fake-api flags
}

// startFake starts a fake-api process, seeded, and waits until it listens.
func (b *bench) startFake(ctx context.Context, spec fakeSpec) (*fake, error) {
	seed := filepath.Join(b.dir, spec.name+"-seed.csv")
	if err := writeFile(seed, spec.seedRows, writeSeed); err != nil {
		return nil, err
	}
	args := []string{"fake-api", "--addr", "127.0.0.1:0", "--seed", seed}
	f := &fake{name: spec.name, stderr: new(bytes.Buffer), done: make(chan error, 1)}
	if spec.requestLog {
		f.logPath = filepath.Join(b.dir, spec.name+"-requests.jsonl")
		args = append(args, "--request-log", f.logPath)
	}
	args = append(args, spec.args...)
	ready := &firstLine{ch: make(chan string, 1)}
	f.cmd = exec.Command(b.bin, args...)
	f.cmd.Env = childEnv("LINQ_FAKE_TOKEN=" + b.token)
	f.cmd.Stdout = ready
	f.cmd.Stderr = f.stderr
	if err := f.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting fake-api %s: %v", spec.name, err)
	}
	b.fakes = append(b.fakes, f)
	go func() { f.done <- f.cmd.Wait() }()

	timer := time.NewTimer(fakeStartTimeout)
	defer timer.Stop()
	select {
	case line := <-ready.ch:
		addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
		if !ok {
			f.stop()
			return nil, fmt.Errorf("fake-api %s printed %q, want \"listening on http://ADDR\"", spec.name, line)
		}
		f.url = addr
		return f, nil
	case err := <-f.done:
		f.stopped = true
		return nil, fmt.Errorf("fake-api %s exited before listening (%v): %s", spec.name, err, strings.TrimSpace(f.stderr.String()))
	case <-timer.C:
		f.stop()
		return nil, fmt.Errorf("fake-api %s did not listen within %v", spec.name, fakeStartTimeout)
	case <-ctx.Done():
		f.stop()
		return nil, context.Cause(ctx)
	}
}

// stop interrupts the fake (it shuts down cleanly on SIGINT) and waits for
// it, killing it if it lingers. It may be called more than once.
func (f *fake) stop() error {
	if f.stopped {
		return nil
	}
	f.stopped = true
	if err := f.cmd.Process.Signal(os.Interrupt); err != nil {
		f.cmd.Process.Kill()
	}
	timer := time.NewTimer(stopTimeout)
	defer timer.Stop()
	select {
	case err := <-f.done:
		if err != nil {
			return fmt.Errorf("fake-api %s: %v: %s", f.name, err, strings.TrimSpace(f.stderr.String()))
		}
		return nil
	case <-timer.C:
		f.cmd.Process.Kill()
		<-f.done
		return fmt.Errorf("fake-api %s: still running %v after SIGINT; killed", f.name, stopTimeout)
	}
}

// firstLine passes on the first line written to it, and discards the rest.
type firstLine struct {
	mu   stdsync.Mutex
	buf  []byte
	sent bool
	ch   chan string
}

func (w *firstLine) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.sent {
		return len(p), nil
	}
	w.buf = append(w.buf, p...)
	if i := bytes.IndexByte(w.buf, '\n'); i >= 0 {
		w.ch <- string(w.buf[:i])
		w.sent, w.buf = true, nil
	} else if len(w.buf) > 4096 {
		w.ch <- string(w.buf)
		w.sent, w.buf = true, nil
	}
	return len(p), nil
}

// summary is the part of --summary-json the bench reads.
type summary struct {
	Records    int            `json:"records"`
	Changes    int            `json:"changes"`
	Actions    map[string]int `json:"actions"`
	Results    map[string]int `json:"results"`
	ErrorCodes map[string]int `json:"error_codes"`
	Requests   int            `json:"requests"`
	Duration   float64        `json:"duration_seconds"`
	ExitCode   int            `json:"exit_code"`
	Error      string         `json:"error"`
}

// child is how one bulksync plan or apply process went.
type child struct {
	wall    time.Duration // from start to exit, as the bench saw it
	cpu     time.Duration // user + system
	maxRSS  int64         // bytes
	exit    int
	summary summary
}

// runSync runs `bulksync plan|apply` against a fake and reads its summary.
// Exit codes 0 and 1 (some records did not sync) are results; others are
// errors.
func (b *bench) runSync(ctx context.Context, f *fake, command, input string, timeout time.Duration, flags ...string) (child, error) {
	var c child
	stem := strings.TrimSuffix(input, filepath.Ext(input)) + "-" + command
	summaryPath := stem + "-summary.json"
	args := append([]string{command, "--input", input, "--report", stem + "-report.csv", "--summary-json", summaryPath}, flags...)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, b.bin, args...)
	// A run that overran is stuck, not slow (the timeout is minutes): make
	// it print where every goroutine is (stuckSignal), which goes to the
	// log whole below. An interrupted bench interrupts it.
	cmd.Cancel = func() error {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return cmd.Process.Signal(stuckSignal)
		}
		return cmd.Process.Signal(os.Interrupt)
	}
	cmd.WaitDelay = stopTimeout
	// Each fake gets its own state directory, as a separate account would:
	// nothing lands in the user's ~/.local/state, and no run sees the state
	// of another scenario.
	cmd.Env = childEnv("LINQ_API_V3_BASE_URL="+f.url, "LINQ_API_V3_API_KEY="+b.token,
		"XDG_STATE_HOME="+filepath.Join(b.dir, f.name+"-state"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	c.wall = time.Since(start)
	if cmd.ProcessState != nil {
		c.cpu, c.maxRSS = childUsage(cmd.ProcessState)
		c.exit = cmd.ProcessState.ExitCode()
	}
	if b.verbose {
		fmt.Fprintf(b.log, "    bulksync %s: %s\n", strings.Join(args, " "), strings.ReplaceAll(strings.TrimSpace(stderr.String()), "\n", "\n    "))
	}
	var exitErr *exec.ExitError
	if err != nil && !(errors.As(err, &exitErr) && c.exit == 1) {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			fmt.Fprintf(b.log, "bench: bulksync %s did not finish within %v; its standard error:\n%s\n", command, timeout, stderr.String())
			return c, fmt.Errorf("bulksync %s: did not finish within %v; where its goroutines were is in the bench's log", command, timeout)
		}
		return c, fmt.Errorf("bulksync %s: %v: %s", command, err, lastLines(stderr.String(), 5))
	}
	data, err := os.ReadFile(summaryPath)
	if err != nil {
		return c, fmt.Errorf("bulksync %s: --summary-json: %v", command, err)
	}
	if err := json.Unmarshal(data, &c.summary); err != nil {
		return c, fmt.Errorf("bulksync %s: --summary-json: %v", command, err)
	}
	return c, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " / ")
}
