package sync

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gocarina/gocsv"
)

func TestNeutralise(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"Ada", "Ada"},
		{"+12125550101", "+12125550101"},
		{"-42", "-42"},
		{"+1.5", "+1.5"},
		{"=1+1", "'=1+1"},
		{`=HYPERLINK("http://x")`, `'=HYPERLINK("http://x")`},
		{"+1 212 555", "'+1 212 555"},
		{"-cmd", "'-cmd"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"\tx", "'\tx"},
		{"\rx", "'\rx"},
	}
	for _, tt := range tests {
		if got := neutralise(tt.in); got != tt.want {
			t.Errorf("neutralise(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestReportColumns(t *testing.T) {
	var buf bytes.Buffer
	rw, err := NewReportWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	c := &Change{
		Desired: Desired{Line: 7, Phone: "+12125550101", FirstName: "=evil()", LastName: "B"},
		Action:  ActionUpdate,
		Live:    &Card{FirstName: "A", LastName: "B"},
		Fields:  []fieldChange{{name: FieldFirstName, old: "A", new: "=evil()"}},
	}
	if err := rw.Write(NewReportRow(c, Outcome{Result: ResultFailed, HTTPStatus: 500, ErrorCode: 3006, Message: "Internal server error", Attempts: 5, TraceID: "abc"})); err != nil {
		t.Fatal(err)
	}
	if err := rw.Flush(); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	wantHeader := strings.Split("line,phone_number,action,result,changed_fields,first_name_old,first_name_new,last_name_old,last_name_new,image_url_old,image_url_new,http_status,error_code,error_message,attempts,trace_id,duration_ms", ",")
	if !slices.Equal(rows[0], wantHeader) {
		t.Fatalf("header = %v\nwant     %v", rows[0], wantHeader)
	}
	want := []string{"7", "+12125550101", "update", "failed", "first_name", "A", "'=evil()", "B", "B", "", "", "500", "3006", "Internal server error", "5", "abc", "0"}
	if !slices.Equal(rows[1], want) {
		t.Errorf("row = %q\nwant  %q", rows[1], want)
	}
}

// The report file is only ever written whole rows: a run killed between
// two writes leaves no half row.
func TestReportWriterWholeRows(t *testing.T) {
	var w writeLog
	rw, err := NewReportWriter(&w)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5000 {
		// Long enough that a batch of rows is more than 64 KiB.
		if err := rw.Write(ReportRow{Line: i + 2, PhoneNumber: "+12125550100", ErrorMessage: strings.Repeat("x", 200+i%97)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := rw.Flush(); err != nil {
		t.Fatal(err)
	}
	if len(w.writes) < 3 {
		t.Fatalf("%d writes; want the rows in several", len(w.writes))
	}
	for i, b := range w.writes {
		if !bytes.HasSuffix(b, []byte("\n")) {
			t.Errorf("write %d of %d ends mid-row: ...%q", i, len(w.writes), b[max(0, len(b)-40):])
		}
	}
}

// writeLog keeps each Write call's bytes apart.
type writeLog struct{ writes [][]byte }

func (w *writeLog) Write(b []byte) (int, error) {
	w.writes = append(w.writes, bytes.Clone(b))
	return len(b), nil
}

// BenchmarkReportWriter is the cost of a report row through gocsv:
// go test ./sync -run '^$' -bench ReportWriter -benchmem
func BenchmarkReportWriter(b *testing.B) {
	rw, err := NewReportWriter(io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	row := ReportRow{Line: 1234, PhoneNumber: "+14155550100", Action: ActionUpdate, Result: ResultOK,
		ChangedFields: "first_name", FirstNameOld: "Old", FirstNameNew: "New", LastNameOld: "Name", LastNameNew: "Name",
		HTTPStatus: "200", Attempts: 1, TraceID: "trace-0123456789", DurationMS: 3}
	for b.Loop() {
		if err := rw.Write(row); err != nil {
			b.Fatal(err)
		}
	}
	if err := rw.Flush(); err != nil {
		b.Fatal(err)
	}
}

// The cells gocsv is given must make the same CSV as ReportRow itself:
// the same header (columns and order) and the same cells.
func TestReportCellsAreReportRow(t *testing.T) {
	rows := []ReportRow{
		{},
		{Line: 7, PhoneNumber: "+14155550100", Action: ActionUpdate, Result: ResultOK, ChangedFields: "first_name|image_url",
			FirstNameOld: "Old", FirstNameNew: "New", LastNameOld: "A", LastNameNew: "B", ImageURLOld: "https://cdn/x", ImageURLNew: "https://src/y",
			HTTPStatus: "200", ErrorCode: "2001", ErrorMessage: "msg, with \"quotes\"", Attempts: 3, TraceID: "t-1", DurationMS: 123456},
		{Line: -1, Action: ActionAbsent, Result: ResultSkipped, Attempts: -2, DurationMS: -9, FirstNameNew: "=SUM(A1)"},
	}
	marshal := func(in any) string {
		var buf bytes.Buffer
		w := &formulaSafeWriter{w: gocsv.NewSafeCSVWriter(csv.NewWriter(&buf))}
		if err := gocsv.MarshalCSV(in, w); err != nil {
			t.Fatal(err)
		}
		return buf.String()
	}
	cells := make([]reportCells, len(rows))
	for i, r := range rows {
		cells[i] = cellsOf(r)
	}
	if got, want := marshal(cells), marshal(rows); got != want {
		t.Errorf("reportCells make\n%s\nReportRow makes\n%s", got, want)
	}
}

// ReportWriter hands gocsv whole batches as arrays and the rest as slices:
// the file must be what gocsv makes of the ReportRows themselves, in order.
func TestReportWriterAsGocsv(t *testing.T) {
	var rows []ReportRow
	for i := range 2*reportBatch + 5 {
		rows = append(rows, ReportRow{Line: i + 2, PhoneNumber: "+1415555" + strconv.Itoa(1000+i), Action: ActionUpdate, Result: ResultPlanned,
			FirstNameOld: "Old", FirstNameNew: "=New " + strconv.Itoa(i), ErrorMessage: strings.Repeat("\"x, ", i%3), Attempts: i % 4, DurationMS: int64(i)})
	}
	var got bytes.Buffer
	rw, err := NewReportWriter(&got)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if err := rw.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := rw.Flush(); err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if err := gocsv.MarshalCSV(rows, &formulaSafeWriter{w: gocsv.NewSafeCSVWriter(csv.NewWriter(&want))}); err != nil {
		t.Fatal(err)
	}
	if got.String() != want.String() {
		t.Errorf("the report differs from gocsv's CSV of its rows:\n%s\nwant\n%s", got.String(), want.String())
	}
}

// failAfter accepts n writes, then fails every one.
type failAfter struct{ n int }

var errDiskFull = errors.New("disk full")

func (f *failAfter) Write(b []byte) (int, error) {
	if f.n == 0 {
		return 0, errDiskFull
	}
	f.n--
	return len(b), nil
}

// The rows are written to the file by a goroutine of the writer's own: a
// failed write must still reach the caller, by a later Write or by Flush,
// and then by every call after it.
func TestReportWriterWriteError(t *testing.T) {
	rw, err := NewReportWriter(&failAfter{n: 1}) // the header, then nothing
	if err != nil {
		t.Fatal(err)
	}
	row := ReportRow{Line: 2, PhoneNumber: "+14155550100", ErrorMessage: strings.Repeat("x", 300)}
	var werr error
	for range 10 * reportBatch {
		if werr = rw.Write(row); werr != nil {
			break
		}
	}
	if err := rw.Flush(); !errors.Is(err, errDiskFull) {
		t.Errorf("Flush: %v, want %v", err, errDiskFull)
	}
	if werr != nil && !errors.Is(werr, errDiskFull) {
		t.Errorf("Write: %v, want %v", werr, errDiskFull)
	}
	if err := rw.Write(row); !errors.Is(err, errDiskFull) {
		t.Errorf("Write after the failure: %v, want %v", err, errDiskFull)
	}
	if err := rw.Flush(); !errors.Is(err, errDiskFull) {
		t.Errorf("second Flush: %v, want %v", err, errDiskFull)
	}
}
