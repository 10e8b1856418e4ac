package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	stdsync "sync"
	"sync/atomic"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// The script commands of the safety tests: a server in front of the fake
// that misbehaves as a real network or API might, and a second server that
// records whatever reaches it.

// recorder is a server that logs every request it receives and answers
// each as the Linq API would a successful write, so that a client that
// follows a redirect to it would count the row ok.
type recorder struct {
	mu   stdsync.Mutex
	reqs []string
	url  string
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	auth := "absent"
	if r.Header.Get("Authorization") != "" {
		auth = "present"
	}
	rec.mu.Lock()
	rec.reqs = append(rec.reqs, fmt.Sprintf("%s %s authorization=%s body=%dB", r.Method, r.URL.Path, auth, len(body)))
	rec.mu.Unlock()
	var sent map[string]any
	json.Unmarshal(body, &sent)
	phone := r.URL.Query().Get("phone_number")
	if p, ok := sent["phone_number"].(string); ok {
		phone = p
	}
	first, _ := sent["first_name"].(string)
	if first == "" {
		first = "Recorded"
	}
	w.Header().Set("Content-Type", "application/json")
	if r.Method == http.MethodGet {
		fmt.Fprint(w, `{"contact_cards":[]}`)
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"phone_number": phone, "first_name": first, "is_active": true})
}

type frontHolder struct {
	base    string // the latest front's URL
	target  string // the fake behind it
	rec     *recorder
	arrived atomic.Int64 // requests that reached the front, counted on arrival
}

func startServer(ts *testscript.TestScript, h http.Handler) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	ts.Defer(func() { hs.Close() })
	return "http://" + ln.Addr().String()
}

// front MODE [ARG]: put a server in front of the fake (start 'fake' first)
// and point bulksync at it. GET of the live cards passes through unless
// MODE says otherwise; writes (POST, PATCH) meet MODE:
//
//	redirect-writes    307 to the recorder (see 'recorded'), same path and query
//	redirect-all       every request, the GET too, 307 to the recorder
//	retry-after N      429/1007 with Retry-After: N (seconds)
//	snapshot-retry N   the GET answers 429/1007 with Retry-After: N; writes pass
//	wrong-number       passed to the fake, but the answer names another number
//	wrong-name         passed to the fake, but the answer has another first_name
//	hang-snapshot      the GET of the live cards hangs until the client gives up
//	hang-snapshot-after N  the first N snapshot GETs pass, later ones hang
//	pass               every request passed to the fake (to count arrivals)
func cmdFront(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 1 {
		ts.Fatalf("usage: front MODE [ARG]")
	}
	fakeOf(ts)
	holder := ts.Value("front").(*frontHolder)
	// A second front replaces the first rather than stand before it.
	if env := ts.Getenv("LINQ_API_V3_BASE_URL"); env != holder.base {
		holder.target = env
	}
	target, err := url.Parse(holder.target)
	ts.Check(err)
	rec := &recorder{}
	rec.url = startServer(ts, rec)
	holder.rec = rec
	holder.arrived.Store(0)
	seconds := func() string { // or any count
		if len(args) != 2 {
			ts.Fatalf("front %s: want a number N", args[0])
		}
		if _, err := strconv.Atoi(args[1]); err != nil {
			ts.Fatalf("front %s: %v", args[0], err)
		}
		return args[1]
	}
	throttle := func(w http.ResponseWriter, n string) {
		w.Header().Set("Retry-After", n)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"success":false,"error":{"status":429,"code":1007,"message":"Rate limit exceeded"},"trace_id":"0123456789abcdef0123456789abcdef"}`)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	var mode func(w http.ResponseWriter, r *http.Request) bool // true: handled
	switch args[0] {
	case "redirect-writes", "redirect-all":
		all := args[0] == "redirect-all"
		mode = func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method == http.MethodGet && !all {
				return false
			}
			http.Redirect(w, r, rec.url+r.URL.RequestURI(), http.StatusTemporaryRedirect)
			return true
		}
	case "retry-after":
		n := seconds()
		mode = func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method == http.MethodGet {
				return false
			}
			throttle(w, n)
			return true
		}
	case "snapshot-retry":
		n := seconds()
		mode = func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method != http.MethodGet {
				return false
			}
			throttle(w, n)
			return true
		}
	case "pass":
		mode = func(w http.ResponseWriter, r *http.Request) bool { return false }
	case "hang-snapshot", "hang-snapshot-after":
		var pass atomic.Int64
		if args[0] == "hang-snapshot-after" {
			n, err := strconv.Atoi(seconds())
			ts.Check(err)
			pass.Store(int64(n))
		}
		mode = func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method != http.MethodGet || r.URL.Path != "/v3/contact_card" || pass.Add(-1) >= 0 {
				return false
			}
			<-r.Context().Done()
			return true
		}
	case "wrong-number", "wrong-name":
		field, value := "phone_number", "+13105550199"
		if args[0] == "wrong-name" {
			field, value = "first_name", "Mallory"
		}
		proxy.ModifyResponse = func(resp *http.Response) error {
			if resp.Request.Method == http.MethodGet || resp.StatusCode/100 != 2 {
				return nil
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				return err
			}
			var card map[string]any
			if err := json.Unmarshal(body, &card); err == nil {
				card[field] = value
				body, _ = json.Marshal(card)
			}
			resp.Body = io.NopCloser(bytes.NewReader(body))
			resp.ContentLength = int64(len(body))
			resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
			return nil
		}
		mode = func(http.ResponseWriter, *http.Request) bool { return false }
	default:
		ts.Fatalf("front: unknown mode %q", args[0])
	}
	base := startServer(ts, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		holder.arrived.Add(1)
		if !mode(w, r) {
			proxy.ServeHTTP(w, r)
		}
	}))
	holder.base = base
	ts.Setenv("LINQ_API_V3_BASE_URL", base)
}

// recorded: print what the recorder of 'front' received, one request per
// line: METHOD PATH authorization=present|absent body=NB.
func cmdRecorded(ts *testscript.TestScript, neg bool, args []string) {
	rec := ts.Value("front").(*frontHolder).rec
	if rec == nil {
		ts.Fatalf("no recorder: run 'front' first")
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, r := range rec.reqs {
		fmt.Fprintln(ts.Stdout(), r)
	}
}

// waitfront N: wait until N requests have reached the server of 'front'
// (10 s at most). Unlike waitreq, it counts a request when it arrives, so
// it sees one that hangs.
func cmdWaitFront(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: waitfront N")
	}
	n, err := strconv.Atoi(args[0])
	ts.Check(err)
	holder := ts.Value("front").(*frontHolder)
	deadline := time.Now().Add(10 * time.Second)
	for holder.arrived.Load() < int64(n) {
		if time.Now().After(deadline) {
			ts.Fatalf("the front received %d requests in 10s, want %d", holder.arrived.Load(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
