package sync

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestCountryRegion(t *testing.T) {
	known := map[string]string{
		"GB": "GB", "gb": "GB", " GB ": "GB", "GBR": "GB", "826": "GB", "UK": "GB", "U.K.": "GB",
		"United Kingdom": "GB", "united kingdom": "GB", "UNITED  KINGDOM": "GB", "Great Britain": "GB", "England": "GB",
		"US": "US", "USA": "US", "U.S.A.": "US", "U.S.": "US", "United States": "US", "United States of America": "US",
		"Germany": "DE", "DEU": "DE", "Deutschland": "DE",
		"Côte d’Ivoire": "CI", "Cote d'Ivoire": "CI", "Ivory Coast": "CI",
		"St. Lucia": "LC", "Saint Lucia": "LC", "Bosnia and Herzegovina": "BA", "Bosnia & Herzegovina": "BA",
		"Korea, Republic of": "KR", "South Korea": "KR", "Russian Federation": "RU", "Viet Nam": "VN",
		"Åland Islands": "AX", "Czech Republic": "CZ", "Czechia": "CZ", "The Netherlands": "NL",
	}
	for cell, want := range known {
		if got, ok := countryRegion(cell); !ok || got != want {
			t.Errorf("countryRegion(%q) = %q, %v; want %q", cell, got, ok, want)
		}
	}
	// Not countries, or regions without a numbering plan.
	for _, cell := range []string{"Narnia", "EU", "EMEA", "ZZ", "AQ", "West", "", "1", "United"} {
		if got, ok := countryRegion(cell); ok {
			t.Errorf("countryRegion(%q) = %q, want unknown", cell, got)
		}
	}
}

func TestNormalizeRegionPerRow(t *testing.T) {
	tests := []struct {
		name      string
		rec       Record
		region    string // --region
		wantPhone string
		wantBad   string
	}{
		{"a name", Record{Phone: "020 7946 0123", FirstName: "Zoë", Region: "United Kingdom"}, "", "+442079460123", ""},
		{"an ISO code", Record{Phone: "030 1234567", FirstName: "Jo", Region: "de"}, "", "+49301234567", ""},
		{"blank: --region", Record{Phone: "020 7946 0123", FirstName: "Zoë", Region: " "}, "GB", "+442079460123", ""},
		{"blank: US by default", Record{Phone: "(415) 555-0101", FirstName: "Ada"}, "", "+14155550101", ""},
		{"the row's country wins over --region", Record{Phone: "(415) 555-0101", FirstName: "Ada", Region: "US"}, "GB", "+14155550101", ""},
		{"a number with + needs no country", Record{Phone: "+44 20 7946 0123", FirstName: "Zoë", Region: "Narnia"}, "", "+442079460123", ""},
		{"an unknown country", Record{Phone: "020 7946 0123", FirstName: "Zoë", Region: "Narnia"}, "",
			"020 7946 0123", `region: "Narnia" is not a country name or ISO 3166 code (such as GB or United Kingdom)`},
		{"the country's plan decides validity", Record{Phone: "020 7946 0123", FirstName: "Zoë", Region: "US"}, "",
			"020 7946 0123", `phone_number: "020 7946 0123" is not a valid number for region US`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Normalize(tt.rec, NormalizeOptions{Region: tt.region})
			if d.Phone != tt.wantPhone || d.Invalid != tt.wantBad {
				t.Errorf("got phone %q, invalid %q; want %q, %q", d.Phone, d.Invalid, tt.wantPhone, tt.wantBad)
			}
		})
	}
}

func TestSourceRegionColumn(t *testing.T) {
	tests := []struct {
		name       string
		input      string
		opts       SourceOptions
		wantRegion []string
		wantColumn string
	}{
		{"hubspot", "First Name,Phone Number,Country/Region\nAda,020 7946 0123,United Kingdom\nBob,(415) 555-0101,\n", SourceOptions{},
			[]string{"United Kingdom", ""}, "Country/Region"},
		{"salesforce falls back to MailingCountry", "FirstName,Phone,MailingCountryCode,MailingCountry\nAda,020 7946 0123,GB,\nBob,030 1234567,,Germany\n", SourceOptions{},
			[]string{"GB", "Germany"}, "MailingCountryCode"},
		{"generic", "phone_number,first_name,country\n020 7946 0123,Ada,GB\n", SourceOptions{}, []string{"GB"}, "country"},
		{"--region-column", "phone_number,first_name,Land\n020 7946 0123,Ada,GB\n", SourceOptions{Map: map[string]string{FieldRegion: "land"}},
			[]string{"GB"}, "Land"},
		{"no country column", "phone_number,first_name\n020 7946 0123,Ada\n", SourceOptions{}, []string{""}, ""},
		// Which of two Country columns is the contact's is a guess: the
		// preset leaves both out.
		{"two country columns", "FirstName,Phone,Country,Country\nAda,020 7946 0123,GB,US\n", SourceOptions{}, []string{""}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, recs, err := readSource([]byte(tt.input), tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != len(tt.wantRegion) {
				t.Fatalf("%d records, want %d", len(recs), len(tt.wantRegion))
			}
			for i, rec := range recs {
				if rec.Region != tt.wantRegion[i] {
					t.Errorf("record %d: region %q, want %q", i, rec.Region, tt.wantRegion[i])
				}
			}
			if got := src.Columns()[FieldRegion]; got != tt.wantColumn {
				t.Errorf("region column %q, want %q", got, tt.wantColumn)
			}
		})
	}

	_, err := OpenSource(bytes.NewReader([]byte("FirstName,Phone,Country,Country\n")), SourceOptions{Map: map[string]string{FieldRegion: "Country"}})
	if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), `columns 3, 4 of the header are all named "Country"`) {
		t.Errorf("--region-column naming two columns: got %v", err)
	}
	_, err = OpenSource(bytes.NewReader([]byte("phone_number,first_name\n")), SourceOptions{Map: map[string]string{FieldRegion: "Country"}})
	if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), `--region-column "Country": no such column; the header has "phone_number", "first_name"`) {
		t.Errorf("unknown region column: got %v", err)
	}
}
