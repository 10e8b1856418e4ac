package sync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
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
func FetchSnapshot(ctx context.Context, c linq.ClientInterface, retry ApplyOptions, events Events) (map[string]Card, error) {
	if events == nil {
		events = noEvents{}
	}
	attempts := max(retry.MaxAttempts, 1)
	var last error
	for attempt := 1; ; attempt++ {
		sent := time.Now()
		cards, wait, err := fetchOnce(ctx, c)
		ev := AttemptEvent{Method: "GET", Attempt: attempt, Status: 200, Class: ClassOK, Took: time.Since(sent)}
		if err == nil {
			events.Attempted(ev)
			return cards, nil
		}
		last = err
		ev.Status, ev.Class, ev.Err = 0, ClassTransient, err.Error()
		var apiErr *APIError
		if errors.As(err, &apiErr) {
			ev.Status, ev.Code, ev.Err = apiErr.Status, apiErr.Code, apiErr.Message
			ev.Class = Classify(apiErr.Status, apiErr.Code, false)
		}
		if ctx.Err() != nil {
			events.Attempted(ev)
			return nil, fmt.Errorf("%w: cannot read the live contact cards: %v", ErrAborted, context.Cause(ctx))
		}
		if wait < 0 || attempt >= attempts {
			events.Attempted(ev)
			break
		}
		if retry.MaxRetryWait > 0 && wait > retry.MaxRetryWait {
			ev.Refused = wait
			events.Attempted(ev)
			return nil, fmt.Errorf("%w: cannot read the live contact cards: %v; %s", ErrAborted, last, refusedWait(wait, retry.MaxRetryWait))
		}
		if wait == 0 {
			ceiling := min(retry.BackoffBase<<min(attempt-1, 20), retry.BackoffMax)
			wait = time.Duration(rand.Int64N(int64(ceiling) + 1))
		}
		ev.Wait = wait
		events.Attempted(ev)
		if err := sleepCtx(ctx, wait); err != nil {
			return nil, fmt.Errorf("%w: cannot read the live contact cards: %v (last answer: %v)", ErrAborted, context.Cause(ctx), last)
		}
	}
	return nil, fmt.Errorf("%w: cannot read the live contact cards: %w", ErrAborted, last)
}

// fetchOnce makes one attempt. wait is -1 when retrying is pointless, and
// otherwise the wait the server asked for (0: none).
func fetchOnce(ctx context.Context, c linq.ClientInterface) (map[string]Card, time.Duration, error) {
	resp, err := c.ListContactCards(ctx, &linq.ListContactCardsParams{})
	if err != nil {
		if ctx.Err() != nil {
			return nil, -1, err
		}
		return nil, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
		apiErr := parseAPIError(resp.StatusCode, resp.Header, body)
		switch Classify(apiErr.Status, apiErr.Code, false) {
		case ClassTransient, ClassThrottled:
			return nil, apiErr.RetryAfter, apiErr
		}
		return nil, -1, apiErr
	}
	cards, err := decodeCardList(resp.Body)
	if err != nil {
		return nil, 0, fmt.Errorf("reading the card list: %v", err)
	}
	return cards, 0, nil
}

// decodeCardList reads {"contact_cards":[...]} one card at a time, so a
// list of a million cards is never held twice (as JSON values and as the
// map).
func decodeCardList(r io.Reader) (map[string]Card, error) {
	dec := json.NewDecoder(r)
	if err := expectDelim(dec, '{'); err != nil {
		return nil, err
	}
	var cards map[string]Card
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		if key, _ := tok.(string); key != "contact_cards" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, err
			}
			continue
		}
		if err := expectDelim(dec, '['); err != nil {
			return nil, err
		}
		cards = make(map[string]Card)
		for dec.More() {
			var lc linq.ContactCard
			if err := dec.Decode(&lc); err != nil {
				return nil, err
			}
			cards[lc.PhoneNumber] = cardFromAPI(lc.PhoneNumber, lc.FirstName, lc.LastName, lc.ImageUrl, lc.IsActive)
		}
		if err := expectDelim(dec, ']'); err != nil {
			return nil, err
		}
	}
	if cards == nil {
		return nil, fmt.Errorf("no contact_cards in the answer")
	}
	return cards, expectDelim(dec, '}')
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("unexpected %v where %q belongs", tok, want)
	}
	return nil
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
