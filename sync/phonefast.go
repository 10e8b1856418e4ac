package sync

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	stdsync "sync"
	"sync/atomic"

	"github.com/nyaruka/phonenumbers"
)

// maxPhoneDigits is the most digits fastPhone takes: a country calling code
// of three digits and a national number of phonenumbers.MAX_LENGTH_FOR_NSN.
const maxPhoneDigits = 3 + phonenumbers.MAX_LENGTH_FOR_NSN

// fastPhone returns number in E.164 and whether it is valid, as
// phonenumbers.Parse(number, region) followed by IsValidNumber would say; ok
// is false when number is not in a shape it takes.
//
// Parse and IsValidNumber cost some 20µs a cell, mostly in regular
// expressions for what cells in the usual shapes do not hold (extensions,
// letters, RFC 3966 parameters), and in building pattern strings anew on
// every call to look up their compiled forms. fastPhone takes cells of ASCII
// digits, spaces and ( ) - . with at most a leading '+', retraces the steps
// the library takes for them with each region's patterns compiled once, and
// gives up wherever a step would need more (an international prefix, a
// national prefix rewritten by a transform rule, an unknown calling code,
// an impossible length). Each step names the library function it retraces
// (phonenumbers v1.8.1); the tests compare both paths.
func fastPhone(number, region string) (e164 string, valid, ok bool) {
	if len(number) > phonenumbers.MAX_INPUT_STRING_LENGTH {
		return "", false, false
	}
	// buf is "+" and the digits: as a string, it is the number in E.164
	// when the digits are the calling code and the national number.
	var buf [1 + maxPhoneDigits]byte
	buf[0] = '+'
	n := 0 // digits in buf
	plus := false
	for i := 0; i < len(number); i++ {
		switch c := number[i]; {
		case '0' <= c && c <= '9':
			if n == maxPhoneDigits {
				return "", false, false
			}
			buf[1+n] = c
			n++
		case c == ' ' || c == '(' || c == ')' || c == '-' || c == '.':
		case c == '+' && i == 0:
			plus = true
		default:
			return "", false, false
		}
	}
	// Parse reads fewer than three digits differently (isViablePhoneNumber,
	// ErrTooShortAfterIDD).
	if n < 3 {
		return "", false, false
	}
	plusDigits := string(buf[:1+n])
	digits := plusDigits[1:]

	var cc int            // country calling code
	var national string   // national number, with any national prefix
	var rules *phoneRules // the rules Parse strips the national prefix by
	if plus {
		// extractCountryCode: the calling code is the shortest known
		// prefix of the digits; none begins with 0. Without one, Parse
		// tries again reading the digits as a national number.
		if digits[0] == '0' {
			return "", false, false
		}
		known := false
		for i := 0; i < 3 && !known; i++ {
			cc = cc*10 + int(digits[i]-'0')
			known = phonenumbers.GetSupportedCallingCodes()[cc]
			national = digits[i+1:]
		}
		if !known {
			return "", false, false
		}
		rules = rulesForCallingCode(cc)
	} else {
		home := rulesForRegion(region)
		if home == nil {
			return "", false, false
		}
		// maybeStripInternationalPrefixAndNormalize: digits after the
		// region's international prefix ("011" in the US) are read as a
		// country calling code and a number.
		if home.internationalPrefix.MatchString(digits) {
			return "", false, false
		}
		cc, national, rules = home.countryCode, digits, home
		// maybeExtractCountryCode: digits beginning with the region's
		// calling code ("1 212 555 0101" in the US) lose it when the
		// whole is too long to be a national number, or when only the
		// rest fits the region's general pattern.
		if ccDigits := strconv.Itoa(cc); strings.HasPrefix(digits, ccDigits) {
			rest, ok := home.stripNationalPrefix(digits[len(ccDigits):])
			if !ok {
				return "", false, false
			}
			fits := home.general.fits
			if home.lengthResult(len(digits)) == phonenumbers.TOO_LONG || !fits(digits) && fits(rest) {
				national, rules = rest, rulesForCallingCode(cc)
			}
		}
	}
	if rules == nil {
		return "", false, false
	}

	// parseHelper: the national prefix goes when what is left has a
	// possible length.
	stripped, ok := rules.stripNationalPrefix(national)
	if !ok {
		return "", false, false
	}
	switch rules.lengthResult(len(stripped)) {
	case phonenumbers.TOO_SHORT, phonenumbers.IS_POSSIBLE_LOCAL_ONLY, phonenumbers.INVALID_LENGTH:
	default:
		national = stripped
	}
	// Parse fails on national numbers of impossible lengths.
	if len(national) < phonenumbers.MIN_LENGTH_FOR_NSN || len(national) > phonenumbers.MAX_LENGTH_FOR_NSN {
		return "", false, false
	}

	// The national significant number, leading zeros (Italian) included,
	// is national itself: Format and IsValidNumber work on it.
	valid, ok = isValidNumber(cc, national)
	if !ok {
		return "", false, false
	}
	if !valid {
		return "", false, true
	}
	if ccLen := len(digits) - len(national); ccLen > 0 && digits[ccLen:] == national && digits[:ccLen] == strconv.Itoa(cc) {
		return plusDigits, true, true // the cell's digits as they are: no string to make
	}
	return "+" + strconv.Itoa(cc) + national, true, true
}

// isValidNumber retraces phonenumbers.IsValidNumber for a number of calling
// code cc and national significant number nsn; ok is false when it cannot.
func isValidNumber(cc int, nsn string) (valid, ok bool) {
	regions := phonenumbers.GetRegionCodesForCountryCode(cc)
	if len(regions) == 1 {
		rules := rulesForRegion(regions[0])
		if rules == nil {
			return false, false
		}
		return rules.countryCode == cc && rules.matchesType(nsn), true
	}
	// getRegionCodeForNumberFromRegionList: the number belongs to the
	// first region whose leading digits it has or, for a region without
	// leading digits, whose number types it matches. IsValidNumberForRegion
	// then checks it against that region's number types.
	for _, region := range regions {
		rules := rulesForRegion(region)
		if rules == nil {
			return false, false
		}
		if rules.leadingDigits != nil {
			if rules.leadingDigits.MatchString(nsn) {
				return rules.countryCode == cc && rules.matchesType(nsn), true
			}
		} else if rules.matchesType(nsn) {
			return rules.countryCode == cc, true
		}
	}
	return false, true
}

// phoneRules is what the fast path needs of a region's metadata, with its
// patterns compiled the way the library compiles them.
type phoneRules struct {
	countryCode         int
	internationalPrefix *regexp.Regexp // anchored at the start
	nationalPrefix      *regexp.Regexp // anchored at the start; nil when the region has none
	transformRule       string         // rewrites the national prefix instead of stripping it
	leadingDigits       *regexp.Regexp // anchored at the start; nil when the region has none
	lengths             []int32        // possible lengths of any number, ascending
	localLengths        []int32        // lengths of numbers dialled within an area only
	general             numberDesc
	types               []numberDesc // getNumberTypeHelper's types, fixed line first
}

// numberDesc is a phonenumbers.PhoneNumberDesc: a number type's lengths and
// pattern.
type numberDesc struct {
	lengths []int32        // empty when any length will do
	pattern *regexp.Regexp // anchored at both ends
	digits  *digitDFA      // the pattern as a table, for digits; nil when it has none
}

// matches retraces isNumberMatchingDesc.
func (d numberDesc) matches(nsn string) bool {
	if len(d.lengths) > 0 && !slices.Contains(d.lengths, int32(len(nsn))) {
		return false
	}
	return d.fits(nsn)
}

// fits reports whether s matches the pattern.
func (d numberDesc) fits(s string) bool {
	if d.digits != nil {
		if matched, ok := d.digits.match(s); ok {
			return matched
		}
	}
	return d.pattern.MatchString(s)
}

// matchesType reports whether getNumberTypeHelper finds a type for nsn.
func (r *phoneRules) matchesType(nsn string) bool {
	if !r.general.matches(nsn) {
		return false
	}
	for _, d := range r.types {
		if d.matches(nsn) {
			return true
		}
	}
	return false
}

// lengthResult retraces testNumberLength for a number of n digits and any
// type.
func (r *phoneRules) lengthResult(n int) phonenumbers.ValidationResult {
	switch {
	case r.lengths[0] == -1:
		return phonenumbers.INVALID_LENGTH
	case slices.Contains(r.localLengths, int32(n)):
		return phonenumbers.IS_POSSIBLE_LOCAL_ONLY
	case int32(n) == r.lengths[0]:
		return phonenumbers.IS_POSSIBLE
	case int32(n) < r.lengths[0]:
		return phonenumbers.TOO_SHORT
	case int32(n) > r.lengths[len(r.lengths)-1]:
		return phonenumbers.TOO_LONG
	case slices.Contains(r.lengths[1:], int32(n)):
		return phonenumbers.IS_POSSIBLE
	}
	return phonenumbers.INVALID_LENGTH
}

// stripNationalPrefix retraces maybeStripNationalPrefixAndCarrierCode: it
// returns number without its national prefix ("0" in "020 7946 0958"), or
// number itself. ok is false when the region's transform rule would rewrite
// the prefix instead.
func (r *phoneRules) stripNationalPrefix(number string) (_ string, ok bool) {
	if len(number) == 0 || r.nationalPrefix == nil {
		return number, true
	}
	// Most numbers do not begin with the prefix, which the regexp, anchored
	// at the start, can only match with its literal beginning.
	if lit, _ := r.nationalPrefix.LiteralPrefix(); !strings.HasPrefix(number, lit) {
		return number, true
	}
	m := r.nationalPrefix.FindStringSubmatchIndex(number)
	if m == nil {
		return number, true
	}
	if r.transformRule != "" && m[len(m)-2] >= 0 {
		return "", false
	}
	// A number that fits the general pattern keeps a prefix without
	// which it would not.
	rest := number[m[1]:]
	if r.general.fits(number) && !r.general.fits(rest) {
		return number, true
	}
	return rest, true
}

// phoneRulesByRegion holds the rules of every supported region, each
// compiled on first use: a run meets a handful of regions, and compiling
// them all would take 30ms and 9MB.
var phoneRulesByRegion = stdsync.OnceValue(func() map[string]func() *phoneRules {
	m := make(map[string]func() *phoneRules)
	for region := range phonenumbers.GetSupportedRegions() {
		m[region] = stdsync.OnceValue(func() *phoneRules { return compilePhoneRules(region) })
	}
	return m
})

// rulesForCallingCode returns the rules of the main region of calling code
// cc, which Parse uses for numbers with that code; nil for calling codes of
// no region (such as 800), which the fast path leaves to the library.
func rulesForCallingCode(cc int) *phoneRules {
	if cc < 0 || cc >= len(rulesByCallingCode) {
		return rulesForRegion(phonenumbers.GetRegionCodeForCountryCode(cc))
	}
	if r := rulesByCallingCode[cc].Load(); r != nil {
		return r.rules
	}
	r := &callingCodeRules{rulesForRegion(phonenumbers.GetRegionCodeForCountryCode(cc))}
	rulesByCallingCode[cc].Store(r)
	return r.rules
}

// rulesByCallingCode holds what rulesForCallingCode found for each calling
// code (all are below 1000) once it was asked: every cell of an export
// asks, and the library's maps and the regions' sync.Once took a tenth of
// the fast path's time.
var rulesByCallingCode [1000]atomic.Pointer[callingCodeRules]

// callingCodeRules is the rules of a calling code; nil for a code of no
// region.
type callingCodeRules struct{ rules *phoneRules }

// rulesForRegion returns the rules of a supported region, or nil.
func rulesForRegion(region string) *phoneRules {
	if rules := phoneRulesByRegion()[region]; rules != nil {
		return rules()
	}
	return nil
}

// compilePhoneRules compiles a region's rules from the metadata the library
// uses. It returns nil, and so leaves the region to the library, when the
// metadata is not as the fast path expects. The library compiles the same
// patterns with regexp.MustCompile when it meets them.
func compilePhoneRules(region string) *phoneRules {
	// The library fails to start without its metadata, and keeps the
	// last metadata of a region.
	all, _ := phonenumbers.MetadataCollection()
	var meta *phonenumbers.PhoneMetadata
	for _, m := range all.GetMetadata() {
		if m.GetId() == region {
			meta = m
		}
	}
	if meta == nil || len(meta.GetGeneralDesc().GetPossibleLength()) == 0 {
		return nil
	}
	desc := func(d *phonenumbers.PhoneNumberDesc) numberDesc {
		pattern := "^(?:" + d.GetNationalNumberPattern() + ")$"
		return numberDesc{d.GetPossibleLength(), regexp.MustCompile(pattern), newDigitDFA(pattern)}
	}
	general := meta.GetGeneralDesc()
	r := &phoneRules{
		countryCode:         int(meta.GetCountryCode()),
		internationalPrefix: regexp.MustCompile("^(?:" + meta.GetInternationalPrefix() + ")"),
		transformRule:       meta.GetNationalPrefixTransformRule(),
		lengths:             general.GetPossibleLength(),
		localLengths:        general.GetPossibleLengthLocalOnly(),
		general:             desc(general),
		types: []numberDesc{
			desc(meta.GetFixedLine()),
			desc(meta.GetPremiumRate()),
			desc(meta.GetTollFree()),
			desc(meta.GetSharedCost()),
			desc(meta.GetVoip()),
			desc(meta.GetPersonalNumber()),
			desc(meta.GetPager()),
			desc(meta.GetUan()),
			desc(meta.GetVoicemail()),
		},
	}
	// Where mobile numbers share the fixed-line pattern, the library
	// does not look at the mobile one.
	if !meta.GetSameMobileAndFixedLinePattern() {
		r.types = append(r.types, desc(meta.GetMobile()))
	}
	if p := meta.GetNationalPrefixForParsing(); p != "" {
		r.nationalPrefix = regexp.MustCompile("^(?:" + p + ")")
	}
	if p := meta.GetLeadingDigits(); p != "" {
		r.leadingDigits = regexp.MustCompile("^(?:" + p + ")")
	}
	return r
}
