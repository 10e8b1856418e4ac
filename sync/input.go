package sync

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	textunicode "golang.org/x/text/encoding/unicode"
)

// Input formats, for --format.
const (
	FormatCSV  = "csv"
	FormatXLSX = "xlsx"
)

// RecordSource streams the records of one input, one row at a time. Each
// kind of input (CSV, an Excel workbook) has its own; OpenSource picks it.
type RecordSource interface {
	// Next returns the next record, or io.EOF after the last. A row that
	// cannot be read whole comes back as a Record with Problem set and a
	// nil error; an error means the input cannot be read further and wraps
	// ErrUsage.
	Next() (Record, error)
	// Preset returns the preset in use, after auto-detection.
	Preset() string
	// Columns returns, for each field that has one, the header of its
	// column.
	Columns() map[string]string
	// Input says how the input is read: format, encoding, sheet.
	Input() InputInfo
	// Close releases what the source holds (an open workbook's temporary
	// files); it does not close the reader it was opened on.
	Close() error
}

// InputInfo says how an input is read, for the summary.
type InputInfo struct {
	Format   string `json:"format"`             // csv or xlsx
	Encoding string `json:"encoding,omitempty"` // csv: the text encoding read
	Detected string `json:"detected,omitempty"` // csv: why that encoding, when --encoding did not name it and it is not UTF-8
	Sheet    string `json:"sheet,omitempty"`    // xlsx: the worksheet read
}

// String is the summary's one line about the input, or "" when it is plain
// UTF-8 CSV, which needs no mention.
func (i InputInfo) String() string {
	switch {
	case i.Format == FormatXLSX:
		return fmt.Sprintf("xlsx, sheet %q", i.Sheet)
	case i.Detected != "":
		return fmt.Sprintf("csv, read as %s (%s; --encoding overrides)", i.Encoding, i.Detected)
	case i.Encoding != "" && i.Encoding != "utf-8":
		return "csv, " + i.Encoding
	}
	return ""
}

const (
	// detectSize is how much of a CSV input is read ahead to detect its
	// encoding: a file whose first invalid UTF-8 byte comes later is read
	// as UTF-8, and the rows holding such bytes are reported invalid with a
	// hint to use --encoding. 1 MiB is some ten thousand rows of a usual
	// export; detection never needs the whole file in memory.
	detectSize = 1 << 20
)

var (
	zipMagic = []byte("PK\x03\x04")
	// oleMagic starts a legacy .xls workbook, and also an encrypted .xlsx.
	oleMagic = []byte("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1")
)

// OpenSource detects the format of r from its first bytes (an .xlsx
// workbook is a ZIP archive), unless opts.Format names it, reads the header
// and returns a source positioned at the first record. Errors that make the
// whole input unusable wrap ErrUsage.
func OpenSource(r io.Reader, opts SourceOptions) (RecordSource, error) {
	format, err := checkFormat(opts.Format)
	if err != nil {
		return nil, err
	}
	in := bufio.NewReaderSize(r, detectSize)
	head, err := in.Peek(len(oleMagic))
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("%w: reading the input: %v", ErrUsage, err)
	}
	if format == "" {
		switch {
		case bytes.HasPrefix(head, zipMagic):
			format = FormatXLSX
		case bytes.HasPrefix(head, oleMagic):
			return nil, fmt.Errorf("%w: input is a legacy .xls workbook or an encrypted one; save it as .xlsx (without a password) or CSV", ErrUsage)
		default:
			format = FormatCSV
		}
	}
	if format == FormatXLSX {
		return openXLSX(in, opts)
	}
	if opts.Sheet != "" {
		return nil, fmt.Errorf("%w: --sheet is for .xlsx workbooks; this input is CSV", ErrUsage)
	}
	return openCSV(in, opts)
}

// checkFormat returns the --format value in canonical form, "" for auto.
func checkFormat(format string) (string, error) {
	if format == "" {
		return "", nil
	}
	f, err := InputFormats.Parse(format)
	if f == "auto" {
		f = ""
	}
	return f, err
}

// decode wraps in to turn the text encoding into UTF-8, and says how the
// input is read and whether it is read as UTF-8 as it is (and so may hold
// invalid bytes). With encoding "" or "auto", a UTF-16 byte-order mark
// selects UTF-16, and a start of file that is not valid UTF-8 windows-1252,
// the encoding Excel on Windows saves "CSV" in.
func decode(in *bufio.Reader, encoding string) (io.Reader, InputInfo, bool, error) {
	info := InputInfo{Format: FormatCSV, Encoding: "auto"}
	if encoding != "" {
		enc, err := Encodings.Parse(encoding)
		if err != nil {
			return nil, info, false, err
		}
		info.Encoding = enc
	}
	if info.Encoding == "auto" {
		head, err := in.Peek(detectSize)
		if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
			return nil, info, false, fmt.Errorf("%w: reading the input: %v", ErrUsage, err)
		}
		switch {
		case bytes.HasPrefix(head, []byte("\xFF\xFE")), bytes.HasPrefix(head, []byte("\xFE\xFF")):
			info.Encoding, info.Detected = "utf-16", "detected: UTF-16 byte-order mark"
		case bytes.HasPrefix(head, []byte("\uFEFF")), validUTF8Prefix(head, err == io.EOF):
			// A UTF-8 byte-order mark says UTF-8 even if bytes that are
			// not follow: those rows are reported.
			info.Encoding = "utf-8"
		default:
			info.Encoding, info.Detected = "windows-1252", "detected: not valid UTF-8"
		}
	}
	switch info.Encoding {
	case "utf-8":
		return in, info, true, nil
	case "windows-1252":
		return charmap.Windows1252.NewDecoder().Reader(in), info, false, nil
	case "latin-1":
		return charmap.ISO8859_1.NewDecoder().Reader(in), info, false, nil
	case "utf-16":
		// The byte-order mark, when there is one, decides the byte order and
		// is dropped; without one, little-endian is what Windows writes.
		return textunicode.UTF16(textunicode.LittleEndian, textunicode.UseBOM).NewDecoder().Reader(in), info, false, nil
	}
	// Only an entry added to Encodings without a decoder gets here.
	return nil, info, false, fmt.Errorf("%w: --encoding %s: no decoder", ErrUsage, info.Encoding)
}

// validUTF8Prefix reports whether b, the start of a file, is valid UTF-8;
// unless atEOF, b may end in the middle of a character.
func validUTF8Prefix(b []byte, atEOF bool) bool {
	if !atEOF {
		// Drop a last character cut short: at most 3 bytes of one that
		// starts within the last 3 bytes and does not fit.
		for i := 1; i <= 3 && i <= len(b); i++ {
			c := b[len(b)-i]
			if !utf8.RuneStart(c) {
				continue
			}
			if !utf8.FullRune(b[len(b)-i:]) {
				b = b[:len(b)-i]
			}
			break
		}
	}
	return utf8.Valid(b)
}
