package sync

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/bulksync/bulksync/internal/linqfake"
)

// changingInput reads first until it is rewound, then second: an export
// changed between the passes.
type changingInput struct {
	second string
	r      *strings.Reader
}

func (c *changingInput) Read(p []byte) (int, error) { return c.r.Read(p) }

func (c *changingInput) Seek(off int64, whence int) (int64, error) {
	if off == 0 && whence == io.SeekStart {
		c.r = strings.NewReader(c.second)
	}
	return c.r.Seek(off, whence)
}

// secondPass runs both passes of an export that reads first, then second,
// and returns what the second pass handed on. keepLimit is the first
// pass's bound on the records it keeps (exportChanges.keepLimit): below 0,
// the second pass reads the input again.
func secondPass(t *testing.T, first, second string, keepLimit int) []Desired {
	t.Helper()
	e := &exportChanges{input: &changingInput{second: second, r: strings.NewReader(first)}, normalize: NormalizeOptions{Region: "US"}, keepLimit: keepLimit}
	if err := e.open(&Summary{}); err != nil {
		t.Fatal(err)
	}
	defer e.close()
	if _, err := e.firstPass(liveState{cards: NewCards()}, func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	return secondPassRecords(t, e)
}

// secondPassRecords runs e's second pass and returns what each of its
// changes wants.
func secondPassRecords(t *testing.T, e *exportChanges) []Desired {
	t.Helper()
	var got []Desired
	if err := e.changes(func(c Change) error {
		got = append(got, c.Desired)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

// normalizeAll is what the records of export normalise to, read once.
func normalizeAll(t *testing.T, export string) []Desired {
	t.Helper()
	src, err := OpenSource(strings.NewReader(export), SourceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var out []Desired
	for {
		rec, err := src.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, Normalize(rec, NormalizeOptions{Region: "US"}))
	}
}

// A second pass that reads the input again (the first kept no records:
// a long export) takes each number the first pass read rather than
// parsing the cell again; it must come to what normalising the record
// would, also when the export changed between the passes.
func TestSecondPassNumbers(t *testing.T) {
	const header = "phone_number,first_name,country\n"
	same := header + "+1 (212) 200-0000,Ada,\n" +
		"212-200-0001,Grace,US\n" +
		"1 212 200 0002,Alan,United States\n" +
		"020 7183 8750,Tim,GB\n" + // a national prefix: the digits are not the number's end
		"+44 20 7183 8751,Tim,\n" +
		"not a number,Bad,\n" +
		",Nobody,\n" +
		"tel:+12122000003,Tel,\n"
	for _, tc := range []struct{ name, first, second string }{
		{"same export", same, same},
		{"another number", header + "+12122000000,Ada,\n", header + "+442071838750,Ada,\n"},
		{"another country", header + "2079460000,Ada,US\n", header + "2079460000,Ada,United Kingdom\n"},
		{"a number made invalid", header + "+12122000000,Ada,\n", header + "+1212200000,Ada,\n"},
		{"a record fewer", header + "+12122000000,Ada,\n+12122000001,Bob,\n", header + "+12122000001,Bob,\n"},
		{"a record more", header + "+12122000000,Ada,\n", header + "+12122000001,Bob,\n+12122000000,Ada,\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, want := secondPass(t, tc.first, tc.second, -1), normalizeAll(t, tc.second)
			if !slices.Equal(got, want) {
				t.Errorf("second pass read\n%+v\nwant\n%+v", got, want)
			}
		})
	}
	if got := normalizeAll(t, header+"2079460000,Ada,United Kingdom\n"); got[0].Phone != "+442079460000" {
		t.Errorf("2079460000 in the United Kingdom is %s: the test's premise is wrong", got[0].Phone)
	}
}

// A short export is read once: the second pass plans the records the
// first kept, exactly those it counted, even if the file changed between
// the passes. Past the bound, nothing is kept and the input is read again.
func TestSecondPassKeptRecords(t *testing.T) {
	const header = "phone_number,first_name,last_name,image_url,country\n"
	first := header + "+1 (212) 200-0000,Ada,Lovelace,https://img.example/a.png,\n" +
		"212-200-0001, Grace ,Hopper,,US\n" +
		"020 7183 8750,Tim,,,GB\n" +
		"not a number,Bad,,,\n" +
		",,,,\n" +
		"+12122000002,\"Zoë\",\"Mañana, Jr.\",,\n" +
		"+12122000003,only,two\n" + // a ragged row: a problem, kept with its cells
		"+12122000004,Last,One,,\n"
	second := header + "+12122000009,Other,,,\n"
	if got, want := secondPass(t, first, second, 0), normalizeAll(t, first); !slices.Equal(got, want) {
		t.Errorf("second pass of a kept export\n%+v\nwant the first pass's records\n%+v", got, want)
	}
	// A bound that holds the first records but not all of them: the input
	// is read again, the numbers of the records before the bound parsed
	// again, those after it taken from the first pass.
	if got, want := secondPass(t, first, second, 200), normalizeAll(t, second); !slices.Equal(got, want) {
		t.Errorf("second pass past the bound\n%+v\nwant the input read again\n%+v", got, want)
	}
	if got, want := secondPass(t, first, first, 200), normalizeAll(t, first); !slices.Equal(got, want) {
		t.Errorf("second pass past the bound, same input\n%+v\nwant\n%+v", got, want)
	}
}

func TestCellEnds(t *testing.T) {
	for _, tc := range []struct {
		cell string
		key  uint64
		want bool
	}{
		{"+1 (212) 200-0000", 12122000000, true},
		{"212 200 0000", 12122000000, true},
		{"tel:212.200.0000", 12122000000, true},
		{"212 200 0001", 12122000000, false},
		{"2122000000", 44112122000000, false}, // four digits left over: not a calling code
		{"020 7183 8750", 442071838750, false},
		{"", 12122000000, false},
		{"x", 12122000000, false},
		{"1 212 200 0000 5", 12122000000, false},
	} {
		if got := cellEnds(tc.cell, tc.key); got != tc.want {
			t.Errorf("cellEnds(%q, %d) = %v, want %v", tc.cell, tc.key, got, tc.want)
		}
	}
}

// A pass that stops early (an interrupt, a failed write) returns the error
// that stopped it, after handing on exactly the records before it, in
// order; the goroutines reading ahead have ended by then, so the input can
// be rewound and read whole again.
func TestPassStopsEarly(t *testing.T) {
	var b strings.Builder
	b.WriteString("phone_number,first_name\n")
	const rows = 5*batchRecords + 17 // several batches, the last one short
	for i := range rows {
		fmt.Fprintf(&b, "+1212%07d,Name%d\n", 2000000+i, i)
	}
	export := b.String()
	want := normalizeAll(t, export)

	e := &exportChanges{input: strings.NewReader(export), normalize: NormalizeOptions{Region: "US"}}
	if err := e.open(&Summary{}); err != nil {
		t.Fatal(err)
	}
	defer e.close()
	errStop := errors.New("stop")
	const stopAt = batchRecords + 44
	seen := 0
	_, err := e.firstPass(liveState{cards: NewCards()}, func() error {
		seen++
		if seen == stopAt {
			return errStop
		}
		return nil
	})
	if !errors.Is(err, errStop) || seen != stopAt {
		t.Fatalf("first pass: %v after %d records, want %v after %d", err, seen, errStop, stopAt)
	}
	got := secondPassRecords(t, e)
	if len(got) != rows {
		t.Fatalf("the pass after the stopped one handed on %d records, want %d", len(got), rows)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("record %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

// A plan whose second pass plans the kept records writes the report a
// plan that reads the input again writes, row for row.
func TestKeptRecordsPlanAsReadAgain(t *testing.T) {
	_, url := startFake(t, linqfake.Options{},
		card("+12125550001", "Old", "One", true),
		card("+12125550002", "Same", "Two", true),
		card("+12125550003", "Old", "Three", false),
		card("+12125550004", "Old", "Four", true))
	export := "phone_number,first_name,last_name\n" +
		"+12125550001,New,One\n" +
		"+1 212 555 0002,Same,Two\n" +
		"+12125550003,New,Three\n" +
		"+12125550004,Dup,A\n" +
		"not a number,Bad,\n" +
		"+12125550004,Dup,B\n" +
		"+12125550005,Created,\n" +
		"+19995550000,Not,Owned\n" +
		"+12125550006,Ragged\n"
	plan := func(keepLimit int) runResult {
		return runSync(t, url, export, func(j *Job) { j.DryRun, j.keepLimit = true, keepLimit })
	}
	kept, readAgain := plan(0), plan(-1)
	if kept.err != nil && !errors.Is(kept.err, ErrIncomplete) {
		t.Fatal(kept.err)
	}
	if len(kept.rows) != 9 || !slices.EqualFunc(kept.rows, readAgain.rows, maps.Equal) {
		t.Errorf("report of the kept records\n%v\nwant, as read again,\n%v", kept.rows, readAgain.rows)
	}
	if kept.summary.Records != readAgain.summary.Records || kept.summary.Changes != readAgain.summary.Changes || !maps.Equal(kept.summary.Actions, readAgain.summary.Actions) {
		t.Errorf("summary of the kept records %+v, as read again %+v", kept.summary, readAgain.summary)
	}
}
