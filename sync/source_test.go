package sync

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"
	"unicode/utf8"

	textunicode "golang.org/x/text/encoding/unicode"
)

// readSource reads every record of input.
func readSource(input []byte, opts SourceOptions) (RecordSource, []Record, error) {
	src, err := OpenSource(bytes.NewReader(input), opts)
	if err != nil {
		return nil, nil, err
	}
	var recs []Record
	for {
		rec, err := src.Next()
		if err == io.EOF {
			return src, recs, nil
		}
		if err != nil {
			return src, recs, err
		}
		recs = append(recs, rec)
	}
}

func utf16Bytes(t *testing.T, order textunicode.Endianness, s string) []byte {
	t.Helper()
	b, err := textunicode.UTF16(order, textunicode.UseBOM).NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSource(t *testing.T) {
	big := strings.Repeat("x", 10<<20)
	tests := []struct {
		name        string
		input       string
		opts        SourceOptions
		want        []Record
		wantPreset  string
		wantColumns map[string]string
	}{
		{
			name:       "generic",
			input:      "phone_number,first_name,last_name,image_url\n+12125550100,Ada,Lovelace,https://img.example/a.png\n2125550101,Bob,,\n",
			wantPreset: "generic",
			wantColumns: map[string]string{
				FieldPhone: "phone_number", FieldFirstName: "first_name", FieldLastName: "last_name", FieldImageURL: "image_url",
			},
			want: []Record{
				{Line: 2, Phone: "+12125550100", FirstName: "Ada", LastName: "Lovelace", ImageURL: "https://img.example/a.png"},
				{Line: 3, Phone: "2125550101", FirstName: "Bob"},
			},
		},
		{
			name:        "generic header in any case, padded, with extra columns ignored",
			input:       "Email, Phone_Number ,FIRST_NAME,Company\nada@example.com,+12125550100,Ada,ACME\n",
			wantPreset:  "generic",
			wantColumns: map[string]string{FieldPhone: " Phone_Number ", FieldFirstName: "FIRST_NAME"},
			want:        []Record{{Line: 2, Phone: "+12125550100", FirstName: "Ada"}},
		},
		{
			name:       "hubspot: a blank Phone Number falls back to the Mobile Phone Number of that row",
			input:      "First Name,Phone Number,Mobile Phone Number\nAda,+12125550100,+12125550199\nBob,,(212) 555-0101\nCy,,\n",
			wantPreset: "hubspot",
			want: []Record{
				{Line: 2, Phone: "+12125550100", FirstName: "Ada"},
				{Line: 3, Phone: "(212) 555-0101", FirstName: "Bob"},
				{Line: 4, FirstName: "Cy"},
			},
		},
		{
			name:       "salesforce: a blank FullPhotoUrl falls back to SmallPhotoUrl",
			input:      "FirstName,Phone,FullPhotoUrl,SmallPhotoUrl\nAda,+12125550100,,https://img.example/s.png\n",
			wantPreset: "salesforce",
			want:       []Record{{Line: 2, Phone: "+12125550100", FirstName: "Ada", ImageURL: "https://img.example/s.png"}},
		},
		{
			name:       "--map turns the fallback off",
			input:      "First Name,Phone Number,Mobile Phone Number\nBob,,(212) 555-0101\n",
			opts:       SourceOptions{Map: map[string]string{FieldPhone: "Phone Number"}},
			wantPreset: "hubspot",
			want:       []Record{{Line: 2, FirstName: "Bob"}},
		},
		{
			name:  "UTF-8 byte-order mark",
			input: "\uFEFFphone_number,first_name\n+12125550100,Ada\n",
			want:  []Record{{Line: 2, Phone: "+12125550100", FirstName: "Ada"}},
		},
		{
			name:  "CRLF",
			input: "phone_number,first_name,last_name\r\n+12125550100,Ada,Lovelace\r\n+12125550101,Bob,Byron\r\n",
			want: []Record{
				{Line: 2, Phone: "+12125550100", FirstName: "Ada", LastName: "Lovelace"},
				{Line: 3, Phone: "+12125550101", FirstName: "Bob", LastName: "Byron"},
			},
		},
		{
			name:  "no newline at the end",
			input: "phone_number,first_name\n+12125550100,Ada",
			want:  []Record{{Line: 2, Phone: "+12125550100", FirstName: "Ada"}},
		},
		{
			name:  "semicolons",
			input: "phone_number;first_name;last_name\n+12125550100;Ada;\"Love,lace\"\n",
			want:  []Record{{Line: 2, Phone: "+12125550100", FirstName: "Ada", LastName: "Love,lace"}},
		},
		{
			name:  "semicolons with a quoted comma in the header",
			input: "phone_number;first_name;\"a,b,c\"\n+12125550100;Ada;x\n",
			want:  []Record{{Line: 2, Phone: "+12125550100", FirstName: "Ada"}},
		},
		{
			name:  "tabs",
			input: "phone_number\tfirst_name\tlast_name\n+12125550100\tAda\tLove, lace\n",
			want:  []Record{{Line: 2, Phone: "+12125550100", FirstName: "Ada", LastName: "Love, lace"}},
		},
		{
			name:  "delimiter given",
			input: "phone_number|first_name\n+12125550100|Ada\n",
			opts:  SourceOptions{Delimiter: '|'},
			want:  []Record{{Line: 2, Phone: "+12125550100", FirstName: "Ada"}},
		},
		{
			name:  "windows-1252",
			input: "phone_number,first_name,last_name\n+12125550100,Zo\xeb,Jos\xe9 \x80\n",
			opts:  SourceOptions{Encoding: "windows-1252"},
			want:  []Record{{Line: 2, Phone: "+12125550100", FirstName: "Zoë", LastName: "José €"}},
		},
		{
			name:  "latin-1",
			input: "phone_number,first_name,last_name\n+12125550100,Zo\xeb,Jos\xe9\n",
			opts:  SourceOptions{Encoding: "Latin-1"},
			want:  []Record{{Line: 2, Phone: "+12125550100", FirstName: "Zoë", LastName: "José"}},
		},
		{
			name:  "UTF-16LE with byte-order mark",
			input: string(utf16Bytes(t, textunicode.LittleEndian, "phone_number,first_name\r\n+12125550100,Zoë\r\n")),
			opts:  SourceOptions{Encoding: "utf-16"},
			want:  []Record{{Line: 2, Phone: "+12125550100", FirstName: "Zoë"}},
		},
		{
			name:  "UTF-16BE with byte-order mark",
			input: string(utf16Bytes(t, textunicode.BigEndian, "phone_number\tfirst_name\n+12125550100\tZoë\n")),
			opts:  SourceOptions{Encoding: "utf-16"},
			want:  []Record{{Line: 2, Phone: "+12125550100", FirstName: "Zoë"}},
		},
		{
			name:  "quoted multi-line cells keep later line numbers right",
			input: "phone_number,first_name,last_name\n+12125550100,\"Ada\nAugusta\",\"Love\r\n\nlace\"\n+12125550101,Bob,Byron\n",
			want: []Record{
				{Line: 2, Phone: "+12125550100", FirstName: "Ada\nAugusta", LastName: "Love\n\nlace"},
				{Line: 6, Phone: "+12125550101", FirstName: "Bob", LastName: "Byron"},
			},
		},
		{
			name:  "header cell spanning lines",
			input: "\"phone\r\nnumber\";first_name;\"a,b\"\r\n+12125550100;Ada;x\r\n",
			opts:  SourceOptions{Map: map[string]string{FieldPhone: "phone\nnumber"}},
			want:  []Record{{Line: 3, Phone: "+12125550100", FirstName: "Ada"}},
		},
		{
			name:  "blank lines are not records",
			input: "\n\nphone_number,first_name\n\n+12125550100,Ada\n\r\n\n+12125550101,Bob\n\n",
			want: []Record{
				{Line: 5, Phone: "+12125550100", FirstName: "Ada"},
				{Line: 8, Phone: "+12125550101", FirstName: "Bob"},
			},
		},
		{
			name:  "ragged rows",
			input: "phone_number,first_name,last_name\n+12125550100,Ada\n+12125550101,Bob,Smith,Jr\n+12125550102,Cy,Young\n",
			want: []Record{
				// Cells missing at the end: the ones present are in their columns.
				{Line: 2, Phone: "+12125550100", FirstName: "Ada", Problem: "row has 2 cells, the header 3"},
				// Extra cells: everything after an unquoted delimiter shifted.
				{Line: 3, Problem: "row has 4 cells, the header 3 (a cell holding the delimiter must be quoted)"},
				{Line: 4, Phone: "+12125550102", FirstName: "Cy", LastName: "Young"},
			},
		},
		{
			name: "a ragged multi-line row after a long one keeps its cells",
			input: "phone_number,first_name,notes\n+12125550100,Ada,\"" + strings.Repeat("n", 70000) + "\"\n" +
				"+12125550101,\"Bob\nby\"\n+12125550102,Cy,ok\n",
			want: []Record{
				{Line: 2, Phone: "+12125550100", FirstName: "Ada"},
				{Line: 3, Phone: "+12125550101", FirstName: "Bob\nby", Problem: "row has 2 cells, the header 3"},
				{Line: 5, Phone: "+12125550102", FirstName: "Cy"},
			},
		},
		{
			name:  "bare quote",
			input: "phone_number,first_name\n+12125550100,Ada \"The\" Countess\n+12125550101,Bob\n",
			want: []Record{
				{Line: 2, Problem: `parse error on line 2, column 18: bare " in non-quoted-field`},
				{Line: 3, Phone: "+12125550101", FirstName: "Bob"},
			},
		},
		{
			name:  "stray quote after a quoted cell",
			input: "phone_number,first_name\n+12125550100,\"Ada\"x\n+12125550101,Bob\n",
			want: []Record{
				{Line: 2, Problem: `parse error on line 2, column 18: extraneous or missing " in quoted-field`},
				{Line: 3, Phone: "+12125550101", FirstName: "Bob"},
			},
		},
		{
			name:  "truncated in a quoted cell",
			input: "phone_number,first_name\n+12125550100,Ada\n+12125550101,\"Bo\nb",
			want: []Record{
				{Line: 2, Phone: "+12125550100", FirstName: "Ada"},
				{Line: 3, Problem: `record on line 3; parse error on line 4, column 2: extraneous or missing " in quoted-field`},
			},
		},
		{
			name:  "invalid UTF-8 in one record, --encoding utf-8",
			input: "phone_number,first_name,last_name\n+12125550100,Zo\xeb,Smith\n+12125550101,Bob,Byron\n",
			opts:  SourceOptions{Encoding: "utf-8"},
			want: []Record{
				{Line: 2, Phone: "+12125550100", FirstName: "Zo\uFFFD", LastName: "Smith",
					Problem: `invalid UTF-8 in column "first_name"; if the file is not UTF-8, use --encoding windows-1252 or latin-1`},
				{Line: 3, Phone: "+12125550101", FirstName: "Bob", LastName: "Byron"},
			},
		},
		{
			name:  "invalid UTF-8 in an unmapped column is no problem",
			input: "phone_number,first_name,notes\n+12125550100,Ada,\xff\xfe\n",
			opts:  SourceOptions{Encoding: "utf-8"},
			want:  []Record{{Line: 2, Phone: "+12125550100", FirstName: "Ada"}},
		},
		{
			name:  "10 MB cells",
			input: "phone_number,first_name,notes\n+12125550100,\"" + big + "\"," + big + "\n+12125550101,Bob,x\n",
			// The unmapped cell is read past; the mapped one makes the row
			// invalid and is shown cut, with its length.
			want: []Record{
				{Line: 2, Phone: "+12125550100", FirstName: big[:shownCell] + "… (10485760 bytes)",
					Problem: "first_name cell is 10485760 bytes long; at most 4096 are allowed (a missing closing quote?)"},
				{Line: 3, Phone: "+12125550101", FirstName: "Bob"},
			},
		},
		{
			name:  "a 4 KiB cell is read",
			input: "phone_number,first_name\n+12125550100," + strings.Repeat("é", maxCell/2) + "\n",
			want:  []Record{{Line: 2, Phone: "+12125550100", FirstName: strings.Repeat("é", maxCell/2)}},
		},
		{
			name:  "a cell over 4 KiB is cut on a character boundary",
			input: "phone_number,first_name\n+12125550100,x" + strings.Repeat("é", maxCell/2) + "\n",
			want: []Record{{Line: 2, Phone: "+12125550100", FirstName: "x" + strings.Repeat("é", (shownCell-2)/2) + "… (4097 bytes)",
				Problem: "first_name cell is 4097 bytes long; at most 4096 are allowed (a missing closing quote?)"}},
		},
		{
			name:  "header only",
			input: "phone_number,first_name\n",
		},
		{
			name:        "hubspot detected",
			input:       "Record ID,First Name,Last Name,Email,Mobile Phone Number,Phone Number,Avatar URL\n1,Ada,Lovelace,ada@example.com,+12125550199,+12125550100,https://img.example/a.png\n",
			wantPreset:  "hubspot",
			wantColumns: map[string]string{FieldPhone: "Phone Number", FieldFirstName: "First Name", FieldLastName: "Last Name", FieldImageURL: "Avatar URL"},
			want:        []Record{{Line: 2, Phone: "+12125550100", FirstName: "Ada", LastName: "Lovelace", ImageURL: "https://img.example/a.png"}},
		},
		{
			name:        "salesforce detected, falling back to MobilePhone",
			input:       "Id,FirstName,LastName,MobilePhone,SmallPhotoUrl\n003,Ada,Lovelace,+12125550100,https://img.example/s.png\n",
			wantPreset:  "salesforce",
			wantColumns: map[string]string{FieldPhone: "MobilePhone", FieldFirstName: "FirstName", FieldLastName: "LastName", FieldImageURL: "SmallPhotoUrl"},
			want:        []Record{{Line: 2, Phone: "+12125550100", FirstName: "Ada", LastName: "Lovelace", ImageURL: "https://img.example/s.png"}},
		},
		{
			name:        "preset given",
			input:       "FirstName,Phone\nAda,+12125550100\n",
			opts:        SourceOptions{Preset: "Salesforce"},
			wantPreset:  "salesforce",
			wantColumns: map[string]string{FieldPhone: "Phone", FieldFirstName: "FirstName"},
			want:        []Record{{Line: 2, Phone: "+12125550100", FirstName: "Ada"}},
		},
		{
			name:        "--map overrides one field of the preset",
			input:       "First Name,Phone Number,Mobile Phone Number\nAda,+12125550100,+12125550199\n",
			opts:        SourceOptions{Map: map[string]string{FieldPhone: "mobile phone number"}},
			wantPreset:  "hubspot",
			wantColumns: map[string]string{FieldPhone: "Mobile Phone Number", FieldFirstName: "First Name"},
			want:        []Record{{Line: 2, Phone: "+12125550199", FirstName: "Ada"}},
		},
		{
			name:        "--map completes the preset that recognises most",
			input:       "Tel,First Name,Last Name\n+12125550100,Ada,Lovelace\n",
			opts:        SourceOptions{Map: map[string]string{FieldPhone: "Tel"}},
			wantPreset:  "hubspot",
			wantColumns: map[string]string{FieldPhone: "Tel", FieldFirstName: "First Name", FieldLastName: "Last Name"},
			want:        []Record{{Line: 2, Phone: "+12125550100", FirstName: "Ada", LastName: "Lovelace"}},
		},
		{
			name:        "an unmapped column named like a field is ignored",
			input:       "phone_number,first_name,Tel\n+12125550199,Ada,+12125550100\n",
			opts:        SourceOptions{Map: map[string]string{FieldPhone: "Tel"}},
			wantPreset:  "generic",
			wantColumns: map[string]string{FieldPhone: "Tel", FieldFirstName: "first_name"},
			want:        []Record{{Line: 2, Phone: "+12125550100", FirstName: "Ada"}},
		},
		{
			name:  "--map picks one of duplicate columns",
			input: "Phone,FirstName,Phone\n+12125550100,Ada,+12125550199\n",
			opts:  SourceOptions{Map: map[string]string{FieldPhone: "phone#2"}},
			want:  []Record{{Line: 2, Phone: "+12125550199", FirstName: "Ada"}},
		},
		{
			name:  "a duplicate column no field reads is ignored",
			input: "phone_number,first_name,notes,notes\n+12125550100,Ada,a,b\n",
			want:  []Record{{Line: 2, Phone: "+12125550100", FirstName: "Ada"}},
		},
		{
			name:  "a column named with a # is found by its name",
			input: "phone_number,first_name,Tag#2\n+12125550100,Ada,x\n",
			opts:  SourceOptions{Map: map[string]string{FieldLastName: "Tag#2"}},
			want:  []Record{{Line: 2, Phone: "+12125550100", FirstName: "Ada", LastName: "x"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, got, err := readSource([]byte(tt.input), tt.opts)
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d records, want %d: %s", len(got), len(tt.want), shorten(got))
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("record %d:\n got %s\nwant %s", i, shorten(got[i]), shorten(tt.want[i]))
				}
			}
			if tt.wantPreset != "" && src.Preset() != tt.wantPreset {
				t.Errorf("Preset() = %q, want %q", src.Preset(), tt.wantPreset)
			}
			if tt.wantColumns != nil && !maps.Equal(src.Columns(), tt.wantColumns) {
				t.Errorf("Columns() = %q, want %q", src.Columns(), tt.wantColumns)
			}
		})
	}
}

// shorten prints v with long strings cut, so a 10 MB cell does not flood
// the test log.
func shorten(v any) string {
	s := fmt.Sprintf("%+v", v)
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

func TestSourceErrors(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		opts    SourceOptions
		wantErr string
	}{
		{"empty file", "", SourceOptions{}, "input is empty: no header"},
		{"byte-order mark only", "\uFEFF", SourceOptions{}, "input is empty: no header"},
		{"blank lines only", "\n\r\n\n", SourceOptions{}, "input is empty: no header"},
		{"binary", "\xff\xd8\xff\xe0\x00\x10JFIF\x00", SourceOptions{}, "does not look like CSV: its first line holds binary bytes"},
		{"zip read as CSV", "PK\x03\x04\x14\x00\x06\x00", SourceOptions{Format: "csv"}, "does not look like CSV"},
		{"UTF-16 read as UTF-8", "\xff\xfep\x00h\x00o\x00", SourceOptions{Encoding: "utf-8"}, "use --encoding utf-16"},
		{"first line too long", strings.Repeat("a", sniffSize+1), SourceOptions{}, "its first line is longer than 64 KiB"},
		{"old Mac line ends", "phone_number,first_name\r+12125550100,Ada\r", SourceOptions{}, "bare carriage returns"},
		{"header not UTF-8", "phone_number,first_name,Stra\xdfe\n", SourceOptions{Encoding: "utf-8"}, "the header is not valid UTF-8; if the file is not UTF-8, use --encoding windows-1252 or latin-1"},
		{"broken header", "phone_number,\"first_name\"x\n", SourceOptions{}, "reading the header: parse error on line 1"},
		{"unknown preset", "phone_number,first_name\n", SourceOptions{Preset: "zoho"}, `--preset: unknown "zoho"; allowed: auto, generic, hubspot, salesforce`},
		{"unknown encoding", "phone_number,first_name\n", SourceOptions{Encoding: "ebcdic"}, `--encoding: unknown "ebcdic"; allowed: auto, utf-8, windows-1252, latin-1, utf-16`},
		{"unknown --map field", "phone_number,first_name\n", SourceOptions{Map: map[string]string{"frist_name": "Name"}},
			`--map: unknown field "frist_name"; fields are phone_number, first_name, last_name, image_url`},
		{"empty --map column", "phone_number,first_name\n", SourceOptions{Map: map[string]string{"first_name": " "}}, "--map first_name: empty column name"},
		{"--map column not in the header", "phone_number,first_name\n", SourceOptions{Map: map[string]string{"last_name": "Surname"}},
			`--map last_name="Surname": no such column; the header has "phone_number", "first_name"`},
		{"missing column, preset given", "First Name,Email\n", SourceOptions{Preset: "hubspot"},
			`missing column for phone_number: the header has "First Name", "Email"; the hubspot preset expects "Phone Number" or "Mobile Phone Number" (or use --map phone_number=COLUMN)`},
		{"missing column, auto", "Name,Email,Phone\n", SourceOptions{},
			`missing column for first_name: the header has "Name", "Email", "Phone"; no preset fits it; the closest, salesforce, expects "FirstName" (or use --map first_name=COLUMN)`},
		{"missing columns, auto", "Name,Email\n", SourceOptions{},
			`missing columns for phone_number and first_name: the header has "Name", "Email"; no preset fits it; the closest, generic, expects "phone_number" for phone_number, "first_name" for first_name (or use --map FIELD=COLUMN)`},
		{"one column only", "phone_number\n+12125550100\n", SourceOptions{}, "missing column for first_name"},
		{"wide header is cut short", "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o\n", SourceOptions{Preset: "generic"}, `"l", and 3 more;`},
		{"duplicate columns a preset reads", "Phone,FirstName,Phone\n", SourceOptions{},
			`columns 1, 3 of the header are all named "Phone", and phone_number would be read from one of them: pick one with --map phone_number="Phone#N"`},
		{"duplicate columns --map names", "phone_number,first_name,Surname,surname\n", SourceOptions{Map: map[string]string{"last_name": "Surname"}},
			`columns 3, 4 of the header are all named "Surname", and last_name would be read`},
		{"duplicate fallback columns", "First Name,Phone Number,Mobile Phone Number,Mobile Phone Number\n", SourceOptions{},
			`columns 3, 4 of the header are all named "Mobile Phone Number"`},
		{"--map #N beyond the duplicates", "phone_number,first_name,Phone,Phone\n", SourceOptions{Map: map[string]string{"phone_number": "Phone#3"}},
			`--map phone_number="Phone#3": no such column`},
		{"one column for two fields", "phone_number,first_name\n", SourceOptions{Map: map[string]string{"last_name": "first_name"}},
			`column "first_name" would feed both first_name and last_name`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := OpenSource(strings.NewReader(tt.input), tt.opts)
			if err == nil {
				t.Fatalf("no error, want one containing %q", tt.wantErr)
			}
			if !errors.Is(err, ErrUsage) {
				t.Errorf("error %q does not wrap ErrUsage", err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q\ndoes not contain %q", err, tt.wantErr)
			}
		})
	}
}

// failingReader fails after giving its data.
type failingReader struct{ data io.Reader }

func (r failingReader) Read(p []byte) (int, error) {
	n, err := r.data.Read(p)
	if err == io.EOF {
		return n, errors.New("disk on fire")
	}
	return n, err
}

func TestSourceReadError(t *testing.T) {
	// Larger than the read-ahead, so the failure comes from Next.
	input := "phone_number,first_name\n" + strings.Repeat("+12125550100,Ada\n", 2*detectSize/17)
	src, err := OpenSource(failingReader{strings.NewReader(input)}, SourceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for {
		_, err = src.Next()
		if err != nil {
			break
		}
	}
	if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("got %v, want the read error wrapping ErrUsage", err)
	}
}

// rowsReader produces a CSV of n rows without holding it in memory.
type rowsReader struct {
	n, next int
	buf     []byte
}

func (r *rowsReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		switch {
		case r.next > r.n:
			return 0, io.EOF
		case r.next == 0:
			r.buf = []byte("phone_number,first_name,last_name,image_url,email,notes\n")
		default:
			r.buf = fmt.Appendf(r.buf, "+1212555%04d,Ada %d,Lovelace,https://img.example/%d.png,ada%d@example.com,\"likes \"\"engines\"\", poetry\"\n",
				r.next%10000, r.next, r.next, r.next)
		}
		r.next++
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// TestSourceStreams checks that the source hands out records as it reads
// them, instead of reading the whole input first: when each record comes
// out, the reader is only a buffer or so ahead of it. (Memory itself is
// measured by make bench, not asserted here.)
func TestSourceStreams(t *testing.T) {
	const rows = 50_000
	in := &rowsReader{n: rows}
	src, err := OpenSource(in, SourceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; ; i++ {
		rec, err := src.Next()
		if err == io.EOF {
			if i-1 != rows {
				t.Fatalf("read %d records, want %d", i-1, rows)
			}
			break
		}
		if err != nil || rec.Problem != "" || rec.Line != i+1 {
			t.Fatalf("record %d: %+v, %v", i, rec, err)
		}
		// The generator emits records in order: in.next is how far the
		// source has read. The read-ahead, 1 MiB to detect the encoding
		// and 64 KiB for the header, is about 10,000 records.
		if ahead := in.next - i; ahead > 12_000 {
			t.Fatalf("record %d came out when the source had read %d records: it reads ahead instead of streaming", i, in.next)
		}
	}
}

// FuzzSource checks that no input makes the source panic, and that every
// record of the body comes out once, as a Record, in order. Seeds are in
// testdata/fuzz/FuzzSource.
func FuzzSource(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		// Any bytes as a whole file: a Source or an ErrUsage, no panic.
		if src, err := OpenSource(bytes.NewReader(body), SourceOptions{}); err != nil {
			if !errors.Is(err, ErrUsage) {
				t.Fatalf("error %q does not wrap ErrUsage", err)
			}
		} else {
			for i := 0; i <= len(body); i++ {
				if _, err := src.Next(); err != nil {
					break
				}
			}
		}

		// The same bytes under a valid header: compare with a plain
		// encoding/csv pass that counts records, broken ones included.
		const header = "phone_number,first_name,last_name\n"
		input := append([]byte(header), body...)
		src, err := OpenSource(bytes.NewReader(input), SourceOptions{Delimiter: ','})
		if err != nil {
			t.Fatalf("OpenSource: %v", err)
		}
		plain := csv.NewReader(bytes.NewReader(input))
		plain.FieldsPerRecord = -1
		var wantLines []int
		for {
			_, err := plain.Read()
			if err == io.EOF {
				break
			}
			var perr *csv.ParseError
			switch {
			case err == nil:
				line, _ := plain.FieldPos(0)
				wantLines = append(wantLines, line)
			case errors.As(err, &perr):
				wantLines = append(wantLines, perr.StartLine)
			default:
				t.Fatalf("plain read: %v", err)
			}
		}
		wantLines = wantLines[1:] // the header

		var gotLines []int
		for {
			rec, err := src.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("Next: %v", err)
			}
			if n := len(gotLines); rec.Line < 2 || n > 0 && rec.Line <= gotLines[n-1] {
				t.Fatalf("record %d: line %d after %v", n, rec.Line, gotLines)
			}
			for _, cell := range []string{rec.Phone, rec.FirstName, rec.LastName, rec.ImageURL, rec.Problem} {
				if !utf8.ValidString(cell) {
					t.Fatalf("record on line %d holds invalid UTF-8: %+v", rec.Line, rec)
				}
			}
			gotLines = append(gotLines, rec.Line)
		}
		if !slices.Equal(gotLines, wantLines) {
			t.Fatalf("records start on lines %v, want %v", gotLines, wantLines)
		}
	})
}

// BenchmarkSource reads a generated export with a bare encoding/csv loop and
// with a Source, and reports both per row and their ratio.
func BenchmarkSource(b *testing.B) {
	const rows = 100_000
	input, err := io.ReadAll(&rowsReader{n: rows})
	if err != nil {
		b.Fatal(err)
	}
	var bare, source time.Duration
	for b.Loop() {
		start := time.Now()
		r := csv.NewReader(bytes.NewReader(input))
		for {
			if _, err := r.Read(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
		mid := time.Now()
		src, err := OpenSource(bytes.NewReader(input), SourceOptions{})
		if err != nil {
			b.Fatal(err)
		}
		for {
			if _, err := src.Next(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
		bare += mid.Sub(start)
		source += time.Since(mid)
	}
	n := float64(b.N * rows)
	b.ReportMetric(float64(bare.Nanoseconds())/n, "csv-ns/row")
	b.ReportMetric(float64(source.Nanoseconds())/n, "source-ns/row")
	b.ReportMetric(float64(source)/float64(bare), "source/csv")
}

// The tape hands back any stretch of the input since the last offset it
// forgot, however the reads and the forgetting interleave.
func TestTapeBetween(t *testing.T) {
	input := strings.Repeat("0123456789abcdefghijklmnopqrstuvwxyz", 500)
	tp := &tape{r: iotest.HalfReader(strings.NewReader(input))}
	var read, forgot int64
	p := make([]byte, 97)
	for step := 0; read < int64(len(input)); step++ {
		n, _ := tp.Read(p)
		read += int64(n)
		// Forget up to a point behind what was read, as the csv reader's
		// read-ahead leaves it.
		if off := read - int64(step%50); off > forgot {
			tp.forget(off)
			forgot = off
		}
		for _, from := range []int64{forgot, (forgot + read) / 2} {
			if got, want := string(tp.between(from, read)), input[from:read]; got != want {
				t.Fatalf("step %d: between(%d, %d) = %q, want %q", step, from, read, got, want)
			}
		}
		if forgot > 0 && tp.between(forgot-1, read) != nil {
			t.Fatalf("step %d: a forgotten byte is still there", step)
		}
	}
	if cap(tp.buf) > 4<<10 {
		t.Errorf("the tape's buffer grew to %d bytes for %d kept at most", cap(tp.buf), 50+97)
	}
}
