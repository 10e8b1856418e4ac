package sync

import (
	"slices"
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

// phoneTestRegions are the regions the fast path is checked in: the
// default, its NANPA neighbour, and countries with national prefixes,
// Italian leading zeros and transform rules.
var phoneTestRegions = []string{"US", "CA", "GB", "DE", "FR", "IT", "AU", "IN", "BR", "AG", "MX", "AR"}

// checkFastPhone fails t unless normalizePhone and parsePhone agree on the
// cell s in region, and reports whether the fast path took s.
func checkFastPhone(t *testing.T, s, region string) bool {
	t.Helper()
	s = strings.TrimSpace(s) // as Normalize does
	gotPhone, gotReason := normalizePhone(s, region)
	wantPhone, wantReason := parsePhone(s, region)
	if gotPhone != wantPhone || gotReason != wantReason {
		t.Errorf("region %s, cell %q:\n got %q, %q\nwant %q, %q", region, s, gotPhone, gotReason, wantPhone, wantReason)
	}
	_, _, ok := fastPhone(trimTel(s), region)
	return ok
}

func TestFastPhoneMatchesParse(t *testing.T) {
	cells := []string{
		// US and Canada.
		"+12125550101", "(212) 555-0101", "212-555-0101", "212.555.0101", "212 555 0101",
		"2125550101", "1-212-555-0101", "1 (212) 555-0101", "12125550101", "+1 212 555 0101",
		"+1 (212) 555-0101", "+1-212-555-0101", "+1.212.555.0101", "tel:+1-212-555-0101",
		"TEL:2125550101", "(212)555-0101", "((212)) 555--0101", "212-555-0101.", "-212-555-0101",
		"+1 416 555 0101", "(416) 555-0101", "1 416 555 0101", "+1 604 555 0101", "+1 268 464 1234",
		"+1 800 555 0101", "+1 900 555 0101", "+1 500 555 0101", "+1 671 555 0101", "+1 787 555 0101",
		"+1 212 555 010", "+1 212 555 01011", "+1 112 555 0101", "+1 012 555 0101", "+1 1 212 555 0101",
		"112 555 0101", "012 555 0101", "1 112 555 0101", "11 212 555 0101", "121 255 5010",
		"555-0101", "5550101", "1 555 0101", "911", "411", "1-800-FLOWERS", "000-000-0000",
		"123-456-7890", "999-999-9999", "212-555-010", "212-555-01011", "2125550101 ", "+2125550101",
		"011 44 20 7946 0958", "011-49-30-1234567", "0112125550101", "01 212 555 0101",
		// United Kingdom.
		"+44 20 7946 0958", "+442079460958", "+44 (0)20 7946 0958", "+44 020 7946 0958",
		"020 7946 0958", "02079460958", "(020) 7946 0958", "0044 20 7946 0958", "44 20 7946 0958",
		"4420 7946 0958", "07400 123456", "+44 7400 123456", "+44 7400 12345", "0800 123 4567",
		"+44 1632 960123", "01632 960123", "+44 1800 2012 3456", "180020 1234567", "+44 (0) 7911 123456",
		"7946 0958", "0 20 7946 0958",
		// Germany.
		"+49 30 1234567", "+49 (0)30 1234567", "030 1234567", "0049 30 1234567", "+49 151 23456789",
		"0151 23456789", "+49 30 12345", "+49 30 123456789012", "49 30 1234567", "4930 1234567",
		"+49 1805 123456", "+49 89 123456", "(089) 123456",
		// France.
		"+33 1 23 45 67 89", "01 23 45 67 89", "+33 6 12 34 56 78", "06 12 34 56 78", "0033 6 12 34 56 78",
		"33 6 12 34 56 78", "+33 (0)6 12 34 56 78", "6 12 34 56 78", "+33 1 23 45 67 8",
		// Italy, whose numbers keep their leading zeros.
		"+39 06 6982 1234", "06 6982 1234", "+39 06 698 12345", "+39 0039 06 6982", "+39 347 123 4567",
		"347 123 4567", "0039 06 6982 1234", "39 06 6982 1234", "+39 00 1234 5678", "+39 000 000",
		"+39 0 6 6982 1234", "+39 06", "+39 02 1234 5678", "02 1234 5678", "+39 800 123 456",
		// Australia.
		"+61 2 9876 5432", "(02) 9876 5432", "02 9876 5432", "0412 345 678", "+61 412 345 678",
		"0011 61 2 9876 5432", "1831 2 9876 5432", "1800 123 456", "13 12 12", "+61 (0)2 9876 5432",
		// India.
		"+91 98765 43210", "098765 43210", "98765 43210", "+91 11 2345 6789", "011 2345 6789",
		"0091 98765 43210", "91 98765 43210", "+91 1800 123 4567",
		// Brazil, whose national prefix may carry a carrier code.
		"+55 11 91234-5678", "(11) 91234-5678", "011 91234-5678", "0 21 11 91234-5678", "+55 (11) 3456-7890",
		"0021 55 11 91234 5678", "55 11 91234 5678", "+55 0 11 91234-5678", "90 21 11 91234 5678",
		// Mexico and Argentina, with transform rules.
		"+52 1 55 1234 5678", "+52 55 1234 5678", "+54 9 11 1234 5678", "+54 11 1234 5678", "011 15 1234 5678",
		// Other countries and calling codes.
		"+86 138 0013 8000", "+81 3 1234 5678", "+7 495 123 45 67", "+27 21 123 4567", "+353 1 234 5678",
		"+800 1234 5678", "+882 1234 5678", "+999 123 4567", "+0 123 4567", "+28 123 4567", "+001 212 555 0101",
		"+1", "+12", "+123", "+44", "+44 2", "+44 20",
		// Shapes the fast path leaves alone.
		"", "1", "12", "123", "1 2", "+", "+ 1 212 555 0101", "(+1) 212 555 0101", "1+212 555 0101",
		"212/555-0101", "030/1234567", "212\u00a0555\u00a00101", "212\t555\t0101", "２１２ ５５５ ０１０１",
		"+1 212 555 0101 x123", "212-555-0101 ext. 7", "tel:+1-212-555-0101;ext=42", "555-CALL-NOW",
		"+1 212 555 0101 / +1 212 555 0199", "212-555-0101, 212-555-0199", "212*555*0101", "#212",
		"++1 212 555 0101", "+1 212 555 0101 +", "N/A", "unknown", strings.Repeat("9", 300),
		strings.Repeat(" ", 240) + "2125550101", "12345678901234567890", "123456789012345678901",
		"+12345678901234567890", "+123456789012345678901",
	}
	regions := append(slices.Clone(phoneTestRegions), "XX") // XX: no such region
	fast := 0
	for _, region := range regions {
		for _, c := range cells {
			if checkFastPhone(t, c, region) {
				fast++
			}
		}
	}
	t.Logf("%d cells × %d regions: %d took the fast path", len(cells), len(regions), fast)
}

// TestFastPhoneTakesCommonShapes checks that the common shapes do take the
// fast path, which is the point of it.
func TestFastPhoneTakesCommonShapes(t *testing.T) {
	tests := []struct {
		cell, region, want string
		valid              bool
	}{
		{"+12125550101", "US", "+12125550101", true},
		{"(212) 555-0101", "US", "+12125550101", true},
		{"1-212-555-0101", "US", "+12125550101", true},
		{"+1 416 555 0101", "US", "+14165550101", true},
		{"416.555.0101", "CA", "+14165550101", true},
		{"+44 20 7946 0958", "US", "+442079460958", true},
		{"+44 (0)20 7946 0958", "US", "+442079460958", true},
		{"020 7946 0958", "GB", "+442079460958", true},
		{"030 1234567", "DE", "+49301234567", true},
		{"+39 06 6982 1234", "US", "+390669821234", true},
		{"06 6982 1234", "IT", "+390669821234", true},
		{"555-0101", "US", "", false},
		{"+1 212 555 010", "US", "", false},
	}
	for _, tt := range tests {
		got, valid, ok := fastPhone(tt.cell, tt.region)
		if !ok || got != tt.want || valid != tt.valid {
			t.Errorf("fastPhone(%q, %s) = %q, %v, %v; want %q, %v, true", tt.cell, tt.region, got, valid, ok, tt.want, tt.valid)
		}
	}
}

// TestFastPhoneMatchesParseForExamples runs both paths over the library's
// example number of every type in every region: in several writings, read
// in the number's own region, in US and in IT (no national prefix); and with
// a digit missing, added or changed, read in its own region.
func TestFastPhoneMatchesParseForExamples(t *testing.T) {
	regions := make([]string, 0, len(phonenumbers.GetSupportedRegions()))
	for r := range phonenumbers.GetSupportedRegions() {
		regions = append(regions, r)
	}
	slices.Sort(regions)
	types := []phonenumbers.PhoneNumberType{
		phonenumbers.FIXED_LINE, phonenumbers.MOBILE, phonenumbers.TOLL_FREE, phonenumbers.PREMIUM_RATE,
		phonenumbers.SHARED_COST, phonenumbers.VOIP, phonenumbers.PERSONAL_NUMBER, phonenumbers.PAGER,
		phonenumbers.UAN, phonenumbers.VOICEMAIL,
	}
	checked, fast := 0, 0
	check := func(cell, region string) {
		checked++
		if checkFastPhone(t, cell, region) {
			fast++
		}
	}
	for _, region := range regions {
		for _, typ := range types {
			n := phonenumbers.GetExampleNumberForType(region, typ)
			if n == nil {
				continue
			}
			e164 := phonenumbers.Format(n, phonenumbers.E164)
			nsn := phonenumbers.GetNationalSignificantNumber(n)
			cc := e164[1 : len(e164)-len(nsn)]
			for _, c := range []string{
				e164,
				phonenumbers.Format(n, phonenumbers.INTERNATIONAL),
				phonenumbers.Format(n, phonenumbers.NATIONAL),
				nsn,
				cc + nsn,
				"00" + cc + nsn,
				"011" + cc + nsn,
				"+" + cc + " 0" + nsn,
			} {
				check(c, region)
				check(c, "US")
				check(c, "IT")
			}
			for _, i := range []int{0, 1, len(nsn) / 2, len(nsn) - 1} {
				missing := nsn[:i] + nsn[i+1:]
				added := nsn[:i] + "5" + nsn[i:]
				changed := nsn[:i] + string('0'+(nsn[i]-'0'+7)%10) + nsn[i+1:]
				check("+"+cc+missing, region)
				check("+"+cc+added, region)
				check("+"+cc+changed, region)
				check(changed, region)
			}
		}
	}
	t.Logf("%d checks: %d took the fast path", checked, fast)
}

// TestPhoneRulesCompile checks that the patterns of every region compile,
// so the fast path cannot panic where the library would not.
func TestPhoneRulesCompile(t *testing.T) {
	for region := range phonenumbers.GetSupportedRegions() {
		if rulesForRegion(region) == nil {
			t.Errorf("region %s: no rules", region)
		}
	}
}

// FuzzPhoneFastPath checks that the fast path comes to what phonenumbers
// does, for random cells and for random cells made of the characters the
// fast path takes.
func FuzzPhoneFastPath(f *testing.F) {
	seeds := []struct{ cell, region string }{
		{"+12125550101", "US"}, {"(212) 555-0101", "US"}, {"1-212-555-0101", "US"}, {"555-0101", "US"},
		{"+44 (0)20 7946 0958", "US"}, {"020 7946 0958", "GB"}, {"030 1234567", "DE"},
		{"+39 06 6982 1234", "US"}, {"06 6982 1234", "IT"}, {"01 23 45 67 89", "FR"}, {"(11) 91234-5678", "BR"},
	}
	for _, s := range seeds {
		f.Add(s.cell, uint8(slices.Index(phoneTestRegions, s.region)))
	}
	const alphabet = "0123456789012345678901234567890123456789 ()-."
	f.Fuzz(func(t *testing.T, s string, region uint8) {
		r := phoneTestRegions[int(region)%len(phoneTestRegions)]
		checkFastPhone(t, s, r)

		b := []byte(s)
		for i, c := range b {
			b[i] = alphabet[int(c)%len(alphabet)]
		}
		if len(s) > 0 && s[0]&1 == 1 {
			b[0] = '+'
		}
		checkFastPhone(t, string(b), r)
	})
}
