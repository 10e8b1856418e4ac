package sync

import (
	"fmt"
	"strings"
	stdsync "sync"
	"unicode"

	"github.com/nyaruka/phonenumbers"
	"golang.org/x/text/language"
	"golang.org/x/text/language/display"
	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// countryAliases are names CRM exports use for countries besides the
// English names CLDR gives (display.English): common short forms, the ISO
// 3166 official names Salesforce's country picklists use, former names, and
// a few countries' own names. Keys are folded (see foldCountry).
var countryAliases = map[string]string{
	"america": "US", "united states of america": "US", "the united states": "US",
	"united kingdom of great britain and northern ireland": "GB", "great britain": "GB", "britain": "GB",
	"england": "GB", "scotland": "GB", "wales": "GB", "northern ireland": "GB",
	"korea": "KR", "republic of korea": "KR", "korea republic of": "KR",
	"korea democratic peoples republic of": "KP", "democratic peoples republic of korea": "KP",
	"russian federation": "RU", "viet nam": "VN", "iran islamic republic of": "IR",
	"czech republic": "CZ", "north macedonia": "MK", "macedonia the former yugoslav republic of": "MK",
	"eswatini": "SZ", "turkiye": "TR", "the netherlands": "NL", "holland": "NL",
	"hong kong": "HK", "macao": "MO", "taiwan province of china": "TW", "republic of china": "TW",
	"bolivia plurinational state of": "BO", "venezuela bolivarian republic of": "VE",
	"tanzania united republic of": "TZ", "moldova republic of": "MD", "syrian arab republic": "SY",
	"lao peoples democratic republic": "LA", "brunei darussalam": "BN",
	"congo the democratic republic of the": "CD", "democratic republic of the congo": "CD", "dr congo": "CD",
	"congo": "CG", "republic of the congo": "CG", "ivory coast": "CI", "cabo verde": "CV",
	"myanmar": "MM", "burma": "MM", "palestine": "PS", "palestine state of": "PS", "state of palestine": "PS",
	"holy see": "VA", "vatican": "VA", "micronesia federated states of": "FM",
	"us": "US", "usa": "US", "uk": "GB", "uae": "AE", "ksa": "SA",
	"deutschland": "DE", "espana": "ES", "brasil": "BR", "italia": "IT", "schweiz": "CH", "suisse": "CH",
	"osterreich": "AT", "nederland": "NL", "sverige": "SE", "norge": "NO", "danmark": "DK", "polska": "PL",
	"belgique": "BE", "belgie": "BE", "suomi": "FI", "eire": "IE", "nippon": "JP",
}

// countryNames maps folded country names to ISO 3166 codes, for every
// region phonenumbers has a numbering plan for. It is built once, on first
// use.
var countryNames = stdsync.OnceValue(func() map[string]string {
	names := display.English.Regions()
	m := make(map[string]string, 2*len(countryAliases))
	for code := range phonenumbers.GetSupportedRegions() {
		r, err := language.ParseRegion(code)
		if err != nil {
			continue
		}
		if name := names.Name(r); name != "" {
			m[foldCountry(name)] = code
		}
	}
	for name, code := range countryAliases {
		m[name] = code
	}
	return m
})

// foldCountry puts a country name in the form countryNames is keyed by:
// lower case, accents and apostrophes dropped, "&" as "and", "St." as
// "saint", other punctuation as spaces, single spaces.
func foldCountry(s string) string {
	s, _, _ = transform.String(transform.Chain(norm.NFKD, runes.Remove(runes.In(unicode.Mn)), norm.NFC), s)
	s = strings.ToLower(s)
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '&':
			b.WriteString(" and ")
		case r == '\'' || r == '’' || r == '.':
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		default:
			b.WriteByte(' ')
		}
	}
	words := strings.Fields(b.String())
	for i, w := range words {
		if w == "st" {
			words[i] = "saint"
		}
	}
	return strings.Join(words, " ")
}

// countryRegion returns the region code of a country cell: an ISO 3166
// code (alpha-2 such as GB, alpha-3 such as GBR, or UN M.49 digits) or a
// country's name in English (United Kingdom, UK, Great Britain). ok is false
// for anything else, and for a region without a numbering plan.
func countryRegion(cell string) (code string, ok bool) {
	cell = strings.TrimSpace(cell)
	if len(cell) <= 3 {
		if r, err := language.ParseRegion(cell); err == nil {
			code = r.Canonicalize().String()
			if phonenumbers.GetSupportedRegions()[code] {
				return code, true
			}
		}
	}
	code, ok = countryNames()[foldCountry(cell)]
	return code, ok
}

// badCountry says why a country cell cannot be used.
func badCountry(cell string) string {
	return fmt.Sprintf("%s: %s is not a country name or ISO 3166 code (such as GB or United Kingdom)", FieldRegion, quoteValue(strings.TrimSpace(cell)))
}
