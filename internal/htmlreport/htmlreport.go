// Package htmlreport renders a run's report rows as one self-contained HTML
// page a reviewer can open offline: plan --html and apply --html.
//
// The page loads nothing but the images of the cards: its script and style
// are inline, and a Content-Security-Policy allows exactly those (by hash)
// and https images. Row data travels as JSON in a <script
// type="application/json"> block, escaped by encoding/json, and the page's
// script builds rows with textContent only, so no cell can become markup.
// Rows are drawn on demand as the list scrolls (a window of about a hundred
// DOM rows whatever the run's size).
package htmlreport

import (
	"cmp"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"html/template"
	"io"
	"slices"
	"strconv"
	stdsync "sync"
	"time"
	"unicode/utf8"

	"github.com/bulksync/bulksync/sync"
)

var (
	//go:embed page.js
	pageJS string
	//go:embed page.css
	pageCSS string
	//go:embed page.html
	pageHTML string

	page = template.Must(template.New("page").Parse(pageHTML))
	csp  = "default-src 'none'; img-src https:; script-src " + hash(pageJS) + "; style-src " + hash(pageCSS) +
		"; base-uri 'none'; form-action 'none'"
)

func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// Collector gathers report rows as a run writes them; it is safe for
// concurrent use, as apply workers report at once. It holds every row until
// Write, so memory grows with the run (a few hundred bytes a row) when
// --html is given.
type Collector struct {
	mu      stdsync.Mutex
	rows    []sync.ReportRow
	command string
}

// New returns a collector for a run of command (plan or apply).
func New(command string) *Collector {
	return &Collector{command: command}
}

// Add keeps one report row.
func (c *Collector) Add(r sync.ReportRow) {
	c.mu.Lock()
	c.rows = append(c.rows, r)
	c.mu.Unlock()
}

// Count is one line of the page's totals.
type Count struct {
	Name string
	N    int
}

type pageData struct {
	Title     string
	Command   string
	Input     string
	Generated string
	Records   int
	Actions   []Count
	Results   []Count
	CSP       string
	Style     template.CSS
	Script    template.JS
	Rows      template.JS // JSON, see rowsJSON
}

// rowsJSON encodes the rows for the page's data block, each an array (not
// an object, so the page is not mostly repeated key names) in the column
// order page.js names. html/template would escape a Go value itself but
// takes seconds for 100k rows; appendString escapes <, > and & (and U+2028,
// U+2029) as encoding/json does, so the output can neither end the script
// element nor open a comment in it, which is all a JSON script block needs.
func rowsJSON(rows []sync.ReportRow) template.JS {
	b := make([]byte, 0, 200*len(rows)+2)
	b = append(b, '[')
	for i, r := range rows {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		b = strconv.AppendInt(b, int64(r.Line), 10)
		for _, s := range []string{r.PhoneNumber, string(r.Action), string(r.Result), r.ChangedFields,
			r.FirstNameOld, r.FirstNameNew, r.LastNameOld, r.LastNameNew, r.ImageURLOld, r.ImageURLNew,
			r.HTTPStatus, r.ErrorCode, r.ErrorMessage} {
			b = append(b, ',')
			b = appendString(b, s)
		}
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(r.Attempts), 10)
		b = append(b, ',')
		b = appendString(b, r.TraceID)
		b = append(b, ']')
	}
	b = append(b, ']')
	return template.JS(b)
}

// appendString appends s as a JSON string, escaped as encoding/json escapes
// for HTML; invalid UTF-8 becomes U+FFFD.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r < 0x20 || r == '<' || r == '>' || r == '&' || r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', hex[r>>12&0xf], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
		default:
			b = utf8.AppendRune(b, r)
		}
	}
	return append(b, '"')
}

// Write renders the page. input names what the run read, for the title.
func (c *Collector) Write(w io.Writer, input string, now time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	order := map[string]int{}
	for i, a := range sync.Actions {
		order[string(a)] = i
	}
	// Grouped by action, in the order summaries use, then by line.
	slices.SortFunc(c.rows, func(a, b sync.ReportRow) int {
		return cmp.Or(cmp.Compare(order[string(a.Action)], order[string(b.Action)]), cmp.Compare(a.Line, b.Line))
	})
	actions, results := map[string]int{}, map[string]int{}
	for _, r := range c.rows {
		actions[string(r.Action)]++
		results[string(r.Result)]++
	}
	d := pageData{
		Title: "bulksync " + c.command, Command: c.command, Input: input,
		Generated: now.UTC().Format(time.RFC3339), Records: len(c.rows),
		CSP: csp, Style: template.CSS(pageCSS), Script: template.JS(pageJS),
	}
	d.Rows = rowsJSON(c.rows)
	for _, a := range sync.Actions {
		if n := actions[string(a)]; n > 0 {
			d.Actions = append(d.Actions, Count{string(a), n})
		}
	}
	for _, r := range []sync.Result{sync.ResultPlanned, sync.ResultOK, sync.ResultFailed, sync.ResultSkipped} {
		if n := results[string(r)]; n > 0 {
			d.Results = append(d.Results, Count{string(r), n})
		}
	}
	return page.Execute(w, d)
}
