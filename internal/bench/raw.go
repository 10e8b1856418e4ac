package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	stdsync "sync"
	"sync/atomic"
	"time"
)

// rawResult is what the baseline HTTP loop did.
type rawResult struct {
	ok, failed int
	wall       time.Duration
	cpu        time.Duration // user + system of the loop's own process, as for bulksync's
	roundTrip  time.Duration // mean, from sending a request to its body read
	rate       float64       // requests/s, from the fake's request log (set by rawRun)
}

// The baseline loop runs as a child process of its own (the bench binary
// started again with these variables set), so that its CPU time is read from
// its rusage exactly as bulksync's is, and the bench's own goroutines, GC and
// log reading are not charged to it.
const (
	rawLoopEnv      = "BULKSYNC_BENCH_RAW_LOOP" // "URL ROWS WORKERS"
	rawLoopTokenEnv = "BULKSYNC_BENCH_RAW_TOKEN"
)

// rawLoopReport is what the child prints on stdout, as JSON.
type rawLoopReport struct {
	OK          int    `json:"ok"`
	Failed      int    `json:"failed"`
	WallNanos   int64  `json:"wall_ns"`
	RoundTripNs int64  `json:"round_trip_ns"`
	Error       string `json:"error,omitempty"`
}

// rawLoopChild is main for the child: it runs rawPatchLoop with the
// parameters of rawLoopEnv and prints a rawLoopReport. The exit code is 0
// when the report was printed, whatever the loop's outcome.
func rawLoopChild(spec string) int {
	fields := strings.Fields(spec)
	if len(fields) != 3 {
		fmt.Fprintf(os.Stderr, "bench raw loop: %s=%q, want \"URL ROWS WORKERS\"\n", rawLoopEnv, spec)
		return 2
	}
	rows, err1 := strconv.Atoi(fields[1])
	workers, err2 := strconv.Atoi(fields[2])
	if err := errors.Join(err1, err2); err != nil || rows < 0 || workers < 1 {
		fmt.Fprintf(os.Stderr, "bench raw loop: %s=%q: rows and workers must be numbers\n", rawLoopEnv, spec)
		return 2
	}
	r, err := rawPatchLoop(context.Background(), fields[0], os.Getenv(rawLoopTokenEnv), rows, workers)
	rep := rawLoopReport{OK: r.ok, Failed: r.failed, WallNanos: int64(r.wall), RoundTripNs: int64(r.roundTrip)}
	if err != nil {
		rep.Error = err.Error()
	}
	if err := json.NewEncoder(os.Stdout).Encode(rep); err != nil {
		fmt.Fprintf(os.Stderr, "bench raw loop: %v\n", err)
		return 2
	}
	return 0
}

// runRawLoop starts the baseline loop as a child process against baseURL
// and returns what it did, with its CPU time from rusage.
func (b *bench) runRawLoop(ctx context.Context, baseURL string, rows, workers int) (rawResult, error) {
	self, err := os.Executable()
	if err != nil {
		return rawResult{}, fmt.Errorf("raw loop: %v", err)
	}
	cmd := exec.CommandContext(ctx, self)
	cmd.Env = childEnv(fmt.Sprintf("%s=%s %d %d", rawLoopEnv, baseURL, rows, workers), rawLoopTokenEnv+"="+b.token)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = stopTimeout
	err = cmd.Run()
	var r rawResult
	if cmd.ProcessState != nil {
		r.cpu, _ = childUsage(cmd.ProcessState)
	}
	if err != nil {
		if ctx.Err() != nil {
			return r, context.Cause(ctx)
		}
		return r, fmt.Errorf("raw loop: %v: %s", err, lastLines(stderr.String(), 5))
	}
	var rep rawLoopReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		return r, fmt.Errorf("raw loop: reading its report: %v", err)
	}
	r.ok, r.failed, r.wall, r.roundTrip = rep.OK, rep.Failed, time.Duration(rep.WallNanos), time.Duration(rep.RoundTripNs)
	if rep.Error != "" {
		return r, errors.New(rep.Error)
	}
	return r, nil
}

// rawPatchLoop is the baseline of figure 3: the least a Go client can do to
// send the same PATCH requests bulksync sends. workers goroutines share a
// counter over phone(0..rows-1); each sends PATCH ?phone_number=... with
// {"first_name":"New"} and the bearer token, and reads and discards the
// answer, over a transport that keeps a connection per worker.
func rawPatchLoop(ctx context.Context, baseURL, token string, rows, workers int) (rawResult, error) {
	tr := &http.Transport{
		MaxIdleConns:        workers,
		MaxIdleConnsPerHost: workers,
		IdleConnTimeout:     time.Minute,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	body := []byte(`{"first_name":"New"}`)
	auth := "Bearer " + token
	endpoint := baseURL + "/v3/contact_card?phone_number="

	var next, ok, failed, busy atomic.Int64
	var firstErr atomic.Value
	var wg stdsync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= rows || ctx.Err() != nil {
					return
				}
				req, err := http.NewRequestWithContext(ctx, http.MethodPatch, endpoint+url.QueryEscape(phone(i)), bytes.NewReader(body))
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					failed.Add(1)
					continue
				}
				req.Header.Set("Authorization", auth)
				req.Header.Set("Content-Type", "application/json")
				sent := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				busy.Add(int64(time.Since(sent)))
				if resp.StatusCode == http.StatusOK {
					ok.Add(1)
				} else {
					firstErr.CompareAndSwap(nil, fmt.Errorf("HTTP %d", resp.StatusCode))
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	r := rawResult{ok: int(ok.Load()), failed: int(failed.Load()), wall: time.Since(start)}
	if n := r.ok + r.failed; n > 0 {
		r.roundTrip = time.Duration(busy.Load() / int64(n))
	}
	if err := ctx.Err(); err != nil {
		return r, err
	}
	if r.failed > 0 {
		return r, fmt.Errorf("raw loop: %d of %d requests failed, the first: %v", r.failed, rows, firstErr.Load())
	}
	return r, nil
}

// rawCSVRead is the baseline of figure 4: one pass of encoding/csv over the
// file, with its default settings, touching every record. It returns the
// number of records after the header.
func rawCSVRead(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	cr := csv.NewReader(bufio.NewReaderSize(f, 64<<10))
	n := -1
	for {
		_, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, err
		}
		n++
	}
	if n < 0 {
		return 0, fmt.Errorf("%s: empty", path)
	}
	return n, nil
}
