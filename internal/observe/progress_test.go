package observe

import (
	"bytes"
	"regexp"
	"strings"
	stdsync "sync"
	"testing"
	"time"

	"github.com/bulksync/bulksync/sync"
)

// lockedBuffer is a bytes.Buffer safe for the drawing goroutine and the
// test to share.
type lockedBuffer struct {
	mu  stdsync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func report(p *progress, n int, result sync.Result) {
	for range n {
		p.Reported(sync.ReportRow{Result: result})
	}
}

func TestStatsLine(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		apply  bool
		prefix string
		rate   float64 // --rate
		feed   func(p *progress)
		at     time.Duration
		want   string
	}{
		{
			name: "before the plan", apply: true, prefix: "bulksync",
			feed: func(p *progress) {}, at: 30 * time.Second,
			want: "bulksync: planning: reading the export and the live cards",
		},
		{
			name: "apply with a throttled limiter", apply: true, prefix: "bulksync",
			feed: func(p *progress) {
				p.Planned(5000, 4000)
				report(p, 1197, sync.ResultOK)
				report(p, 3, sync.ResultFailed)
				p.Attempted(sync.AttemptEvent{Rate: 180.4})
			},
			at:   30 * time.Second,
			want: "bulksync: 1200/5000 rows (24%), 40.0 rows/s, 3 failed, limiter 180 req/s",
		},
		{
			name: "apply, unlimited", apply: true, prefix: "bulksync shard 1/4",
			feed: func(p *progress) { p.Planned(10, 2); report(p, 5, sync.ResultOK) },
			at:   2 * time.Second,
			want: "bulksync shard 1/4: 5/10 rows (50%), 2.5 rows/s, 0 failed, limiter unlimited",
		},
		{
			name: "apply, --rate before any attempt", apply: true, prefix: "bulksync", rate: 2.5,
			feed: func(p *progress) { p.Planned(10, 2) },
			at:   time.Second,
			want: "bulksync: 0/10 rows (0%), 0.0 rows/s, 0 failed, limiter 2.5 req/s",
		},
		{
			name: "plan has no limiter", prefix: "bulksync",
			feed: func(p *progress) { p.Planned(4, 0); report(p, 4, sync.ResultPlanned) },
			at:   time.Second,
			want: "bulksync: 4/4 rows (100%), 4.0 rows/s, 0 failed",
		},
		{
			name: "empty export", prefix: "bulksync",
			feed: func(p *progress) { p.Planned(0, 0) },
			at:   time.Second,
			want: "bulksync: 0/0 rows (100%), 0.0 rows/s, 0 failed",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProgress(NewConsole(&bytes.Buffer{}), tt.prefix, tt.apply, false, time.Second, tt.rate, t0)
			tt.feed(p)
			if got := p.statsLine(t0.Add(tt.at)); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

// The rate of a stats line is that since the previous line, not since the
// start: a run that slows down says so.
func TestStatsLineRateIsSinceThePreviousLine(t *testing.T) {
	t0 := time.Now()
	p := newProgress(NewConsole(&bytes.Buffer{}), "bulksync", true, false, time.Second, 0, t0)
	p.Planned(1000, 1000)
	report(p, 600, sync.ResultOK)
	p.statsLine(t0.Add(10 * time.Second))
	report(p, 10, sync.ResultOK)
	if got, want := p.statsLine(t0.Add(20*time.Second)), "610/1000 rows (61%), 1.0 rows/s"; !strings.Contains(got, want) {
		t.Errorf("got %q, want it to contain %q", got, want)
	}
}

// Without a terminal, the display is a stats line every interval and
// nothing else, and nothing once it is finished.
func TestStatsLinesEveryInterval(t *testing.T) {
	var out lockedBuffer
	p := newProgress(NewConsole(&out), "bulksync", true, false, 10*time.Millisecond, 0, time.Now())
	p.Planned(100, 100)
	p.start()
	report(p, 7, sync.ResultFailed)
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(out.String(), "\n") < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	p.finish()
	p.finish() // twice is fine
	got := out.String()
	line := regexp.MustCompile(`^bulksync: [0-9]+/100 rows \([0-9]+%\), [0-9]+\.[0-9] rows/s, [0-9] failed, limiter unlimited$`)
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) < 3 {
		t.Fatalf("%d lines in 5s at a 10ms interval:\n%s", len(lines), got)
	}
	for _, l := range lines {
		if !line.MatchString(l) {
			t.Errorf("not a stats line: %q", l)
		}
	}
	if strings.Contains(got, "\r") || strings.Contains(got, "\033") {
		t.Errorf("terminal control characters without a terminal: %q", got)
	}
	time.Sleep(50 * time.Millisecond)
	if after := out.String(); after != got {
		t.Errorf("written after finish: %q", strings.TrimPrefix(after, got))
	}
}

// The bar is drawn on one line, erased before any other line (a log line)
// and redrawn after it, and erased for good before the summary.
func TestBarErasedBeforeOtherOutput(t *testing.T) {
	var out lockedBuffer
	con := NewConsole(&out)
	p := newProgress(con, "bulksync", true, true, time.Second, 0, time.Now())
	now := time.Now()

	p.draw(now)
	if got := out.String(); !strings.Contains(got, "reading the export and the live cards") || strings.Contains(got, "\n") {
		t.Fatalf("before the plan: %q", got)
	}
	p.Planned(200, 150)
	report(p, 50, sync.ResultOK)
	report(p, 2, sync.ResultFailed)
	p.Attempted(sync.AttemptEvent{Rate: 95})
	p.draw(now.Add(time.Second))
	bar := out.String()
	for _, want := range []string{"52/200", "rows/s", "2 failed, limiter 95 req/s", "|"} {
		if !strings.Contains(bar, want) {
			t.Errorf("bar %q lacks %q", bar, want)
		}
	}
	if strings.Contains(bar, "\n") {
		t.Errorf("the bar wrote a newline: %q", bar)
	}

	// A log line erases the bar first; the next tick draws it again.
	con.Write([]byte("level=WARN msg=\"row failed\"\n"))
	if got := strings.TrimPrefix(out.String(), bar); got != eraseBar+"level=WARN msg=\"row failed\"\n" {
		t.Errorf("a log line over the bar wrote %q", got)
	}
	select {
	case <-con.erased: // the drawing goroutine redraws at once
	default:
		t.Error("erasing the bar did not ask for a redraw")
	}
	before := out.String()
	report(p, 10, sync.ResultOK)
	p.draw(now.Add(2 * time.Second))
	if redrawn := strings.TrimPrefix(out.String(), before); !strings.Contains(redrawn, "62/200") {
		t.Errorf("bar not redrawn after the log line: %q", redrawn)
	}

	// The summary starts on a clean line: finish erases the bar.
	p.finish()
	con.Write([]byte("apply: 200 records, 150 changes planned, in 3.0s\n"))
	got := out.String()
	summary := strings.Index(got, "apply: 200 records")
	if !strings.HasSuffix(got[:summary], eraseBar) {
		t.Errorf("the bar was not erased before the summary: %q", got[max(0, summary-80):])
	}
	if strings.Count(got[summary:], "\n") != 1 || strings.ContainsAny(got[summary:], "\r\033|") {
		t.Errorf("bar output after the summary: %q", got[summary:])
	}
}

// A plan with no records draws no bar (a bar of 0 cannot be drawn).
func TestBarEmptyPlan(t *testing.T) {
	var out lockedBuffer
	con := NewConsole(&out)
	p := newProgress(con, "bulksync", false, true, time.Second, 0, time.Now())
	p.draw(time.Now())
	p.Planned(0, 0)
	p.draw(time.Now())
	p.finish()
	con.Write([]byte("plan: 0 records\n"))
	if got := out.String(); !strings.HasSuffix(got, eraseBar+"plan: 0 records\n") || strings.Contains(got, "%") {
		t.Errorf("got %q", got)
	}
}

// The bar line fits 80 columns (a console that is not a terminal counts
// as 80): the time estimate goes first, then the description.
func TestBarWidth(t *testing.T) {
	rate := regexp.MustCompile(`[0-9]+ rows/s`)
	for _, tt := range []struct {
		apply             bool
		total             int64
		predict, describe bool
	}{
		{true, 5000, false, true},
		{false, 99, true, false},
		{true, 100000000, false, false},
	} {
		p := newProgress(NewConsole(&bytes.Buffer{}), "bulksync", tt.apply, true, time.Second, 180, time.Now())
		p.failed.Store(3)
		p.Planned(int(tt.total), 0)
		p.done.Store(tt.total / 3)
		p.draw(time.Now())
		// The rate of a bar drawn at once is huge; a real one has 4 digits.
		line := rate.ReplaceAllString(p.pb.Load().String(), "1234 rows/s")
		line = strings.TrimSuffix(strings.TrimPrefix(line, "\r"), "\033[0K")
		if n := len([]rune(line)); n >= 80 {
			t.Errorf("%d rows: a line of %d characters: %q", tt.total, n, line)
		}
		if got := strings.Contains(line, "["); got != tt.predict {
			t.Errorf("%d rows: time estimate shown %v, want %v: %q", tt.total, got, tt.predict, line)
		}
		if got := strings.Contains(line, "failed"); got != tt.describe {
			t.Errorf("%d rows: description shown %v, want %v: %q", tt.total, got, tt.describe, line)
		}
	}
}

// Events come from many workers while the display draws: run with -race.
func TestProgressConcurrentEvents(t *testing.T) {
	var out lockedBuffer
	for _, bar := range []bool{false, true} {
		p := newProgress(NewConsole(&out), "bulksync", true, bar, time.Millisecond, 0, time.Now())
		p.start()
		p.Planned(8000, 8000)
		var wg stdsync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				for i := range 1000 {
					p.Attempted(sync.AttemptEvent{Rate: float64(w*1000 + i)})
					res := sync.ResultOK
					if i%100 == 0 {
						res = sync.ResultFailed
					}
					p.Reported(sync.ReportRow{Result: res})
				}
			})
		}
		wg.Wait()
		p.finish()
		if got := p.done.Load(); got != 8000 {
			t.Errorf("done %d, want 8000", got)
		}
		if got := p.failed.Load(); got != 80 {
			t.Errorf("failed %d, want 80", got)
		}
	}
}
