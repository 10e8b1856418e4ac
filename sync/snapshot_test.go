package sync

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	stdsync "sync"
	"testing"
	"time"
)

// scriptedAnswer is one answer of a scripted server.
type scriptedAnswer struct {
	status int
	header map[string]string
	body   string
}

const snapshotOK = `{"contact_cards":[{"phone_number":"+12125550101","first_name":"Ada","is_active":true}]}`

func linqError(status, code int, msg string) string {
	return fmt.Sprintf(`{"success":false,"error":{"status":%d,"code":%d,"message":%q},"trace_id":"0123456789abcdef0123456789abcdef"}`, status, code, msg)
}

// scriptedServer answers the i-th request with answers[i], and the last
// answer to any after it. It counts the requests.
func scriptedServer(t *testing.T, answers []scriptedAnswer, onRequest func()) (url string, requests func() int) {
	t.Helper()
	var mu stdsync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		a := answers[min(n, len(answers)-1)]
		n++
		mu.Unlock()
		if onRequest != nil {
			onRequest()
		}
		for k, v := range a.header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.status)
		fmt.Fprint(w, a.body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, func() int { mu.Lock(); defer mu.Unlock(); return n }
}

// attemptLog records the attempts a run reports.
type attemptLog struct {
	mu stdsync.Mutex
	ev []AttemptEvent
}

func (l *attemptLog) Planned(int, int)   {}
func (l *attemptLog) Reported(ReportRow) {}
func (l *attemptLog) Attempted(ev AttemptEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ev = append(l.ev, ev)
}

func TestFetchSnapshotRetries(t *testing.T) {
	unavailable := scriptedAnswer{503, nil, linqError(503, 4004, "Service unavailable")}
	ok := scriptedAnswer{200, nil, snapshotOK}
	retry := ApplyOptions{MaxAttempts: 4, BackoffBase: time.Millisecond, BackoffMax: 2 * time.Millisecond, MaxRetryWait: time.Minute}
	tests := []struct {
		name     string
		answers  []scriptedAnswer
		opts     ApplyOptions
		requests int
		wantErr  string // "" for success
		// classes and waits of the attempts, in order; a wait of -1 means
		// "a backoff of at most BackoffMax".
		classes []Class
		waits   []time.Duration
		refused time.Duration // of the last attempt
	}{
		{
			name:     "transient then ok",
			answers:  []scriptedAnswer{unavailable, {500, nil, "<html>oops</html>"}, ok},
			opts:     retry,
			requests: 3,
			classes:  []Class{ClassTransient, ClassTransient, ClassOK},
			waits:    []time.Duration{-1, -1, 0},
		},
		{
			name:     "429 with Retry-After in seconds",
			answers:  []scriptedAnswer{{429, map[string]string{"Retry-After": "0.02"}, linqError(429, 1007, "Rate limited")}, ok},
			opts:     retry,
			requests: 2,
			classes:  []Class{ClassThrottled, ClassOK},
			waits:    []time.Duration{20 * time.Millisecond, 0},
		},
		{
			name:     "429 with retry-after-ms",
			answers:  []scriptedAnswer{{429, map[string]string{"Retry-After-Ms": "15"}, linqError(429, 1007, "Rate limited")}, ok},
			opts:     retry,
			requests: 2,
			classes:  []Class{ClassThrottled, ClassOK},
			waits:    []time.Duration{15 * time.Millisecond, 0},
		},
		{
			name:     "Retry-After longer than --max-retry-wait",
			answers:  []scriptedAnswer{{429, map[string]string{"Retry-After": "120"}, linqError(429, 1007, "Rate limited")}, ok},
			opts:     retry,
			requests: 1,
			wantErr:  "more than --max-retry-wait",
			classes:  []Class{ClassThrottled},
			waits:    []time.Duration{0},
			refused:  2 * time.Minute,
		},
		{
			name:     "a body that is not a card list is retried",
			answers:  []scriptedAnswer{{200, nil, `{"contact_cards":[{"phone_number"`}, ok},
			opts:     retry,
			requests: 2,
			classes:  []Class{ClassTransient, ClassOK},
			waits:    []time.Duration{-1, 0},
		},
		{
			name:     "permanent error",
			answers:  []scriptedAnswer{{400, nil, linqError(400, 2001, "Bad request")}, ok},
			opts:     retry,
			requests: 1,
			wantErr:  "HTTP 400 code 2001: Bad request",
			classes:  []Class{ClassPermanent},
			waits:    []time.Duration{0},
		},
		{
			name:     "refused key",
			answers:  []scriptedAnswer{{401, nil, linqError(401, 2004, "Invalid token")}, ok},
			opts:     retry,
			requests: 1,
			wantErr:  "HTTP 401 code 2004",
			classes:  []Class{ClassFatal},
			waits:    []time.Duration{0},
		},
		{
			name:     "attempts cap",
			answers:  []scriptedAnswer{unavailable},
			opts:     ApplyOptions{MaxAttempts: 3, BackoffBase: time.Millisecond, BackoffMax: time.Millisecond},
			requests: 3,
			wantErr:  "HTTP 503 code 4004: Service unavailable",
			classes:  []Class{ClassTransient, ClassTransient, ClassTransient},
			waits:    []time.Duration{-1, -1, 0},
		},
		{
			name:     "no attempts set means one",
			answers:  []scriptedAnswer{unavailable, ok},
			opts:     ApplyOptions{},
			requests: 1,
			wantErr:  "Service unavailable",
			classes:  []Class{ClassTransient},
			waits:    []time.Duration{0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url, requests := scriptedServer(t, tt.answers, nil)
			client, err := NewClient(url, "test-key", NewHTTPClient(1, 5*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			log := &attemptLog{}
			cards, err := FetchSnapshot(context.Background(), client.ClientInterface, tt.opts, log)
			if tt.wantErr == "" {
				if c, _ := cards.Get("+12125550101"); err != nil || cards.Len() != 1 || c.FirstName != "Ada" {
					t.Fatalf("cards %v, error %v; want Ada's card", asMap(cards), err)
				}
			} else if !errors.Is(err, ErrAborted) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v; want ErrAborted with %q", err, tt.wantErr)
			}
			if got := requests(); got != tt.requests {
				t.Errorf("%d requests, want %d", got, tt.requests)
			}
			if len(log.ev) != len(tt.classes) {
				t.Fatalf("%d attempts told, want %d: %+v", len(log.ev), len(tt.classes), log.ev)
			}
			for i, ev := range log.ev {
				if ev.Method != "GET" || ev.Line != 0 || ev.Attempt != i+1 || ev.Class != tt.classes[i] {
					t.Errorf("attempt %d: %+v; want GET, line 0, class %v", i+1, ev, tt.classes[i])
				}
				switch w := tt.waits[i]; {
				case w < 0 && (ev.Wait < 0 || ev.Wait > tt.opts.BackoffMax):
					t.Errorf("attempt %d waits %v; want a backoff of at most %v", i+1, ev.Wait, tt.opts.BackoffMax)
				case w >= 0 && ev.Wait != w:
					t.Errorf("attempt %d waits %v; want %v", i+1, ev.Wait, w)
				}
			}
			if last := log.ev[len(log.ev)-1]; last.Refused != tt.refused {
				t.Errorf("last attempt refused a wait of %v; want %v", last.Refused, tt.refused)
			}
		})
	}
}

// A stop during the wait the server asked for ends the read at once, and
// the error says why.
func TestFetchSnapshotStopsDuringWait(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	throttled := scriptedAnswer{429, map[string]string{"Retry-After": "3600"}, linqError(429, 1007, "Rate limited")}
	url, requests := scriptedServer(t, []scriptedAnswer{throttled}, nil)
	client, err := NewClient(url, "test-key", NewHTTPClient(1, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	log := &attemptLog{}
	stop := &stopOnWait{attemptLog: log, cancel: func() { cancel(errors.New("interrupted by SIGINT")) }}
	opts := ApplyOptions{MaxAttempts: 5, BackoffBase: time.Millisecond, BackoffMax: time.Millisecond} // no --max-retry-wait
	_, err = FetchSnapshot(ctx, client.ClientInterface, opts, stop)
	if !errors.Is(err, ErrAborted) || !strings.Contains(err.Error(), "interrupted by SIGINT") {
		t.Fatalf("error %v; want ErrAborted saying it was interrupted", err)
	}
	if requests() != 1 || len(log.ev) != 1 || log.ev[0].Wait != time.Hour {
		t.Errorf("%d requests, attempts %+v; want one, waiting an hour", requests(), log.ev)
	}
}

// stopOnWait stops the run as soon as an attempt announces a wait.
type stopOnWait struct {
	*attemptLog
	cancel func()
}

func (s *stopOnWait) Attempted(ev AttemptEvent) {
	s.attemptLog.Attempted(ev)
	if ev.Wait > 0 {
		s.cancel()
	}
}

// Each card of the list is read on its own: a field one card lacks or
// sends as null is "", not the previous card's value.
func TestDecodeCardListFields(t *testing.T) {
	body := `{"contact_cards":[
		{"phone_number":"+12125550101","first_name":"Ann","last_name":"Lee","image_url":"https://cdn/a.png","is_active":true},
		{"phone_number":"+12125550102","first_name":"Bo","last_name":null},
		{"phone_number":"+12125550103","first_name":"","is_active":true}
	]}`
	cards, err := decodeCardList(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Card{
		"+12125550101": {Phone: "+12125550101", FirstName: "Ann", LastName: "Lee", ImageURL: "https://cdn/a.png", Active: true},
		"+12125550102": {Phone: "+12125550102", FirstName: "Bo"},
		"+12125550103": {Phone: "+12125550103", Active: true},
	}
	if got := asMap(cards); !maps.Equal(got, want) {
		t.Errorf("cards %v, want %v", got, want)
	}
}
