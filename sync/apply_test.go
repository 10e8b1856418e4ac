package sync

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	stdsync "sync"
	"testing"
	"time"

	"github.com/bulksync/bulksync/gen/linq"
	"github.com/bulksync/bulksync/internal/contract"
	"github.com/bulksync/bulksync/internal/linqfake"
)

const testToken = "test-token"

// startFake serves the fake Linq API, checked against openapi.yaml: any
// request or answer outside the contract fails the test.
func startFake(t *testing.T, opts linqfake.Options, cards ...linq.ContactCard) (*linqfake.Server, string) {
	t.Helper()
	if opts.Token == "" {
		opts.Token = testToken
	}
	if opts.Lines == nil {
		opts.Lines = testLines
	}
	fake := linqfake.New(opts)
	for _, c := range cards {
		fake.PutCard(c)
	}
	h := fake.Handler()
	if !testing.Short() {
		h = contract.ValidatingHandler(h, func(err error) { t.Errorf("contract violation: %v", err) })
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return fake, srv.URL
}

// testLines are the test account's lines: every number export and seeded
// make, +12125550000 to +12125550999.
var testLines = func() []string {
	lines := make([]string, 1000)
	for i := range lines {
		lines[i] = fmt.Sprintf("+1212555%04d", i)
	}
	return lines
}()

func card(phone, first, last string, active bool) linq.ContactCard {
	c := linq.ContactCard{PhoneNumber: phone, FirstName: first, IsActive: active}
	if last != "" {
		c.LastName = &last
	}
	return c
}

// fastApply keeps retries quick in tests; the waits a server asks for
// (Retry-After) are still honoured.
var fastApply = ApplyOptions{Concurrency: 8, MaxAttempts: 8, RequestTimeout: 2 * time.Second, BackoffBase: 5 * time.Millisecond, BackoffMax: 50 * time.Millisecond}

type runResult struct {
	rows    []map[string]string
	summary *Summary
	err     error
}

// runSync runs a whole apply Job on an export, as cmd/bulksync does,
// with a state database and a report in a temporary directory.
func runSync(t *testing.T, baseURL, export string, mutate func(*Job)) runResult {
	t.Helper()
	return runJob(t, baseURL, export, context.Background(), mutate)
}

// runJob is runSync with a stop context: when it ends, the run stops
// gracefully.
func runJob(t *testing.T, baseURL, export string, stop context.Context, mutate func(*Job)) runResult {
	t.Helper()
	dir := t.TempDir()
	in := filepath.Join(dir, "export.csv")
	if err := os.WriteFile(in, []byte(export), 0o644); err != nil {
		t.Fatal(err)
	}
	job := &Job{
		Input:           in,
		Report:          filepath.Join(dir, "report.csv"),
		StateFile:       filepath.Join(dir, "state.db"),
		Getenv:          func(k string) string { return map[string]string{"LINQ_API_V3_API_KEY": testToken}[k] },
		BaseURL:         baseURL,
		Normalize:       NormalizeOptions{Region: "US"},
		Plan:            PlanOptions{Empty: EmptyKeep, OnDuplicate: DuplicateError, CreateMissing: true},
		Apply:           fastApply,
		SnapshotTimeout: 10 * time.Second,
	}
	if mutate != nil {
		mutate(job)
	}
	defer job.Close()
	runErr := job.Run(context.Background(), stop)
	if job.Summary() == nil {
		t.Fatalf("the job did not start: %v", runErr)
	}
	return runResult{rows: readReport(t, job.Report), summary: job.Summary(), err: runErr}
}

func readReport(t *testing.T, path string) []map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("report is not valid CSV: %v", err)
	}
	var rows []map[string]string
	for _, r := range recs[1:] {
		m := map[string]string{}
		for i, h := range recs[0] {
			m[h] = r[i]
		}
		rows = append(rows, m)
	}
	return rows
}

// export builds a generic export of n numbers +1212555xxxx with the given
// first name.
func export(n int, first string) string {
	var b strings.Builder
	b.WriteString("phone_number,first_name,last_name\n")
	for i := range n {
		fmt.Fprintf(&b, "+1212555%04d,%s,Number%d\n", i, first, i)
	}
	return b.String()
}

func seeded(n int, first string) []linq.ContactCard {
	var cards []linq.ContactCard
	for i := range n {
		cards = append(cards, card(fmt.Sprintf("+1212555%04d", i), first, fmt.Sprintf("Number%d", i), true))
	}
	return cards
}

// checkAccounted: one row per record, each line once.
func checkAccounted(t *testing.T, rows []map[string]string, records int) {
	t.Helper()
	if len(rows) != records {
		t.Fatalf("report has %d rows for %d records", len(rows), records)
	}
	seen := map[string]bool{}
	for _, r := range rows {
		if seen[r["line"]] {
			t.Fatalf("line %s reported twice", r["line"])
		}
		seen[r["line"]] = true
	}
}

func countBy(rows []map[string]string, col string) map[string]int {
	m := map[string]int{}
	for _, r := range rows {
		m[r[col]]++
	}
	return m
}

func writes(reqs []linqfake.LoggedRequest) []linqfake.LoggedRequest {
	var w []linqfake.LoggedRequest
	for _, r := range reqs {
		if r.Method == http.MethodPost || r.Method == http.MethodPatch {
			w = append(w, r)
		}
	}
	return w
}

func TestApplySendsOnlyChangedFields(t *testing.T) {
	fake, url := startFake(t, linqfake.Options{},
		card("+12125550001", "Ada", "Lovelace", true),
		card("+12125550002", "Grace", "Hopper", true),
		card("+12125550003", "Alan", "Turing", true))
	in := "phone_number,first_name,last_name\n" +
		"+12125550001,Ada,Lovelace\n" + // noop
		"+12125550002,Grace,Hopper-Murray\n" + // last_name only
		"+12125550003,Alan M.,Turing\n" + // first_name only
		"+12125550004,Margaret,Hamilton\n" // create
	res := runSync(t, url, in, nil)
	if res.err != nil {
		t.Fatalf("Run: %v", res.err)
	}
	checkAccounted(t, res.rows, 4)
	if got := countBy(res.rows, "result"); got["ok"] != 4 {
		t.Fatalf("results %v, want 4 ok", got)
	}
	bodies := map[string]string{}
	for _, r := range writes(fake.Requests()) {
		bodies[r.Method+" "+r.Query] = string(r.Body)
	}
	want := map[string]string{
		"PATCH phone_number=%2B12125550002": `{"last_name":"Hopper-Murray"}`,
		"PATCH phone_number=%2B12125550003": `{"first_name":"Alan M."}`,
		"POST ":                             `{"first_name":"Margaret","last_name":"Hamilton","phone_number":"+12125550004"}`,
	}
	if len(bodies) != len(want) {
		t.Errorf("writes %v, want %v", bodies, want)
	}
	for k, v := range want {
		if bodies[k] != v {
			t.Errorf("%s body = %s, want %s", k, bodies[k], v)
		}
	}

	// A second run finds nothing to do and sends nothing.
	fake.ResetLog()
	res = runSync(t, url, in, nil)
	if res.err != nil {
		t.Fatalf("second Run: %v", res.err)
	}
	if got := countBy(res.rows, "action"); got["noop"] != 4 {
		t.Errorf("second run actions %v, want 4 noop", got)
	}
	if w := writes(fake.Requests()); len(w) != 0 {
		t.Errorf("second run sent %d writes", len(w))
	}
}

// TestApplyFaults: under injected failures every row is accounted for and,
// with attempts to spare, every row converges to the desired card.
func TestApplyFaults(t *testing.T) {
	tests := []struct {
		name   string
		faults linqfake.Faults
		opts   func(*ApplyOptions)
	}{
		{"500/3006", linqfake.Faults{Error3006: 0.3}, nil},
		{"503/4004", linqfake.Faults{Error4004: 0.3}, nil},
		{"500/2022", linqfake.Faults{Error2022: 0.3}, nil},
		{"dropped connections", linqfake.Faults{Drop: 0.3}, nil},
		{"hangs past the timeout", linqfake.Faults{Hang: 0.2}, func(o *ApplyOptions) { o.RequestTimeout = 150 * time.Millisecond }},
		{"lost answers", linqfake.Faults{LostResponse: 0.3}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const n = 40
			fake, url := startFake(t, linqfake.Options{Faults: tt.faults, Seed: 7}, seeded(n/2, "Old")...)
			res := runSync(t, url, export(n, "New"), func(c *Job) {
				c.Apply.MaxAttempts = 12
				if tt.opts != nil {
					tt.opts(&c.Apply)
				}
			})
			checkAccounted(t, res.rows, n)
			retried := 0
			for _, r := range res.rows {
				if r["result"] != "ok" {
					t.Errorf("line %s: %s after %s attempts: %s", r["line"], r["result"], r["attempts"], r["error_message"])
				}
				if r["attempts"] != "1" {
					retried++
				}
			}
			if res.err != nil {
				t.Fatalf("Run: %v (results %v)", res.err, countBy(res.rows, "result"))
			}
			if retried == 0 {
				t.Errorf("no row needed a retry: the fault was not injected")
			}
			cards := fake.Cards()
			if len(cards) != n {
				t.Fatalf("fake has %d cards, want %d (a create was lost or doubled)", len(cards), n)
			}
			for _, c := range cards {
				if c.FirstName != "New" {
					t.Errorf("%s first_name %q, want New", c.PhoneNumber, c.FirstName)
				}
			}
		})
	}
}

// TestApplyRetryAfter: a 429's Retry-After is waited before the same row is
// sent again, and the run still converges.
func TestApplyRetryAfter(t *testing.T) {
	const n = 30
	fake, url := startFake(t, linqfake.Options{RateLimit: 20, Burst: 5}, seeded(n, "Old")...)
	res := runSync(t, url, export(n, "New"), func(c *Job) { c.Apply.Concurrency = 8 })
	checkAccounted(t, res.rows, n)
	if res.err != nil {
		t.Fatalf("Run: %v", res.err)
	}
	last := map[string]linqfake.LoggedRequest{}
	throttled := 0
	for _, r := range writes(fake.Requests()) {
		if prev, ok := last[r.Query]; ok && prev.Status == 429 {
			if gap := r.Time.Sub(prev.Time); gap < 900*time.Millisecond {
				t.Errorf("%s: retried %v after a 429 asking for Retry-After: 1", r.Query, gap)
			}
		}
		if r.Status == 429 {
			throttled++
		}
		last[r.Query] = r
	}
	if throttled == 0 {
		t.Fatalf("no 429 was answered; the test does not test anything")
	}
	for _, c := range fake.Cards() {
		if c.FirstName != "New" {
			t.Errorf("%s not converged", c.PhoneNumber)
		}
	}
}

// TestApplyFatalStops: a 401 midway stops dispatching; the rows not sent are
// skipped; at most one round of in-flight requests follows the 401.
func TestApplyFatalStops(t *testing.T) {
	const n = 200
	fake, url := startFake(t, linqfake.Options{Latency: 5 * time.Millisecond}, seeded(n, "Old")...)
	var once stdsync.Once
	res := runSync(t, url, export(n, "New"), func(c *Job) {
		c.Apply.Concurrency = 4
		// Revoke the key once some requests went through.
		go func() {
			for len(fake.Requests()) < 30 {
				time.Sleep(time.Millisecond)
			}
			once.Do(func() { fake.SetToken("revoked") })
		}()
	})
	checkAccounted(t, res.rows, n)
	if !errors.Is(res.err, ErrAborted) {
		t.Fatalf("Run error %v, want ErrAborted", res.err)
	}
	results := countBy(res.rows, "result")
	if results["skipped"] == 0 || results["ok"] == 0 {
		t.Fatalf("results %v: want some ok before the 401 and skipped after", results)
	}
	for _, r := range res.rows {
		if r["result"] == "skipped" && !strings.Contains(r["error_message"], "2004") {
			t.Errorf("skipped row %s says %q, want the 401/2004 reason", r["line"], r["error_message"])
		}
	}
	unauthorized := 0
	for _, r := range fake.Requests() {
		if r.Status == 401 {
			unauthorized++
		}
	}
	if unauthorized > 4 {
		t.Errorf("%d requests answered 401: dispatch went on after the first (concurrency 4)", unauthorized)
	}
}

func TestApplyMaxChangesWritesNothing(t *testing.T) {
	fake, url := startFake(t, linqfake.Options{}, seeded(10, "Old")...)
	res := runSync(t, url, export(10, "New"), func(c *Job) { c.MaxChanges, _ = ParseChangeLimit("50%") })
	checkAccounted(t, res.rows, 10)
	if !errors.Is(res.err, ErrAborted) || !strings.Contains(res.err.Error(), "--max-changes 50%") {
		t.Fatalf("Run error %v, want an abort naming --max-changes", res.err)
	}
	if got := countBy(res.rows, "result"); got["skipped"] != 10 {
		t.Errorf("results %v, want all skipped", got)
	}
	if w := writes(fake.Requests()); len(w) != 0 {
		t.Errorf("%d writes despite --max-changes", len(w))
	}
}

// TestApplyOddAnswers: answers outside the contract fail the row with the
// raw status and a clear message; nothing panics.
func TestApplyOddAnswers(t *testing.T) {
	tests := []struct {
		name, contentType, body string
		status                  int
		wantMsg                 string
	}{
		{"html error page", "text/html", "<html><body>502 Bad Gateway</body></html>", 400, "unexpected response body"},
		{"empty 200", "application/json", "", 200, "unexpected response body: (empty)"},
		{"wrong shape 200", "application/json", `{"ok":true}`, 200, "unexpected response body"},
		{"json array 400", "application/json", `[1,2]`, 400, "unexpected response body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodGet {
					w.Header().Set("Content-Type", "application/json")
					fmt.Fprint(w, `{"contact_cards":[{"phone_number":"+12125550001","first_name":"Old","is_active":true}]}`)
					return
				}
				w.Header().Set("Content-Type", tt.contentType)
				w.WriteHeader(tt.status)
				fmt.Fprint(w, tt.body)
			}))
			defer srv.Close()
			res := runSync(t, srv.URL, "phone_number,first_name\n+12125550001,New\n", nil)
			if !errors.Is(res.err, ErrIncomplete) {
				t.Fatalf("Run error %v, want ErrIncomplete", res.err)
			}
			r := res.rows[0]
			if r["result"] != "failed" || r["http_status"] != fmt.Sprint(tt.status) || !strings.Contains(r["error_message"], tt.wantMsg) {
				t.Errorf("row %v", r)
			}
		})
	}
}

// TestApplyRetryWaitHoldsNoSlot: a row waiting out a Retry-After holds none
// of the --concurrency request slots; the rows behind it go on meanwhile.
func TestApplyRetryWaitHoldsNoSlot(t *testing.T) {
	const n = 5
	fake, url := throttleFirstPatch(t, n, "+12125550000", 1)
	res := runSync(t, url, export(n, "New"), func(c *Job) { c.Apply.Concurrency = 1 })
	if res.err != nil {
		t.Fatalf("Run: %v", res.err)
	}
	checkAccounted(t, res.rows, n)
	w := writes(fake.Requests())
	if len(w) != n {
		t.Fatalf("%d PATCH requests reached the store, want %d", len(w), n)
	}
	if last := w[len(w)-1].Query; !strings.Contains(last, "2125550000") {
		t.Errorf("the last PATCH was %q; want the retry of +12125550000, after the other rows went on during its wait", last)
	}
}

// TestApplyGateInterrupted: a 429 asking for a long wait holds every row,
// not only its own (the limiter's gate), and an interrupt during that wait
// ends the run at once, every row reported.
func TestApplyGateInterrupted(t *testing.T) {
	const n = 5
	fake, url := throttleFirstPatch(t, n, "", 60)
	stop, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	// The interrupt comes a moment after the 429, while the next row waits
	// at the gate: a spare worker took it when the throttled row let go of
	// the one request slot.
	events := &stopOnWait{attemptLog: &attemptLog{}, cancel: func() {
		time.AfterFunc(200*time.Millisecond, func() { cancel(errors.New("interrupted by SIGINT")) })
	}}
	start := time.Now()
	res := runJob(t, url, export(n, "New"), stop, func(j *Job) {
		j.Apply.Concurrency = 1
		j.Events = events
	})
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the run took %v after an interrupt during a 60 s Retry-After; want it to end at once", took)
	}
	if !errors.Is(res.err, ErrAborted) || !strings.Contains(res.err.Error(), "interrupted by SIGINT") {
		t.Errorf("Run error %v, want ErrAborted naming the interrupt", res.err)
	}
	checkAccounted(t, res.rows, n)
	if w := writes(fake.Requests()); len(w) != 0 {
		t.Errorf("%d PATCH requests reached the store during the wait the 429 asked for; want none", len(w))
	}
}

// throttleFirstPatch serves a fake holding n cards, and answers the run's
// first PATCH (of phone, when set) with 429/1007 and a Retry-After of
// retryAfter seconds.
func throttleFirstPatch(t *testing.T, n int, phone string, retryAfter int) (*linqfake.Server, string) {
	t.Helper()
	fake := linqfake.New(linqfake.Options{Token: testToken})
	for _, c := range seeded(n, "Old") {
		fake.PutCard(c)
	}
	h := fake.Handler()
	var once stdsync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		throttle := false
		if r.Method == http.MethodPatch && (phone == "" || r.URL.Query().Get("phone_number") == phone) {
			once.Do(func() { throttle = true })
		}
		if throttle {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprintf(w, `{"success":false,"error":{"status":429,"code":1007,"message":"Rate limited. Try again later","retry_after":%d}}`, retryAfter)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return fake, srv.URL
}
