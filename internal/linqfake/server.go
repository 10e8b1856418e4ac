// Package linqfake is an in-memory fake of the Linq Partner API v3 endpoints
// bulksync uses: contact cards and the partner's phone numbers.
//
// It implements the strict server interface generated from openapi.yaml
// (package gen/linq) and behaves as shared/linq-api.md describes, with the
// decisions written in openapi.yaml's info.description. Around the
// operations, Handler adds what the real service does outside them, in this
// order, outermost first:
//
//	track   X-Trace-ID on every answer, request log, panic → 500/3006
//	auth    Authorization: Bearer <token>, else 401/2004
//	limit   Options.RateLimit (a token bucket, or fixed windows), else
//	        429/1007 with Retry-After
//	router  exact paths; anything else 404/2001 or 405/1005
//	faults  latency, injected errors, drops, hangs, lost responses
//	        (contact-card operations only)
//	body    POST and PATCH need an application/json object of at most
//	        MaxBodyBytes, else 400/1003
//	strict  the generated strict handler, calling Server's operations
//
// Every error answer, from any layer, is the Linq envelope with a trace_id
// equal to the X-Trace-ID header; only requests too broken for net/http to
// hand over (a malformed request line, oversized headers) get its plain-text
// answers. A Server is safe for concurrent use; its
// test helpers (Cards, PutCard, SetFaults, SetToken, Requests, ...) may be
// called while it serves.
//
// Decisions where the docs and the spec are silent:
//   - Unknown fields in a request body are ignored, not rejected: the spec does
//     not forbid them, and Linq seems to tolerate extra fields such as a
//     phone_number in a PATCH body.
//   - The rate limit counts authenticated requests only: Linq ties limits to
//     the token, so a request without a valid one is answered 401 first.
//   - Unknown paths answer 404/2001 "Resource not found", as Linq's share
//     endpoint does for any unknown resource; a method a path does not have
//     answers 405/1005 with an Allow header.
//   - A blank (whitespace only) first_name counts as missing (1001) in POST
//     and as invalid (1005) in PATCH, since a card always has a name.
//   - An empty last_name or image_url clears the field, in POST (nothing set)
//     and in PATCH (the old value is removed).
package linqfake

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/bulksync/bulksync/gen/linq"
)

// MaxBodyBytes is the largest request body the fake accepts; a larger one
// answers 400/1003.
const MaxBodyBytes = 64 << 10

// pathContactCard is the path of the contact-card operations, the only ones
// faults are injected into.
const pathContactCard = "/v3/contact_card"

// Options configure a Server. The zero value is a fake that accepts any
// bearer token, with no rate limit, no faults and no lines.
type Options struct {
	// Token is the bearer token clients must send. Empty accepts any
	// non-empty bearer token (the Authorization header is still required).
	Token string
	// RateLimit is the allowed request rate in requests per second; 0 means
	// unlimited.
	RateLimit float64
	// Burst is how many requests may come at once above the rate; 0 means
	// one second's worth of RateLimit (at least 1).
	Burst int
	// WritesOnly exempts reads (GET) from RateLimit. The docs do not say
	// whether reads count against the limit; by default they do, so a
	// run's reads of the cards and the lines take from the bucket before
	// its first write.
	WritesOnly bool
	// Window, when set, makes RateLimit a fixed window instead of a token
	// bucket, the only limit Linq documents ("30 messages per 60-second
	// window"): RateLimit×Window requests (rounded, at least 1) pass in
	// each window, all at once if they come at once, and the rest answer
	// 429 until it ends; a Retry-After in seconds is the wait until then,
	// rounded up. A window opens with the first request after the last one
	// ended, as a counter that expires Window after its first increment
	// does (the usual way to count per sender or per token, and a server
	// keeps no counter for a pair that sends nothing); so windows follow
	// the client's first request, not the wall clock, and a test sees the
	// same windows whenever it starts. Burst does not apply.
	Window time.Duration
	// RetryAfter is how a 429 says when to come back; see RetryAfter.
	RetryAfter RetryAfter
	// Now is the clock of the fixed window; nil is time.Now. Tests set it.
	Now func() time.Time
	// Latency is added to every contact-card request, plus a uniformly
	// distributed extra of up to Jitter.
	Latency, Jitter time.Duration
	// NetworkDelay holds every request this long before the server sees
	// it, as the round trip to a server that far away would: every
	// answer comes at least this late, 429s and errors included. Latency
	// is the server's own time, after the rate limit, and only accepted
	// contact-card requests pay it, so without a NetworkDelay a 429
	// comes back at once.
	NetworkDelay time.Duration
	// Faults are the probabilities of injected faults; see Faults.
	Faults Faults
	// HangFor is how long a hang lasts before the request is served
	// normally; 0 means until the client gives up.
	HangFor time.Duration
	// Lines are the phone numbers on the account (E.164). When not nil,
	// contact cards can only be used for these numbers (others answer 403
	// with NotOwnedCode) and GET /v3/phone_numbers lists them. When nil, any
	// number is allowed and GET /v3/phone_numbers lists the numbers that
	// have cards (seeded, created or put by a test).
	Lines []string
	// Reputation is the reputation (and health_status) of lines that are
	// not HEALTHY, by number: AT_RISK, CRITICAL, FLAGGED or anything else.
	Reputation map[string]string
	// NotOwnedCode is the code of the 403 for a number not on the account:
	// 2006 (the default; the error index's "phone-number permission
	// denied") or 2005 (the Update page's own 403 example).
	NotOwnedCode int
	// NotFoundCode is the code of the 404 a PATCH gets for a number with no
	// card, or an inactive one: 2001 (the default, as the Update page shows
	// it) or 2012 (the error index's "contact card not found").
	NotFoundCode int
	// HideInactive makes GET /v3/contact_card omit inactive cards, as the
	// SDK's "returns the active card(s)" allows; a POST for such a number
	// still answers 409/2014.
	HideInactive bool
	// PhoneNumbersStatus, when set, is the error GET /v3/phone_numbers
	// answers instead of the list: 403 (2005), 404 (2001), 500 (3006) or
	// 503 (4004), for an account or API version without the endpoint.
	PhoneNumbersStatus int
	// ShouldRetry, when "true" or "false", is sent as the x-should-retry
	// header on every error answer to a contact-card write (POST, PATCH):
	// the official SDK's override of its own retry rules. Reads are left
	// alone, so a client's snapshot still gets through injected faults.
	ShouldRetry string
	// RequestLog, when set, receives the request log as JSON lines (see
	// LoggedRequest).
	RequestLog io.Writer
	// Seed seeds the random source of faults and jitter, so that the same
	// requests in the same order meet the same faults.
	Seed uint64
}

// Faults are per-request probabilities (0 to 1) of injected faults on
// contact-card requests. One draw per request picks at most one fault, in the
// field order below; if they add up to more than 1, the later ones happen
// less often than asked.
//
// Every fault but LostResponse is decided before the operation runs, so the
// store is unchanged by it.
type Faults struct {
	Error3006 float64 // answer 500/3006 Internal server error
	Error4004 float64 // answer 503/4004 Service unavailable
	Error2022 float64 // answer 500/2022 Contact card setup failed (POST and PATCH only)
	Drop      float64 // close the connection without an answer
	Hang      float64 // hold the request until the client gives up or Options.HangFor passes
	// LostResponse applies the operation, then closes the connection
	// without the answer: a client's retry of a POST then meets 409/2014.
	LostResponse float64
	// Throttle answers 429/1007 with Retry-After: 1 regardless of the rate,
	// as a shared upstream limit would.
	Throttle float64
}

// RetryAfter is how the fake's 429s say when to come back. The zero value
// is what Linq documents: a Retry-After header and error.retry_after, in
// whole seconds, the wait until the next request would pass (at least 1;
// with a fixed window, until the window ends, rounded up). Servers differ,
// and a client must cope with each.
type RetryAfter struct {
	// None sends neither: the client must back off on its own.
	None bool
	// Fixed, when set, is sent as a retry-after-ms header instead,
	// whatever the wait, as some API gateways do; with a fixed window too,
	// so a client that trusts it retries into a window that is still full.
	Fixed time.Duration
}

// ParseRetryAfter reads the --retry-after flag: "seconds", "none", or a
// duration such as 250ms sent as retry-after-ms.
func ParseRetryAfter(s string) (RetryAfter, error) {
	switch s {
	case "", "seconds":
		return RetryAfter{}, nil
	case "none":
		return RetryAfter{None: true}, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < time.Millisecond {
		return RetryAfter{}, fmt.Errorf("%q is not seconds, none or a duration of at least 1ms such as 250ms", s)
	}
	return RetryAfter{Fixed: d}, nil
}

// writeRateLimited answers the 429 of a request d before it would have
// passed.
func (ra RetryAfter) writeRateLimited(w http.ResponseWriter, r *http.Request, d time.Duration) {
	switch {
	case ra.None:
		writeError(w, r, errRateLimited(0))
	case ra.Fixed > 0:
		w.Header().Set("Retry-After-Ms", strconv.FormatInt(ra.Fixed.Milliseconds(), 10))
		writeError(w, r, errRateLimited(0))
	default:
		writeError(w, r, errRateLimited(max(1, int(math.Ceil(d.Seconds())))))
	}
}

// Server is the fake Linq API. Create it with New and serve Handler.
type Server struct {
	// Fixed at New.
	limiter      *rate.Limiter // nil: unlimited, or a fixed window
	window       *fixedWindow  // nil: none
	writesOnly   bool          // GETs pass the limit untouched (Options.WritesOnly)
	retryAfter   RetryAfter
	latency      time.Duration
	jitter       time.Duration
	hangFor      time.Duration
	notOwned     apiError
	notFound     apiError
	inactive     apiError
	hideInactive bool
	phoneStatus  int
	shouldRetry  string
	handler      http.Handler

	mu         sync.Mutex      // guards the fields below
	onAccount  map[string]bool // the lines; nil: any number is allowed
	reputation map[string]string
	cards      map[string]card
	gen        uint64    // counts the changes to cards and onAccount (changedLocked)
	lists      listCache // the list answers last encoded
	token      string
	faults     Faults
	rng        *rand.Rand

	logMu  sync.Mutex // guards the fields below, and writes to logOut
	log    []LoggedRequest
	logOut io.Writer
}

// New returns a fake with no cards; see SeedCSV and PutCard to add some.
func New(opts Options) *Server {
	s := &Server{
		latency:      opts.Latency,
		writesOnly:   opts.WritesOnly,
		retryAfter:   opts.RetryAfter,
		jitter:       opts.Jitter,
		hangFor:      opts.HangFor,
		hideInactive: opts.HideInactive,
		phoneStatus:  opts.PhoneNumbersStatus,
		shouldRetry:  opts.ShouldRetry,
		reputation:   make(map[string]string),
		cards:        make(map[string]card),
		token:        opts.Token,
		faults:       opts.Faults,
		rng:          rand.New(rand.NewPCG(opts.Seed, opts.Seed)),
		logOut:       opts.RequestLog,
	}
	s.notOwned = errNotOnAccount
	if opts.NotOwnedCode == codeAccessDenied {
		s.notOwned = errAccessDenied
	}
	s.notFound, s.inactive = errNotFound, errNotFound
	if opts.NotFoundCode == codeCardNotFound {
		s.notFound, s.inactive = errCardNotFound, errCardInactive
	}
	if opts.Lines != nil {
		s.onAccount = make(map[string]bool)
		for _, l := range opts.Lines {
			s.onAccount[l] = true
		}
	}
	maps.Copy(s.reputation, opts.Reputation)
	if opts.RateLimit > 0 && opts.Window > 0 {
		s.window = &fixedWindow{
			n:      max(1, int(math.Round(opts.RateLimit*opts.Window.Seconds()))),
			length: opts.Window,
			now:    opts.Now,
		}
		if s.window.now == nil {
			s.window.now = time.Now
		}
	} else if opts.RateLimit > 0 {
		burst := opts.Burst
		if burst <= 0 {
			burst = max(1, int(math.Ceil(opts.RateLimit)))
		}
		s.limiter = rate.NewLimiter(rate.Limit(opts.RateLimit), burst)
	}

	strict := linq.NewStrictHandlerWithOptions(s, nil, linq.StrictHTTPServerOptions{
		RequestErrorHandlerFunc:  requestError,
		ResponseErrorHandlerFunc: responseError,
	})
	routes := linq.HandlerWithOptions(strict, linq.StdHTTPServerOptions{
		BaseRouter: &router{routes: make(map[string]map[string]http.HandlerFunc)},
		// The generated wrapper applies the last middleware first.
		Middlewares:      []linq.MiddlewareFunc{checkBody, s.injectFaults},
		ErrorHandlerFunc: parameterError,
	})
	s.handler = s.track(s.authenticate(s.limit(routes)))
	if opts.NetworkDelay > 0 {
		s.handler = far(s.handler, opts.NetworkDelay)
	}
	return s
}

// far holds each request d before next sees it (Options.NetworkDelay). A
// request whose client gives up meanwhile never reaches the server, so it
// is neither logged nor counted against the rate limit.
func far(next http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if sleep(r.Context(), d) {
			next.ServeHTTP(w, r)
		}
	})
}

// Handler returns the complete HTTP handler of the fake, all layers included.
func (s *Server) Handler() http.Handler { return s.handler }

// SetToken changes the bearer token clients must send, as when a token is
// revoked in the middle of a run.
func (s *Server) SetToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token = token
}

// SetFaults changes the fault probabilities for the requests that follow.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
}

// AddLine puts phone on the account, as Linq staff provisioning a line.
func (s *Server) AddLine(phone string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fixLinesLocked()
	s.onAccount[phone] = true
	s.changedLocked()
}

// RemoveLine takes phone off the account: contact-card calls for it then
// answer 403, and GET /v3/phone_numbers no longer lists it.
func (s *Server) RemoveLine(phone string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fixLinesLocked()
	delete(s.onAccount, phone)
	s.changedLocked()
}

// fixLinesLocked turns a fake made without Lines, where any number is
// allowed, into one with a fixed list: the numbers that have cards now.
func (s *Server) fixLinesLocked() {
	if s.onAccount != nil {
		return
	}
	s.onAccount = make(map[string]bool)
	for p := range s.cards {
		s.onAccount[p] = true
	}
}

// authenticate answers 401/2004 unless the request carries the bearer token.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		want := s.token
		s.mu.Unlock()
		scheme, got, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		ok := strings.EqualFold(scheme, "Bearer") && got != "" &&
			(want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1)
		if !ok {
			writeError(w, r, errUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// limit answers 429/1007 to requests above Options.RateLimit, saying when to
// come back as Options.RetryAfter asks.
func (s *Server) limit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.writesOnly && r.Method == http.MethodGet {
			next.ServeHTTP(w, r)
			return
		}
		if s.window != nil {
			if d := s.window.take(); d > 0 {
				s.retryAfter.writeRateLimited(w, r, d)
				return
			}
		} else if s.limiter != nil {
			res := s.limiter.Reserve()
			if d := res.Delay(); d > 0 {
				// A rejected request does not use up the allowance.
				res.Cancel()
				s.retryAfter.writeRateLimited(w, r, d)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// fixedWindow is Options.Window's limit: n requests per window.
type fixedWindow struct {
	n      int
	length time.Duration
	now    func() time.Time

	mu    sync.Mutex // guards the fields below
	start time.Time  // of the current window; zero before the first request
	used  int        // requests accepted in it
}

// take counts a request and returns 0 when it passes, else how long until
// its window ends. Refused requests do not lengthen the window.
func (f *fixedWindow) take() time.Duration {
	now := f.now()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.start.IsZero() || !now.Before(f.start.Add(f.length)) {
		f.start, f.used = now, 0
	}
	if f.used < f.n {
		f.used++
		return 0
	}
	return f.start.Add(f.length).Sub(now)
}

// router is the linq.ServeMux the generated code registers its operations
// on. Unlike http.ServeMux it matches paths exactly, without redirecting to a
// cleaned path, and answers anything else with the Linq envelope rather than
// plain text.
type router struct {
	routes map[string]map[string]http.HandlerFunc // path → method → handler
}

// HandleFunc registers a pattern "METHOD /path" as the generated code writes
// them.
func (rt *router) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	method, path, _ := strings.Cut(pattern, " ")
	if rt.routes[path] == nil {
		rt.routes[path] = make(map[string]http.HandlerFunc)
	}
	rt.routes[path][method] = h
}

func (rt *router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	methods, ok := rt.routes[r.URL.Path]
	if !ok {
		writeError(w, r, apiError{http.StatusNotFound, codeNotFound, "Resource not found", 0})
		return
	}
	h, ok := methods[r.Method]
	if !ok {
		allow := make([]string, 0, len(methods))
		for m := range methods {
			allow = append(allow, m)
		}
		slices.Sort(allow)
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, r, apiError{http.StatusMethodNotAllowed, codeInvalidValue, "Method not allowed; allowed: " + strings.Join(allow, ", "), 0})
		return
	}
	h(w, r)
}

// checkBody answers 400/1003 to a POST or PATCH whose body is not a JSON
// object sent as application/json, or is larger than MaxBodyBytes. The
// generated strict handler would otherwise take an empty body or JSON null
// for an empty object.
func checkBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost && r.Method != http.MethodPatch {
			next.ServeHTTP(w, r)
			return
		}
		x := exchangeFrom(r.Context())
		mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		switch {
		case err != nil || mediaType != "application/json":
			writeError(w, r, errBadBody("Content-Type must be application/json"))
		case x.bodyErr != nil:
			writeError(w, r, errBadBody("could not be read"))
		case len(x.body) > MaxBodyBytes:
			writeError(w, r, errBadBody("larger than "+strconv.Itoa(MaxBodyBytes)+" bytes"))
		case !isJSONObject(x.body):
			writeError(w, r, errBadBody("must be a JSON object"))
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// isJSONObject reports whether b is one valid JSON object.
func isJSONObject(b []byte) bool {
	t := bytes.TrimLeft(b, " \t\r\n")
	return len(t) > 0 && t[0] == '{' && json.Valid(b)
}

// requestError answers a body the generated strict handler could not decode
// (a field of the wrong type) with 400/1003.
func requestError(w http.ResponseWriter, r *http.Request, err error) {
	writeError(w, r, errBadBody(decodeProblem(err)))
}

// decodeProblem says what was wrong with a body that is a JSON object but
// does not fit the request schema.
func decodeProblem(err error) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field != "" {
		return typeErr.Field + " must be a " + typeErr.Type.String()
	}
	return "does not match the request schema"
}

// responseError answers an operation that failed to produce its answer.
func responseError(w http.ResponseWriter, r *http.Request, err error) {
	writeError(w, r, errInternal)
}

// parameterError answers a query parameter the generated wrapper could not
// bind: a missing phone_number on PATCH is 400/1001, one given twice 400/1005.
func parameterError(w http.ResponseWriter, r *http.Request, err error) {
	var required *linq.RequiredParamError
	if errors.As(err, &required) {
		writeError(w, r, errMissing(required.ParamName))
		return
	}
	var invalid *linq.InvalidParamFormatError
	if errors.As(err, &invalid) {
		writeError(w, r, errInvalid("%s must be given once, as a string", invalid.ParamName))
		return
	}
	writeError(w, r, errInvalid("malformed query string"))
}
