package sync

import (
	"bytes"
	"context"
	"errors"
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

// Lines are the account's phone numbers. Contact cards can only be set
// for these numbers. A nil *Lines means the list could not be read: no
// number is then checked against it.
//
// An account behind a million live cards has a million lines, so a line
// costs 8 bytes (its E.164 digits as a number, in a sorted slice: a map
// slot would cost 3 to 4 times that), not a Line of four strings; only the
// lines that are not healthy are kept whole, for the log.
type Lines struct {
	numbers   []uint64            // sorted, once: "+" and up to 19 digits, the first not 0: every E.164 number
	adding    blocks[uint64]      // the numbers as they are added, until done
	other     map[string]struct{} // a number that does not fit numbers, kept as sent
	unhealthy map[string]Line
}

// lineKey packs an E.164 number into a uint64 without loss: "+" then 1 to
// 19 digits, the first not 0 (so that "+01" and "+1" differ).
func lineKey(phone string) (uint64, bool) {
	if len(phone) < 2 || len(phone) > 20 || phone[0] != '+' || phone[1] == '0' {
		return 0, false
	}
	var n uint64
	for i := 1; i < len(phone); i++ {
		c := phone[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

func newLines() *Lines {
	return &Lines{unhealthy: make(map[string]Line)}
}

// addNumber puts a healthy line on the list, given as the decoder's
// bytes: the conversions below allocate nothing for a number that packs.
func (ls *Lines) addNumber(phone []byte) {
	if k, ok := lineKey(string(phone)); ok {
		ls.adding.add(k)
	} else {
		if ls.other == nil {
			ls.other = make(map[string]struct{})
		}
		ls.other[string(phone)] = struct{}{}
	}
	if len(ls.unhealthy) > 0 {
		delete(ls.unhealthy, string(phone))
	}
}

// add puts l on the list; a number listed twice keeps its last status.
// Once every line is added, done must be called.
func (ls *Lines) add(l Line) {
	if k, ok := lineKey(l.Phone); ok {
		ls.adding.add(k)
	} else {
		if ls.other == nil {
			ls.other = make(map[string]struct{})
		}
		ls.other[l.Phone] = struct{}{}
	}
	if l.Healthy() {
		delete(ls.unhealthy, l.Phone)
	} else {
		ls.unhealthy[l.Phone] = l
	}
}

// done sorts the numbers for Has.
func (ls *Lines) done() {
	ls.numbers = ls.adding.join()
	if !slices.IsSorted(ls.numbers) {
		slices.Sort(ls.numbers)
	}
	ls.numbers = slices.Clip(slices.Compact(ls.numbers))
}

// Has reports whether phone is one of the account's lines. Without a list
// (nil), every number is taken to be.
func (ls *Lines) Has(phone string) bool {
	if ls == nil {
		return true
	}
	if k, ok := lineKey(phone); ok {
		_, on := slices.BinarySearch(ls.numbers, k)
		return on
	}
	_, on := ls.other[phone]
	return on
}

// Len is the number of lines; 0 without a list.
func (ls *Lines) Len() int {
	if ls == nil {
		return 0
	}
	return len(ls.numbers) + len(ls.other)
}

// Unhealthy returns the lines whose reputation or health status is not
// HEALTHY, sorted by number.
func (ls *Lines) Unhealthy() []Line {
	if ls == nil {
		return nil
	}
	var out []Line
	for _, phone := range slices.Sorted(maps.Keys(ls.unhealthy)) {
		out = append(out, ls.unhealthy[phone])
	}
	return out
}

// FetchLines reads the account's phone numbers in one GET /v3/phone_numbers,
// retrying transient failures and 429s as FetchSnapshot does. Its error
// says why the list could not be read; callers that use the list as an aid
// (plan, apply) go on without it. Attempts are told to events with Line 0
// and Read "phone numbers".
func FetchLines(ctx context.Context, c linq.ClientInterface, retry ApplyOptions, events Events) (*Lines, error) {
	return fetchRetrying(ctx, retry, events, readLines, func(ctx context.Context) (*Lines, error) {
		resp, err := c.ListPhoneNumbers(ctx)
		return readList(resp, err, "the phone numbers", decodeLines)
	})
}

// readLines names the read in events and logs.
const readLines = "phone numbers"

// decodeLines reads {"phone_numbers":[...]} one line at a time: the list
// of an account with a million lines is some 280 MB of JSON, never held
// whole. The status is any string (the Go SDK adds FLAGGED to the
// documented enum, and Linq may add more); fields bulksync does not use
// are skipped.
func decodeLines(r io.Reader) (*Lines, error) {
	var lines *Lines
	var phone []byte
	rep, health := newLineStatus("reputation"), newLineStatus("health_status") // one of each for the whole list
	found, err := readTopList(r, "phone_numbers", func() { lines = newLines() }, func(lr *listReader) error {
		phone = phone[:0]
		rep.reset()
		health.reset()
		err := lr.object(func(key []byte) error {
			switch {
			case keyIs(key, "phone_number"):
				return lr.bytesInto(&phone, "phone_number")
			case keyIs(key, "reputation"):
				return rep.read(lr)
			case keyIs(key, "health_status"):
				return health.read(lr)
			}
			return lr.skip()
		})
		if err != nil || len(phone) == 0 {
			return err
		}
		if health.healthy() && rep.healthy() {
			// Nearly every line: only its number is kept, and no string is
			// made of it.
			lines.addNumber(phone)
			return nil
		}
		l := Line{Phone: string(phone)}
		if health.present {
			l.Health, l.DocURL = strings.ToUpper(string(health.status)), string(health.docURL)
		}
		if rep.present {
			l.Reputation = strings.ToUpper(string(rep.status))
			if len(rep.docURL) > 0 {
				l.DocURL = string(rep.docURL)
			}
		}
		lines.add(l)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, errors.New("no phone_numbers in the answer")
	}
	lines.done()
	return lines, nil
}

// lineStatus is a line's reputation or health_status as the list gives
// it; present is false when it is absent or null.
type lineStatus struct {
	present        bool
	status, docURL []byte
	// The names of the object and its fields, for errors: made once, not
	// for each of a million lines.
	field, statusField, docField string
}

func newLineStatus(field string) lineStatus {
	return lineStatus{field: field, statusField: field + ".status", docField: field + ".doc_url"}
}

func (st *lineStatus) reset() {
	st.present, st.status, st.docURL = false, st.status[:0], st.docURL[:0]
}

// healthy reports whether the status says nothing against the line, as
// Line.Healthy reads it.
func (st *lineStatus) healthy() bool {
	return !st.present || len(st.status) == 0 || bytes.EqualFold(st.status, []byte("HEALTHY"))
}

// read reads the status object, or null. A repeated key adds to the
// object before it unless a null came between, as encoding/json fills a
// pointer to a struct.
func (st *lineStatus) read(lr *listReader) error {
	if null, err := lr.null(); null || err != nil {
		st.reset()
		return err
	}
	if c, err := lr.peek(); err != nil {
		return err
	} else if c != '{' {
		return lr.errorf("%s: want an object", st.field)
	}
	st.present = true
	return lr.object(func(key []byte) error {
		switch {
		case keyIs(key, "status"):
			return lr.bytesInto(&st.status, st.statusField)
		case keyIs(key, "doc_url"):
			return lr.bytesInto(&st.docURL, st.docField)
		}
		return lr.skip()
	})
}
