package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	stdsync "sync"
	"time"

	"github.com/bulksync/bulksync/sync"
)

// A server with a burst of 1 refuses any request that arrives less than
// 1/L after the last one it accepted. However well a client paces its
// requests, they reach the server's bucket with the delays of the
// scheduler, the client's and server's HTTP stacks and loopback in
// between, and these differ from request to request. The jitter probe
// measures that with the pacing bulksync uses: 32 workers wait their turn
// on the limiter at a fixed rate (sync.FixedPacer, as apply with --rate),
// each notes when it was let go and when it was due (its place in the
// schedule, or later if the last release was late: sync/pacer.go), and the
// fake's request log says when each request arrived. What matters to a
// burst-1 bucket is how much shorter the gap between two consecutive
// arrivals is than between the times they were due: a late release, then
// the request's way to the server, both shorten the gap to the next
// arrival. Each rate runs twice, with the limiter's precise sleep
// (sync/pacer.go) and with the runtime timer alone, as the limiter paced
// before it (both keep the minimum gap); the pacing alone, without
// requests, is measured the same way at 50, 200 and 1000 releases/s, with
// the CPU it costs; and so is the share refused by a burst-1 server when
// paced at 95% of its limit.

// jitterResult is one paced run of the probe.
type jitterResult struct {
	rate     float64
	n        int
	late     []time.Duration // release − due time, sorted
	delay    []time.Duration // arrival − release, sorted
	shrink   []time.Duration // due gap − arrival gap of consecutive arrivals, sorted; > 0: arrived closer than due
	disorder int             // consecutive arrivals in the other order than their releases
	refused  int             // answered 429 (against a server with a limit)
	okRate   float64         // accepted requests per second, first to last accepted arrival
}

// quantile of a sorted slice.
func quantile(s []time.Duration, q float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

// burst1Share is the highest share of a burst-1 limit L a client pacing
// evenly could send at, were its arrivals this jittery, with at most 1% of
// requests refused: the release gap 1/(share·L) must exceed 1/L by the
// 99th percentile of shrink.
func (r jitterResult) burst1Share(limit float64) float64 {
	slack := quantile(r.shrink, 0.99).Seconds()
	if slack <= 0 {
		return 1
	}
	return 1 / (1 + limit*slack)
}

// jitterProbe paces n PATCHes at rate per second through 32 workers
// against a fresh fake without a limit, and measures their arrival.
// timerOnly paces on the runtime timer alone; fakeArgs set the fake's limit.
func (b *bench) jitterProbe(ctx context.Context, name string, rate float64, n int, timerOnly bool, fakeArgs ...string) (jitterResult, error) {
	res := jitterResult{rate: rate, n: n}
	f, err := b.startFake(ctx, fakeSpec{name: name, seedRows: n, requestLog: true, args: fakeArgs})
	if err != nil {
		return res, err
	}
	defer f.stop()
	const workers = 32
	tr := &http.Transport{MaxIdleConns: workers, MaxIdleConnsPerHost: workers, IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	body := []byte(`{"first_name":"New"}`)
	auth := "Bearer " + b.token
	endpoint := f.url + "/v3/contact_card?phone_number="

	// Open the connections first, so that dialling is not measured.
	var wg stdsync.WaitGroup
	for range workers {
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.url+"/v3/contact_card?phone_number="+url.QueryEscape(phone(0)), nil)
			req.Header.Set("Authorization", auth)
			if resp, err := client.Do(req); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	wg.Wait()

	due := make([]time.Time, n)
	released := make([]time.Time, n)
	jobs := make(chan int, n)
	for i := range n {
		jobs <- i
	}
	close(jobs)
	pacer := sync.NewFixedPacer(rate, timerOnly)
	var firstErr error
	var errMu stdsync.Mutex
	for range workers {
		wg.Go(func() {
			for i := range jobs {
				req, err := http.NewRequestWithContext(ctx, http.MethodPatch, endpoint+url.QueryEscape(phone(i)), bytes.NewReader(body))
				if err == nil {
					req.Header.Set("Authorization", auth)
					req.Header.Set("Content-Type", "application/json")
					due[i], released[i], err = pacer.Wait(ctx)
				}
				if err == nil {
					var resp *http.Response
					if resp, err = client.Do(req); err == nil {
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
					pacer.Done(released[i])
				}
				if err != nil {
					errMu.Lock()
					firstErr = cmpOr(firstErr, err)
					errMu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if err := cmpOr(ctx.Err(), firstErr); err != nil {
		return res, err
	}
	if err := f.stop(); err != nil {
		return res, err
	}
	entries, err := readLog(f.logPath)
	if err != nil {
		return res, err
	}
	index := make(map[string]int, n)
	for i := range n {
		index[phone(i)] = i
	}
	var arrivals []int // request indexes in order of arrival
	var accepted int
	var firstOK, lastOK time.Time
	arrived := make([]time.Time, n)
	for _, e := range entries {
		if e.Method != http.MethodPatch {
			continue
		}
		q, err := url.ParseQuery(e.Query)
		if err != nil {
			continue
		}
		i, ok := index[q.Get("phone_number")]
		if !ok {
			continue
		}
		arrived[i] = e.Time
		arrivals = append(arrivals, i)
		if e.Status == http.StatusTooManyRequests {
			res.refused++
			continue
		}
		if accepted++; accepted == 1 {
			firstOK = e.Time
		}
		lastOK = e.Time
	}
	if span := lastOK.Sub(firstOK).Seconds(); accepted > 1 && span > 0 {
		res.okRate = float64(accepted-1) / span
	}
	if len(arrivals) != n {
		return res, fmt.Errorf("jitter probe: %d of %d requests in the request log", len(arrivals), n)
	}
	for i := range n {
		res.late = append(res.late, released[i].Sub(due[i]))
		res.delay = append(res.delay, arrived[i].Sub(released[i]))
	}
	for k := 1; k < len(arrivals); k++ {
		a, c := arrivals[k-1], arrivals[k]
		if c < a {
			res.disorder++
		}
		res.shrink = append(res.shrink, due[c].Sub(due[a])-arrived[c].Sub(arrived[a]))
	}
	for _, s := range [][]time.Duration{res.late, res.delay, res.shrink} {
		slices.Sort(s)
	}
	return res, nil
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// pacingResult is the pacer alone, without requests.
type pacingResult struct {
	late []time.Duration // release − due time, sorted
	cpu  time.Duration   // the bench process's CPU time per release
}

// pacingProbe lets n releases go at rate per second through 32 workers
// that send nothing, and measures how late they are and the CPU they cost.
func pacingProbe(ctx context.Context, rate float64, n int, timerOnly bool) (pacingResult, error) {
	var res pacingResult
	pacer := sync.NewFixedPacer(rate, timerOnly)
	late := make([]time.Duration, n)
	jobs := make(chan int, n)
	for i := range n {
		jobs <- i
	}
	close(jobs)
	var wg stdsync.WaitGroup
	cpu := selfCPU()
	for range 32 {
		wg.Go(func() {
			for i := range jobs {
				due, released, err := pacer.Wait(ctx)
				if err != nil {
					return
				}
				late[i] = released.Sub(due)
				pacer.Done(released)
			}
		})
	}
	wg.Wait()
	res.cpu = (selfCPU() - cpu) / time.Duration(n)
	if err := ctx.Err(); err != nil {
		return res, err
	}
	slices.Sort(late)
	res.late = late
	return res, nil
}

// jitterFigure runs the probes and says what pacing alone can reach
// against a burst-1 server on this machine now, with the limiter's pacing.
func (b *bench) jitterFigure(ctx context.Context) figure {
	fig := figure{id: "6j", name: "jitter of the limiter's releases (--rate fixed, 32 workers, no limit): the highest share of a burst-1 limit of 50 / 200 / 1000 req/s that pacing could reach with ≤ 1% refused"}
	us := func(d time.Duration) string { return fmt.Sprintf("%d µs", d.Microseconds()) }
	modes := []struct {
		name      string
		timerOnly bool
	}{{"precise", false}, {"timer", true}}

	// The pacing alone, old and new one after the other at each rate.
	var pacing []string
	for _, rate := range []float64{50, 200, 1000} {
		fmt.Fprintf(b.log, "bench: figure 6j: %g releases/s for 2 s, precise and timer\n", rate)
		var s []string
		for _, m := range modes {
			r, err := pacingProbe(ctx, rate, int(2*rate), m.timerOnly)
			if err != nil {
				fig.err = err
				return fig
			}
			s = append(s, fmt.Sprintf("%s late p50 %s p90 %s p99 %s, CPU %s per release", m.name,
				us(quantile(r.late, 0.5)), us(quantile(r.late, 0.9)), us(quantile(r.late, 0.99)), us(r.cpu)))
		}
		pacing = append(pacing, fmt.Sprintf("at %g/s: %s", rate, strings.Join(s, "; ")))
	}

	// Requests, to the fake.
	var parts, shares []string
	for i, rate := range []float64{200, 1000} {
		fmt.Fprintf(b.log, "bench: figure 6j: %g paced requests/s for 2 s, precise and timer\n", rate)
		for j, m := range modes {
			r, err := b.jitterProbe(ctx, fmt.Sprintf("jitter-%d-%d", i, j), rate, int(2*rate), m.timerOnly)
			if err != nil {
				fig.err = err
				return fig
			}
			var s []string
			for _, limit := range []float64{50, 200, 1000} {
				s = append(s, percent(r.burst1Share(limit)))
			}
			if !m.timerOnly {
				fig.shown = strings.Join(s, " / ") // the last: at 1000/s
			}
			shares = append(shares, fmt.Sprintf("%s at %g/s: %s", m.name, rate, strings.Join(s, " / ")))
			parts = append(parts, fmt.Sprintf("%s at %g/s: release late p50 %s p99 %s; release to arrival p50 %s p99 %s; arrival gap shorter than due by p50 %s p99 %s p99.9 %s; %d of %d arrivals out of release order",
				m.name, rate, us(quantile(r.late, 0.5)), us(quantile(r.late, 0.99)), us(quantile(r.delay, 0.5)), us(quantile(r.delay, 0.99)),
				us(quantile(r.shrink, 0.5)), us(quantile(r.shrink, 0.99)), us(quantile(r.shrink, 0.999)), r.disorder, r.n-1))
		}
	}
	// Against a burst-1 server, paced at 95% of its limit: what is refused
	// is the jitter, since the pacer does not slow down for 429s here.
	var refused []string
	for i, limit := range []float64{200, 1000} {
		fmt.Fprintf(b.log, "bench: figure 6j: 95%% of a burst-1 limit of %g/s for 2 s, precise and timer\n", limit)
		var s []string
		for j, m := range modes {
			r, err := b.jitterProbe(ctx, fmt.Sprintf("jitter-limit-%d-%d", i, j), 0.95*limit, int(2*limit), m.timerOnly,
				"--rate-limit", strconv.FormatFloat(limit, 'f', -1, 64), "--burst", "1")
			if err != nil {
				fig.err = err
				return fig
			}
			s = append(s, fmt.Sprintf("%s %s (accepted %s of the limit)", m.name, percent(float64(r.refused)/float64(r.n)), percent(r.okRate/limit)))
		}
		refused = append(refused, fmt.Sprintf("%g/s: %s", limit, strings.Join(s, ", ")))
	}

	fig.detail = "shown: precise at 1000/s. Refused when paced at 95% of a burst-1 limit of " + strings.Join(refused, "; of ") + ". Reachable shares, " + strings.Join(shares, "; ") + ". " + strings.Join(parts, "; ") +
		". Pacing alone (no requests), " + strings.Join(pacing, ". ")
	return fig
}

// jitterOnly is -only 6j: the jitter probe without the matrix.
func (b *bench) jitterOnly(ctx context.Context) []figure {
	return []figure{b.jitterFigure(ctx)}
}
