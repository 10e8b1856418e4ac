package sync

import (
	"fmt"
	"strconv"
	"strings"
)

// Choices are the values a flag allows, in the order help lists them. They
// are the one list of a flag's values: the Parse functions check against
// it, and cmd/bulksync's flags check with it when the command line is
// parsed and show it in help, so a value cannot be allowed in one place and
// refused in another.
type Choices struct {
	Flag   string   // as the user types it: "--empty"
	Values []string // canonical, lower case
	// Aliases are other spellings of a value, accepted but not listed.
	Aliases map[string]string
}

// Parse returns s as one of the values, whatever its case, or a usage
// error naming the flag and the values.
func (c Choices) Parse(s string) (string, error) {
	if v, ok := c.Aliases[s]; ok {
		return v, nil
	}
	for _, v := range c.Values {
		if strings.EqualFold(s, v) {
			return v, nil
		}
	}
	list := make([]string, len(c.Values))
	for i, v := range c.Values {
		list[i] = v
		if strings.ContainsAny(v, ",; ") {
			list[i] = strconv.Quote(v)
		}
	}
	return "", fmt.Errorf("%w: %s: unknown %q; allowed: %s", ErrUsage, c.Flag, s, strings.Join(list, ", "))
}

// The enumerated flags of plan, apply and export.
var (
	EmptyPolicies     = Choices{Flag: "--empty", Values: []string{string(EmptyKeep), string(EmptyClear)}}
	DuplicatePolicies = Choices{Flag: "--on-duplicate", Values: []string{string(DuplicateError), string(DuplicateFirst), string(DuplicateLast)}}
	InputFormats      = Choices{Flag: "--format", Values: []string{"auto", FormatCSV, FormatXLSX}}
	Encodings         = Choices{Flag: "--encoding", Values: []string{"auto", "utf-8", "windows-1252", "latin-1", "utf-16"}}
	Presets           = Choices{Flag: "--preset", Values: presetNames()}
	Delimiters        = Choices{Flag: "--delimiter", Values: []string{",", ";", "tab"}, Aliases: map[string]string{"\t": "tab", `\t`: "tab"}}
	ExportFormats     = Choices{Flag: "--format", Values: []string{string(ExportCSV), string(ExportJSONL)}}
)

// presetNames is "auto", then the presets in the order auto-detection
// prefers them.
func presetNames() []string {
	names := []string{"auto"}
	for _, p := range presets {
		names = append(names, p.name)
	}
	return names
}

// ParseDelimiter checks the --delimiter flag: "" (detect it from the
// header) is 0.
func ParseDelimiter(s string) (rune, error) {
	if s == "" {
		return 0, nil
	}
	v, err := Delimiters.Parse(s)
	switch {
	case err != nil:
		return 0, err
	case v == "tab":
		return '\t', nil
	}
	return rune(v[0]), nil
}
