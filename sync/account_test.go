package sync

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bulksync/bulksync/internal/linqfake"
)

// The phone-number list is decoded leniently: an unknown status, a missing
// id or reputation, and extra fields are read, not refused.
func TestDecodeLines(t *testing.T) {
	body := `{"phone_numbers":[
		{"id":"4b6f9a1e-0000-0000-0000-000000000000","phone_number":"+12125550101","forwarding_number":null,
		 "reputation":{"status":"HEALTHY","doc_url":"https://d/h"},"health_status":{"status":"HEALTHY"}},
		{"phone_number":"+12125550102","reputation":{"status":"FLAGGED","doc_url":"https://d/f"}},
		{"phone_number":"+12125550103","health_status":{"status":"at_risk","doc_url":"https://d/a"}},
		{"phone_number":"+12125550104","reputation":{"status":"SUSPENDED_FOR_REVIEW"},"capabilities":{"sms":true}},
		{"phone_number":"+12125550105"}
	],"next":null}`
	lines, err := decodeLines(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if lines.Len() != 5 || !lines.Has("+12125550105") || lines.Has("+12125550106") {
		t.Fatalf("lines %v", lines)
	}
	var got []string
	for _, l := range lines.Unhealthy() {
		got = append(got, l.Phone+" "+l.Reputation+"/"+l.Health+" "+l.DocURL)
	}
	want := []string{
		"+12125550102 FLAGGED/ https://d/f",
		"+12125550103 /AT_RISK https://d/a",
		"+12125550104 SUSPENDED_FOR_REVIEW/ ",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("unhealthy %q, want %q", got, want)
	}
	if _, err := decodeLines(strings.NewReader(`{"contact_cards":[]}`)); err == nil {
		t.Errorf("a body without phone_numbers was accepted")
	}
	var none *Lines
	if !none.Has("+12125550101") {
		t.Errorf("without a list, a number is not taken to be on the account")
	}
}

// A number that is not one of the account's lines is not_owned: skipped,
// no request; the others sync and the run is incomplete (exit 1).
func TestNotOwnedSkippedWithoutRequest(t *testing.T) {
	fake, url := startFake(t, linqfake.Options{Lines: []string{"+12125550000", "+12125550001"}}, seeded(2, "Old")...)
	res := runSync(t, url, export(3, "New"), nil)
	if !errors.Is(res.err, ErrIncomplete) {
		t.Fatalf("Run error %v, want ErrIncomplete", res.err)
	}
	byLine := map[string]map[string]string{}
	for _, r := range res.rows {
		byLine[r["line"]] = r
	}
	if r := byLine["4"]; r["action"] != "not_owned" || r["result"] != "skipped" || r["attempts"] != "0" || !strings.Contains(r["error_message"], "not one of the account's lines") {
		t.Errorf("row of the number not on the account: %v", r)
	}
	if byLine["2"]["result"] != "ok" || byLine["3"]["result"] != "ok" {
		t.Errorf("rows %v", res.rows)
	}
	for _, r := range fake.Requests() {
		if strings.Contains(string(r.Body)+r.Query, "2125550002") {
			t.Errorf("a request for the number not on the account: %s %s %s", r.Method, r.Query, r.Body)
		}
	}
	if res.summary.Lines != 2 || res.summary.LinesUnchecked != "" {
		t.Errorf("summary lines %d, unchecked %q", res.summary.Lines, res.summary.LinesUnchecked)
	}
}

// When the phone-number list cannot be read, the run goes on unchecked; a
// 403 then fails its row only (not_owned), and the run goes on.
func TestForbiddenFailsOneRow(t *testing.T) {
	for _, code := range []int{2006, 2005} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			lines := testLines[:20]
			lines = append(lines[:7:7], lines[8:]...) // +12125550007 left the account
			_, url := startFake(t, linqfake.Options{Lines: lines, NotOwnedCode: code, PhoneNumbersStatus: 404}, seeded(20, "Old")...)
			res := runSync(t, url, export(20, "New"), func(c *Job) { c.Apply.Concurrency = 2 })
			if !errors.Is(res.err, ErrIncomplete) {
				t.Fatalf("Run error %v, want ErrIncomplete", res.err)
			}
			if !strings.Contains(res.summary.LinesUnchecked, "404") {
				t.Errorf("summary says lines unchecked %q, want the 404", res.summary.LinesUnchecked)
			}
			for _, r := range res.rows {
				want := "update ok"
				if r["phone_number"] == "+12125550007" {
					want = "not_owned failed"
					if r["http_status"] != "403" || r["error_code"] != fmt.Sprint(code) || !strings.Contains(r["error_message"], "not one this API key may change") {
						t.Errorf("403 row: %v", r)
					}
				}
				if got := r["action"] + " " + r["result"]; got != want {
					t.Errorf("line %s: %s, want %s (%s)", r["line"], got, want, r["error_message"])
				}
			}
		})
	}
}

// 403s that persist stop the run: forbiddenStreak of them with no success
// between, as a key without write permission gets.
func TestForbiddenStreakStops(t *testing.T) {
	_, url := startFake(t, linqfake.Options{Lines: []string{}, PhoneNumbersStatus: 500}, seeded(30, "Old")...)
	res := runSync(t, url, export(30, "New"), func(c *Job) { c.Apply.Concurrency = 1 })
	if !errors.Is(res.err, ErrAborted) || !strings.Contains(res.err.Error(), "were 403") {
		t.Fatalf("Run error %v, want an abort naming the 403s", res.err)
	}
	checkAccounted(t, res.rows, 30)
	results := countBy(res.rows, "result")
	if results["failed"] != forbiddenStreak || results["skipped"] != 30-forbiddenStreak {
		t.Errorf("results %v, want %d failed then the rest skipped", results, forbiddenStreak)
	}
}

// x-should-retry: false makes a 503 final: one attempt, the row fails.
func TestShouldRetryFalse(t *testing.T) {
	fake, url := startFake(t, linqfake.Options{ShouldRetry: "false"}, seeded(3, "Old")...)
	res := runSync(t, url, export(3, "New"), func(c *Job) {
		// Every write answers 503/4004 from the plan on.
		c.Events = onPlanned(func() { fake.SetFaults(linqfake.Faults{Error4004: 1}) })
	})
	if !errors.Is(res.err, ErrIncomplete) {
		t.Fatalf("Run error %v, want ErrIncomplete", res.err)
	}
	for _, r := range res.rows {
		if r["result"] != "failed" || r["attempts"] != "1" || r["http_status"] != "503" {
			t.Errorf("row %v, want failed after 1 attempt", r)
		}
	}
	if w := writes(fake.Requests()); len(w) != 3 {
		t.Errorf("%d writes, want 3 (no retry)", len(w))
	}
}

// x-should-retry: true makes a 400 worth retrying; retry-after-ms sets the
// wait.
func TestShouldRetryTrueAndRetryAfterMs(t *testing.T) {
	tries := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/v3/contact_card":
			fmt.Fprint(w, `{"contact_cards":[{"phone_number":"+12125550001","first_name":"Old","is_active":true}]}`)
		case r.Method == http.MethodGet:
			fmt.Fprint(w, `{"phone_numbers":[{"phone_number":"+12125550001"}]}`)
		case tries == 0:
			tries++
			w.Header().Set("X-Should-Retry", "true")
			w.Header().Set("Retry-After-Ms", "120")
			w.WriteHeader(400)
			fmt.Fprint(w, `{"success":false,"error":{"status":400,"code":1005,"message":"try again"}}`)
		default:
			fmt.Fprint(w, `{"phone_number":"+12125550001","first_name":"New","is_active":true}`)
		}
	}))
	defer srv.Close()
	var waits []time.Duration
	res := runSync(t, srv.URL, "phone_number,first_name\n+12125550001,New\n", func(c *Job) {
		c.Events = recordWaits{&waits}
	})
	if res.err != nil {
		t.Fatalf("Run: %v", res.err)
	}
	if r := res.rows[0]; r["result"] != "ok" || r["attempts"] != "2" {
		t.Errorf("row %v, want ok after 2 attempts", r)
	}
	// Transient waits are the larger of backoff (at most 50ms here) and
	// the server's wish.
	if len(waits) != 1 || waits[0] != 120*time.Millisecond {
		t.Errorf("waits %v, want the 120ms of retry-after-ms", waits)
	}
}

type recordWaits struct{ waits *[]time.Duration }

func (recordWaits) Planned(int, int)   {}
func (recordWaits) Reported(ReportRow) {}
func (r recordWaits) Attempted(ev AttemptEvent) {
	if ev.Wait > 0 {
		*r.waits = append(*r.waits, ev.Wait)
	}
}

// With a fake that hides inactive cards, a create for a number whose card
// is inactive meets 409/2014 and a re-read that finds nothing: the row ends
// inactive, with the reason.
func TestHiddenInactiveCard(t *testing.T) {
	for _, hide := range []bool{true, false} {
		t.Run(fmt.Sprintf("hide=%v", hide), func(t *testing.T) {
			_, url := startFake(t, linqfake.Options{HideInactive: hide}, card("+12125550000", "Old", "", false))
			res := runSync(t, url, export(1, "New"), nil)
			if !errors.Is(res.err, ErrIncomplete) {
				t.Fatalf("Run error %v, want ErrIncomplete", res.err)
			}
			r := res.rows[0]
			if r["action"] != "inactive" || !strings.Contains(r["error_message"], "inactive") {
				t.Errorf("row %v, want action inactive with the reason", r)
			}
			if hide && (r["result"] != "failed" || r["error_code"] != "2014" || r["attempts"] != "2") {
				t.Errorf("hidden: row %v, want failed after POST 409/2014 and a GET", r)
			}
			if !hide && (r["result"] != "skipped" || r["attempts"] != "0") {
				t.Errorf("listed: row %v, want the plan's inactive, skipped", r)
			}
		})
	}
}

// 404 on PATCH, with either documented code, and 400/5007 fail their row
// with a reason the user can act on.
func TestPatchAnswersExplained(t *testing.T) {
	for _, code := range []int{2001, 2012} {
		fake, url := startFake(t, linqfake.Options{NotFoundCode: code}, seeded(1, "Old")...)
		// The card goes inactive after the snapshot: the PATCH gets 404.
		res := runSync(t, url, export(1, "New"), func(c *Job) {
			c.Events = onPlanned(func() { fake.PutCard(card("+12125550000", "Old", "Number0", false)) })
		})
		r := res.rows[0]
		if r["result"] != "failed" || r["http_status"] != "404" || r["error_code"] != fmt.Sprint(code) || !strings.Contains(r["error_message"], "no active card for this number") {
			t.Errorf("404/%d: row %v", code, r)
		}
	}
	_, url := startFake(t, linqfake.Options{}, seeded(1, "Old")...)
	res := runSync(t, url, "phone_number,first_name,image_url\n+12125550000,Old,https://img.example.invalid/a.png\n", nil)
	r := res.rows[0]
	if r["result"] != "failed" || r["error_code"] != "5007" || !strings.Contains(r["error_message"], "Linq could not download the image") {
		t.Errorf("5007: row %v", r)
	}
}

type onPlanned func()

func (f onPlanned) Planned(int, int)     { f() }
func (onPlanned) Attempted(AttemptEvent) {}
func (onPlanned) Reported(ReportRow)     {}

// Cards no record names are counted, and with ReportAbsent reported with no
// line; with a shard, only the shard's cards; the exit code is unchanged.
func TestAbsentCards(t *testing.T) {
	_, url := startFake(t, linqfake.Options{}, seeded(10, "Old")...)
	res := runSync(t, url, export(6, "Old"), func(c *Job) { c.ReportAbsent = true })
	if res.err != nil {
		t.Fatalf("Run: %v", res.err)
	}
	if res.summary.Absent != 4 || len(res.rows) != 10 {
		t.Fatalf("absent %d, rows %d; want 4 and 10", res.summary.Absent, len(res.rows))
	}
	for _, r := range res.rows[6:] {
		if r["line"] != "" || r["action"] != "absent" || r["result"] != "skipped" || r["first_name_old"] != "Old" {
			t.Errorf("absent row %v", r)
		}
	}
	total := 0
	for i := range 3 {
		shard := Shard{Index: i, Count: 3}
		res := runSync(t, url, export(6, "Old"), func(c *Job) { c.Shard = shard })
		if res.err != nil {
			t.Fatalf("shard %v: %v", shard, res.err)
		}
		if len(res.rows) != res.summary.Records {
			t.Errorf("shard %v: %d rows for %d records without ReportAbsent", shard, len(res.rows), res.summary.Records)
		}
		total += res.summary.Absent
	}
	if total != 4 {
		t.Errorf("the shards count %d absent cards together, want 4", total)
	}
}

// A line is found by its number whatever its form, and a number listed
// twice keeps its last status.
func TestDecodeLinesKeys(t *testing.T) {
	body := `{"phone_numbers":[
		{"phone_number":"+12125550101","reputation":{"status":"FLAGGED"}},
		{"phone_number":"+012125550102"},
		{"phone_number":"+12125550101","reputation":{"status":"HEALTHY"}},
		{"phone_number":"+44207946000"}
	]}`
	lines, err := decodeLines(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if lines.Len() != 3 || len(lines.Unhealthy()) != 0 {
		t.Fatalf("%d lines, unhealthy %v", lines.Len(), lines.Unhealthy())
	}
	for phone, want := range map[string]bool{"+12125550101": true, "+012125550102": true, "+12125550102": false, "+44207946000": true, "+4420794600": false, "12125550101": false} {
		if lines.Has(phone) != want {
			t.Errorf("Has(%q) = %v, want %v", phone, !want, want)
		}
	}
	if _, err := decodeLines(strings.NewReader(`{"phone_numbers":null}`)); err == nil {
		t.Errorf("a null list was accepted")
	}
}
