package sync

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gocarina/gocsv"
)

// SourceOptions says how to read an input file.
type SourceOptions struct {
	Format    string            // auto (also ""): detected from the content; csv or xlsx
	Preset    string            // auto (also ""), generic, hubspot or salesforce
	Map       map[string]string // field -> column header, overriding the preset
	Delimiter rune              // CSV; 0: detect ',', ';' or tab from the header
	Encoding  string            // CSV; auto (also ""): detected; utf-8, windows-1252, latin-1 or utf-16
	Sheet     string            // XLSX; "": the first worksheet
}

// A preset names, for each field, the column headers that may hold it in
// one kind of export, best first: the first one the header has is used.
// Headers match ignoring case and surrounding spaces.
type preset struct {
	name    string
	columns map[string][]string
}

// presets in the order auto-detection prefers them on a tie.
//
// HubSpot has no standard photo property, so its image_url candidates are
// the names partners commonly give a custom one.
var presets = []preset{
	{"generic", map[string][]string{
		FieldPhone:     {"phone_number"},
		FieldFirstName: {"first_name"},
		FieldLastName:  {"last_name"},
		FieldImageURL:  {"image_url"},
		FieldRegion:    {"country_code", "country"},
	}},
	{"hubspot", map[string][]string{
		FieldPhone:     {"Phone Number", "Mobile Phone Number"},
		FieldFirstName: {"First Name"},
		FieldLastName:  {"Last Name"},
		FieldImageURL:  {"Profile Photo URL", "Avatar URL", "Image URL", "Photo URL"},
		FieldRegion:    {"Country/Region", "Country"},
	}},
	{"salesforce", map[string][]string{
		FieldPhone:     {"Phone", "MobilePhone"},
		FieldFirstName: {"FirstName"},
		FieldLastName:  {"LastName"},
		FieldImageURL:  {"FullPhotoUrl", "SmallPhotoUrl"},
		FieldRegion:    {"MailingCountryCode", "MailingCountry", "Mailing Country Code", "Mailing Country", "CountryCode", "Country"},
	}},
}

// sourceFields are the fields a source fills, in the order messages list them.
var sourceFields = []string{FieldPhone, FieldFirstName, FieldLastName, FieldImageURL, FieldRegion}

// set puts v in the record's field.
func (r *Record) set(field, v string) {
	switch field {
	case FieldPhone:
		r.Phone = v
	case FieldFirstName:
		r.FirstName = v
	case FieldLastName:
		r.LastName = v
	case FieldImageURL:
		r.ImageURL = v
	case FieldRegion:
		r.Region = v
	}
}

// requiredFields must have a column; the others may be absent, which reads
// as blank cells.
var requiredFields = []string{FieldPhone, FieldFirstName}

// sourceRow is what gocsv fills from one row, once the header has been
// renamed to the field names.
type sourceRow struct {
	Phone     string `csv:"phone_number"`
	FirstName string `csv:"first_name"`
	LastName  string `csv:"last_name"`
	ImageURL  string `csv:"image_url"`
	Region    string `csv:"region"`
	// The preset's next column for a field, read when the chosen one is
	// blank in a row: a HubSpot contact with only a "Mobile Phone Number",
	// a Salesforce one with only a SmallPhotoUrl or a MailingCountry.
	PhoneAlt    string `csv:"phone_number fallback"`
	ImageURLAlt string `csv:"image_url fallback"`
	RegionAlt   string `csv:"region fallback"`
}

// fallbackFields are the fields whose preset columns back each other up
// row by row.
var fallbackFields = []string{FieldPhone, FieldImageURL, FieldRegion}

const (
	// sniffSize bounds the header line, which is read ahead to detect the
	// delimiter and to tell a binary file before parsing anything.
	sniffSize = 64 << 10

	// bigRecord is the raw size above which a record's cells are copied out.
	bigRecord = 64 << 10
)

// csvSource streams the records of a CSV export, one row at a time.
//
// A row that cannot be read whole (a different number of cells from the
// header, a broken quote, bytes that are not UTF-8) still becomes a Record,
// with Problem set, so that it reaches the report with its line number.
type csvSource struct {
	csv       *csv.Reader
	tape      *tape          // the current record's bytes, to recover a rejected row's cells
	cells     map[string]int // field -> column index
	rows      *gocsv.Unmarshaller
	preset    string
	columns   map[string]string // field -> header cell used
	width     int               // cells in the header
	checkUTF8 bool              // the input is read as UTF-8, so a cell may hold invalid bytes
	offset    int64             // input offset after the previous record
	info      InputInfo
}

// openCSV reads the header of a CSV input, picks the column of each field
// and returns a source positioned at the first record.
func openCSV(r *bufio.Reader, opts SourceOptions) (*csvSource, error) {
	presetName, err := checkPreset(opts.Preset)
	if err != nil {
		return nil, err
	}
	decoded, info, isUTF8, err := decode(r, opts.Encoding)
	if err != nil {
		return nil, err
	}
	if err := checkMap(opts.Map); err != nil {
		return nil, err
	}

	in := bufio.NewReaderSize(decoded, sniffSize)
	// A UTF-8 byte-order mark would otherwise become part of the first
	// header cell and hide it from the presets.
	if b, _ := in.Peek(3); bytes.HasPrefix(b, []byte("\uFEFF")) {
		in.Discard(3)
	}
	head, err := in.Peek(sniffSize)
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("%w: reading the input: %v", ErrUsage, err)
	}
	if len(head) == 0 {
		return nil, fmt.Errorf("%w: input is empty: no header", ErrUsage)
	}
	line, err := headerLine(head, err == io.EOF, isUTF8)
	if err != nil {
		return nil, err
	}
	delim := opts.Delimiter
	if delim == 0 {
		delim = sniffDelimiter(line)
	}

	tp := &tape{r: in}
	cr := csv.NewReader(tp)
	cr.Comma = delim
	// FieldsPerRecord stays 0, so the header sets the width: a row with
	// another number of cells is an error to report, not a row to misread
	// with its cells shifted into the wrong fields.
	rows, err := gocsv.NewUnmarshaller(cr, &sourceRow{})
	if err == io.EOF {
		return nil, fmt.Errorf("%w: input is empty: no header", ErrUsage)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: reading the header: %v", ErrUsage, err)
	}
	// gocsv copies each row's cells into a new struct, so the reader can
	// reuse its slice of them: one allocation less per row. The header,
	// read above, keeps its own.
	cr.ReuseRecord = true
	header := rows.Headers
	lay, err := pickLayout(header, presetName, opts.Map)
	if err != nil {
		return nil, err
	}

	// Rename the chosen columns to the field names gocsv matches against
	// sourceRow's tags, and every other column to a name that matches none,
	// so that an unmapped column that happens to be called "phone_number"
	// is ignored like any other.
	names := make([]string, len(header))
	for i := range names {
		names[i] = "unmapped column " + strconv.Itoa(i+1)
	}
	for field, i := range lay.cols {
		names[i] = field
	}
	for field, i := range lay.fallbacks {
		names[i] = field + " fallback"
	}
	if err := rows.RenormalizeHeaders(func([]string) []string { return names }); err != nil {
		return nil, fmt.Errorf("%w: reading the header: %v", ErrUsage, err)
	}
	return &csvSource{
		info:      info,
		csv:       cr,
		tape:      tp,
		cells:     lay.cols,
		rows:      rows,
		preset:    lay.preset,
		columns:   lay.columns,
		width:     len(header),
		checkUTF8: isUTF8,
		offset:    cr.InputOffset(),
	}, nil
}

func (s *csvSource) Preset() string { return s.preset }

func (s *csvSource) Columns() map[string]string {
	return maps.Clone(s.columns)
}

func (s *csvSource) Input() InputInfo { return s.info }

func (s *csvSource) Close() error { return nil }

func (s *csvSource) Next() (Record, error) {
	v, err := s.rows.Read()
	start := s.offset
	s.offset = s.csv.InputOffset()
	defer s.tape.forget(s.offset)
	var perr *csv.ParseError
	switch {
	case err == io.EOF:
		return Record{}, io.EOF
	case errors.As(err, &perr) && perr.Err == csv.ErrFieldCount:
		return s.ragged(perr.StartLine, s.tape.between(start, s.offset)), nil
	case errors.As(err, &perr):
		return Record{Line: perr.StartLine, Problem: perr.Error()}, nil
	case err != nil:
		return Record{}, fmt.Errorf("%w: reading the input: %v", ErrUsage, err)
	}

	row := v.(*sourceRow)
	line, _ := s.csv.FieldPos(0)
	rec := Record{Line: line, Phone: row.Phone, FirstName: row.FirstName, LastName: row.LastName, ImageURL: row.ImageURL, Region: row.Region}
	if strings.TrimSpace(rec.Phone) == "" {
		rec.Phone = row.PhoneAlt
	}
	if strings.TrimSpace(rec.ImageURL) == "" {
		rec.ImageURL = row.ImageURLAlt
	}
	if strings.TrimSpace(rec.Region) == "" {
		rec.Region = row.RegionAlt
	}
	checkCellSizes(&rec)
	if s.checkUTF8 {
		s.checkCells(&rec)
	}
	// Every cell of a record is a substring of one string holding the whole
	// record: a field kept downstream would pin a huge unmapped cell.
	if s.offset-start > bigRecord {
		rec.Phone = strings.Clone(rec.Phone)
		rec.FirstName = strings.Clone(rec.FirstName)
		rec.LastName = strings.Clone(rec.LastName)
		rec.Region = strings.Clone(rec.Region)
		rec.ImageURL = strings.Clone(rec.ImageURL)
	}
	return rec, nil
}

// ragged makes the Record of a row whose cell count differs from the
// header's, which gocsv rejects without its cells. The row's bytes are read
// again for the report: when cells are missing at the end, the ones present
// are in their columns and are kept; when there are extra cells, a delimiter
// inside a cell has shifted the rest, and no cell can be trusted.
func (s *csvSource) ragged(line int, raw []byte) Record {
	rec := Record{Line: line}
	r := csv.NewReader(bytes.NewReader(raw))
	r.Comma, r.FieldsPerRecord = s.csv.Comma, -1
	cells, err := r.Read()
	if err != nil {
		rec.Problem = fmt.Sprintf("row does not have the header's %d cells", s.width)
		return rec
	}
	if len(cells) > s.width {
		rec.Problem = fmt.Sprintf("row has %d cells, the header %d (a cell holding the delimiter must be quoted)", len(cells), s.width)
		return rec
	}
	rec.Problem = fmt.Sprintf("row has %d cells, the header %d", len(cells), s.width)
	for field, i := range s.cells {
		if i >= len(cells) {
			continue
		}
		rec.set(field, strings.Clone(cells[i]))
	}
	checkCellSizes(&rec)
	if s.checkUTF8 {
		s.checkCells(&rec)
	}
	return rec
}

// tape keeps what the csv reader has taken from the input since the start
// of the current record, read-ahead included, so that a row csv rejects can
// be read again.
type tape struct {
	r     io.Reader
	buf   []byte // buf[start:] is kept
	start int
	base  int64 // input offset of buf[start]
}

func (t *tape) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.buf = append(t.buf, p[:n]...)
	return n, err
}

// between returns the bytes from input offset from to offset to.
func (t *tape) between(from, to int64) []byte {
	kept := t.buf[t.start:]
	if from < t.base || to-t.base > int64(len(kept)) || from > to {
		return nil
	}
	return kept[from-t.base : to-t.base]
}

// forget drops the bytes before input offset off. It moves the rest to the
// front of the buffer once they are no more than what was dropped, so each
// byte is copied about once, and the buffer keeps its room: moving its
// start up instead made appending to it allocate a new one, as much memory
// again as the input.
func (t *tape) forget(off int64) {
	d := off - t.base
	if d <= 0 || d > int64(len(t.buf)-t.start) {
		return
	}
	t.start += int(d)
	t.base = off
	if rest := len(t.buf) - t.start; rest <= t.start {
		t.buf = t.buf[:copy(t.buf, t.buf[t.start:])]
		t.start = 0
	}
}

// maxCell is the longest cell a record may have in a field: a name or an
// image URL is far shorter, and a longer cell is a broken export (a
// missing closing quote swallows the rest of the file into one cell),
// not data to send or to copy whole into the report.
const maxCell = 4 << 10

// shownCell is how much of an oversized cell the report shows.
const shownCell = 64

// checkCellSizes sets rec.Problem when a field's cell is longer than
// maxCell, and cuts the cell so the report shows its start and its length.
func checkCellSizes(rec *Record) {
	cells := []*string{&rec.Phone, &rec.FirstName, &rec.LastName, &rec.ImageURL, &rec.Region}
	for i, cell := range cells {
		n := len(*cell)
		if n <= maxCell {
			continue
		}
		if rec.Problem == "" {
			rec.Problem = fmt.Sprintf("%s cell is %d bytes long; at most %d are allowed (a missing closing quote?)", sourceFields[i], n, maxCell)
		}
		cut := shownCell
		for cut > 0 && !utf8.RuneStart((*cell)[cut]) {
			cut--
		}
		*cell = strings.Clone((*cell)[:cut]) + fmt.Sprintf("… (%d bytes)", n)
	}
}

// checkCells sets rec.Problem when a cell is not valid UTF-8, which usually
// means the file is in another encoding, and makes the cells valid so that
// nothing downstream has to cope with broken text.
func (s *csvSource) checkCells(rec *Record) {
	cells := []*string{&rec.Phone, &rec.FirstName, &rec.LastName, &rec.ImageURL, &rec.Region}
	for i, cell := range cells {
		if utf8.ValidString(*cell) {
			continue
		}
		if rec.Problem == "" {
			rec.Problem = fmt.Sprintf("invalid UTF-8 in column %q; if the file is not UTF-8, use --encoding windows-1252 or latin-1", s.columns[sourceFields[i]])
		}
		*cell = strings.ToValidUTF8(*cell, "\uFFFD")
	}
}

// checkPreset returns the preset name in canonical form, "auto" for "".
func checkPreset(name string) (string, error) {
	if name == "" {
		return "auto", nil
	}
	return Presets.Parse(name)
}

// checkMap checks that --map names only known fields and real column names.
func checkMap(m map[string]string) error {
	for _, field := range slices.Sorted(maps.Keys(m)) {
		if !slices.Contains(sourceFields, field) {
			return fmt.Errorf("%w: --map: unknown field %q; fields are %s", ErrUsage, field, strings.Join(sourceFields, ", "))
		}
		if strings.TrimSpace(m[field]) == "" {
			return fmt.Errorf("%w: --map %s: empty column name", ErrUsage, field)
		}
	}
	return nil
}

// headerLine returns the first non-blank line of head, up to a newline
// outside quotes, after checking that it looks like the header of a text
// CSV file. atEOF says head holds the whole input.
func headerLine(head []byte, atEOF, isUTF8 bool) ([]byte, error) {
	head = bytes.TrimLeft(head, "\r\n")
	line, complete := head, atEOF
	quoted := false
scan:
	for i, c := range head {
		switch {
		case c == '"':
			quoted = !quoted
		case quoted && (c == '\n' || c == '\r'):
			// A quoted header cell may span lines.
		case c == '\n':
			line, complete = head[:i], true
			break scan
		case c == '\r':
			if i+1 < len(head) && head[i+1] != '\n' {
				return nil, fmt.Errorf("%w: input has bare carriage returns (line 1, byte %d), as old Mac CSV does; save it with LF or CRLF line ends", ErrUsage, i+1)
			}
		case c < ' ' && c != '\t':
			return nil, fmt.Errorf("%w: input does not look like CSV: its first line holds binary bytes (UTF-16 text without a byte-order mark? use --encoding utf-16)", ErrUsage)
		}
	}
	if !complete {
		return nil, fmt.Errorf("%w: input does not look like CSV: its first line is longer than %d KiB", ErrUsage, sniffSize>>10)
	}
	if isUTF8 && !utf8.Valid(line) {
		return nil, fmt.Errorf("%w: the header is not valid UTF-8; if the file is not UTF-8, use --encoding windows-1252 or latin-1", ErrUsage)
	}
	return line, nil
}

// sniffDelimiter returns whichever of ',', ';' and tab occurs most often
// outside quotes in the header line, preferring them in that order on a tie.
func sniffDelimiter(line []byte) rune {
	var commas, semicolons, tabs int
	quoted := false
	for _, c := range line {
		switch {
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == ',':
			commas++
		case c == ';':
			semicolons++
		case c == '\t':
			tabs++
		}
	}
	switch {
	case semicolons > commas && semicolons >= tabs:
		return ';'
	case tabs > commas && tabs > semicolons:
		return '\t'
	}
	return ','
}

// layout is where the fields are in an input's header.
type layout struct {
	preset    string            // after auto-detection
	cols      map[string]int    // field -> column index
	fallbacks map[string]int    // field -> the column read when its own is blank
	columns   map[string]string // field -> header cell used
}

// pickLayout chooses the preset and each field's columns in header.
func pickLayout(header []string, presetName string, overrides map[string]string) (layout, error) {
	preset, cols, err := pickColumns(header, presetName, overrides)
	if err != nil {
		return layout{}, err
	}
	fallbacks := fallbackColumns(header, preset, cols, overrides)
	if _, asked := overrides[FieldRegion]; !asked {
		// A country column the preset found by itself is a help, not a
		// requirement: one whose name several columns share is left out
		// rather than refusing an export that worked without it.
		for _, m := range []map[string]int{cols, fallbacks} {
			if i, ok := m[FieldRegion]; ok && sharedName(header, i) {
				delete(m, FieldRegion)
			}
		}
	}
	if err := checkDuplicateColumns(header, cols, fallbacks, overrides); err != nil {
		return layout{}, err
	}
	columns := make(map[string]string, len(cols))
	for field, i := range cols {
		columns[field] = header[i]
	}
	return layout{preset, cols, fallbacks, columns}, nil
}

// sharedName reports whether another column of header has column i's name.
func sharedName(header []string, i int) bool {
	for j, h := range header {
		if j != i && strings.EqualFold(strings.TrimSpace(h), strings.TrimSpace(header[i])) {
			return true
		}
	}
	return false
}

// pickColumns chooses the preset and the column index of each field.
//
// With name "auto", each preset is tried: among those that find every
// required field (a --map entry counts), the one that recognises most
// columns by itself wins, and on a tie the first of generic, hubspot,
// salesforce. --map entries override the preset field by field.
func pickColumns(header []string, name string, overrides map[string]string) (string, map[string]int, error) {
	mapped := make(map[string]int, len(overrides))
	for _, field := range slices.Sorted(maps.Keys(overrides)) {
		i := findColumn(header, overrides[field])
		if i < 0 {
			flag := fmt.Sprintf("--map %s=%q", field, overrides[field])
			if field == FieldRegion {
				flag = fmt.Sprintf("--region-column %q", overrides[field])
			}
			return "", nil, fmt.Errorf("%w: %s: no such column; the header has %s", ErrUsage, flag, quoteHeader(header))
		}
		mapped[field] = i
	}

	candidates := presets
	if name != "auto" {
		i := slices.IndexFunc(presets, func(p preset) bool { return p.name == name })
		candidates = presets[i : i+1]
	}
	var (
		best              preset
		bestCols          map[string]int
		bestMissing       []string
		bestOwn, bestFits = -1, false
	)
	for _, p := range candidates {
		cols := make(map[string]int, len(sourceFields))
		for _, field := range sourceFields {
			for _, h := range p.columns[field] {
				if i := findColumn(header, h); i >= 0 {
					cols[field] = i
					break
				}
			}
		}
		own := len(cols)
		for field, i := range mapped {
			cols[field] = i
		}
		var missing []string
		for _, field := range requiredFields {
			if _, ok := cols[field]; !ok {
				missing = append(missing, field)
			}
		}
		fits := len(missing) == 0
		if (fits && !bestFits) || (fits == bestFits && own > bestOwn) {
			best, bestCols, bestMissing, bestOwn, bestFits = p, cols, missing, own, fits
		}
	}
	if !bestFits {
		return "", nil, missingColumns(header, best, name == "auto", bestMissing)
	}

	byColumn := make(map[int]string, len(bestCols))
	for _, field := range sourceFields {
		i, ok := bestCols[field]
		if !ok {
			continue
		}
		if other, taken := byColumn[i]; taken {
			return "", nil, fmt.Errorf("%w: column %q would feed both %s and %s; use --map to give each its own column", ErrUsage, header[i], other, field)
		}
		byColumn[i] = field
	}
	return best.name, bestCols, nil
}

// fallbackColumns finds, for the fields that have them, the preset's next
// candidate column after the chosen one, read in rows where the chosen one
// is blank. A field given with --map has no fallback: the user chose.
func fallbackColumns(header []string, presetName string, cols map[string]int, overrides map[string]string) map[string]int {
	i := slices.IndexFunc(presets, func(p preset) bool { return p.name == presetName })
	if i < 0 {
		return nil
	}
	taken := make(map[int]bool, len(cols))
	for _, c := range cols {
		taken[c] = true
	}
	out := make(map[string]int)
	for _, field := range fallbackFields {
		chosen, ok := cols[field]
		if _, mapped := overrides[field]; !ok || mapped {
			continue
		}
		past := false
		for _, h := range presets[i].columns[field] {
			c := findColumn(header, h)
			if c == chosen {
				past = true
				continue
			}
			if past && c >= 0 && !taken[c] {
				out[field] = c
				break
			}
		}
	}
	return out
}

// missingColumns explains which required fields p found no column for.
func missingColumns(header []string, p preset, auto bool, missing []string) error {
	who := "the " + p.name + " preset"
	if auto {
		who = "no preset fits it; the closest, " + p.name + ","
	}
	if len(missing) == 1 {
		field := missing[0]
		return fmt.Errorf("%w: missing column for %s: the header has %s; %s expects %s (or use --map %s=COLUMN)",
			ErrUsage, field, quoteHeader(header), who, quoteOr(p.columns[field]), field)
	}
	expects := make([]string, len(missing))
	for i, field := range missing {
		expects[i] = quoteOr(p.columns[field]) + " for " + field
	}
	return fmt.Errorf("%w: missing columns for %s: the header has %s; %s expects %s (or use --map FIELD=COLUMN)",
		ErrUsage, strings.Join(missing, " and "), quoteHeader(header), who, strings.Join(expects, ", "))
}

// findColumn returns the index of the first header cell equal to name,
// ignoring case and surrounding spaces, or -1. Where several columns share
// a name, "Name#2" picks the second of them (unless a column is called
// "Name#2" itself).
func findColumn(header []string, name string) int {
	name = strings.TrimSpace(name)
	same := func(h string) bool { return strings.EqualFold(strings.TrimSpace(h), name) }
	if i := slices.IndexFunc(header, same); i >= 0 {
		return i
	}
	hash := strings.LastIndex(name, "#")
	if hash < 0 {
		return -1
	}
	n, err := strconv.Atoi(name[hash+1:])
	if err != nil || n < 1 {
		return -1
	}
	base := strings.TrimSpace(name[:hash])
	for i, h := range header {
		if strings.EqualFold(strings.TrimSpace(h), base) {
			if n--; n == 0 {
				return i
			}
		}
	}
	return -1
}

// checkDuplicateColumns refuses a header where a column that would be read
// shares its name with another: which one holds the data is a guess, and
// the first is not more likely than the second. --map field="Name#2" picks
// one.
func checkDuplicateColumns(header []string, cols, fallbacks map[string]int, overrides map[string]string) error {
	check := func(field string, i int) error {
		name := header[i]
		if m, ok := overrides[field]; ok {
			name = m // "Name#2" is a choice; "Name" is not
		}
		var same []string
		for j, h := range header {
			if strings.EqualFold(strings.TrimSpace(h), strings.TrimSpace(name)) {
				same = append(same, strconv.Itoa(j+1))
			}
		}
		if len(same) < 2 {
			return nil
		}
		col := strings.TrimSpace(header[i])
		return fmt.Errorf("%w: columns %s of the header are all named %q, and %s would be read from one of them: pick one with --map %s=\"%s#N\", N counting those columns from 1 (e.g. --map %s=%q for the second)",
			ErrUsage, strings.Join(same, ", "), col, field, field, col, field, col+"#2")
	}
	for _, field := range sourceFields {
		if i, ok := cols[field]; ok {
			if err := check(field, i); err != nil {
				return err
			}
		}
		if i, ok := fallbacks[field]; ok {
			if err := check(field, i); err != nil {
				return err
			}
		}
	}
	return nil
}

// CheckInput reads the header and the first record of in, as Run will, and
// rewinds it, so that a wrong file, mapping or an empty export is refused
// (ErrUsage) before anything is locked, written or sent. A header with no
// record is an error unless allowEmpty: a nightly export that broke
// upstream usually looks like that, and must not pass as a green run.
func CheckInput(in io.ReadSeeker, opts SourceOptions, allowEmpty bool) error {
	src, err := OpenSource(in, opts)
	if err != nil {
		return err
	}
	defer src.Close()
	if !allowEmpty {
		_, err := src.Next()
		if err == io.EOF {
			return fmt.Errorf("%w: no records: the input has a header and nothing else (use --allow-empty if that is expected)", ErrUsage)
		}
		if err != nil {
			return err
		}
	}
	if _, err := in.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("%w: rewinding the input: %v", ErrUsage, err)
	}
	return nil
}

// quoteHeader lists header cells for a message, cut short on wide exports.
func quoteHeader(header []string) string {
	const most = 12
	quoted := make([]string, 0, most+1)
	for i, h := range header {
		if i == most {
			quoted = append(quoted, fmt.Sprintf("and %d more", len(header)-most))
			break
		}
		quoted = append(quoted, strconv.Quote(h))
	}
	return strings.Join(quoted, ", ")
}

// quoteOr joins names as `"A" or "B"`.
func quoteOr(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = strconv.Quote(n)
	}
	return strings.Join(quoted, " or ")
}
