package sync

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
	"golang.org/x/text/unicode/norm"
)

// NormalizeOptions says how to normalise records.
type NormalizeOptions struct {
	Region string // ISO 3166 region of numbers written without a country code; "" means US
}

// maxNameLength is the longest name, in characters, the API accepts.
const maxNameLength = 256

// extension matches an extension at the end of a phone cell ("x123",
// "ext. 123", "#123", ";ext=123"): a card belongs to a line, which has none.
var extension = regexp.MustCompile(`(?i)(?:;?ext(?:ension|n)?[.=:]?|x|#)\s*\d+$`)

// CheckRegion checks a --region value; "" stands for the default, US.
func CheckRegion(region string) error {
	if region == "" || phonenumbers.GetSupportedRegions()[strings.ToUpper(region)] {
		return nil
	}
	return fmt.Errorf("%w: --region: unknown region %q; use an ISO 3166 code such as US, GB, DE", ErrUsage, region)
}

// Normalize turns a record into what its card should hold: every field
// trimmed and in Unicode NFC, the phone number in E.164. When a field cannot
// be used, Invalid says why, naming the field. A blank first name is not
// invalid here: whether it keeps or clears the card's name is the diff's
// call (--empty).
func Normalize(rec Record, opts NormalizeOptions) Desired {
	d, _ := normalize(rec, opts, "")
	return d
}

// normalize is Normalize, which also returns the record's number in E.164
// when its phone cell is a valid one ("" otherwise). known, when not "", is
// that number as an earlier pass over the same record found it: the cell is
// not parsed again, which is most of the cost of normalising a record.
func normalize(rec Record, opts NormalizeOptions, known string) (d Desired, e164 string) {
	d = Desired{Line: rec.Line, Phone: strings.TrimSpace(rec.Phone)}
	if rec.Problem != "" {
		// Unchecked, but shown in the report: they say which contact it was.
		d.FirstName, d.LastName, d.ImageURL = strings.TrimSpace(rec.FirstName), strings.TrimSpace(rec.LastName), strings.TrimSpace(rec.ImageURL)
		d.Invalid = rec.Problem
		return d, ""
	}
	if d.Phone == "" && strings.TrimSpace(rec.FirstName+rec.LastName+rec.ImageURL) == "" {
		// Spreadsheets often export trailing rows of bare delimiters.
		d.Invalid = "blank row: the phone_number, first_name, last_name and image_url cells are all empty"
		return d, ""
	}
	var badPhone, badFirst, badLast, badImage string
	if known != "" {
		d.Phone = known
	} else {
		d.Phone, badPhone = normalizeCell(d.Phone, rec, opts)
	}
	if badPhone == "" {
		e164 = d.Phone
	}
	d.FirstName, badFirst = normalizeName(FieldFirstName, rec.FirstName)
	d.LastName, badLast = normalizeName(FieldLastName, rec.LastName)
	d.ImageURL, badImage = normalizeImageURL(rec.ImageURL)
	d.Invalid = joinReasons(badPhone, badFirst, badLast, badImage)
	return d, e164
}

// normalizeCell returns the phone cell of rec, trimmed (phone), in E.164,
// or phone itself and why it is not a usable number.
func normalizeCell(phone string, rec Record, opts NormalizeOptions) (string, string) {
	region := "US"
	if opts.Region != "" {
		region = strings.ToUpper(opts.Region)
	}
	// A row's country matters only for a number written without +, and a
	// blank one leaves --region: an export of an international team often
	// has the country only where someone filled it in.
	if country := strings.TrimSpace(rec.Region); country != "" && phone != "" && !strings.HasPrefix(trimTel(phone), "+") {
		code, ok := countryRegion(country)
		if !ok {
			return phone, badCountry(country)
		}
		region = code
	}
	e164, bad := normalizePhone(phone, region)
	if bad != "" {
		return e164, bad
	}
	return checkE164Length(phone, e164)
}

// normalizePhone returns s, already trimmed, in E.164, or s itself and why
// it is not a usable number. Cells in the usual shapes take a fast path that
// comes to what parsePhone would; the others go to parsePhone.
func normalizePhone(s, region string) (string, string) {
	number := trimTel(s)
	e164, valid, ok := fastPhone(number, region)
	switch {
	case !ok:
		return parsePhone(s, region)
	case !valid:
		return s, notValidPhone(s, number, region)
	}
	return e164, ""
}

// checkE164Length refuses numbers longer than E.164's 15 digits, which the
// library accepts for some regions' long national numbers (German ones run
// to 15 digits before the country code) but the API answers with 1002.
func checkE164Length(cell, e164 string) (string, string) {
	if len(e164)-1 > 15 {
		return cell, fmt.Sprintf("phone_number: %s is longer than the 15 digits E.164 allows", quoteValue(cell))
	}
	return e164, ""
}

// trimTel returns the phone cell s without a "tel:" in front.
func trimTel(s string) string {
	if len(s) >= 4 && strings.EqualFold(s[:4], "tel:") {
		return s[4:]
	}
	return s
}

// notValidPhone says why s, whose number part is number, is not usable when
// it parses as a phone number that is not valid.
func notValidPhone(s, number, region string) string {
	if strings.HasPrefix(number, "+") {
		return FieldPhone + ": " + quoteValue(s) + " is not a valid phone number"
	}
	return FieldPhone + ": " + quoteValue(s) + " is not a valid number for region " + region
}

// parsePhone is normalizePhone for any cell, done by phonenumbers.
func parsePhone(s, region string) (string, string) {
	if s == "" {
		return "", FieldPhone + ": empty"
	}
	number := trimTel(s)
	bad := func(format string, args ...any) (string, string) {
		return s, FieldPhone + ": " + quoteValue(s) + " " + fmt.Sprintf(format, args...)
	}
	// Cells holding letters are checked for the usual ways of writing an
	// extension first, so the reason is more useful than "letters".
	if strings.ContainsFunc(number, unicode.IsLetter) || strings.Contains(number, "#") {
		if extension.MatchString(number) {
			return bad("has an extension; a card belongs to a line, so give the number alone")
		}
	}
	if holdsSeveralNumbers(number) {
		return bad("holds more than one number; give one per record")
	}
	for _, r := range number {
		switch {
		case unicode.IsLetter(r):
			return bad("contains letters; give the number in digits")
		case unicode.IsDigit(r), unicode.IsSpace(r), strings.ContainsRune("+()-./", r):
		default:
			return bad("contains %q; a phone number holds digits, spaces and + ( ) - . / only", r)
		}
	}
	n, err := phonenumbers.Parse(number, region)
	if err != nil || !phonenumbers.IsValidNumber(n) {
		return s, notValidPhone(s, number, region)
	}
	return phonenumbers.Format(n, phonenumbers.E164), ""
}

// holdsSeveralNumbers reports whether s looks like a list of numbers: more
// than one "+", or parts of six digits or more on both sides of a separator.
// A lone "/" is not enough: "030/1234567" is how Germans write one number.
func holdsSeveralNumbers(s string) bool {
	if strings.Count(s, "+") > 1 {
		return true
	}
	long := 0
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(",;|&/\n", r) }) {
		digits := 0
		for _, r := range part {
			if unicode.IsDigit(r) {
				digits++
			}
		}
		if digits >= 6 {
			long++
		}
	}
	return long > 1
}

// normalizeName trims a name and puts it in NFC, and says why the API
// would refuse it, if it would.
func normalizeName(field, s string) (string, string) {
	s = norm.NFC.String(unneutralise(strings.TrimSpace(s)))
	if i := strings.IndexFunc(s, unicode.IsControl); i >= 0 {
		r, _ := utf8.DecodeRuneInString(s[i:])
		return s, fmt.Sprintf("%s: %s contains a control character (%U)", field, quoteValue(s), r)
	}
	if utf8.RuneCountInString(s) > maxNameLength {
		return s, fmt.Sprintf("%s: longer than %d characters", field, maxNameLength)
	}
	return s, ""
}

// unneutralise takes off the quote that bulksync's reports and exports put
// before a cell a spreadsheet would run as a formula (see neutralise), so
// an export applied back sends "=x", not "'=x". A name that truly begins
// with a quote and one of = + - @ is not one a CRM holds.
func unneutralise(s string) string {
	if len(s) >= 2 && s[0] == '\'' && neutralise(s[1:]) == s {
		return s[1:]
	}
	return s
}

// normalizeImageURL trims a URL and checks that the API can fetch it.
func normalizeImageURL(s string) (string, string) {
	s = norm.NFC.String(strings.TrimSpace(s))
	if s == "" {
		return "", ""
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Hostname() == "" {
		return s, fmt.Sprintf("%s: %s must be an absolute https URL", FieldImageURL, quoteValue(s))
	}
	return s, ""
}

// quoteValue quotes a cell for a message, cut short when long: the message
// ends up in a report cell.
func quoteValue(s string) string {
	const most = 64
	n := 0
	for i := range s {
		if n == most {
			return fmt.Sprintf("%q…", s[:i])
		}
		n++
	}
	return fmt.Sprintf("%q", s)
}

// joinReasons joins the non-empty reasons with "; ".
func joinReasons(reasons ...string) string {
	var b strings.Builder
	for _, r := range reasons {
		if r == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		b.WriteString(r)
	}
	return b.String()
}
