package sync

import (
	"bytes"
	"encoding/csv"
	"io"
	"slices"
	"strconv"
	"strings"
	stdsync "sync"
	"sync/atomic"
	"time"

	"github.com/gocarina/gocsv"
)

// ReportRow is one line of the report. The field order is the column order
// fixed by DESIGN.md; dry run and apply share it.
type ReportRow struct {
	Line          int    `csv:"line"` // 0 (an empty cell) for a row about no input record: an absent card
	PhoneNumber   string `csv:"phone_number"`
	Action        Action `csv:"action"`
	Result        Result `csv:"result"`
	ChangedFields string `csv:"changed_fields"`
	FirstNameOld  string `csv:"first_name_old"`
	FirstNameNew  string `csv:"first_name_new"`
	LastNameOld   string `csv:"last_name_old"`
	LastNameNew   string `csv:"last_name_new"`
	ImageURLOld   string `csv:"image_url_old"`
	ImageURLNew   string `csv:"image_url_new"`
	HTTPStatus    string `csv:"http_status"` // blank when no request was made
	ErrorCode     string `csv:"error_code"`  // blank when the API gave none
	ErrorMessage  string `csv:"error_message"`
	Attempts      int    `csv:"attempts"`
	TraceID       string `csv:"trace_id"`
	DurationMS    int64  `csv:"duration_ms"`
}

// Outcome is what happened to one change.
type Outcome struct {
	Action     Action // when set, replaces the planned action: what the API's answers showed
	Result     Result
	HTTPStatus int // 0 when no request was answered
	ErrorCode  int // Linq code; 0 when none
	Message    string
	Attempts   int
	TraceID    string
	Duration   time.Duration
	Card       *Card // the card as the API returned it after a write
}

// NewReportRow builds the report line of a change and its outcome. Old and
// new values are filled for every field the record speaks about, so a
// reader sees what was compared, not only what changed.
func NewReportRow(c *Change, o Outcome) ReportRow {
	r := ReportRow{
		Line:          c.Line,
		PhoneNumber:   c.Phone,
		Action:        c.Action,
		Result:        o.Result,
		ChangedFields: strings.Join(c.FieldNames(), "|"),
		FirstNameNew:  c.FirstName,
		LastNameNew:   c.LastName,
		ImageURLNew:   c.ImageURL,
		ErrorMessage:  o.Message,
		Attempts:      o.Attempts,
		TraceID:       o.TraceID,
		DurationMS:    o.Duration.Milliseconds(),
	}
	if o.Action != "" {
		r.Action = o.Action
	}
	if c.Live != nil {
		r.FirstNameOld, r.LastNameOld, r.ImageURLOld = c.Live.FirstName, c.Live.LastName, c.Live.ImageURL
	}
	if r.ErrorMessage == "" {
		r.ErrorMessage = c.Detail
	}
	if o.HTTPStatus != 0 {
		r.HTTPStatus = strconv.Itoa(o.HTTPStatus)
	}
	if o.ErrorCode != 0 {
		r.ErrorCode = strconv.Itoa(o.ErrorCode)
	}
	return r
}

// ReportWriter streams report rows as CSV. It is safe for concurrent use.
//
// Rows are handed to gocsv in batches, since each call pays for its
// reflection setup, and reach the file at least once a second, so a report
// can be followed with tail -f and a killed run leaves all but the last
// second's rows. The file is only ever written whole rows at a time, so
// even a killed run leaves no half row at its end.
//
// The batches are turned into CSV and written by a goroutine of their own
// (marshal), started with the first batch and ended by Flush: in a big
// plan the report is a third of the work per row, which then overlaps with
// planning the rows after it. An error writing the file is returned by the
// Write or Flush after it.
type ReportWriter struct {
	mu        stdsync.Mutex
	pending   *[reportBatch]reportCells // pending[:npending] are rows not yet handed on
	npending  int
	rows      int
	lastFlush time.Time
	jobs      chan reportJob // to marshal; nil when it is not running
	finished  chan struct{}  // closed when marshal has ended
	free      chan *[reportBatch]reportCells
	failed    atomic.Pointer[error] // the first error of marshal

	// Only marshal uses these once it runs.
	out io.Writer
	buf bytes.Buffer // whole rows not yet written to out
	csv *formulaSafeWriter
}

// reportJob is rows handed to marshal: a whole batch or fewer rows.
type reportJob struct {
	full  *[reportBatch]reportCells
	part  []reportCells
	out   bool       // write the buffered rows to the file now
	reply chan error // when not nil, told marshal's error once the rows are out
}

const (
	reportBatch = 256
	reportEvery = time.Second
	reportBytes = 64 << 10 // written to the file once this much is buffered
)

// NewReportWriter writes the header at once, so even a run that aborts
// before its first row leaves a report a spreadsheet can open.
func NewReportWriter(w io.Writer) (*ReportWriter, error) {
	rw := &ReportWriter{out: w, lastFlush: time.Now(), pending: new([reportBatch]reportCells), free: make(chan *[reportBatch]reportCells, 4)}
	rw.csv = &formulaSafeWriter{w: gocsv.NewSafeCSVWriter(csv.NewWriter(&rw.buf))}
	if err := gocsv.MarshalCSV([]ReportRow{}, rw.csv); err != nil {
		return nil, err
	}
	return rw, rw.writeOut()
}

// Write appends one row.
func (rw *ReportWriter) Write(r ReportRow) error {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if err := rw.failed.Load(); err != nil {
		return *err
	}
	rw.rows++
	rw.pending[rw.npending] = cellsOf(r)
	rw.npending++
	due := time.Since(rw.lastFlush) >= reportEvery
	if rw.npending < reportBatch && !due {
		return nil
	}
	rw.handOnLocked(due, nil)
	return nil
}

// handOnLocked hands the pending rows to marshal, starting it if need be;
// out asks for them to be written to the file at once, and reply, when not
// nil, to be told the outcome.
func (rw *ReportWriter) handOnLocked(out bool, reply chan error) {
	if rw.jobs == nil {
		// A few batches in flight at most: a slow disk holds Write back.
		rw.jobs, rw.finished = make(chan reportJob, 2), make(chan struct{})
		go rw.marshal(rw.jobs, rw.finished)
	}
	j := reportJob{out: out, reply: reply}
	switch {
	case rw.npending == reportBatch:
		j.full = rw.pending
		select {
		case rw.pending = <-rw.free:
		default:
			rw.pending = new([reportBatch]reportCells)
		}
	case rw.npending > 0:
		j.part = slices.Clone(rw.pending[:rw.npending])
	}
	rw.npending = 0
	if out {
		rw.lastFlush = time.Now()
	}
	rw.jobs <- j
}

// marshal turns the rows it is handed into CSV (gocsv flushes its csv
// writer at the end of each call, so buf holds whole rows) and writes them
// out when enough are buffered or it is asked to. After an error it only
// answers: nothing more reaches the file.
func (rw *ReportWriter) marshal(jobs <-chan reportJob, finished chan<- struct{}) {
	defer close(finished)
	var err error
	for j := range jobs {
		if err == nil {
			if err = rw.toCSV(j); err != nil {
				rw.failed.Store(&err)
			}
		}
		if j.full != nil {
			select {
			case rw.free <- j.full:
			default:
			}
		}
		if j.reply != nil {
			j.reply <- err
		}
	}
}

func (rw *ReportWriter) toCSV(j reportJob) error {
	var err error
	switch {
	case j.full != nil:
		// A whole batch goes to gocsv as an array value rather than a
		// slice: its rows are then not addressable, and reflection hands
		// gocsv each cell as it is, where it copies an addressable one to
		// the heap first (reflect.Value.Interface): 17 allocations a row,
		// a third of the report's cost.
		err = gocsv.MarshalCSVWithoutHeaders(*j.full, rw.csv)
	case len(j.part) > 0:
		err = gocsv.MarshalCSVWithoutHeaders(j.part, rw.csv)
	}
	if err != nil {
		return err
	}
	if err := rw.csv.Error(); err != nil {
		return err
	}
	if rw.buf.Len() >= reportBytes || j.out {
		return rw.writeOut()
	}
	return nil
}

// writeOut writes the buffered rows to the file in one call.
func (rw *ReportWriter) writeOut() error {
	_, err := rw.out.Write(rw.buf.Bytes())
	rw.buf.Reset()
	return err
}

// Rows returns how many rows were written.
func (rw *ReportWriter) Rows() int {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	return rw.rows
}

// Flush pushes every row written so far to the underlying writer, and
// ends the goroutine that writes them (the next Write starts it again).
func (rw *ReportWriter) Flush() error {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if rw.jobs == nil && rw.npending == 0 {
		if err := rw.failed.Load(); err != nil {
			return *err
		}
		return nil
	}
	reply := make(chan error, 1)
	rw.handOnLocked(true, reply)
	err := <-reply
	close(rw.jobs)
	<-rw.finished
	rw.jobs = nil
	return err
}

// reportCells is a ReportRow as the strings of its cells, which is how
// rows reach gocsv. gocsv writes a string field as it is, but an int
// through fmt.Sprintf and a named string type (Action, Result) only after
// looking for a marshal method and making an error when there is none;
// that was most of a row's cost. The columns and their order are
// ReportRow's (TestReportCellsAreReportRow).
type reportCells struct {
	Line          string `csv:"line"`
	PhoneNumber   string `csv:"phone_number"`
	Action        string `csv:"action"`
	Result        string `csv:"result"`
	ChangedFields string `csv:"changed_fields"`
	FirstNameOld  string `csv:"first_name_old"`
	FirstNameNew  string `csv:"first_name_new"`
	LastNameOld   string `csv:"last_name_old"`
	LastNameNew   string `csv:"last_name_new"`
	ImageURLOld   string `csv:"image_url_old"`
	ImageURLNew   string `csv:"image_url_new"`
	HTTPStatus    string `csv:"http_status"`
	ErrorCode     string `csv:"error_code"`
	ErrorMessage  string `csv:"error_message"`
	Attempts      string `csv:"attempts"`
	TraceID       string `csv:"trace_id"`
	DurationMS    string `csv:"duration_ms"`
}

// cellsOf formats r's cells as gocsv would format ReportRow's fields.
func cellsOf(r ReportRow) reportCells {
	return reportCells{
		Line: strconv.Itoa(r.Line), PhoneNumber: r.PhoneNumber, Action: string(r.Action), Result: string(r.Result),
		ChangedFields: r.ChangedFields,
		FirstNameOld:  r.FirstNameOld, FirstNameNew: r.FirstNameNew,
		LastNameOld: r.LastNameOld, LastNameNew: r.LastNameNew,
		ImageURLOld: r.ImageURLOld, ImageURLNew: r.ImageURLNew,
		HTTPStatus: r.HTTPStatus, ErrorCode: r.ErrorCode, ErrorMessage: r.ErrorMessage,
		Attempts: strconv.Itoa(r.Attempts), TraceID: r.TraceID, DurationMS: strconv.FormatInt(r.DurationMS, 10),
	}
}

// formulaSafeWriter neutralises cells a spreadsheet would run as a formula
// (a CRM field holding "=HYPERLINK(...)" must not execute when the report is
// opened) by prefixing them with a quote. Plain numbers, such as E.164
// phone numbers and negative amounts, stay as they are.
type formulaSafeWriter struct {
	w *gocsv.SafeCSVWriter
}

// Neutralise returns cell as the report writes it: prefixed with a quote
// when a spreadsheet would run it as a formula. Other CSV outputs (runs
// --format csv) use it too.
func Neutralise(cell string) string { return neutralise(cell) }

func neutralise(cell string) string {
	if cell == "" {
		return cell
	}
	switch cell[0] {
	case '=', '+', '-', '@', '\t', '\r':
		if !isPlainNumber(cell) {
			return "'" + cell
		}
	}
	return cell
}

// isPlainNumber matches [+-]digits[.digits]: a number a spreadsheet shows
// as a number, never runs as a formula.
func isPlainNumber(s string) bool {
	if s[0] == '+' || s[0] == '-' {
		s = s[1:]
	}
	intPart, frac, hasDot := strings.Cut(s, ".")
	return allDigits(intPart) && (!hasDot || allDigits(frac))
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func (f *formulaSafeWriter) Write(row []string) error {
	for i, cell := range row {
		row[i] = neutralise(cell)
	}
	if len(row) > 0 && row[0] == "0" {
		// The line column: no input line is 0 (the header is line 1), so
		// 0 is a row about no record, whose line cell stays empty.
		row[0] = ""
	}
	return f.w.Write(row)
}

// Flush moves rows from the csv writer into the buffer only; ReportWriter
// decides when the buffer reaches the file, so a big run is not one
// syscall per row.
func (f *formulaSafeWriter) Flush()       { f.w.Flush() }
func (f *formulaSafeWriter) Error() error { return f.w.Error() }
