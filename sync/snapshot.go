package sync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/bulksync/bulksync/gen/linq"
)

// FetchSnapshot reads every live card in one GET /v3/contact_card and
// returns them keyed by phone number. Transient failures and 429s are
// retried as apply retries them; without the snapshot no record can be
// planned, so a failure that remains aborts the run (ErrAborted). When ctx
// ends (a stop, --snapshot-timeout), the request or wait in progress ends
// at once, and the error says why (context.Cause).
//
// Each attempt is told to events as an AttemptEvent with Line 0: it is
// about no record.
func FetchSnapshot(ctx context.Context, c linq.ClientInterface, retry ApplyOptions, events Events) (*Cards, error) {
	cards, err := fetchRetrying(ctx, retry, events, readCards, func(ctx context.Context) (*Cards, error) {
		resp, err := c.ListContactCards(ctx, &linq.ListContactCardsParams{})
		return readList(resp, err, "the card list", decodeCardList)
	})
	if err != nil {
		return nil, fmt.Errorf("%w: cannot read the live contact cards: %w", ErrAborted, err)
	}
	return cards, nil
}

// readCards names the snapshot in events and logs.
const readCards = "live cards"

// fetchRetrying makes once's GET until it succeeds, retrying an answer
// whose class allows it (after the wait the server asked for, or backoff)
// and anything that is not an answer (a dropped connection, a body cut
// short), up to retry.MaxAttempts. It returns the last error, or why it
// stopped: ctx ended (its cause), or the server asked for a wait longer
// than retry.MaxRetryWait. Each attempt is told to events with Line 0 and
// Read set to what.
func fetchRetrying[T any](ctx context.Context, retry ApplyOptions, events Events, what string, once func(context.Context) (T, error)) (T, error) {
	if events == nil {
		events = noEvents{}
	}
	var zero T
	attempts := max(retry.MaxAttempts, 1)
	for attempt := 1; ; attempt++ {
		sent := time.Now()
		v, err := once(ctx)
		ev := AttemptEvent{Read: what, Method: "GET", Attempt: attempt, Status: 200, Class: ClassOK, Took: time.Since(sent)}
		if err == nil {
			events.Attempted(ev)
			return v, nil
		}
		ev.Status, ev.Class, ev.Err = 0, ClassTransient, err.Error()
		var wait time.Duration
		var apiErr *APIError
		if errors.As(err, &apiErr) {
			ev.Status, ev.Code, ev.Err = apiErr.Status, apiErr.Code, apiErr.Message
			ev.Class = classifyAnswer(apiErr, false)
			wait = apiErr.RetryAfter
		}
		if ctx.Err() != nil {
			events.Attempted(ev)
			return zero, context.Cause(ctx)
		}
		retryable := ev.Class == ClassTransient || ev.Class == ClassThrottled
		if !retryable || attempt >= attempts {
			events.Attempted(ev)
			return zero, err
		}
		if retry.MaxRetryWait > 0 && wait > retry.MaxRetryWait {
			ev.Refused = wait
			events.Attempted(ev)
			return zero, fmt.Errorf("%w; %s", err, refusedWait(wait, retry.MaxRetryWait))
		}
		if wait == 0 {
			ceiling := min(retry.BackoffBase<<min(attempt-1, 20), retry.BackoffMax)
			wait = time.Duration(rand.Int64N(int64(ceiling) + 1))
		}
		ev.Wait = wait
		events.Attempted(ev)
		if sleepCtx(ctx, wait) != nil {
			return zero, fmt.Errorf("%v (last answer: %v)", context.Cause(ctx), err)
		}
	}
}

// readList reads the answer to one GET of a list: an error answer becomes
// an APIError; a 200 is decoded as it streams in.
func readList[T any](resp *http.Response, err error, what string, decode func(io.Reader) (T, error)) (T, error) {
	var none T
	if err != nil {
		return none, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
		return none, parseAPIError(resp.StatusCode, resp.Header, body)
	}
	v, err := decode(resp.Body)
	if err != nil {
		return none, fmt.Errorf("reading %s: %v", what, err)
	}
	return v, nil
}

// decodeCardList reads {"contact_cards":[...]} one card at a time into the
// compact store, so a list of a million cards is never held whole, neither
// as JSON nor as Go values. A field that is absent or null reads as "", as
// cardFromAPI makes it.
func decodeCardList(r io.Reader) (*Cards, error) {
	var b cardsBuilder
	var phone, first, last, image []byte // one of each for the whole list
	found, err := readTopList(r, "contact_cards", func() { b = cardsBuilder{} }, func(lr *listReader) error {
		phone, first, last, image = phone[:0], first[:0], last[:0], image[:0]
		active := false
		if err := lr.object(func(key []byte) error {
			switch {
			case keyIs(key, "phone_number"):
				return lr.bytesInto(&phone, "phone_number")
			case keyIs(key, "first_name"):
				return lr.bytesInto(&first, "first_name")
			case keyIs(key, "last_name"):
				return lr.bytesInto(&last, "last_name")
			case keyIs(key, "image_url"):
				return lr.bytesInto(&image, "image_url")
			case keyIs(key, "is_active"):
				return lr.boolInto(&active, "is_active")
			}
			return lr.skip()
		}); err != nil {
			return err
		}
		addCard(&b, phone, first, last, image, active)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("no contact_cards in the answer")
	}
	return b.done(), nil
}

func cardFromAPI(phone, first string, last, image *string, active bool) Card {
	c := Card{Phone: phone, FirstName: first, Active: active}
	if last != nil {
		c.LastName = *last
	}
	if image != nil {
		c.ImageURL = *image
	}
	return c
}
