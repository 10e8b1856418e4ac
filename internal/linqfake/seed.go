package linqfake

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
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

	seeded := make(map[string]card)
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("seed csv: %w", err)
		}
		line, _ := cr.FieldPos(0)
		phone := cell(rec, "phone_number")
		if !e164.MatchString(phone) {
			return fmt.Errorf("seed csv: line %d: phone_number %q is not E.164", line, phone)
		}
		if _, dup := seeded[phone]; dup {
			return fmt.Errorf("seed csv: line %d: a second card for %s", line, phone)
		}
		c := card{
			firstName: cell(rec, "first_name"),
			lastName:  cell(rec, "last_name"),
			imageURL:  cell(rec, "image_url"),
			active:    true,
		}
		if c.firstName == "" {
			return fmt.Errorf("seed csv: line %d: first_name is empty", line)
		}
		if v := cell(rec, "is_active"); v != "" {
			if c.active, err = strconv.ParseBool(v); err != nil {
				return fmt.Errorf("seed csv: line %d: is_active %q is not true or false", line, v)
			}
		}
		seeded[phone] = c
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	for phone, c := range seeded {
		s.cards[phone] = c
	}
	return nil
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
