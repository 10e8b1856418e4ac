package sync

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"errors"
	"hash/crc32"
	"io"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

// workbook builds an .xlsx in memory: build gets a new file whose first
// sheet is "Contacts".
func workbook(t testing.TB, build func(f *excelize.File)) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetName("Sheet1", "Contacts"); err != nil {
		t.Fatal(err)
	}
	build(f)
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// setRow writes cells from column A of row.
func setRow(t testing.TB, f *excelize.File, sheet string, row int, cells ...any) {
	t.Helper()
	cell, err := excelize.CoordinatesToCellName(1, row)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.SetSheetRow(sheet, cell, &cells); err != nil {
		t.Fatal(err)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestXLSXSource(t *testing.T) {
	data := workbook(t, func(f *excelize.File) {
		style := func(s *excelize.Style) int {
			id, err := f.NewStyle(s)
			must(t, err)
			return id
		}
		zeros := "00000000000"
		sci, lead, date, grouped := style(&excelize.Style{NumFmt: 11}), style(&excelize.Style{CustomNumFmt: &zeros}),
			style(&excelize.Style{NumFmt: 14}), style(&excelize.Style{NumFmt: 3})
		// The stream writer stores a formula with its cached value, as
		// Excel does.
		sw, err := f.NewStreamWriter("Contacts")
		must(t, err)
		for _, row := range []struct {
			n     int
			cells []any
		}{
			{1, []any{"Record ID", "First Name", "Last Name", "Phone Number", "Mobile Phone Number", "Create Date"}},
			// A number typed into Excel, stored as a number.
			{2, []any{1, "Ada", "Lovelace", 14155550101, nil, excelize.Cell{StyleID: date, Value: 45000}}},
			// The same shown in scientific notation: Excel displays 1.42E+10.
			{3, []any{2, "Grace", "Hopper", excelize.Cell{StyleID: sci, Value: 14155550102}}},
			// Stored with an exponent, as some writers do.
			{4, []any{3, "Alan", "Turing", 1.4155550103e10}},
			// A leading zero kept by a custom format; a date in a name.
			{5, []any{4, "Zoë", excelize.Cell{StyleID: date, Value: 45000}, excelize.Cell{StyleID: lead, Value: 7700900123}}},
			// Row 6 is missing, row 7 only formatted.
			{7, []any{excelize.Cell{StyleID: sci}, excelize.Cell{StyleID: sci}}},
			// Formulas, read as their cached values.
			{8, []any{5, excelize.Cell{Formula: `PROPER("edsger")`, Value: "Edsger"}, nil, excelize.Cell{Formula: "14155550000+104", Value: 14155550104}}},
			// Only a mobile number: the preset falls back to it.
			{9, []any{6, "Bob", "", "", "+1 (415) 555-0105"}},
			// Thousands separators are display only.
			{10, []any{7, "Cy", "", excelize.Cell{StyleID: grouped, Value: 14155550106}}},
			// A merged cell: its value is in the first cell only, as
			// Excel's own CSV export writes it.
			{11, []any{8, "Di", "Merged", 14155550107}},
			{12, []any{9, "Ed", nil, 14155550108}},
			// A row of blank cells in the mapped columns is a record.
			{13, []any{10}},
		} {
			cell, err := excelize.CoordinatesToCellName(1, row.n)
			must(t, err)
			must(t, sw.SetRow(cell, row.cells))
		}
		must(t, sw.MergeCell("C11", "C12"))
		must(t, sw.Flush())
	})
	src, recs, err := readSource(data, SourceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Record{
		{Line: 2, Phone: "14155550101", FirstName: "Ada", LastName: "Lovelace"},
		{Line: 3, Phone: "14155550102", FirstName: "Grace", LastName: "Hopper"},
		{Line: 4, Phone: "14155550103", FirstName: "Alan", LastName: "Turing"},
		{Line: 5, Phone: "07700900123", FirstName: "Zoë", LastName: "03-15-23"},
		{Line: 8, Phone: "14155550104", FirstName: "Edsger"},
		{Line: 9, Phone: "+1 (415) 555-0105", FirstName: "Bob"},
		{Line: 10, Phone: "14155550106", FirstName: "Cy"},
		{Line: 11, Phone: "14155550107", FirstName: "Di", LastName: "Merged"},
		{Line: 12, Phone: "14155550108", FirstName: "Ed"},
		{Line: 13},
	}
	if len(recs) != len(want) {
		t.Fatalf("got %d records, want %d:\n%+v", len(recs), len(want), recs)
	}
	for i := range want {
		if recs[i] != want[i] {
			t.Errorf("record %d:\n got %+v\nwant %+v", i, recs[i], want[i])
		}
	}
	if src.Preset() != "hubspot" {
		t.Errorf("Preset() = %q, want hubspot", src.Preset())
	}
	if in := src.Input(); in != (InputInfo{Format: FormatXLSX, Sheet: "Contacts"}) {
		t.Errorf("Input() = %+v", in)
	}
	must(t, src.Close())
}

func TestXLSXSheets(t *testing.T) {
	data := workbook(t, func(f *excelize.File) {
		// The header need not be on row 1.
		setRow(t, f, "Contacts", 3, "phone_number", "first_name")
		setRow(t, f, "Contacts", 4, "+12125550100", "Ada")
		_, err := f.NewSheet("Archive 2024")
		must(t, err)
		setRow(t, f, "Archive 2024", 1, "Phone", "FirstName")
		setRow(t, f, "Archive 2024", 2, "+12125550199", "Old")
		_, err = f.NewSheet("Empty")
		must(t, err)
	})
	_, recs, err := readSource(data, SourceOptions{})
	if err != nil || len(recs) != 1 || recs[0] != (Record{Line: 4, Phone: "+12125550100", FirstName: "Ada"}) {
		t.Errorf("first sheet: %+v, %v", recs, err)
	}
	src, recs, err := readSource(data, SourceOptions{Sheet: "archive 2024"})
	if err != nil || len(recs) != 1 || recs[0] != (Record{Line: 2, Phone: "+12125550199", FirstName: "Old"}) {
		t.Errorf("--sheet: %+v, %v", recs, err)
	}
	if err == nil && (src.Input().Sheet != "Archive 2024" || src.Preset() != "salesforce") {
		t.Errorf("--sheet: %+v, preset %s", src.Input(), src.Preset())
	}

	for _, tt := range []struct {
		opts    SourceOptions
		wantErr string
	}{
		{SourceOptions{Sheet: "Leads"}, `--sheet "Leads": no such sheet; the workbook has "Contacts", "Archive 2024", "Empty"`},
		{SourceOptions{Sheet: "Empty"}, `sheet "Empty" is empty: no header`},
		{SourceOptions{Delimiter: ';'}, "--delimiter is for CSV input"},
		{SourceOptions{Encoding: "windows-1252"}, "--encoding is for CSV input"},
		{SourceOptions{Map: map[string]string{FieldLastName: "Surname"}}, `--map last_name="Surname": no such column; the header has "phone_number", "first_name"`},
		{SourceOptions{Format: "csv"}, "does not look like CSV"},
	} {
		_, err := OpenSource(bytes.NewReader(data), tt.opts)
		if err == nil || !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%+v: got %v, want a usage error containing %q", tt.opts, err, tt.wantErr)
		}
	}
}

func TestCellText(t *testing.T) {
	tests := []struct{ raw, shown, want string }{
		{"Ada", "Ada", "Ada"},
		{"14155550101", "14155550101", "14155550101"},
		{"14155550101", "1.42E+10", "14155550101"},
		{"1.4155550101E10", "14155550101", "14155550101"},
		{"14155550101.0", "14155550101", "14155550101"},
		{"14155550101", "14,155,550,101", "14155550101"},
		{"4155550101", "(415) 555-0101", "(415) 555-0101"},
		{"7700900123", "07700 900123", "07700 900123"},
		{"4155550101.4", "4155550101", "4155550101.4"},
		{"45000", "03-15-23", "03-15-23"},
		{"0.5", "50%", "50%"},
		{"1", "TRUE", "TRUE"},
		{"", "", ""},
	}
	for _, tt := range tests {
		if got := cellText(tt.raw, tt.shown); got != tt.want {
			t.Errorf("cellText(%q, %q) = %q, want %q", tt.raw, tt.shown, got, tt.want)
		}
	}
}

// rawZip builds a ZIP archive whose entries' headers are given as is, so
// that they can lie about sizes and checksums.
func rawZip(t testing.TB, entries map[string]func(*zip.FileHeader) []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, build := range entries {
		h := &zip.FileHeader{Name: name, Method: zip.Deflate}
		body := build(h)
		h.CompressedSize64 = uint64(len(body))
		w, err := zw.CreateRaw(h)
		must(t, err)
		_, err = w.Write(body)
		must(t, err)
	}
	must(t, zw.Close())
	return buf.Bytes()
}

// deflated compresses b.
func deflated(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	w, err := flate.NewWriter(&buf, flate.BestCompression)
	must(t, err)
	w.Write(b)
	must(t, w.Close())
	return buf.Bytes()
}

// A hostile or damaged workbook is refused with a usage error before
// anything large is allocated.
func TestXLSXBounds(t *testing.T) {
	zeros := make([]byte, 8<<20)
	packed := deflated(t, zeros)
	tests := []struct {
		name    string
		data    []byte
		wantErr string
	}{
		{"huge shared strings", rawZip(t, map[string]func(*zip.FileHeader) []byte{
			"xl/sharedStrings.xml": func(h *zip.FileHeader) []byte {
				h.UncompressedSize64, h.CRC32 = maxSharedStrings+1, 0
				return packed
			},
		}), "the workbook's shared strings take 128 MiB, more than the 128 MiB allowed"},
		{"parts too large to hold", rawZip(t, map[string]func(*zip.FileHeader) []byte{
			"xl/styles.xml": func(h *zip.FileHeader) []byte {
				h.UncompressedSize64 = maxWorkbookMemory + 1
				return packed
			},
		}), "the workbook unzips to more than 64 MiB"},
		{"a part larger than it says (ZIP bomb)", rawZip(t, map[string]func(*zip.FileHeader) []byte{
			"xl/worksheets/sheet1.xml": func(h *zip.FileHeader) []byte {
				h.UncompressedSize64, h.CRC32 = 100, crc32.ChecksumIEEE(zeros)
				return packed
			},
		}), "input is not a readable .xlsx workbook: xl/worksheets/sheet1.xml: zip: not a valid zip file"},
		{"damaged part", rawZip(t, map[string]func(*zip.FileHeader) []byte{
			"xl/worksheets/sheet1.xml": func(h *zip.FileHeader) []byte {
				h.UncompressedSize64, h.CRC32 = uint64(len(zeros)), 12345
				return packed
			},
		}), "zip: checksum error"},
		{"ZIP without a workbook", rawZip(t, map[string]func(*zip.FileHeader) []byte{
			"contacts.csv": func(h *zip.FileHeader) []byte {
				body := []byte("phone_number,first_name\n")
				h.UncompressedSize64, h.CRC32 = uint64(len(body)), crc32.ChecksumIEEE(body)
				return deflated(t, body)
			},
		}), "input is not a readable .xlsx workbook"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := OpenSource(bytes.NewReader(tt.data), SourceOptions{})
			if err == nil || !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %v, want a usage error containing %q", err, tt.wantErr)
			}
		})
	}
}

// FuzzXLSXSource checks that no workbook, however malformed, makes the
// source panic: it opens with a usage error, or yields records until io.EOF
// or a usage error.
func FuzzXLSXSource(f *testing.F) {
	f.Add(workbook(f, func(x *excelize.File) {
		setRow(f, x, "Contacts", 1, "phone_number", "first_name", "last_name")
		setRow(f, x, "Contacts", 2, 14155550101, "Ada", "Lovelace")
		setRow(f, x, "Contacts", 4, "+14155550102", "Grace")
		must(f, x.MergeCell("Contacts", "C2", "C4"))
	}))
	f.Add([]byte("PK\x03\x04"))
	f.Fuzz(func(t *testing.T, data []byte) {
		src, err := OpenSource(bytes.NewReader(data), SourceOptions{Format: FormatXLSX})
		if err != nil {
			if !errors.Is(err, ErrUsage) {
				t.Fatalf("error %v does not wrap ErrUsage", err)
			}
			return
		}
		defer src.Close()
		for range 1 << 20 {
			_, err := src.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				if !errors.Is(err, ErrUsage) {
					t.Fatalf("error %v does not wrap ErrUsage", err)
				}
				return
			}
		}
	})
}
