package sync

import (
	"slices"
	"strings"
	"testing"
)

func TestKeptRecords(t *testing.T) {
	records := []Desired{
		{Line: 2, Phone: "+12122000000", FirstName: "Ada", LastName: "Lovelace", ImageURL: "https://img.example/a.png"},
		{Line: 3},
		{Line: 5, Phone: "not a number", FirstName: "Zoë", Invalid: `phone_number: "not a number" is not a valid phone number`},
		{Line: 1 << 31, Phone: "+442071838750", LastName: "Mañana, Jr."},
	}
	// Enough records to fill several chunks and blocks.
	long := strings.Repeat("x", 1000)
	for i := range 1000 {
		records = append(records, Desired{Line: 10 + i, Phone: "+1212200" + long[:i%7], FirstName: long[:i%1000], ImageURL: long[:i%300]})
	}
	var k keptRecords
	for _, d := range records {
		k.add(d, keepBytes)
	}
	if !k.done() {
		t.Fatal("records under the bound were not kept")
	}
	if got := slices.Collect(k.All()); !slices.Equal(got, records) {
		t.Errorf("kept records differ from those added")
	}

	for _, tc := range []struct {
		name  string
		limit int
		d     Desired
	}{
		{"past the bound", 100, Desired{Line: 4, Phone: "+12122000001"}},
		{"a cell too long for a record", keepBytes, Desired{Line: 4, Invalid: strings.Repeat("x", 1<<16)}},
		{"a line past 32 bits", keepBytes, Desired{Line: 1 << 32}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var k keptRecords
			k.add(records[0], tc.limit)
			k.add(tc.d, tc.limit)
			k.add(records[1], tc.limit)
			if k.done() {
				t.Errorf("kept %d records, want none", len(slices.Collect(k.All())))
			}
		})
	}
}
