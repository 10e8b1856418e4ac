package linqfake_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulksync/bulksync/gen/linq"
	"github.com/bulksync/bulksync/internal/linqfake"
)

// Injected errors answer with their envelope and leave the store as it was.
func TestInjectedErrors(t *testing.T) {
	seed := card(ada, "Ada", "", "", true)
	tests := []struct {
		name       string
		faults     linqfake.Faults
		op         string // see callOp
		wantStatus int
		wantCode   int
	}{
		{"3006 on list", linqfake.Faults{Error3006: 1}, "list", 500, 3006},
		{"3006 on create", linqfake.Faults{Error3006: 1}, "create", 500, 3006},
		{"3006 on update", linqfake.Faults{Error3006: 1}, "update", 500, 3006},
		{"4004 on list", linqfake.Faults{Error4004: 1}, "list", 503, 4004},
		{"4004 on create", linqfake.Faults{Error4004: 1}, "create", 503, 4004},
		{"4004 on update", linqfake.Faults{Error4004: 1}, "update", 503, 4004},
		{"2022 on create", linqfake.Faults{Error2022: 1}, "create", 500, 2022},
		{"2022 on update", linqfake.Faults{Error2022: 1}, "update", 500, 2022},
		{"no 2022 on list", linqfake.Faults{Error2022: 1}, "list", 200, 0},
		{"429 on update", linqfake.Faults{Throttle: 1}, "update", 429, 1007},
		{"429 on create", linqfake.Faults{Throttle: 1}, "create", 429, 1007},
		{"none on phone numbers", linqfake.Faults{Error3006: 1}, "phone_numbers", 200, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, linqfake.Options{Faults: tc.faults}, seed)
			got := callOp(t, f, tc.op)
			if tc.wantStatus == 200 {
				if got.resp.StatusCode != 200 {
					t.Fatalf("status %d, want 200", got.resp.StatusCode)
				}
				return
			}
			checkEnvelope(t, got.resp, got.env, tc.wantStatus, tc.wantCode)
			if cards := f.fake.Cards(); len(cards) != 1 || cards[0].FirstName != "Ada" {
				t.Errorf("store changed by a failed request: %+v", cards)
			}
			if log := f.fake.Requests(); len(log) != 1 || log[0].Fault != "error" || log[0].Code != tc.wantCode {
				t.Errorf("log %+v, want one request with fault error and code %d", log, tc.wantCode)
			}
		})
	}
}

// Above the rate, every operation answers 429/1007 with Retry-After (header
// and body) and is not applied.
func TestRateLimit(t *testing.T) {
	for _, op := range []string{"list", "create", "update", "phone_numbers"} {
		t.Run(op, func(t *testing.T) {
			// Half a request per second: after one request the next must
			// wait 2 seconds.
			f := newFixture(t, linqfake.Options{RateLimit: 0.5, Burst: 1}, card(ada, "Ada", "", "", true))
			if first := callOp(t, f, "list"); first.resp.StatusCode != 200 {
				t.Fatalf("first request: status %d", first.resp.StatusCode)
			}
			got := callOp(t, f, op)
			checkEnvelope(t, got.resp, got.env, 429, 1007)
			if msg := got.env.Error.Message; msg != "Rate limited. Try again later" {
				t.Errorf("message %q", msg)
			}
			if got.retryAfter == nil || *got.retryAfter != 2 {
				t.Errorf("Retry-After header %q, want 2", got.resp.Header.Get("Retry-After"))
			}
			if ra := got.env.Error.RetryAfter; ra == nil || *ra != 2 {
				t.Errorf("error.retry_after %v, want 2", ra)
			}
			if cards := f.fake.Cards(); len(cards) != 1 || cards[0].FirstName != "Ada" {
				t.Errorf("a throttled request changed the store: %+v", cards)
			}
		})
	}
}

// The Retry-After styles of --retry-after: none sends no wait at all, a
// fixed duration sends only retry-after-ms.
func TestRateLimitRetryAfterStyles(t *testing.T) {
	for _, tc := range []struct {
		flag       string
		header, ms string
		body       bool
	}{
		{"seconds", "2", "", true},
		{"none", "", "", false},
		{"250ms", "", "250", false},
	} {
		t.Run(tc.flag, func(t *testing.T) {
			ra, err := linqfake.ParseRetryAfter(tc.flag)
			if err != nil {
				t.Fatal(err)
			}
			f := newFixture(t, linqfake.Options{RateLimit: 0.5, Burst: 1, RetryAfter: ra}, card(ada, "Ada", "", "", true))
			callOp(t, f, "list")
			got := callOp(t, f, "list")
			checkEnvelope(t, got.resp, got.env, 429, 1007)
			if h := got.resp.Header.Get("Retry-After"); h != tc.header {
				t.Errorf("Retry-After %q, want %q", h, tc.header)
			}
			if h := got.resp.Header.Get("Retry-After-Ms"); h != tc.ms {
				t.Errorf("retry-after-ms %q, want %q", h, tc.ms)
			}
			if body := got.env.Error.RetryAfter != nil; body != tc.body {
				t.Errorf("error.retry_after present: %v, want %v", body, tc.body)
			}
		})
	}
	for _, bad := range []string{"soon", "0s", "-1s"} {
		if _, err := linqfake.ParseRetryAfter(bad); err == nil {
			t.Errorf("ParseRetryAfter(%q) gave no error", bad)
		}
	}
}

// With Window, RateLimit is a fixed window, as Linq documents its one
// limit: rate×window requests pass at once, the rest answer 429 with a
// Retry-After of the seconds until the window ends (rounded up), and the
// next window opens with the first request after it. A duration style is
// sent whatever the wait.
func TestRateLimitFixedWindow(t *testing.T) {
	var clock atomic.Int64 // nanoseconds since base
	base := time.Unix(1_000_000, 0)
	now := func() time.Time { return base.Add(time.Duration(clock.Load())) }
	advance := func(d time.Duration) { clock.Add(int64(d)) }
	f := newFixture(t, linqfake.Options{RateLimit: 0.3, Window: 10 * time.Second, Now: now}, card(ada, "Ada", "", "", true))
	refused := func(want int) {
		t.Helper()
		got := callOp(t, f, "list")
		checkEnvelope(t, got.resp, got.env, 429, 1007)
		if got.retryAfter == nil || *got.retryAfter != want {
			t.Errorf("Retry-After header %q, want %d", got.resp.Header.Get("Retry-After"), want)
		}
		if ra := got.env.Error.RetryAfter; ra == nil || *ra != want {
			t.Errorf("error.retry_after %v, want %d", ra, want)
		}
	}
	passes := func(n int) {
		t.Helper()
		for i := range n {
			if got := callOp(t, f, "list"); got.resp.StatusCode != 200 {
				t.Fatalf("request %d of the window: status %d, want 200", i+1, got.resp.StatusCode)
			}
		}
	}

	advance(5 * time.Second) // the window follows the first request, not the clock
	passes(3)                // 0.3/s × 10 s, all at once
	refused(10)
	advance(2500 * time.Millisecond)
	refused(8) // 7.5 s left
	advance(7499 * time.Millisecond)
	refused(1) // 1 ms left: still at least 1
	advance(time.Millisecond)
	passes(3) // a new window, from this request
	advance(9 * time.Second)
	refused(1)
	advance(5 * time.Second) // long after it ended: the next opens now
	passes(1)
	advance(9 * time.Second)
	passes(2)
	refused(1)

	ra, err := linqfake.ParseRetryAfter("250ms")
	if err != nil {
		t.Fatal(err)
	}
	f = newFixture(t, linqfake.Options{RateLimit: 1, Window: 10 * time.Second, Now: now, RetryAfter: ra})
	passes(10)
	got := callOp(t, f, "list")
	checkEnvelope(t, got.resp, got.env, 429, 1007)
	if h, ms := got.resp.Header.Get("Retry-After"), got.resp.Header.Get("Retry-After-Ms"); h != "" || ms != "250" {
		t.Errorf("Retry-After %q, retry-after-ms %q: want none and 250, whatever the wait", h, ms)
	}
}

// A request without a valid token is answered 401 before the rate limit.
func TestRateLimitAfterAuth(t *testing.T) {
	f := newFixture(t, linqfake.Options{RateLimit: 0.5, Burst: 1})
	for range 3 {
		resp, err := f.client.ListContactCardsWithResponse(t.Context(), nil, auth(noAuth))
		if err != nil || resp.StatusCode() != 401 {
			t.Fatalf("err %v, status %d, want 401", err, resp.StatusCode())
		}
	}
	resp, err := f.client.ListContactCardsWithResponse(t.Context(), nil, auth(""))
	if err != nil || resp.StatusCode() != 200 {
		t.Fatalf("authenticated request: err %v, status %d, want 200", err, resp.StatusCode())
	}
}

func TestDroppedConnection(t *testing.T) {
	f := newFixture(t, linqfake.Options{Faults: linqfake.Faults{Drop: 1}})
	_, err := f.client.CreateContactCardWithResponse(t.Context(), linq.CreateContactCardRequest{PhoneNumber: ada, FirstName: "Ada"}, auth(""))
	if err == nil {
		t.Fatal("no error from a dropped connection")
	}
	if _, ok := f.fake.Card(ada); ok {
		t.Errorf("a dropped create was applied")
	}
	log := f.fake.Requests()
	if len(log) != 1 || log[0].Status != 0 || log[0].Fault != "drop" || log[0].Code != 0 {
		t.Errorf("log %+v, want one request with status 0 and fault drop", log)
	}
}

// A hang lasts until the client gives up, and the write is not applied.
func TestHangIsCutByClientTimeout(t *testing.T) {
	f := newFixture(t, linqfake.Options{Faults: linqfake.Faults{Hang: 1}})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err := f.client.CreateContactCardWithResponse(ctx, linq.CreateContactCardRequest{PhoneNumber: ada, FirstName: "Ada"}, auth(""))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want a deadline error", err)
	}
	log := waitForLog(t, f.fake, 1)
	if log[0].Status != 0 || log[0].Fault != "hang" {
		t.Errorf("log %+v, want status 0 and fault hang", log[0])
	}
	if _, ok := f.fake.Card(ada); ok {
		t.Errorf("an abandoned create was applied")
	}
}

// With HangFor, a hang ends and the request is then served.
func TestHangForThenServed(t *testing.T) {
	f := newFixture(t, linqfake.Options{Faults: linqfake.Faults{Hang: 1}, HangFor: 50 * time.Millisecond})
	start := time.Now()
	resp, err := f.client.CreateContactCardWithResponse(t.Context(), linq.CreateContactCardRequest{PhoneNumber: ada, FirstName: "Ada"}, auth(""))
	if err != nil || resp.StatusCode() != 200 {
		t.Fatalf("err %v, status %d", err, resp.StatusCode())
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("answered after %v, before HangFor", d)
	}
	if log := f.fake.Requests(); log[0].Fault != "hang" || log[0].Status != 200 {
		t.Errorf("log %+v, want fault hang and status 200", log[0])
	}
}

// A lost response applies the write; the client's retry of the create then
// meets 409/2014, and the card is as the first attempt sent it.
func TestLostResponse(t *testing.T) {
	f := newFixture(t, linqfake.Options{Faults: linqfake.Faults{LostResponse: 1}})
	body := linq.CreateContactCardRequest{PhoneNumber: ada, FirstName: "Ada", ImageUrl: new("https://example.com/ada.png")}
	if _, err := f.client.CreateContactCardWithResponse(t.Context(), body, auth("")); err == nil {
		t.Fatal("no error from a lost response")
	}
	want := card(ada, "Ada", "", linqfake.RehostedURL("https://example.com/ada.png"), true)
	if got, ok := f.fake.Card(ada); !ok || got.FirstName != want.FirstName || *got.ImageUrl != *want.ImageUrl {
		t.Fatalf("stored %+v (%v), want %+v", got, ok, want)
	}

	f.fake.SetFaults(linqfake.Faults{})
	retry, err := f.client.CreateContactCardWithResponse(t.Context(), body, auth(""))
	if err != nil {
		t.Fatal(err)
	}
	checkEnvelope(t, retry.HTTPResponse, createEnvelope(retry), 409, 2014)

	log := f.fake.Requests()
	if len(log) != 2 || log[0].Status != 0 || log[0].Code != 0 || log[0].Fault != "lost_response" || log[1].Code != 2014 {
		t.Errorf("log %+v, want a lost response then a 2014", log)
	}
}

func TestLatency(t *testing.T) {
	f := newFixture(t, linqfake.Options{Latency: 30 * time.Millisecond, Jitter: 20 * time.Millisecond})
	start := time.Now()
	resp, err := f.client.ListContactCardsWithResponse(t.Context(), nil, auth(""))
	if err != nil || resp.StatusCode() != 200 {
		t.Fatalf("err %v, status %d", err, resp.StatusCode())
	}
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Errorf("answered after %v, before the latency", d)
	}
}

// By default reads count against the rate limit, as every request does;
// WritesOnly lets them pass, and leaves the bucket to the writes.
func TestRateLimitWritesOnly(t *testing.T) {
	for _, writesOnly := range []bool{false, true} {
		f := newFixture(t, linqfake.Options{RateLimit: 0.5, Burst: 1, WritesOnly: writesOnly}, card(ada, "Ada", "", "", true))
		var got []int
		for _, op := range []string{"list", "phone_numbers", "update"} {
			got = append(got, callOp(t, f, op).resp.StatusCode)
		}
		want := []int{200, 429, 429}
		if writesOnly {
			want = []int{200, 200, 200}
		}
		if !slices.Equal(got, want) {
			t.Errorf("writes only %v: list, phone numbers, update answered %v, want %v", writesOnly, got, want)
		}
	}
}

// NetworkDelay holds every request, so a 429, which pays no latency,
// comes back no sooner than an accepted request would without latency;
// without it the 429 comes at once.
func TestNetworkDelay(t *testing.T) {
	const delay = 40 * time.Millisecond
	for _, d := range []time.Duration{0, delay} {
		f := newFixture(t, linqfake.Options{RateLimit: 0.5, Burst: 1, NetworkDelay: d}, card(ada, "Ada", "", "", true))
		for i, want := range []int{200, 429} {
			start := time.Now()
			got := callOp(t, f, "list")
			took := time.Since(start)
			if got.resp.StatusCode != want {
				t.Fatalf("network delay %v, request %d: status %d, want %d", d, i+1, got.resp.StatusCode, want)
			}
			if took < d {
				t.Errorf("network delay %v: %d answered after %v", d, want, took)
			}
			if d == 0 && want == 429 && took >= delay {
				t.Errorf("no network delay: the 429 took %v", took)
			}
		}
	}
}

// A client that gives up during the latency leaves no trace in the store.
func TestLatencyAbandoned(t *testing.T) {
	f := newFixture(t, linqfake.Options{Latency: time.Minute})
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := f.client.CreateContactCardWithResponse(ctx, linq.CreateContactCardRequest{PhoneNumber: ada, FirstName: "Ada"}, auth(""))
	var netErr net.Error
	if !errors.Is(err, context.DeadlineExceeded) && !(errors.As(err, &netErr) && netErr.Timeout()) {
		t.Fatalf("err %v, want a timeout", err)
	}
	if log := waitForLog(t, f.fake, 1); log[0].Fault != "canceled" || log[0].Status != 0 {
		t.Errorf("log %+v, want fault canceled and status 0", log[0])
	}
	if _, ok := f.fake.Card(ada); ok {
		t.Errorf("an abandoned create was applied")
	}
}

// The same seed gives the same faults for the same requests.
func TestFaultsAreReproducible(t *testing.T) {
	statuses := func(seed uint64) []int {
		f := newFixture(t, linqfake.Options{Seed: seed, Faults: linqfake.Faults{Error3006: 0.3, Error4004: 0.3}})
		var got []int
		for range 20 {
			resp, err := f.client.ListContactCardsWithResponse(t.Context(), nil, auth(""))
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, resp.StatusCode())
		}
		return got
	}
	a, b := statuses(7), statuses(7)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("seed 7 gave %v, then %v", a, b)
		}
	}
	seen := map[int]bool{}
	for _, s := range a {
		seen[s] = true
	}
	if len(seen) != 3 {
		t.Errorf("statuses %v: want a mix of 200, 500 and 503", a)
	}
}

// waitForLog waits until the log holds n requests: a request the client
// gave up on is logged when the fake notices.
func waitForLog(t *testing.T, fake *linqfake.Server, n int) []linqfake.LoggedRequest {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		log := fake.Requests()
		if len(log) >= n {
			return log
		}
		if time.Now().After(deadline) {
			t.Fatalf("the log holds %d requests after 5s, want %d", len(log), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
