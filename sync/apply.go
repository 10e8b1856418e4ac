package sync

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	stdsync "sync"
	"time"

	"github.com/bulksync/bulksync/gen/linq"
)

// ApplyOptions tune how changes are sent.
type ApplyOptions struct {
	Concurrency    int           // requests in flight at once
	Rate           float64       // attempts per second over all workers; 0 = unlimited
	MaxAttempts    int           // per record, for transient and throttled answers
	RequestTimeout time.Duration // per attempt
	BackoffBase    time.Duration // first backoff ceiling; doubles per attempt
	BackoffMax     time.Duration // backoff ceiling
	// MaxRetryWait is the longest wait a server may ask for (Retry-After)
	// before a retry; one asking for more fails the row at once rather
	// than stall a worker for an hour. 0 = no limit.
	MaxRetryWait time.Duration
}

// DefaultApplyOptions are the flags' defaults. Linq publishes no request
// limit for contact-card calls, so the rate is unlimited and the limiter
// learns the server's limit from its 429s.
var DefaultApplyOptions = ApplyOptions{
	Concurrency:    8,
	MaxAttempts:    5,
	RequestTimeout: 30 * time.Second,
	BackoffBase:    time.Second,
	BackoffMax:     30 * time.Second,
	MaxRetryWait:   2 * time.Minute,
}

// Check validates the options, naming the flag at fault.
func (o ApplyOptions) Check() error {
	switch {
	case o.Concurrency < 1 || o.Concurrency > 1024:
		return fmt.Errorf("%w: --concurrency: %d is out of range; allowed 1 to 1024", ErrUsage, o.Concurrency)
	case o.Rate < 0:
		return fmt.Errorf("%w: --rate: %g is negative; use 0 for unlimited or a number of requests per second", ErrUsage, o.Rate)
	case o.MaxAttempts < 1 || o.MaxAttempts > 100:
		return fmt.Errorf("%w: --max-attempts: %d is out of range; allowed 1 to 100", ErrUsage, o.MaxAttempts)
	case o.RequestTimeout <= 0:
		return fmt.Errorf("%w: --request-timeout: must be positive, e.g. 30s", ErrUsage)
	case o.BackoffBase <= 0 || o.BackoffMax < o.BackoffBase:
		return fmt.Errorf("%w: --backoff-base and --backoff-max: need 0 < base <= max", ErrUsage)
	case o.MaxRetryWait < 0:
		return fmt.Errorf("%w: --max-retry-wait: %v is negative; use 0 for no limit or a duration such as 2m", ErrUsage, o.MaxRetryWait)
	}
	return nil
}

// sender sends the changes of one run. Its goroutines are the errgroup
// workers started by runner.execute; they share the limiter and the stop signal.
type sender struct {
	events  Events
	client  linq.ClientInterface
	opts    ApplyOptions
	plan    PlanOptions
	state   *State // nil: no state to record into
	limiter *limiter
	// slots holds one token per request waiting in the limiter or in
	// flight: --concurrency of them. A row waiting out a Retry-After holds
	// none, so the other rows keep the connections busy.
	slots chan struct{}
	// stop is cancelled, with the reason as its cause, when no new attempt
	// may start: on a fatal answer or on the first interrupt. Requests
	// already sent run on with the run's own context and finish.
	stop     context.Context
	stopWith context.CancelCauseFunc
	sleep    func(ctx context.Context, d time.Duration) error
	// away, when set, is told when a row lets go of its slot for a retry
	// wait (+1) and when it is back (-1): execute's crew starts a spare
	// worker meanwhile.
	away func(delta int)

	mu        stdsync.Mutex
	forbidden int // 403s since the run began or the last successful write
}

// forbiddenAnswer counts a 403 and reports whether 403s now persist enough
// to stop the run (forbiddenStreak).
func (a *sender) forbiddenAnswer() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.forbidden++
	return a.forbidden >= forbiddenStreak
}

// wrote notes a successful write: the key may write, so the 403s before it
// were about their numbers.
func (a *sender) wrote() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.forbidden = 0
}

// answer is one attempt's result.
type answer struct {
	status  int
	apiErr  *APIError
	card    *Card  // the card the API returned, on 2xx
	traceID string // X-Trace-ID of a 2xx
	err     error  // no answer: transport error or timeout; its message goes in the report
}

func (a answer) message() string {
	if a.apiErr != nil {
		return a.apiErr.Message
	}
	if a.err != nil {
		return a.err.Error()
	}
	return ""
}

func (a answer) code() int {
	if a.apiErr != nil {
		return a.apiErr.Code
	}
	return 0
}

// class sorts the answer (see Classify and classifyAnswer).
func (a answer) class(create bool) Class {
	if a.apiErr != nil {
		return classifyAnswer(a.apiErr, create)
	}
	return Classify(a.status, 0, create)
}

// sendChange carries one change out, retrying as its class allows, and returns
// its outcome. It never returns an error: a failed row is a report row.
func (a *sender) sendChange(ctx context.Context, c *Change) Outcome {
	start := time.Now()
	o := a.attempts(ctx, c)
	o.Duration = time.Since(start)
	return o
}

func (a *sender) attempts(ctx context.Context, c *Change) Outcome {
	create := c.Action == ActionCreate
	fields := c.Fields
	var o Outcome
	var last answer
	var note string
	reread := false     // after a 409/2014: the next attempt is a GET of the card
	var conflict answer // the 409/2014 that led to the re-read
	// mayHaveMade: a POST of this row went unanswered or met a server
	// error, so it may have created the card that a later 409 finds.
	mayHaveMade := false
	// The request slot is held from the limiter to the answer, and across
	// short backoffs; a long wait (a Retry-After) hands it to the next row.
	holding := false
	defer func() {
		if holding {
			<-a.slots
		}
	}()
	for {
		if cause := a.stopped(); cause != nil {
			return a.stoppedOutcome(o, last, cause)
		}
		if o.Attempts >= a.opts.MaxAttempts {
			// Only a 409/2014 gets here: its read-back and the patch after
			// it count as attempts too.
			why := fmt.Sprintf("gave up after %d attempts (--max-attempts): ", o.Attempts)
			if reread {
				why += "the card already existed (409/2014) and no attempt was left to read it back"
			} else {
				why += "the card already existed (409/2014) and differs; no attempt was left to patch it"
			}
			return failedOutcome(o, last, why)
		}
		if !holding {
			select {
			case a.slots <- struct{}{}:
				holding = true
			case <-a.stop.Done():
				return a.stoppedOutcome(o, last, a.stopped())
			}
		}
		sent, err := a.limiter.Wait(a.stop)
		if err != nil {
			cause := a.stopped()
			if cause == nil {
				cause = err // the limiter's own refusal; not expected, never a panic
			}
			return a.stoppedOutcome(o, last, cause)
		}
		o.Attempts++
		method := http.MethodPatch
		switch {
		case reread:
			method, last = http.MethodGet, a.getCard(ctx, c.Phone)
		case create:
			method, last = http.MethodPost, a.sendCard(ctx, c.Phone, fields, true)
		default:
			last = a.sendCard(ctx, c.Phone, fields, false)
		}
		class := last.class(create && !reread)
		if method == http.MethodPost && (last.status == 0 || last.status >= 500) {
			mayHaveMade = true
		}
		// Every answer but a 429 shows the rate the server takes.
		switch {
		case class == ClassThrottled:
			a.limiter.Throttled(sent, a.gateWait(last))
		case last.status != 0:
			a.limiter.Done(sent, attemptAccepted)
		default:
			a.limiter.Done(sent, attemptLost)
		}
		if last.err != nil && ctx.Err() != nil {
			// The run was cancelled hard: this answer is lost, not failed.
			return failedOutcome(o, last, "interrupted while the request was in flight; the card may or may not have changed")
		}
		var wait time.Duration
		switch class {
		case ClassThrottled:
			wait = a.retryWait(last, o.Attempts, true)
		case ClassTransient:
			wait = a.retryWait(last, o.Attempts, false)
		}
		ev := AttemptEvent{Line: c.Line, Phone: c.Phone, Method: method, Attempt: o.Attempts, Status: last.status,
			Code: last.code(), Class: class, Err: last.message(), Took: time.Since(sent), Rate: a.limiter.Rate()}
		// Only the server's own wish can be too long; backoff is capped by
		// --backoff-max.
		var asked time.Duration
		if wait > 0 && last.apiErr != nil {
			asked = last.apiErr.RetryAfter
		}
		tooLong := a.refuses(asked) && o.Attempts < a.opts.MaxAttempts
		switch {
		case tooLong:
			ev.Refused = asked
		case wait > 0 && o.Attempts < a.opts.MaxAttempts:
			ev.Wait = wait
		}
		a.events.Attempted(ev)

		switch class {
		case ClassOK:
			if reread {
				reread = false
				live := last.card
				switch {
				case live == nil:
					// The API does not list inactive cards (the SDK
					// documents GET as returning the active ones): a card
					// that exists but cannot be read is an inactive one.
					o = failedOutcome(o, conflict, "the number has a card that Linq does not list: an inactive one (POST answered 409/2014, and reading the card back finds no active card); Linq only updates active cards")
					o.Action = ActionInactive
					return o
				case live.Phone != c.Phone:
					return failedOutcome(o, last, fmt.Sprintf("409/2014 on create, but reading the card of %s back answered the card of %s", c.Phone, live.Phone))
				case !live.Active:
					o = failedOutcome(o, conflict, "the card exists but is inactive (POST answered 409/2014; is_active=false); Linq only updates active cards")
					o.Action = ActionInactive
					return o
				}
				if !mayHaveMade {
					// No attempt of this row can have made the card: it was
					// there before (created since the snapshot). What it held
					// is what the report's old values and an undo put back.
					c.Live = live
				}
				fields = diffFields(c.Desired, *live, nil, a.plan.Empty, false).changes
				if len(fields) == 0 {
					o.Result, o.HTTPStatus, o.TraceID, o.Card = ResultOK, last.status, traceOf(last), live
					o.Message = "card already existed (409/2014) and matches"
					return o
				}
				create = false
				c.Fields = fields
				note = "card already existed (409/2014); patched " + strings.Join(fieldNames(fields), "|")
				continue
			}
			if last.card == nil {
				// A 2xx whose body is not a card: the write may have
				// happened, but nothing confirms it.
				return failedOutcome(o, last, "")
			}
			if why := checkAnswer(c.Phone, fields, *last.card); why != "" {
				// A 2xx that is not what was asked for (another number's
				// card, other values) confirms nothing: the card may or may
				// not hold the change, and the state must not say it does.
				return failedOutcome(o, last, why)
			}
			o.HTTPStatus, o.TraceID, o.Card = last.status, traceOf(last), last.card
			a.wrote()
			if !last.card.Active {
				return failedOutcome(o, last, "Linq stored the card but could not apply it (is_active=false)")
			}
			o.Result, o.Message = ResultOK, note
			return o
		case ClassPermanent:
			return failedOutcome(o, last, hint(last.status, last.code()))
		case ClassForbidden:
			if a.forbiddenAnswer() {
				a.stopWith(fmt.Errorf("%d answers in a row were 403 with no successful write between them (the last: %v): the API key may not change these numbers", forbiddenStreak, last.apiErr))
			}
			o = failedOutcome(o, last, hint(last.status, last.code()))
			o.Action = ActionNotOwned
			return o
		case ClassFatal:
			a.stopWith(fmt.Errorf("the API refused the API key: %v", last.apiErr))
			return failedOutcome(o, last, "")
		case ClassConflict:
			conflict = last
			// The card exists although the snapshot had none: most likely an
			// earlier attempt was applied and its answer lost. Read it back
			// (retrying like any request), compare again, and patch what
			// still differs.
			reread = true
			continue
		}
		// Only the throttled and transient classes get here.
		if o.Attempts >= a.opts.MaxAttempts {
			return failedOutcome(o, last, fmt.Sprintf("gave up after %d attempts", o.Attempts))
		}
		if tooLong {
			return failedOutcome(o, last, refusedWait(asked, a.opts.MaxRetryWait))
		}
		if wait >= handOverWait {
			<-a.slots
			holding = false
		}
		if err := a.wait(wait, !holding); err != nil {
			return failedOutcome(o, last, fmt.Sprintf("stopped before retrying (%v)", a.stopped()))
		}
	}
}

// refusedWait explains a retry not made because the server asked for too
// long a wait.
func refusedWait(asked, most time.Duration) string {
	return fmt.Sprintf("not retried: the server asked to wait %v before retrying, more than --max-retry-wait %v", asked, most)
}

// checkAnswer compares the card a 2xx answered with what was sent, and
// says how they differ, or "" when they agree. The number must be the one
// asked for, and the names the ones sent. An image is rehosted by Linq, so
// its URL never comes back as sent: an image sent must come back as some
// URL, and a cleared one as none.
func checkAnswer(phone string, sent []fieldChange, card Card) string {
	if card.Phone != phone {
		return fmt.Sprintf("the API answered with the card of %s, not of %s: not counted as applied", card.Phone, phone)
	}
	var diffs []string
	for _, f := range sent {
		switch f.name {
		case FieldFirstName:
			if card.FirstName != f.new {
				diffs = append(diffs, fmt.Sprintf("first_name %q, sent %q", card.FirstName, f.new))
			}
		case FieldLastName:
			if card.LastName != f.new {
				diffs = append(diffs, fmt.Sprintf("last_name %q, sent %q", card.LastName, f.new))
			}
		case FieldImageURL:
			if (f.new == "") != (card.ImageURL == "") {
				diffs = append(diffs, fmt.Sprintf("image_url %q, sent %q", card.ImageURL, f.new))
			}
		}
	}
	if len(diffs) == 0 {
		return ""
	}
	return "the API answered with a card that does not hold what was sent (" + strings.Join(diffs, "; ") + "): not counted as applied"
}

// stopped returns why the run stops, or nil.
func (a *sender) stopped() error {
	if a.stop.Err() == nil {
		return nil
	}
	return context.Cause(a.stop)
}

// stoppedOutcome is the outcome of a change the stop caught before its next
// attempt: skipped when nothing was sent, failed otherwise.
func (a *sender) stoppedOutcome(o Outcome, last answer, cause error) Outcome {
	if o.Attempts == 0 {
		o.Result = ResultSkipped
		o.Message = "not attempted: " + cause.Error()
		return o
	}
	return failedOutcome(o, last, fmt.Sprintf("stopped before retrying (%v)", cause))
}

func failedOutcome(o Outcome, last answer, prefix string) Outcome {
	o.Result = ResultFailed
	o.HTTPStatus = last.status
	o.TraceID = traceOf(last)
	o.ErrorCode = last.code()
	msg := last.message()
	switch {
	case prefix != "" && msg != "":
		o.Message = prefix + ": " + msg
	case prefix != "":
		o.Message = prefix
	default:
		o.Message = msg
	}
	return o
}

func traceOf(a answer) string {
	if a.apiErr != nil && a.apiErr.TraceID != "" {
		return a.apiErr.TraceID
	}
	return a.traceID
}

func fieldNames(fs []fieldChange) []string {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = f.name
	}
	return names
}

// retryWait is how long to wait before retrying a throttled or transient
// answer: the server's wish when it gave one, otherwise backoff.
func (a *sender) retryWait(last answer, attempt int, throttled bool) time.Duration {
	wait := a.backoff(attempt)
	if last.apiErr == nil || last.apiErr.RetryAfter <= 0 {
		return wait
	}
	ra := last.apiErr.RetryAfter
	if throttled {
		// Workers throttled together would all come back at the same
		// instant and be throttled again: spread them over a little more
		// than the wait asked for.
		return ra + time.Duration(rand.Int64N(int64(ra/4)+1))
	}
	return max(wait, ra)
}

// gateWait is the wait a 429 asked for that the limiter may hold every
// attempt for: none when --max-retry-wait refuses it, which fails its row
// instead.
func (a *sender) gateWait(last answer) time.Duration {
	if last.apiErr == nil || a.refuses(last.apiErr.RetryAfter) {
		return 0
	}
	return last.apiErr.RetryAfter
}

// refuses reports whether a wait the server asked for is longer than
// --max-retry-wait allows (0: no limit).
func (a *sender) refuses(asked time.Duration) bool {
	return a.opts.MaxRetryWait > 0 && asked > a.opts.MaxRetryWait
}

// backoff is exponential with full jitter: a random wait up to
// base·2^(attempt-1), capped, so retries of many rows spread out.
func (a *sender) backoff(attempt int) time.Duration {
	ceiling := a.opts.BackoffBase << min(attempt-1, 20)
	if ceiling <= 0 || ceiling > a.opts.BackoffMax {
		ceiling = a.opts.BackoffMax
	}
	return time.Duration(rand.Int64N(int64(ceiling) + 1))
}

// sendCard makes one request: POST with every field for a create, PATCH with
// only the changed fields for an update.
func (a *sender) sendCard(ctx context.Context, phone string, fields []fieldChange, create bool) answer {
	ctx, cancel := context.WithTimeout(ctx, a.opts.RequestTimeout)
	defer cancel()
	var resp *http.Response
	var err error
	if create {
		body := linq.CreateContactCardRequest{PhoneNumber: phone}
		for _, f := range fields {
			v := f.new
			switch f.name {
			case FieldFirstName:
				body.FirstName = v
			case FieldLastName:
				body.LastName = &v
			case FieldImageURL:
				body.ImageUrl = &v
			}
		}
		resp, err = a.client.CreateContactCardWithBody(ctx, jsonType, bytes.NewReader(createBody(body)))
	} else {
		var body linq.UpdateContactCardRequest
		for _, f := range fields {
			v := f.new
			switch f.name {
			case FieldFirstName:
				body.FirstName = &v
			case FieldLastName:
				body.LastName = &v
			case FieldImageURL:
				body.ImageUrl = &v
			}
		}
		resp, err = a.client.UpdateContactCardWithBody(ctx, &linq.UpdateContactCardParams{PhoneNumber: phone}, jsonType, bytes.NewReader(updateBody(body)))
	}
	return readAnswer(ctx, resp, err, decodeSetCard)
}

// jsonType is the Content-Type of the request bodies.
const jsonType = "application/json"

// getCard reads one card, after a 409/2014.
func (a *sender) getCard(ctx context.Context, phone string) answer {
	ctx, cancel := context.WithTimeout(ctx, a.opts.RequestTimeout)
	defer cancel()
	resp, err := a.client.ListContactCards(ctx, &linq.ListContactCardsParams{PhoneNumber: &phone})
	return readAnswer(ctx, resp, err, decodeListedCard)
}

// wait sleeps before a retry; away tells the crew while a row without its
// slot is away.
func (a *sender) wait(d time.Duration, away bool) error {
	if away && a.away != nil {
		a.away(1)
		defer a.away(-1)
	}
	return a.sleep(a.stop, d)
}

// handOverWait is the shortest retry wait for which a row lets go of its
// request slot. Shorter backoffs keep it: a run at --concurrency 1 stays in
// order, and handing over costs more than such a wait.
const handOverWait = 100 * time.Millisecond

// maxBody caps what is read of an answer; a card is a few hundred bytes.
const maxBody = 1 << 20

// readAnswer turns a response, or the lack of one, into an answer. It
// checks the status before the body, and accepts any 2xx whose body decode
// can read: a card for POST and PATCH, a list of at most one for GET.
func readAnswer(ctx context.Context, resp *http.Response, err error, decode func([]byte) (*Card, error)) answer {
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return answer{err: errors.New("no answer within --request-timeout")}
		}
		return answer{err: fmt.Errorf("no answer: %w", err)}
	}
	defer resp.Body.Close()
	buf := answerBufs.Get().(*bytes.Buffer)
	defer putAnswerBuf(buf)
	if _, err := buf.ReadFrom(io.LimitReader(resp.Body, maxBody)); err != nil {
		return answer{err: fmt.Errorf("answer cut off: %w", err)}
	}
	body := buf.Bytes() // only until readAnswer returns: everything kept is copied out
	ans := answer{status: resp.StatusCode}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		ans.apiErr = parseAPIError(resp.StatusCode, resp.Header, body)
		return ans
	}
	card, err := decode(body)
	if err != nil {
		// A 2xx whose body is not a card: the write may have happened, but
		// nothing confirms it. Report it as a failure with what came back.
		ans.apiErr = &APIError{Status: resp.StatusCode, Message: "unexpected response body: " + quoteBody(body)}
	}
	ans.card = card
	ans.traceID = resp.Header.Get("X-Trace-ID")
	return ans
}

// answerBufs are the buffers answers are read into, reused: an answer is a
// few hundred bytes, and reading each into a new slice was the largest
// allocation of a request. Buffers grown past answerBufMax (an odd, big
// answer) are left to the garbage collector.
var answerBufs = stdsync.Pool{New: func() any { return new(bytes.Buffer) }}

const answerBufMax = 64 << 10

func putAnswerBuf(b *bytes.Buffer) {
	if b.Cap() <= answerBufMax {
		b.Reset()
		answerBufs.Put(b)
	}
}

// setCard is the SetContactCard that POST and PATCH answer, with plain
// strings: an absent or null last_name or image_url reads as "", as the
// generated type's pointers did through cardFromAPI, without allocating
// the pointers (TestDecodeSetCardMatchesGenerated).
type setCard struct {
	Phone  string `json:"phone_number"`
	First  string `json:"first_name"`
	Last   string `json:"last_name"`
	Image  string `json:"image_url"`
	Active bool   `json:"is_active"`
}

// decodeSetCard reads the SetContactCard that POST and PATCH answer.
func decodeSetCard(body []byte) (*Card, error) {
	var w setCard
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, err
	}
	if w.Phone == "" || w.First == "" {
		return nil, errors.New("not a contact card")
	}
	return &Card{Phone: w.Phone, FirstName: w.First, LastName: w.Last, ImageURL: w.Image, Active: w.Active}, nil
}

// decodeListedCard reads the answer of a GET for one number: nil when the
// number has no card.
func decodeListedCard(body []byte) (*Card, error) {
	var list linq.ContactCardList
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, err
	}
	if list.ContactCards == nil {
		return nil, errors.New("no contact_cards in the answer")
	}
	if len(list.ContactCards) == 0 {
		return nil, nil
	}
	lc := list.ContactCards[0]
	c := cardFromAPI(lc.PhoneNumber, lc.FirstName, lc.LastName, lc.ImageUrl, lc.IsActive)
	return &c, nil
}

// sleepCtx waits d, or less if ctx ends first.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// withDefaults fills unset retry settings, for callers such as plan that
// take no apply flags.
func (o ApplyOptions) withDefaults() ApplyOptions {
	d := DefaultApplyOptions
	if o.MaxAttempts > 0 {
		d.MaxAttempts = o.MaxAttempts
	}
	if o.BackoffBase > 0 {
		d.BackoffBase = o.BackoffBase
	}
	if o.BackoffMax > 0 {
		d.BackoffMax = o.BackoffMax
	}
	d.MaxRetryWait = o.MaxRetryWait // 0 is no limit, not unset
	return d
}
