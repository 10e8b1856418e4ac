package sync

import (
	"bytes"
	"io"
	"testing"
)

// An export read back as input gives every card's own values: the quote
// the neutraliser adds for spreadsheets is taken off again.
func TestExportReadsBack(t *testing.T) {
	var list []Card
	for i, name := range []string{"Ada", "=HYPERLINK(\"x\")", "+Plus", "-", "@home", "'quoted", "O'Brien", "Zoë"} {
		phone := "+1212555010" + string(rune('0'+i))
		list = append(list, Card{Phone: phone, FirstName: name, LastName: "L" + name, ImageURL: "https://cdn.linqapp.com/x" + phone + ".jpg", Active: i%2 == 0})
	}
	cards := cardsByPhone(list)
	var buf bytes.Buffer
	if err := WriteExport(&buf, NewCards(list...), ExportCSV); err != nil {
		t.Fatal(err)
	}
	src, err := OpenSource(bytes.NewReader(buf.Bytes()), SourceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if src.Preset() != "generic" {
		t.Errorf("preset %q, want generic", src.Preset())
	}
	n := 0
	for {
		rec, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		d := Normalize(rec, NormalizeOptions{})
		c := cards[d.Phone]
		if d.Invalid != "" || d.FirstName != c.FirstName || d.LastName != c.LastName || d.ImageURL != c.ImageURL {
			t.Errorf("line %d read back as %+v, want %+v", rec.Line, d, c)
		}
		n++
	}
	if n != len(cards) {
		t.Errorf("read %d records, want %d", n, len(cards))
	}
}
