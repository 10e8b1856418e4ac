package main

import (
	"bytes"
	"encoding/csv"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/xuri/excelize/v2"
)

var updateFixtures = flag.Bool("update", false, "rewrite the generated files in testdata/xlsx")

// xlsxFixtures are the workbooks in testdata/xlsx that script tests read
// (through $TESTDATA), each made by its generator below with excelize.
var xlsxFixtures = map[string]func(t *testing.T) []byte{
	"contacts.xlsx": contactsXLSX,
}

// TestXLSXFixtures checks that each committed workbook is what its
// generator makes; -update rewrites them:
//
//	go test ./cmd/bulksync -run TestXLSXFixtures -update
func TestXLSXFixtures(t *testing.T) {
	for name, gen := range xlsxFixtures {
		path := filepath.Join("..", "..", "testdata", "xlsx", name)
		got := gen(t)
		if again := gen(t); !bytes.Equal(got, again) {
			t.Fatalf("%s: the generator is not deterministic", name)
		}
		if *updateFixtures {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is not what its generator makes: run go test ./cmd/bulksync -run TestXLSXFixtures -update", path)
		}
	}
}

// contactsXLSX is a HubSpot contact export saved as .xlsx, with what Excel
// files hold: phone numbers stored as numbers (one shown in scientific
// notation, one with thousands separators, one with a leading zero kept by
// its format), a date, formulas with their cached values, an empty row, a
// merged cell, a country per row, and a second sheet. testdata/script/plan_xlsx_same_as_csv.txtar
// holds the same export as CSV.
func contactsXLSX(t *testing.T) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	check := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	style := func(s *excelize.Style) int {
		id, err := f.NewStyle(s)
		check(err)
		return id
	}
	zeros := "00000000000"
	sci, grouped, lead, date := style(&excelize.Style{NumFmt: 11}), style(&excelize.Style{NumFmt: 3}),
		style(&excelize.Style{CustomNumFmt: &zeros}), style(&excelize.Style{NumFmt: 14})
	check(f.SetSheetName("Sheet1", "Contacts"))
	rows := [][]any{
		{"Record ID", "First Name", "Last Name", "Phone Number", "Mobile Phone Number", "Create Date", "Country/Region"},
		{101, "Ada", "Lovelace", 14155550101, nil, excelize.Cell{StyleID: date, Value: 45000}, "United States"},
		{102, "Grace", "Hopper", excelize.Cell{StyleID: sci, Value: 14155550102}, nil, excelize.Cell{StyleID: date, Value: 45001}},
		{103, "Zoë", "Brontë", excelize.Cell{StyleID: lead, Value: 2079460123}, nil, nil, "United Kingdom"},
		nil, // an empty row
		{104, excelize.Cell{Formula: `PROPER("edsger")`, Value: "Edsger"}, "Dijkstra", excelize.Cell{Formula: "14155550000+104", Value: 14155550104}},
		{105, "Bob", "Byron", nil, "+1 (415) 555-0105"},
		{106, "Cy", "Twombly", excelize.Cell{StyleID: grouped, Value: 14155550106}},
		{107, "Cyrus", "Twombly", "+1 415 555 0106"},
		{108, "Eve", "Online", "CALL-EVE"},
		{109, "Di", "Prima", 14155550109, nil, nil, "US"},
		{110, "Ed", "", 14155550110, nil, nil, "US"},
		{111, "Flo", "Nightingale", excelize.Cell{StyleID: lead, Value: 2079460999}, nil, nil, "Narnia"},
	}
	sw, err := f.NewStreamWriter("Contacts")
	check(err)
	for i, row := range rows {
		if row == nil {
			continue
		}
		cell, err := excelize.CoordinatesToCellName(1, i+1)
		check(err)
		check(sw.SetRow(cell, row))
	}
	// Di and Ed share a merged "Last Name": Excel keeps the value in the
	// first cell only.
	check(sw.MergeCell("C11", "C12"))
	check(sw.Flush())

	_, err = f.NewSheet("Archive")
	check(err)
	for i, row := range [][]any{
		{"First Name", "Last Name", "Phone Number"},
		{"Ada", "Byron", 14155550101},
	} {
		cell, err := excelize.CoordinatesToCellName(1, i+1)
		check(err)
		check(f.SetSheetRow("Archive", cell, &row))
	}
	var buf bytes.Buffer
	check(f.Write(&buf))
	return buf.Bytes()
}

// testdataDir is the repository's testdata, for scripts: $TESTDATA.
var testdataDir = func() string {
	dir, err := filepath.Abs(filepath.Join("..", "..", "testdata"))
	if err != nil {
		panic(err)
	}
	return dir
}()

// samereport A B: the reports A and B have the same rows, leaving out the
// columns that differ from run to run (trace_id, duration_ms). Rows are
// compared in line order: apply writes them as its workers finish.
func checkSameReport(ts *testscript.TestScript, args []string) error {
	if len(args) != 2 {
		ts.Fatalf("usage: samereport A B")
	}
	read := func(name string) [][]string {
		f, err := os.Open(ts.MkAbs(name))
		ts.Check(err)
		defer f.Close()
		rows, err := csv.NewReader(f).ReadAll()
		ts.Check(err)
		if len(rows) == 0 {
			ts.Fatalf("%s is empty", name)
		}
		var keep []int
		for i, col := range rows[0] {
			if col != "trace_id" && col != "duration_ms" {
				keep = append(keep, i)
			}
		}
		for i, row := range rows {
			kept := make([]string, len(keep))
			for j, k := range keep {
				kept[j] = row[k]
			}
			rows[i] = kept
		}
		slices.SortStableFunc(rows[1:], func(a, b []string) int {
			x, _ := strconv.Atoi(a[0])
			y, _ := strconv.Atoi(b[0])
			return x - y
		})
		return rows
	}
	a, b := read(args[0]), read(args[1])
	for i := range max(len(a), len(b)) {
		switch {
		case i >= len(a):
			return fmt.Errorf("%s has %d rows, %s more", args[0], len(a)-1, args[1])
		case i >= len(b):
			return fmt.Errorf("%s has %d rows, %s more", args[1], len(b)-1, args[0])
		case !slices.Equal(a[i], b[i]):
			return fmt.Errorf("%s and %s differ at row %d:\n%q\n%q", args[0], args[1], i, a[i], b[i])
		}
	}
	return nil
}

// plan and apply list the input flags.
func TestHelpListsInputFlags(t *testing.T) {
	for _, cmd := range []string{"plan", "apply"} {
		var stderr bytes.Buffer
		run([]string{cmd, "-h"}, &env{stdout: &bytes.Buffer{}, stderr: &stderr, getenv: func(string) string { return "" }})
		for _, flag := range []string{"--format", "--sheet", "--encoding", "--delimiter", "--region", "--region-column"} {
			if !strings.Contains(stderr.String(), "  "+flag+" ") && !strings.Contains(stderr.String(), "  "+flag+"\n") {
				t.Errorf("%s -h does not list %s", cmd, flag)
			}
		}
	}
}
