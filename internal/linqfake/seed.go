package linqfake

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// seedColumns are the columns SeedCSV knows; phone_number and first_name are
// required.
var seedColumns = []string{"phone_number", "first_name", "last_name", "image_url", "is_active"}

// SeedCSV adds the cards of a CSV file with the header
// phone_number,first_name,last_name,image_url,is_active (any order; only
// phone_number and first_name are required). image_url is taken as a URL
// already on Linq's CDN and stored as is; is_active is true or false, true
// when blank or absent. A card replaces a stored card of the same number.
//
// Nothing is stored unless the whole file is valid; errors name the line.
func (s *Server) SeedCSV(r io.Reader) error {
	cr := csv.NewReader(r)
	header, err := cr.Read()
	if err == io.EOF {
		return errors.New("seed csv: empty file, want a header line")
	}
	if err != nil {
		return fmt.Errorf("seed csv: %w", err)
	}
	col := make(map[string]int)
	for i, name := range header {
		if i == 0 {
			name = strings.TrimPrefix(name, "\ufeff") // a UTF-8 byte order mark
		}
		name = strings.TrimSpace(name)
		if !slices.Contains(seedColumns, name) {
			return fmt.Errorf("seed csv: line 1: unknown column %q; columns are %s", name, strings.Join(seedColumns, ", "))
		}
		if _, dup := col[name]; dup {
			return fmt.Errorf("seed csv: line 1: column %q appears twice", name)
		}
		col[name] = i
	}
	for _, name := range seedColumns[:2] {
		if _, ok := col[name]; !ok {
			return fmt.Errorf("seed csv: line 1: missing column %q", name)
		}
	}
	cell := func(rec []string, name string) string {
		if i, ok := col[name]; ok {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}

	// The cards are read into a list and put into a map sized for them
	// at the end: growing a map a card at a time is most of the cost of
	// seeding a million cards. A number seen twice is found then, and
	// reported before any error on a later line, as if checked in turn.
	var list []seedCard
	fail := func(line int, format string, args ...any) error {
		if err := firstDuplicate(list); err != nil {
			return err
		}
		return fmt.Errorf("seed csv: line %d: "+format, append([]any{line}, args...)...)
	}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			if err := firstDuplicate(list); err != nil {
				return err
			}
			return fmt.Errorf("seed csv: %w", err)
		}
		line, _ := cr.FieldPos(0)
		phone := cell(rec, "phone_number")
		if !e164.MatchString(phone) {
			return fail(line, "phone_number %q is not E.164", phone)
		}
		c := card{
			firstName: cell(rec, "first_name"),
			lastName:  cell(rec, "last_name"),
			imageURL:  cell(rec, "image_url"),
			active:    true,
		}
		if c.firstName == "" {
			return fail(line, "first_name is empty")
		}
		if v := cell(rec, "is_active"); v != "" {
			if c.active, err = strconv.ParseBool(v); err != nil {
				return fail(line, "is_active %q is not true or false", v)
			}
		}
		list = append(list, seedCard{storedCard{phone, c}, line})
	}
	if err := firstDuplicate(list); err != nil {
		return err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	cards := make(map[string]card, len(s.cards)+len(list))
	maps.Copy(cards, s.cards)
	for _, c := range list {
		cards[c.phone] = c.card
	}
	s.cards = cards
	s.changedLocked()
	return nil
}

// seedCard is a card read by SeedCSV, and its line in the file.
type seedCard struct {
	storedCard
	line int
}

// firstDuplicate returns the error for the first line that repeats the
// number of an earlier one, nil when there is none.
func firstDuplicate(list []seedCard) error {
	byPhone := slices.Clone(list)
	// Stable: of the cards of one number, the first in the file comes first.
	slices.SortStableFunc(byPhone, func(a, b seedCard) int { return strings.Compare(a.phone, b.phone) })
	var first *seedCard // the earliest repeat
	for i := 1; i < len(byPhone); i++ {
		if byPhone[i].phone == byPhone[i-1].phone && (first == nil || byPhone[i].line < first.line) {
			first = &byPhone[i]
		}
	}
	if first == nil {
		return nil
	}
	return fmt.Errorf("seed csv: line %d: a second card for %s", first.line, first.phone)
}

// ReadLines reads the phone numbers on an account, for Options.Lines and
// Options.Reputation: one E.164 number per line, optionally followed by the
// line's reputation status (HEALTHY when absent; AT_RISK, CRITICAL or
// FLAGGED mark an unhealthy line); blank lines and lines starting with #
// are skipped. An empty file is an account without lines, not a nil list.
func ReadLines(r io.Reader) ([]string, map[string]string, error) {
	lines := []string{}
	reputation := make(map[string]string)
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		l := strings.TrimSpace(sc.Text())
		if n == 1 {
			l = strings.TrimPrefix(l, "\ufeff")
		}
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		fields := strings.Fields(l)
		if !e164.MatchString(fields[0]) {
			return nil, nil, fmt.Errorf("line %d: %q is not an E.164 phone number", n, fields[0])
		}
		switch len(fields) {
		case 1:
		case 2:
			if fields[1] != "HEALTHY" {
				reputation[fields[0]] = fields[1]
			}
		default:
			return nil, nil, fmt.Errorf("line %d: want a phone number and at most a status, such as \"+14155550101 AT_RISK\"", n)
		}
		lines = append(lines, fields[0])
	}
	return lines, reputation, sc.Err()
}
