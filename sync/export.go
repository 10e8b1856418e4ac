package sync

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
)

// ExportFormat is how export writes the live cards.
type ExportFormat string

const (
	ExportCSV   ExportFormat = "csv"   // the generic input format, plus is_active
	ExportJSONL ExportFormat = "jsonl" // one JSON object per card, values as the API gave them
)

// ParseExportFormat checks the --format flag of export.
func ParseExportFormat(s string) (ExportFormat, error) {
	f, err := ExportFormats.Parse(s)
	return ExportFormat(f), err
}

// exportHeader is the generic preset's columns, so an export is an input
// bulksync reads back as it is, plus is_active, which input ignores.
var exportHeader = []string{FieldPhone, FieldFirstName, FieldLastName, FieldImageURL, "is_active"}

// exportCard is one card in the JSONL export.
type exportCard struct {
	Phone     string `json:"phone_number"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	ImageURL  string `json:"image_url"`
	Active    bool   `json:"is_active"`
}

// WriteExport writes every card, ordered by phone number so that two
// exports of the same account compare line by line.
//
// CSV cells pass through the report's formula neutraliser, since a backup
// is opened in spreadsheets too; the source reader takes the quote it adds
// off again (see unneutralise), so the file applies back unchanged. The
// image URL is the CDN URL the card holds: applied back it equals the live
// URL, so no image is sent again.
func WriteExport(w io.Writer, cards *Cards, format ExportFormat) error {
	buf := bufio.NewWriterSize(w, 64<<10)
	switch format {
	case ExportJSONL:
		enc := json.NewEncoder(buf)
		for c := range cards.Sorted() {
			if err := enc.Encode(exportCard{c.Phone, c.FirstName, c.LastName, c.ImageURL, c.Active}); err != nil {
				return err
			}
		}
	case ExportCSV:
		cw := csv.NewWriter(buf)
		if err := cw.Write(exportHeader); err != nil {
			return err
		}
		for c := range cards.Sorted() {
			row := []string{c.Phone, c.FirstName, c.LastName, c.ImageURL, strconv.FormatBool(c.Active)}
			for i := range row {
				row[i] = neutralise(row[i])
			}
			if err := cw.Write(row); err != nil {
				return err
			}
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%w: --format: unknown %q; allowed: csv, jsonl", ErrUsage, format)
	}
	return buf.Flush()
}
