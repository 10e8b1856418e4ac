package sync

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"maps"
	"math"
	"strconv"
	"strings"

	"github.com/xuri/excelize/v2"
)

// Bounds on what reading a workbook may take, so that a malformed or
// hostile file (a ZIP bomb, a huge shared-strings table) is refused with an
// error instead of exhausting memory. A usual export of 100,000 contacts is a
// few MiB of .xlsx and far below each of them; larger exports go as CSV,
// which is streamed in constant memory.
const (
	// maxWorkbookSize is the most .xlsx bytes read: the archive is held in
	// memory while it is opened.
	maxWorkbookSize = 256 << 20
	// xlsxStreamSize is excelize's UnzipXMLSizeLimit: a worksheet or
	// shared-strings table larger than this is unzipped to a temporary file
	// and streamed from there instead of being held in memory.
	xlsxStreamSize = 4 << 20
	// maxWorkbookMemory bounds the unzipped size of the parts held in
	// memory: everything but the worksheets and shared strings that are
	// streamed.
	maxWorkbookMemory = 64 << 20
	// maxSharedStrings bounds the shared-strings table: even streamed, it
	// costs an index entry per string.
	maxSharedStrings = 128 << 20
	// maxUnzipped bounds everything unzipped, temporary files included.
	maxUnzipped = 4 << 30
)

// xlsxSource streams the rows of one worksheet of an .xlsx workbook.
//
// Each row is read twice, in step: once as Excel displays it and once as
// stored (excelize's RawCellValue), so that cellText can keep what the user
// sees except where the display loses digits.
type xlsxSource struct {
	book       *excelize.File
	shown, raw *excelize.Rows
	row        int // sheet row number of the row read last
	lay        layout
	info       InputInfo
}

// openXLSX reads the workbook from r, finds the sheet and its header row (the
// first row that is not blank) and returns a source positioned at the first
// record.
func openXLSX(r io.Reader, opts SourceOptions) (src *xlsxSource, err error) {
	if opts.Delimiter != 0 {
		return nil, fmt.Errorf("%w: --delimiter is for CSV input; this input is an .xlsx workbook", ErrUsage)
	}
	if enc := strings.ToLower(opts.Encoding); enc != "" && enc != "auto" {
		return nil, fmt.Errorf("%w: --encoding is for CSV input; an .xlsx workbook's text is always Unicode", ErrUsage)
	}
	presetName, err := checkPreset(opts.Preset)
	if err != nil {
		return nil, err
	}
	if err := checkMap(opts.Map); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(r, maxWorkbookSize+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading the input: %v", ErrUsage, err)
	}
	if len(data) > maxWorkbookSize {
		return nil, fmt.Errorf("%w: the workbook is larger than %d MiB; export it as CSV", ErrUsage, maxWorkbookSize>>20)
	}
	if err := checkWorkbookArchive(data); err != nil {
		return nil, err
	}
	book, err := excelize.OpenReader(bytes.NewReader(data), excelize.Options{
		UnzipSizeLimit:    maxUnzipped,
		UnzipXMLSizeLimit: xlsxStreamSize,
	})
	if err != nil {
		if book != nil {
			book.Close()
		}
		return nil, fmt.Errorf("%w: input is not a readable .xlsx workbook: %v", ErrUsage, err)
	}
	s := &xlsxSource{book: book, info: InputInfo{Format: FormatXLSX}}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if s.info.Sheet, err = pickSheet(book.GetSheetList(), opts.Sheet); err != nil {
		return nil, err
	}
	if s.shown, err = book.Rows(s.info.Sheet); err != nil {
		return nil, fmt.Errorf("%w: reading sheet %q: %v", ErrUsage, s.info.Sheet, err)
	}
	if s.raw, err = book.Rows(s.info.Sheet); err != nil {
		return nil, fmt.Errorf("%w: reading sheet %q: %v", ErrUsage, s.info.Sheet, err)
	}
	var header []string
	for {
		shown, raw, cellErr, err := s.nextRow()
		if err == io.EOF {
			return nil, fmt.Errorf("%w: sheet %q is empty: no header", ErrUsage, s.info.Sheet)
		}
		if err == nil && cellErr != nil {
			err = fmt.Errorf("%w: reading the header, row %d of sheet %q: %v", ErrUsage, s.row, s.info.Sheet, cellErr)
		}
		if err != nil {
			return nil, err
		}
		if !blankRow(shown) {
			header = cellTexts(raw, shown)
			break
		}
	}
	if s.lay, err = pickLayout(header, presetName, opts.Map); err != nil {
		return nil, err
	}
	return s, nil
}

// checkWorkbookArchive checks the ZIP archive of a workbook against the
// bounds above before excelize unzips it, and reads every part once:
// archive/zip then checks each part's size and checksum, which excelize does
// not, so that a damaged workbook is refused instead of read short.
func checkWorkbookArchive(data []byte) error {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return fmt.Errorf("%w: input is not a readable .xlsx workbook: %v", ErrUsage, err)
	}
	var inMemory, total uint64
	for _, f := range zr.File {
		size := f.UncompressedSize64
		total += size
		name := strings.ToLower(strings.ReplaceAll(f.Name, `\`, "/"))
		switch {
		case name == "xl/sharedstrings.xml" && size > maxSharedStrings:
			return fmt.Errorf("%w: the workbook's shared strings take %d MiB, more than the %d MiB allowed; export it as CSV", ErrUsage, size>>20, maxSharedStrings>>20)
		case (name == "xl/sharedstrings.xml" || strings.HasPrefix(name, "xl/worksheets/sheet")) && size > xlsxStreamSize:
			// Streamed from a temporary file.
		default:
			inMemory += size
		}
		if inMemory > maxWorkbookMemory || total > maxUnzipped {
			return fmt.Errorf("%w: the workbook unzips to more than %d MiB; export it as CSV", ErrUsage, min(inMemory, total)>>20)
		}
		rc, err := f.Open()
		if err == nil {
			_, err = io.Copy(io.Discard, rc)
			rc.Close()
		}
		if err != nil {
			return fmt.Errorf("%w: input is not a readable .xlsx workbook: %s: %v", ErrUsage, f.Name, err)
		}
	}
	return nil
}

// pickSheet returns the sheet to read: the first one, or the one --sheet
// names (ignoring case, as Excel does).
func pickSheet(sheets []string, want string) (string, error) {
	if len(sheets) == 0 {
		return "", fmt.Errorf("%w: the workbook has no sheet", ErrUsage)
	}
	if want == "" {
		return sheets[0], nil
	}
	for _, s := range sheets {
		if strings.EqualFold(s, want) {
			return s, nil
		}
	}
	return "", fmt.Errorf("%w: --sheet %q: no such sheet; the workbook has %s", ErrUsage, want, quoteHeader(sheets))
}

// nextRow reads the next row of the sheet, as shown and as stored; a
// missing row (excelize yields one for each row number) has no cells.
// cellErr is about this row only: a cell excelize cannot read, such as a
// shared string that is not in the table. err ends the reading.
func (s *xlsxSource) nextRow() (shown, raw []string, cellErr, err error) {
	if !s.shown.Next() {
		if err := s.shown.Error(); err != nil {
			return nil, nil, nil, fmt.Errorf("%w: reading sheet %q after row %d: %v", ErrUsage, s.info.Sheet, s.row, err)
		}
		return nil, nil, nil, io.EOF
	}
	s.raw.Next()
	s.row++
	shown, cellErr = s.shown.Columns()
	if cellErr == nil {
		raw, cellErr = s.raw.Columns(excelize.Options{RawCellValue: true})
	}
	return shown, raw, cellErr, nil
}

func (s *xlsxSource) Next() (Record, error) {
	for {
		shown, raw, cellErr, err := s.nextRow()
		if err != nil {
			return Record{}, err
		}
		if cellErr != nil {
			return Record{Line: s.row, Problem: "unreadable cell: " + cellErr.Error()}, nil
		}
		if blankRow(shown) && blankRow(raw) {
			// An empty row of the sheet, as a blank line of a CSV file.
			continue
		}
		rec := Record{Line: s.row}
		for field, i := range s.lay.cols {
			v := cellText(at(raw, i), at(shown, i))
			if j, ok := s.lay.fallbacks[field]; ok && strings.TrimSpace(v) == "" {
				v = cellText(at(raw, j), at(shown, j))
			}
			rec.set(field, v)
		}
		checkCellSizes(&rec)
		return rec, nil
	}
}

func (s *xlsxSource) Preset() string { return s.lay.preset }

func (s *xlsxSource) Columns() map[string]string { return maps.Clone(s.lay.columns) }

func (s *xlsxSource) Input() InputInfo { return s.info }

// Close closes the workbook, which removes its temporary files.
func (s *xlsxSource) Close() error {
	for _, r := range []*excelize.Rows{s.shown, s.raw} {
		if r != nil {
			r.Close()
		}
	}
	return s.book.Close()
}

// at returns cells[i], or "" past the last cell.
func at(cells []string, i int) string {
	if i < len(cells) {
		return cells[i]
	}
	return ""
}

// blankRow reports whether a row has no cell with a value.
func blankRow(cells []string) bool {
	for _, c := range cells {
		if c != "" {
			return false
		}
	}
	return true
}

// cellTexts applies cellText to each cell of a row.
func cellTexts(raw, shown []string) []string {
	out := make([]string, max(len(raw), len(shown)))
	for i := range out {
		out[i] = cellText(at(raw, i), at(shown, i))
	}
	return out
}

// cellText is a cell's text as the user sees it in Excel (shown), except
// where the display loses what the cell holds: a number shown in scientific
// notation (a phone number typed into Excel becomes 1.42E+10), rounded, or
// with thousands separators is read as its full value, in digits without an
// exponent. A display that only adds punctuation or leading zeros to the
// digits ((415) 555-0101, 07700 900123) is kept, and so are dates, times
// and formula results, which are read as displayed or cached.
func cellText(raw, shown string) string {
	if raw == shown {
		return shown
	}
	v, err := strconv.ParseFloat(raw, 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return shown // text, or a boolean shown as TRUE
	}
	full := raw
	if strings.ContainsFunc(raw, func(r rune) bool { return r < '0' || r > '9' }) {
		full = strconv.FormatFloat(v, 'f', -1, 64)
	}
	if sameDigits(shown, full) {
		return shown
	}
	if _, err := strconv.ParseFloat(strings.ReplaceAll(shown, ",", ""), 64); err == nil {
		return full
	}
	return shown
}

// sameDigits reports whether shown writes the whole number full with only
// phone punctuation and leading zeros added.
func sameDigits(shown, full string) bool {
	var digits []byte
	for i := 0; i < len(shown); i++ {
		switch c := shown[i]; {
		case '0' <= c && c <= '9':
			digits = append(digits, c)
		case strings.IndexByte(" ()-./+", c) < 0:
			return false
		}
	}
	return len(full) > 0 && string(bytes.TrimLeft(digits, "0")) == strings.TrimLeft(full, "0") &&
		!strings.ContainsFunc(full, func(r rune) bool { return r < '0' || r > '9' })
}
