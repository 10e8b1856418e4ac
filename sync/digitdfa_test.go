package sync

import (
	"math/rand/v2"
	"regexp"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

// The table of every pattern of every region's metadata says what regexp
// says, for random strings of digits of every length a national number can
// have, for each region's example numbers and for those numbers with a
// digit changed, dropped or added.
func TestDigitDFAMatchesRegexp(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tables, patterns := 0, 0
	for region := range phonenumbers.GetSupportedRegions() {
		rules := rulesForRegion(region)
		if rules == nil {
			continue
		}
		var examples []string
		if n := phonenumbers.GetExampleNumber(region); n != nil {
			examples = append(examples, phonenumbers.GetNationalSignificantNumber(n))
		}
		for _, typ := range []phonenumbers.PhoneNumberType{phonenumbers.MOBILE, phonenumbers.TOLL_FREE, phonenumbers.PREMIUM_RATE, phonenumbers.VOIP} {
			if n := phonenumbers.GetExampleNumberForType(region, typ); n != nil {
				examples = append(examples, phonenumbers.GetNationalSignificantNumber(n))
			}
		}
		for _, d := range append([]numberDesc{rules.general}, rules.types...) {
			patterns++
			if d.digits == nil {
				t.Logf("region %s: %s has no table", region, d.pattern)
				continue
			}
			tables++
			check := func(s string) {
				t.Helper()
				got, ok := d.digits.match(s)
				if want := d.pattern.MatchString(s); !ok || got != want {
					t.Fatalf("region %s, %s: table says %v (ok %v) for %q, regexp %v", region, d.pattern, got, ok, s, want)
				}
			}
			for _, ex := range examples {
				check(ex)
				for i := range len(ex) + 1 {
					check(ex[:i])
					check(ex[:i] + ex[min(i+1, len(ex)):])
					for c := byte('0'); c <= '9'; c++ {
						check(ex[:i] + string(c) + ex[i:])
						if i < len(ex) {
							check(ex[:i] + string(c) + ex[i+1:])
						}
					}
				}
			}
			for range 200 {
				b := make([]byte, rng.IntN(phonenumbers.MAX_LENGTH_FOR_NSN+2))
				for i := range b {
					b[i] = byte('0' + rng.IntN(10))
				}
				check(string(b))
			}
		}
	}
	if tables < patterns*99/100 {
		t.Errorf("%d of %d patterns have a table", tables, patterns)
	}
	t.Logf("%d of %d patterns have a table", tables, patterns)
}

// The table handles what the metadata's patterns use, and reads anything
// but digits as not its business.
func TestDigitDFA(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		in      []string
	}{
		{`^(?:[2-9]\d{9}|3\d{6})$`, []string{"", "2125550101", "3123456", "312345", "1125550101", "21255501011"}},
		{`^(?:(?:3052(?:0[0-8]|[1-9]\d)|5056(?:[0-35-9]\d|4[0-68]))\d{4}|(?:2742|305[3-9])\d{6})$`, []string{"3052051234", "3053123456", "2742123456", "5056412345", "305212345"}},
		{`^(?:\d{0,3})$`, []string{"", "1", "123", "1234"}},
		{`^(?:0|1?)$`, []string{"", "0", "1", "01", "2"}},
		{`^(?:.)$`, []string{"1", "12", ""}},
		{`^(?:\d+$|1)$`, []string{"1", "123", ""}},
	} {
		re := regexp.MustCompile(tc.pattern)
		m := newDigitDFA(tc.pattern)
		if m == nil {
			t.Fatalf("%s: no table", tc.pattern)
		}
		for _, s := range tc.in {
			if got, ok := m.match(s); !ok || got != re.MatchString(s) {
				t.Errorf("%s: %q: table %v (ok %v), regexp %v", tc.pattern, s, got, ok, re.MatchString(s))
			}
		}
		if _, ok := m.match("12a"); ok {
			t.Errorf("%s: a letter read as a digit", tc.pattern)
		}
	}
	if newDigitDFA(`^(?:\b1)$`) != nil {
		t.Error("a word boundary made a table")
	}
	// A 1 thirteen digits from the end: a table needs 2^13 states.
	if newDigitDFA(`^(?:[01]*1[01]{12})$`) != nil {
		t.Error("a pattern of too many states made a table")
	}
}

// BenchmarkPhoneRulesUS compiles a region's rules, tables included: the
// first number of a region pays it once.
func BenchmarkPhoneRulesUS(b *testing.B) {
	for b.Loop() {
		compilePhoneRules("US")
	}
}
