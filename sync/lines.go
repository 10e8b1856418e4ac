package sync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/bulksync/bulksync/gen/linq"
)

// Line is one phone number on the account, as GET /v3/phone_numbers lists
// it.
type Line struct {
	Phone      string
	Reputation string // status: HEALTHY, AT_RISK, CRITICAL, FLAGGED, or one Linq adds later; "" when absent
	Health     string // the deprecated health_status's status; "" when absent
	DocURL     string // the page explaining the status, from reputation (or health_status)
}

// Healthy reports whether neither status says otherwise. A status
// bulksync does not know counts as not healthy: it is worth a look.
func (l Line) Healthy() bool {
	return (l.Reputation == "" || l.Reputation == "HEALTHY") && (l.Health == "" || l.Health == "HEALTHY")
}

// Lines are the account's phone numbers, keyed by E.164 number. Contact
// cards can only be set for these numbers. A nil Lines means the list could
// not be read: no number is then checked against it.
type Lines map[string]Line

// Has reports whether phone is one of the account's lines. Without a list
// (nil), every number is taken to be.
func (ls Lines) Has(phone string) bool {
	if ls == nil {
		return true
	}
	_, ok := ls[phone]
	return ok
}

// Unhealthy returns the lines whose reputation or health status is not
// HEALTHY, sorted by number.
func (ls Lines) Unhealthy() []Line {
	var out []Line
	for _, phone := range slices.Sorted(maps.Keys(ls)) {
		if l := ls[phone]; !l.Healthy() {
			out = append(out, l)
		}
	}
	return out
}

// FetchLines reads the account's phone numbers in one GET /v3/phone_numbers,
// retrying transient failures and 429s as FetchSnapshot does. Its error
// says why the list could not be read; callers that use the list as an aid
// (plan, apply) go on without it. Attempts are told to events with Line 0
// and Read "phone numbers".
func FetchLines(ctx context.Context, c linq.ClientInterface, retry ApplyOptions, events Events) (Lines, error) {
	return fetchRetrying(ctx, retry, events, readLines, func(ctx context.Context) (Lines, error) {
		resp, err := c.ListPhoneNumbers(ctx)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
			return nil, parseAPIError(resp.StatusCode, resp.Header, body)
		}
		lines, err := decodeLines(io.LimitReader(resp.Body, maxLinesBody))
		if err != nil {
			return nil, fmt.Errorf("reading the phone numbers: %v", err)
		}
		return lines, nil
	})
}

// maxLinesBody caps the phone-number list: a line is about 300 bytes, so
// this is room for some hundred thousand lines.
const maxLinesBody = 64 << 20

// readLines names the read in events and logs.
const readLines = "phone numbers"

// wireLine is one item of the list, decoded leniently: the status is any
// string (the Go SDK adds FLAGGED to the documented enum, and Linq may add
// more), and fields bulksync does not use are ignored.
type wireLine struct {
	PhoneNumber string `json:"phone_number"`
	Reputation  *struct {
		Status string `json:"status"`
		DocURL string `json:"doc_url"`
	} `json:"reputation"`
	HealthStatus *struct {
		Status string `json:"status"`
		DocURL string `json:"doc_url"`
	} `json:"health_status"`
}

func decodeLines(r io.Reader) (Lines, error) {
	var body struct {
		PhoneNumbers *[]wireLine `json:"phone_numbers"`
	}
	if err := json.NewDecoder(r).Decode(&body); err != nil {
		return nil, err
	}
	if body.PhoneNumbers == nil {
		return nil, errors.New("no phone_numbers in the answer")
	}
	lines := make(Lines, len(*body.PhoneNumbers))
	for _, w := range *body.PhoneNumbers {
		if w.PhoneNumber == "" {
			continue
		}
		l := Line{Phone: w.PhoneNumber}
		if w.HealthStatus != nil {
			l.Health, l.DocURL = strings.ToUpper(w.HealthStatus.Status), w.HealthStatus.DocURL
		}
		if w.Reputation != nil {
			l.Reputation = strings.ToUpper(w.Reputation.Status)
			if w.Reputation.DocURL != "" {
				l.DocURL = w.Reputation.DocURL
			}
		}
		lines[l.Phone] = l
	}
	return lines, nil
}
