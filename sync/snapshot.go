package sync

import (
	"context"
	"fmt"

	"github.com/bulksync/bulksync/gen/linq"
)

// FetchSnapshot reads every live card in one GET /v3/contact_card and
// returns them keyed by phone number. Without the snapshot no record can be
// planned, so any failure aborts the run (ErrAborted).
func FetchSnapshot(ctx context.Context, c *linq.ClientWithResponses) (map[string]Card, error) {
	resp, err := c.ListContactCardsWithResponse(ctx, &linq.ListContactCardsParams{})
	if err != nil {
		return nil, fmt.Errorf("%w: cannot read the live contact cards: %v", ErrAborted, err)
	}
	if resp.StatusCode() != 200 || resp.JSON200 == nil {
		apiErr := parseAPIError(resp.StatusCode(), resp.HTTPResponse.Header, resp.Body)
		return nil, fmt.Errorf("%w: cannot read the live contact cards: %v", ErrAborted, apiErr)
	}
	cards := make(map[string]Card, len(resp.JSON200.ContactCards))
	for _, lc := range resp.JSON200.ContactCards {
		cards[lc.PhoneNumber] = cardFromAPI(lc.PhoneNumber, lc.FirstName, lc.LastName, lc.ImageUrl, lc.IsActive)
	}
	return cards, nil
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
