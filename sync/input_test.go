package sync

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	textunicode "golang.org/x/text/encoding/unicode"
)

func TestSourceDetectsEncoding(t *testing.T) {
	ascii := "phone_number,first_name\n" + strings.Repeat("+12125550100,Ada\n", detectSize/17+1)
	const cutAt = "phone_number,first_name\n+12125550100,Zoë\n+12125550101,"
	tests := []struct {
		name      string
		input     []byte
		opts      SourceOptions
		wantFirst string // first name of the first record
		wantLast  Record // the last record, when set
		wantInfo  InputInfo
	}{
		{
			name:      "UTF-8",
			input:     []byte("phone_number,first_name\n+12125550100,Zoë\n"),
			wantFirst: "Zoë",
			wantInfo:  InputInfo{Format: FormatCSV, Encoding: "utf-8"},
		},
		{
			name:      "UTF-8 with a byte-order mark",
			input:     []byte("\uFEFFphone_number,first_name\n+12125550100,Zoë\n"),
			wantFirst: "Zoë",
			wantInfo:  InputInfo{Format: FormatCSV, Encoding: "utf-8"},
		},
		{
			name:      "a UTF-8 byte-order mark wins over invalid bytes",
			input:     []byte("\uFEFFphone_number,first_name\n+12125550100,Zoë\n+12125550101,Zo\xeb\n"),
			wantFirst: "Zoë",
			wantLast: Record{Phone: "+12125550101", FirstName: "Zo\uFFFD",
				Problem: `invalid UTF-8 in column "first_name"; if the file is not UTF-8, use --encoding windows-1252 or latin-1`},
			wantInfo: InputInfo{Format: FormatCSV, Encoding: "utf-8"},
		},
		{
			name:      "not UTF-8: windows-1252",
			input:     []byte("phone_number;first_name\r\n+12125550100;Zo\xeb \x80\r\n"),
			wantFirst: "Zoë €",
			wantInfo:  InputInfo{Format: FormatCSV, Encoding: "windows-1252", Detected: "detected: not valid UTF-8"},
		},
		{
			name:      "UTF-16LE byte-order mark",
			input:     utf16Bytes(t, textunicode.LittleEndian, "phone_number,first_name\r\n+12125550100,Zoë\r\n"),
			wantFirst: "Zoë",
			wantInfo:  InputInfo{Format: FormatCSV, Encoding: "utf-16", Detected: "detected: UTF-16 byte-order mark"},
		},
		{
			name:      "UTF-16BE byte-order mark",
			input:     utf16Bytes(t, textunicode.BigEndian, "phone_number\tfirst_name\n+12125550100\tZoë\n"),
			wantFirst: "Zoë",
			wantInfo:  InputInfo{Format: FormatCSV, Encoding: "utf-16", Detected: "detected: UTF-16 byte-order mark"},
		},
		{
			name:      "--encoding overrides detection",
			input:     []byte("phone_number,first_name\n+12125550100,Zo\xeb\n"),
			opts:      SourceOptions{Encoding: "latin-1"},
			wantFirst: "Zoë",
			wantInfo:  InputInfo{Format: FormatCSV, Encoding: "latin-1"},
		},
		{
			// Detection reads the first detectSize bytes; a character cut
			// at that boundary is not mistaken for a broken one.
			name:      "a character across the end of the detection window",
			input:     []byte(cutAt + strings.Repeat("x", detectSize-len(cutAt)-1) + "ë\n"),
			wantFirst: "Zoë",
			wantInfo:  InputInfo{Format: FormatCSV, Encoding: "utf-8"},
		},
		{
			// Past the detection window the file is read as UTF-8, and a
			// row with a windows-1252 byte is reported with a hint.
			name:      "a windows-1252 byte after the detection window",
			input:     []byte(ascii + "+12125550101,Zo\xeb\n"),
			wantFirst: "Ada",
			wantLast: Record{Phone: "+12125550101", FirstName: "Zo\uFFFD",
				Problem: `invalid UTF-8 in column "first_name"; if the file is not UTF-8, use --encoding windows-1252 or latin-1`},
			wantInfo: InputInfo{Format: FormatCSV, Encoding: "utf-8"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, recs, err := readSource(tt.input, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) == 0 || recs[0].FirstName != tt.wantFirst {
				t.Fatalf("first record %s, want first name %q", shorten(recs), tt.wantFirst)
			}
			if tt.wantLast != (Record{}) {
				last := recs[len(recs)-1]
				last.Line = 0
				if last != tt.wantLast {
					t.Errorf("last record %+v, want %+v", last, tt.wantLast)
				}
			}
			if src.Input() != tt.wantInfo {
				t.Errorf("Input() = %+v, want %+v", src.Input(), tt.wantInfo)
			}
		})
	}
}

func TestValidUTF8Prefix(t *testing.T) {
	tests := []struct {
		b     string
		atEOF bool
		want  bool
	}{
		{"abc", false, true},
		{"ab\xc3", false, true},     // é cut after its first byte
		{"ab\xc3", true, false},     // ... at the end of the file it is broken
		{"ab\xe2\x82", false, true}, // € cut after two bytes
		{"ab\xeb", false, true},     // could start a 3-byte character
		{"a\xebb", false, false},    // windows-1252 ë
		{"ab\xff", false, false},    // never valid
		{"", true, true},
	}
	for _, tt := range tests {
		if got := validUTF8Prefix([]byte(tt.b), tt.atEOF); got != tt.want {
			t.Errorf("validUTF8Prefix(%q, %v) = %v, want %v", tt.b, tt.atEOF, got, tt.want)
		}
	}
}

func TestSourceFormatErrors(t *testing.T) {
	tests := []struct {
		name    string
		input   []byte
		opts    SourceOptions
		wantErr string
	}{
		{"unknown format", []byte("phone_number,first_name\n"), SourceOptions{Format: "ods"}, `--format: unknown "ods"; allowed: auto, csv, xlsx`},
		{"legacy .xls", []byte("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1\x00\x00"), SourceOptions{}, "legacy .xls workbook"},
		{"--sheet on CSV", []byte("phone_number,first_name\n"), SourceOptions{Sheet: "Contacts"}, "--sheet is for .xlsx workbooks"},
		{"ZIP that is not a workbook", []byte("PK\x03\x04\x14\x00\x06\x00"), SourceOptions{}, "input is not a readable .xlsx workbook"},
		{"CSV read as xlsx", []byte("phone_number,first_name\n"), SourceOptions{Format: "xlsx"}, "input is not a readable .xlsx workbook"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := OpenSource(bytes.NewReader(tt.input), tt.opts)
			if err == nil || !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %v, want a usage error containing %q", err, tt.wantErr)
			}
		})
	}
}
