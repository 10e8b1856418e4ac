package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	stdsync "sync"
	"sync/atomic"
	"time"
)

// rawResult is what the baseline HTTP loop did.
type rawResult struct {
	ok, failed int
	wall       time.Duration
	cpu        time.Duration // of the whole bench process meanwhile
	roundTrip  time.Duration // mean, from sending a request to its body read
	rate       float64       // requests/s, from the fake's request log (set by rawRun)
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
	cpu0, start := selfCPU(), time.Now()
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
	r := rawResult{ok: int(ok.Load()), failed: int(failed.Load()), wall: time.Since(start), cpu: selfCPU() - cpu0}
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
