package sync

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestAttemptsNeverExceedMaxAttempts: a create that meets 409/2014 reads
// the card back and patches it, and both count against --max-attempts.
func TestAttemptsNeverExceedMaxAttempts(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodGet && r.URL.Query().Get("phone_number") == "":
			fmt.Fprint(w, `{"contact_cards":[]}`)
		case r.Method == http.MethodGet:
			fmt.Fprint(w, `{"contact_cards":[{"phone_number":"+12125550001","first_name":"Old","is_active":true}]}`)
		case r.Method == http.MethodPost:
			w.WriteHeader(http.StatusConflict)
			fmt.Fprint(w, `{"success":false,"error":{"status":409,"code":2014,"message":"Contact card already exists"}}`)
		default:
			fmt.Fprint(w, `{"phone_number":"+12125550001","first_name":"New","is_active":true}`)
		}
	}))
	defer srv.Close()
	for _, tt := range []struct {
		max        int
		result     string
		attempts   string
		wantInMsgs string
	}{
		{1, "failed", "1", "no attempt was left to read it back"},
		{2, "failed", "2", "no attempt was left to patch it"},
		{3, "ok", "3", "card already existed (409/2014); patched first_name"},
	} {
		t.Run(fmt.Sprint("max ", tt.max), func(t *testing.T) {
			res := runSync(t, srv.URL, "phone_number,first_name\n+12125550001,New\n", func(c *Job) { c.Apply.MaxAttempts = tt.max })
			r := res.rows[0]
			if r["result"] != tt.result || r["attempts"] != tt.attempts || !strings.Contains(r["error_message"], tt.wantInMsgs) {
				t.Errorf("row %v", r)
			}
		})
	}
}

func TestCheckAnswer(t *testing.T) {
	sent := []fieldChange{{name: FieldFirstName, new: "Ada"}, {name: FieldLastName, new: ""}, {name: FieldImageURL, new: "https://img.example/a.png"}}
	good := Card{Phone: "+12125550001", FirstName: "Ada", ImageURL: "https://cdn.linqapp.com/x.png"}
	if why := checkAnswer("+12125550001", sent, good); why != "" {
		t.Errorf("a matching card (image rehosted) refused: %s", why)
	}
	for _, tt := range []struct {
		name string
		card Card
		want string
	}{
		{"other number", Card{Phone: "+12125550002", FirstName: "Ada", ImageURL: "x"}, "the card of +12125550002, not of +12125550001"},
		{"other first name", Card{Phone: "+12125550001", FirstName: "Eve", ImageURL: "x"}, `first_name "Eve", sent "Ada"`},
		{"last name not cleared", Card{Phone: "+12125550001", FirstName: "Ada", LastName: "L", ImageURL: "x"}, `last_name "L", sent ""`},
		{"no image", Card{Phone: "+12125550001", FirstName: "Ada"}, `image_url "", sent "https://img.example/a.png"`},
	} {
		if why := checkAnswer("+12125550001", sent, tt.card); !strings.Contains(why, tt.want) {
			t.Errorf("%s: %q does not say %q", tt.name, why, tt.want)
		}
	}
	// Fields not sent are not checked: a PATCH leaves them as they are.
	if why := checkAnswer("+12125550001", sent[:1], Card{Phone: "+12125550001", FirstName: "Ada", LastName: "Any"}); why != "" {
		t.Errorf("a field not sent was checked: %s", why)
	}
}

// TestRedirectNotFollowed: a 3xx is a permanent failure naming where it
// led, and nothing reaches the server redirected to.
func TestRedirectNotFollowed(t *testing.T) {
	reached := make(chan string, 10)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached <- r.Method + " " + r.Header.Get("Authorization")
	}))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"contact_cards":[{"phone_number":"+12125550001","first_name":"Old","is_active":true}]}`)
			return
		}
		http.Redirect(w, r, other.URL+r.URL.RequestURI(), http.StatusPermanentRedirect)
	}))
	defer srv.Close()
	res := runSync(t, srv.URL, "phone_number,first_name\n+12125550001,New\n", nil)
	if !errors.Is(res.err, ErrIncomplete) {
		t.Fatalf("Run error %v, want ErrIncomplete", res.err)
	}
	r := res.rows[0]
	if r["result"] != "failed" || r["http_status"] != "308" || r["attempts"] != "1" || !strings.Contains(r["error_message"], "redirect (HTTP 308) to "+other.URL) {
		t.Errorf("row %v", r)
	}
	select {
	case got := <-reached:
		t.Errorf("the redirect was followed: %s", got)
	default:
	}
}

// TestStopEndsSnapshot: a stop ends a hanging read of the live cards at
// once, and every record is still reported, skipped, with the reason.
func TestStopEndsSnapshot(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer srv.Close()
	stop, cancel := context.WithCancelCause(context.Background())
	cancel(errors.New("interrupted by SIGTERM"))
	res := runJob(t, srv.URL, "phone_number,first_name\n+12125550001,New\nnot a number,Bad\n", stop, nil)
	if !errors.Is(res.err, ErrAborted) || !strings.Contains(res.err.Error(), "interrupted by SIGTERM") {
		t.Fatalf("Run error %v, want ErrAborted naming the stop", res.err)
	}
	if len(res.rows) != 2 || res.summary.Records != 2 {
		t.Fatalf("%d rows, %d records; want 2", len(res.rows), res.summary.Records)
	}
	if r := res.rows[0]; r["action"] != "" || r["result"] != "skipped" || !strings.Contains(r["error_message"], "the run stopped before the live cards were read (interrupted by SIGTERM)") {
		t.Errorf("row %v", r)
	}
	if r := res.rows[1]; r["action"] != "invalid" || r["result"] != "skipped" {
		t.Errorf("row %v", r)
	}
}

// TestSnapshotTimeoutBoundsRetries: --snapshot-timeout covers every
// attempt and wait, not each attempt.
func TestSnapshotTimeoutBoundsRetries(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	res := runSync(t, srv.URL, "phone_number,first_name\n+12125550001,New\n", func(c *Job) {
		c.SnapshotTimeout = 300 * time.Millisecond
		c.Apply.MaxAttempts = 50
	})
	if !errors.Is(res.err, ErrAborted) || !strings.Contains(res.err.Error(), "--snapshot-timeout 300ms reached") {
		t.Fatalf("Run error %v", res.err)
	}
}
