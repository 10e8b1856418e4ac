package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"time"
)

// logEntry is the part of a fake-api --request-log line the bench reads.
type logEntry struct {
	Time   time.Time `json:"time"` // when the request arrived
	Query  string    `json:"query"`
	Method string    `json:"method"`
	Path   string    `json:"path"`
	Status int       `json:"status"`
	Code   int       `json:"code"`
}

// maxLogLines bounds how much of a request log is read.
const maxLogLines = 10_000_000

// readLog reads a request log, sorted by arrival: the fake writes each line
// when its answer is ready, so the file is in order of completion.
func readLog(path string) ([]logEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var entries []logEntry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		if n > maxLogLines {
			return nil, fmt.Errorf("%s: more than %d lines", path, maxLogLines)
		}
		var e logEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, n, err)
		}
		entries = append(entries, e)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	slices.SortStableFunc(entries, func(a, b logEntry) int { return a.Time.Compare(b.Time) })
	return entries, nil
}

// writeStats summarises the PATCH requests of a request log.
type writeStats struct {
	Requests  int // PATCH requests
	OK        int // answered 200
	Throttled int // answered 429
	First     time.Time
	Last      time.Time // arrival of the last PATCH
	FirstOK   time.Time
	LastOK    time.Time // arrival of the last PATCH answered 200
}

// patchStats counts the PATCH requests that arrived at or after from
// (every one when from is zero). entries must be sorted by arrival.
func patchStats(entries []logEntry, from time.Time) writeStats {
	var s writeStats
	for _, e := range entries {
		if e.Method != http.MethodPatch || e.Time.Before(from) {
			continue
		}
		if s.Requests == 0 {
			s.First = e.Time
		}
		s.Requests++
		s.Last = e.Time
		switch e.Status {
		case http.StatusOK:
			if s.OK == 0 {
				s.FirstOK = e.Time
			}
			s.OK++
			s.LastOK = e.Time
		case http.StatusTooManyRequests:
			s.Throttled++
		}
	}
	return s
}

// applyWindow is the apply phase as the server saw it: from the first
// PATCH's arrival to the last one's answer, taken as its arrival plus the
// server's latency. For C clients that never pause, n requests take
// exactly n/C·latency this way, so n/window is comparable with C/latency.
func (s writeStats) applyWindow(latency time.Duration) time.Duration {
	if s.Requests == 0 {
		return 0
	}
	return s.Last.Sub(s.First) + latency
}

// okRate is the rate of successful writes between the first and the last
// of them, in writes per second; 0 with fewer than two.
func (s writeStats) okRate() float64 {
	if s.OK < 2 {
		return 0
	}
	return float64(s.OK-1) / s.LastOK.Sub(s.FirstOK).Seconds()
}

// throttledShare is the share of PATCH requests answered 429.
func (s writeStats) throttledShare() float64 {
	if s.Requests == 0 {
		return 0
	}
	return float64(s.Throttled) / float64(s.Requests)
}
