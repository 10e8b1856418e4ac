package sync

import (
	"errors"
	"strings"
	"testing"
)

func TestChoicesParse(t *testing.T) {
	tests := []struct {
		c       Choices
		in      string
		want    string
		wantErr string
	}{
		{EmptyPolicies, "keep", "keep", ""},
		{EmptyPolicies, "CLEAR", "clear", ""},
		{EmptyPolicies, "", "", `--empty: unknown ""; allowed: keep, clear`},
		{Presets, "HubSpot", "hubspot", ""},
		{Presets, "zoho", "", `--preset: unknown "zoho"; allowed: auto, generic, hubspot, salesforce`},
		{Delimiters, "\t", "tab", ""},
		{Delimiters, `\t`, "tab", ""},
		{Delimiters, "|", "", `--delimiter: unknown "|"; allowed: ",", ";", tab`},
		{Encodings, "Latin-1", "latin-1", ""},
	}
	for _, tt := range tests {
		got, err := tt.c.Parse(tt.in)
		if tt.wantErr != "" {
			if !errors.Is(err, ErrUsage) || !strings.HasSuffix(err.Error(), tt.wantErr) {
				t.Errorf("%s %q: error %v, want one ending %q", tt.c.Flag, tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s %q = %q, %v; want %q", tt.c.Flag, tt.in, got, err, tt.want)
		}
	}
}

func TestParseDelimiter(t *testing.T) {
	for in, want := range map[string]rune{"": 0, ",": ',', ";": ';', "tab": '\t', "TAB": '\t', "\t": '\t'} {
		if got, err := ParseDelimiter(in); err != nil || got != want {
			t.Errorf("ParseDelimiter(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseDelimiter(":"); !errors.Is(err, ErrUsage) {
		t.Errorf("ParseDelimiter(\":\"): %v, want a usage error", err)
	}
}
