package sync

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	long := strings.Repeat("é", maxNameLength)
	tests := []struct {
		name   string
		rec    Record
		region string
		want   Desired
	}{
		{
			name: "US number with punctuation",
			rec:  Record{Line: 2, Phone: " (212) 555-0100 ", FirstName: " Ada ", LastName: "Lovelace\t", ImageURL: " https://img.example/a.png "},
			want: Desired{Line: 2, Phone: "+12125550100", FirstName: "Ada", LastName: "Lovelace", ImageURL: "https://img.example/a.png"},
		},
		{
			name: "E.164 already",
			rec:  Record{Line: 3, Phone: "+12125550100", FirstName: "Ada"},
			want: Desired{Line: 3, Phone: "+12125550100", FirstName: "Ada"},
		},
		{
			name: "tel: prefix and dots",
			rec:  Record{Line: 2, Phone: "tel:+1.212.555.0100", FirstName: "Ada"},
			want: Desired{Line: 2, Phone: "+12125550100", FirstName: "Ada"},
		},
		{
			name: "US number with the trunk prefix",
			rec:  Record{Line: 2, Phone: "1-212-555-0100", FirstName: "Ada"},
			want: Desired{Line: 2, Phone: "+12125550100", FirstName: "Ada"},
		},
		{
			name: "non-breaking spaces",
			rec:  Record{Line: 2, Phone: "212\u00a0555\u00a00100", FirstName: "Ada"},
			want: Desired{Line: 2, Phone: "+12125550100", FirstName: "Ada"},
		},
		{
			name:   "GB national number",
			rec:    Record{Line: 2, Phone: "020 7946 0958", FirstName: "Ada"},
			region: "GB",
			want:   Desired{Line: 2, Phone: "+442079460958", FirstName: "Ada"},
		},
		{
			name:   "GB mobile, region in lower case",
			rec:    Record{Line: 2, Phone: "07400 123456", FirstName: "Ada"},
			region: "gb",
			want:   Desired{Line: 2, Phone: "+447400123456", FirstName: "Ada"},
		},
		{
			name: "GB number with its country code read in region US",
			rec:  Record{Line: 2, Phone: "+44 (0)20 7946 0958", FirstName: "Ada"},
			want: Desired{Line: 2, Phone: "+442079460958", FirstName: "Ada"},
		},
		{
			name:   "German number written with a slash",
			rec:    Record{Line: 2, Phone: "030/1234567", FirstName: "Ada"},
			region: "DE",
			want:   Desired{Line: 2, Phone: "+49301234567", FirstName: "Ada"},
		},
		{
			name: "GB national number read in region US",
			rec:  Record{Line: 2, Phone: "020 7946 0958", FirstName: "Ada"},
			want: Desired{Line: 2, Phone: "020 7946 0958", FirstName: "Ada", Invalid: `phone_number: "020 7946 0958" is not a valid number for region US`},
		},
		{
			name: "empty phone",
			rec:  Record{Line: 2, Phone: "  ", FirstName: "Ada"},
			want: Desired{Line: 2, FirstName: "Ada", Invalid: "phone_number: empty"},
		},
		{
			name:   "valid for the library but longer than E.164",
			rec:    Record{Line: 2, Phone: "201000000000000", FirstName: "Ada"},
			region: "DE",
			want:   Desired{Line: 2, Phone: "201000000000000", FirstName: "Ada", Invalid: `phone_number: "201000000000000" is longer than the 15 digits E.164 allows`},
		},
		{
			name: "a row of bare delimiters",
			rec:  Record{Line: 9, Phone: " ", FirstName: "", LastName: " "},
			want: Desired{Line: 9, Invalid: "blank row: the phone_number, first_name, last_name and image_url cells are all empty"},
		},
		{
			name: "letters",
			rec:  Record{Line: 2, Phone: "555-CALL-NOW", FirstName: "Ada"},
			want: Desired{Line: 2, Phone: "555-CALL-NOW", FirstName: "Ada", Invalid: `phone_number: "555-CALL-NOW" contains letters; give the number in digits`},
		},
		{
			name: "two numbers",
			rec:  Record{Line: 2, Phone: "+1 212 555 0100 / +1 212 555 0199", FirstName: "Ada"},
			want: Desired{Line: 2, Phone: "+1 212 555 0100 / +1 212 555 0199", FirstName: "Ada",
				Invalid: `phone_number: "+1 212 555 0100 / +1 212 555 0199" holds more than one number; give one per record`},
		},
		{
			name: "two national numbers",
			rec:  Record{Line: 2, Phone: "212-555-0100, 212-555-0199", FirstName: "Ada"},
			want: Desired{Line: 2, Phone: "212-555-0100, 212-555-0199", FirstName: "Ada",
				Invalid: `phone_number: "212-555-0100, 212-555-0199" holds more than one number; give one per record`},
		},
		{
			name: "extension x",
			rec:  Record{Line: 2, Phone: "+1 212 555 0100 x123", FirstName: "Ada"},
			want: Desired{Line: 2, Phone: "+1 212 555 0100 x123", FirstName: "Ada",
				Invalid: `phone_number: "+1 212 555 0100 x123" has an extension; a card belongs to a line, so give the number alone`},
		},
		{
			name: "extension ext.",
			rec:  Record{Line: 2, Phone: "212-555-0100 Ext. 7", FirstName: "Ada"},
			want: Desired{Line: 2, Phone: "212-555-0100 Ext. 7", FirstName: "Ada",
				Invalid: `phone_number: "212-555-0100 Ext. 7" has an extension; a card belongs to a line, so give the number alone`},
		},
		{
			name: "extension in a tel: URI",
			rec:  Record{Line: 2, Phone: "tel:+1-212-555-0100;ext=42", FirstName: "Ada"},
			want: Desired{Line: 2, Phone: "tel:+1-212-555-0100;ext=42", FirstName: "Ada",
				Invalid: `phone_number: "tel:+1-212-555-0100;ext=42" has an extension; a card belongs to a line, so give the number alone`},
		},
		{
			name: "other characters",
			rec:  Record{Line: 2, Phone: "212*555*0100", FirstName: "Ada"},
			want: Desired{Line: 2, Phone: "212*555*0100", FirstName: "Ada",
				Invalid: `phone_number: "212*555*0100" contains '*'; a phone number holds digits, spaces and + ( ) - . / only`},
		},
		{
			name: "too short",
			rec:  Record{Line: 2, Phone: "12", FirstName: "Ada"},
			want: Desired{Line: 2, Phone: "12", FirstName: "Ada", Invalid: `phone_number: "12" is not a valid number for region US`},
		},
		{
			name: "unknown country code",
			rec:  Record{Line: 2, Phone: "+999 123 4567", FirstName: "Ada"},
			want: Desired{Line: 2, Phone: "+999 123 4567", FirstName: "Ada", Invalid: `phone_number: "+999 123 4567" is not a valid phone number`},
		},
		{
			name: "blank first name is not invalid here",
			rec:  Record{Line: 2, Phone: "+12125550100", FirstName: "  "},
			want: Desired{Line: 2, Phone: "+12125550100"},
		},
		{
			name: "NFC",
			rec:  Record{Line: 2, Phone: "+12125550100", FirstName: "Jose\u0301", LastName: "Zoe\u0308"},
			want: Desired{Line: 2, Phone: "+12125550100", FirstName: "José", LastName: "Zoë"},
		},
		{
			name: "control character in a name",
			rec:  Record{Line: 2, Phone: "+12125550100", FirstName: "Ada\nAugusta", LastName: "Love\x00lace"},
			want: Desired{Line: 2, Phone: "+12125550100", FirstName: "Ada\nAugusta", LastName: "Love\x00lace",
				Invalid: `first_name: "Ada\nAugusta" contains a control character (U+000A); last_name: "Love\x00lace" contains a control character (U+0000)`},
		},
		{
			name: "name of 256 characters",
			rec:  Record{Line: 2, Phone: "+12125550100", FirstName: long},
			want: Desired{Line: 2, Phone: "+12125550100", FirstName: long},
		},
		{
			name: "name longer than 256 characters",
			rec:  Record{Line: 2, Phone: "+12125550100", FirstName: "Ada", LastName: long + "x"},
			want: Desired{Line: 2, Phone: "+12125550100", FirstName: "Ada", LastName: long + "x", Invalid: "last_name: longer than 256 characters"},
		},
		{
			name: "https URL, scheme in capitals",
			rec:  Record{Line: 2, Phone: "+12125550100", FirstName: "Ada", ImageURL: "HTTPS://img.example/a.png?size=2"},
			want: Desired{Line: 2, Phone: "+12125550100", FirstName: "Ada", ImageURL: "HTTPS://img.example/a.png?size=2"},
		},
		{
			name: "http URL",
			rec:  Record{Line: 2, Phone: "+12125550100", FirstName: "Ada", ImageURL: "http://x/y.png"},
			want: Desired{Line: 2, Phone: "+12125550100", FirstName: "Ada", ImageURL: "http://x/y.png",
				Invalid: `image_url: "http://x/y.png" must be an absolute https URL`},
		},
		{
			name: "relative URL",
			rec:  Record{Line: 2, Phone: "+12125550100", FirstName: "Ada", ImageURL: "/img/a.png"},
			want: Desired{Line: 2, Phone: "+12125550100", FirstName: "Ada", ImageURL: "/img/a.png",
				Invalid: `image_url: "/img/a.png" must be an absolute https URL`},
		},
		{
			name: "URL without a host",
			rec:  Record{Line: 2, Phone: "+12125550100", FirstName: "Ada", ImageURL: "https:///a.png"},
			want: Desired{Line: 2, Phone: "+12125550100", FirstName: "Ada", ImageURL: "https:///a.png",
				Invalid: `image_url: "https:///a.png" must be an absolute https URL`},
		},
		{
			name: "not a URL",
			rec:  Record{Line: 2, Phone: "+12125550100", FirstName: "Ada", ImageURL: "https://exa mple.com/a.png"},
			want: Desired{Line: 2, Phone: "+12125550100", FirstName: "Ada", ImageURL: "https://exa mple.com/a.png",
				Invalid: `image_url: "https://exa mple.com/a.png" must be an absolute https URL`},
		},
		{
			name: "every reason at once",
			rec:  Record{Line: 9, Phone: "abc", FirstName: "A\tB", ImageURL: "ftp://x/y"},
			want: Desired{Line: 9, Phone: "abc", FirstName: "A\tB", ImageURL: "ftp://x/y",
				Invalid: `phone_number: "abc" contains letters; give the number in digits; first_name: "A\tB" contains a control character (U+0009); image_url: "ftp://x/y" must be an absolute https URL`},
		},
		{
			name: "long cells are cut short in reasons",
			rec:  Record{Line: 2, Phone: strings.Repeat("9", 100) + "*", FirstName: "Ada"},
			want: Desired{Line: 2, Phone: strings.Repeat("9", 100) + "*", FirstName: "Ada",
				Invalid: `phone_number: "` + strings.Repeat("9", 64) + `"… contains '*'; a phone number holds digits, spaces and + ( ) - . / only`},
		},
		{
			name: "a record the source could not read",
			rec:  Record{Line: 7, Phone: " +12125550100 ", FirstName: " Ada", Problem: "row has 2 cells, the header 3"},
			want: Desired{Line: 7, Phone: "+12125550100", FirstName: "Ada", Invalid: "row has 2 cells, the header 3"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Normalize(tt.rec, NormalizeOptions{Region: tt.region})
			if got != tt.want {
				t.Errorf("Normalize(%+v)\n got %+v\nwant %+v", tt.rec, got, tt.want)
			}
		})
	}
}

func TestCheckRegion(t *testing.T) {
	tests := []struct {
		region  string
		wantErr string
	}{
		{"", ""},
		{"US", ""},
		{"gb", ""},
		{"DE", ""},
		{"XX", `--region: unknown region "XX"; use an ISO 3166 code such as US, GB, DE`},
		{"USA", `--region: unknown region "USA"`},
		{"001", `--region: unknown region "001"`},
	}
	for _, tt := range tests {
		t.Run(tt.region, func(t *testing.T) {
			err := CheckRegion(tt.region)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got %v, want an ErrUsage containing %q", err, tt.wantErr)
			}
		})
	}
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// FuzzNormalizePhone checks that no phone cell makes Normalize panic, that a
// valid number comes out in E.164 and normalises to itself, and that an
// invalid one keeps the cell and names the field. Seeds are in
// testdata/fuzz/FuzzNormalizePhone.
func FuzzNormalizePhone(f *testing.F) {
	f.Fuzz(func(t *testing.T, phone, region string) {
		if CheckRegion(region) != nil {
			region = "US"
		}
		opts := NormalizeOptions{Region: region}
		d := Normalize(Record{Line: 2, Phone: phone, FirstName: "Ada"}, opts)
		if d.Invalid != "" {
			if !strings.HasPrefix(d.Invalid, "phone_number: ") {
				t.Fatalf("reason %q does not name the field", d.Invalid)
			}
			if d.Phone != strings.TrimSpace(phone) {
				t.Fatalf("invalid phone %q came out as %q, not the trimmed cell", phone, d.Phone)
			}
			return
		}
		if !e164.MatchString(d.Phone) {
			t.Fatalf("%q came out as %q, not E.164", phone, d.Phone)
		}
		again := Normalize(Record{Line: 2, Phone: d.Phone, FirstName: "Ada"}, opts)
		if again.Phone != d.Phone || again.Invalid != "" {
			t.Fatalf("%q came out as %q, which normalises to %q (%s)", phone, d.Phone, again.Phone, again.Invalid)
		}
	})
}

func BenchmarkNormalize(b *testing.B) {
	rec := Record{Line: 2, Phone: "(212) 555-0100", FirstName: "Ada", LastName: "Lovelace", ImageURL: "https://img.example/a.png"}
	for b.Loop() {
		Normalize(rec, NormalizeOptions{})
	}
}

// BenchmarkNormalizePhone times the phone cell alone, in the shapes a file
// of contacts mostly holds.
func BenchmarkNormalizePhone(b *testing.B) {
	for _, phone := range []string{
		"+12125550101",
		"(212) 555-0101",
		"1-212-555-0101",
		"+1 416 555 0101",
		"+44 20 7946 0958",
		"555-0101",
		"N/A",
	} {
		b.Run(phone, func(b *testing.B) {
			for b.Loop() {
				normalizePhone(phone, "US")
			}
		})
	}
}
