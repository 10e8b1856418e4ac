package main

import (
	"database/sql"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bulksync/bulksync/gen/linq"
	"github.com/bulksync/bulksync/internal/linqfake"
	"github.com/rogpeppe/go-internal/testscript"
	_ "modernc.org/sqlite"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"bulksync": func() {
			os.Exit(run(os.Args[1:], &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}))
		},
	})
}

// TestScripts runs the CLI scripts in testdata/script: one behaviour per
// file, the first word of the name its category (plan_bom.txtar, ...).
func TestScripts(t *testing.T) {
	testscript.Run(t, scriptParams("../../testdata/script"))
}

func scriptParams(dir string) testscript.Params {
	return testscript.Params{
		Dir: dir,
		Setup: func(e *testscript.Env) error {
			e.Values["fake"] = &fakeHolder{}
			e.Values["front"] = &frontHolder{}
			// Never let a developer's real key or endpoint leak into a test.
			e.Setenv("LINQ_API_V3_API_KEY", "")
			e.Setenv("LINQ_API_V3_BASE_URL", "")
			e.Setenv("XDG_STATE_HOME", e.WorkDir+"/.state")
			// Binary fixtures (testdata/xlsx) are copied in from here.
			e.Setenv("TESTDATA", testdataDir)
			return nil
		},
		Cmds: scriptCmds(),
	}
}

// scriptChecks are the scripts' custom commands that check something. They
// honour "!": a negated check fails when the check passes. A check's
// usage errors (and files it cannot read) fail the script either way.
// Each has scripts in testdata/script_selftest that show it fails when it
// should (TestScriptCommandsFail).
var scriptChecks = map[string]func(ts *testscript.TestScript, args []string) error{
	"csvcheck":   checkCSV,
	"exits":      checkExits,
	"statecheck": checkState,
	"samereport": checkSameReport, // script_xlsx_test.go
	"promcheck":  checkProm,       // script_obs_test.go
	"nokey":      checkNoKey,      // script_obs_test.go
	"jsonlines":  checkJSONLines,  // script_obs_test.go
}

// scriptActions are the scripts' custom commands that do something (start
// the fake, print, write a file). They refuse "!": that an action failed
// would say nothing useful.
var scriptActions = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	"fake":      cmdFake,
	"fakelog":   cmdFakeLog,
	"fakecards": cmdFakeCards,
	"fakeput":   cmdFakePut,
	"fakeline":  cmdFakeLine,
	"fakereset": cmdFakeReset,
	"waitreq":   cmdWaitReq,
	"genexport": cmdGenExport,
	"sqlexec":   cmdSQLExec,
	// script_safety_test.go
	"front":     cmdFront,
	"recorded":  cmdRecorded,
	"waitfront": cmdWaitFront,
	// script_obs_test.go
	"xlsxformulas": cmdXLSXFormulas,
}

func scriptCmds() map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	cmds := map[string]func(ts *testscript.TestScript, neg bool, args []string){}
	for name, check := range scriptChecks {
		cmds[name] = func(ts *testscript.TestScript, neg bool, args []string) {
			err := check(ts, args)
			switch {
			case err != nil && !neg:
				ts.Fatalf("%s: %v", name, err)
			case err != nil && neg:
				ts.Logf("%s failed, as wanted: %v", name, err)
			case err == nil && neg:
				ts.Fatalf("! %s %s: the check passed", name, strings.Join(args, " "))
			}
		}
	}
	for name, action := range scriptActions {
		cmds[name] = func(ts *testscript.TestScript, neg bool, args []string) {
			if neg {
				ts.Fatalf("%s does not take \"!\": it is not a check", name)
			}
			action(ts, neg, args)
		}
	}
	return cmds
}

type fakeHolder struct{ srv *linqfake.Server }

func fakeOf(ts *testscript.TestScript) *linqfake.Server {
	h := ts.Value("fake").(*fakeHolder)
	if h.srv == nil {
		ts.Fatalf("no fake API: run 'fake' first")
	}
	return h.srv
}

// fake [flags]: start the fake Linq API in this test process and point
// bulksync at it through LINQ_API_V3_BASE_URL and LINQ_API_V3_API_KEY.
func cmdFake(ts *testscript.TestScript, neg bool, args []string) {
	fs := flag.NewFlagSet("fake", flag.ContinueOnError)
	seed := fs.String("seed", "", "CSV of cards to seed")
	token := fs.String("token", "test-token", "accepted bearer token")
	opts := linqfake.Options{}
	addFakeBehaviourFlags(fs, &opts, ts.MkAbs)
	// Scripts that inject faults were written against seed 1's draws.
	fs.Set("random-seed", "1")
	if err := fs.Parse(args); err != nil {
		ts.Fatalf("fake: %v", err)
	}
	opts.Token = *token
	if err := checkFakeAPIFlags("127.0.0.1:0", opts); err != nil {
		ts.Fatalf("fake: %v", err)
	}
	srv := linqfake.New(opts)
	if *seed != "" {
		f, err := os.Open(ts.MkAbs(*seed))
		ts.Check(err)
		ts.Check(srv.SeedCSV(f))
		f.Close()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	ts.Defer(func() { hs.Close() })
	ts.Value("fake").(*fakeHolder).srv = srv
	ts.Setenv("LINQ_API_V3_BASE_URL", "http://"+ln.Addr().String())
	ts.Setenv("LINQ_API_V3_API_KEY", *token)
}

// fakelog: print the requests the fake received, one per line:
// METHOD PATH?QUERY STATUS CODE BODY.
func cmdFakeLog(ts *testscript.TestScript, neg bool, args []string) {
	for _, r := range fakeOf(ts).Requests() {
		q := ""
		if r.Query != "" {
			q = "?" + r.Query
		}
		fmt.Fprintf(ts.Stdout(), "%s %s%s %d %d %s\n", r.Method, r.Path, q, r.Status, r.Code, strings.TrimSpace(string(r.Body)))
	}
}

// fakereset: forget the requests logged so far.
func cmdFakeReset(ts *testscript.TestScript, neg bool, args []string) {
	fakeOf(ts).ResetLog()
}

// waitreq N: wait until the fake has received N requests (10 s at most).
func cmdWaitReq(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: waitreq N")
	}
	n, err := strconv.Atoi(args[0])
	ts.Check(err)
	deadline := time.Now().Add(10 * time.Second)
	for len(fakeOf(ts).Requests()) < n {
		if time.Now().After(deadline) {
			ts.Fatalf("the fake received %d requests in 10s, want %d", len(fakeOf(ts).Requests()), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// genexport FILE N FIRST: write a generic export of N numbers +1212555xxxx
// whose first name is FIRST; with "seed" as FIRST, a seed file instead.
func cmdGenExport(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: genexport FILE N FIRST")
	}
	n, err := strconv.Atoi(args[1])
	ts.Check(err)
	var b strings.Builder
	if args[2] == "seed" {
		b.WriteString("phone_number,first_name,last_name,image_url,is_active\n")
		for i := range n {
			fmt.Fprintf(&b, "+1212555%04d,Old,Number%d,,true\n", i, i)
		}
	} else {
		b.WriteString("phone_number,first_name,last_name\n")
		for i := range n {
			fmt.Fprintf(&b, "+1212555%04d,%s,Number%d\n", i, args[2], i)
		}
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte(b.String()), 0o644))
}

// sqlexec FILE SQL: run SQL on an SQLite file (to make foreign or newer
// state databases) and print any rows, one per line, cells joined by |.
func cmdSQLExec(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: sqlexec FILE SQL")
	}
	db, err := sql.Open("sqlite", ts.MkAbs(args[0]))
	ts.Check(err)
	defer db.Close()
	rows, err := db.Query(args[1])
	ts.Check(err)
	defer rows.Close()
	cols, _ := rows.Columns()
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		ts.Check(rows.Scan(ptrs...))
		cells := make([]string, len(vals))
		for i, v := range vals {
			cells[i] = fmt.Sprint(v)
		}
		fmt.Fprintln(ts.Stdout(), strings.Join(cells, "|"))
	}
	ts.Check(rows.Err())
}

// statecheck FILE: every card the state database records as applied holds,
// on the fake, the live values the state says the server answered: the
// state never claims a change the server did not confirm.
func checkState(ts *testscript.TestScript, args []string) error {
	if len(args) != 1 {
		ts.Fatalf("usage: statecheck FILE")
	}
	db, err := sql.Open("sqlite", ts.MkAbs(args[0]))
	ts.Check(err)
	defer db.Close()
	rows, err := db.Query(`SELECT phone, live_first, live_last, live_image FROM cards`)
	ts.Check(err)
	defer rows.Close()
	n := 0
	for rows.Next() {
		var phone, first, last, image string
		ts.Check(rows.Scan(&phone, &first, &last, &image))
		c, ok := fakeOf(ts).Card(phone)
		if !ok || c.FirstName != first || deref(c.LastName) != last || deref(c.ImageUrl) != image {
			return fmt.Errorf("state records %s as %q %q %q, the server has %+v", phone, first, last, image, c)
		}
		n++
	}
	ts.Check(rows.Err())
	fmt.Fprintf(ts.Stdout(), "%d cards in the state match the server\n", n)
	return nil
}

// fakecards: print the fake's cards, one per line:
// PHONE|FIRST|LAST|IMAGE|ACTIVE.
func cmdFakeCards(ts *testscript.TestScript, neg bool, args []string) {
	for _, c := range fakeOf(ts).Cards() {
		fmt.Fprintf(ts.Stdout(), "%s|%s|%s|%s|%v\n", c.PhoneNumber, c.FirstName, deref(c.LastName), deref(c.ImageUrl), c.IsActive)
	}
}

// fakeput PHONE FIRST LAST IMAGE ACTIVE: edit a card directly, as someone
// would in Linq's own tools.
func cmdFakePut(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 5 {
		ts.Fatalf("usage: fakeput PHONE FIRST LAST IMAGE ACTIVE")
	}
	active, err := strconv.ParseBool(args[4])
	ts.Check(err)
	c := linq.ContactCard{PhoneNumber: args[0], FirstName: args[1], IsActive: active}
	if args[2] != "" {
		c.LastName = &args[2]
	}
	if args[3] != "" {
		c.ImageUrl = &args[3]
	}
	fakeOf(ts).PutCard(c)
}

// fakeline add|remove PHONE: put a line on the account or take it off, as
// Linq staff would.
func cmdFakeLine(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: fakeline add|remove PHONE")
	}
	switch args[0] {
	case "add":
		fakeOf(ts).AddLine(args[1])
	case "remove":
		fakeOf(ts).RemoveLine(args[1])
	default:
		ts.Fatalf("usage: fakeline add|remove PHONE")
	}
}

// csvcheck FILE ROWS: FILE is a valid report: the fixed header, every row
// with all columns, ROWS data rows, and the input lines in input order,
// none twice (rows with an empty line, absent cards, are about no input
// line).
func checkCSV(ts *testscript.TestScript, args []string) error {
	if len(args) != 2 {
		ts.Fatalf("usage: csvcheck FILE ROWS")
	}
	want, err := strconv.Atoi(args[1])
	ts.Check(err)
	f, err := os.Open(ts.MkAbs(args[0]))
	ts.Check(err)
	defer f.Close()
	// The reader's default FieldsPerRecord checks that every row has as
	// many cells as the header.
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return fmt.Errorf("%s is not valid CSV: %v", args[0], err)
	}
	if len(rows) == 0 {
		return fmt.Errorf("%s is empty: no header", args[0])
	}
	if got := strings.Join(rows[0], ","); got != reportHeader {
		return fmt.Errorf("%s: header is %q", args[0], got)
	}
	last := 0
	for _, r := range rows[1:] {
		if r[0] == "" {
			continue // about no input line: an absent card
		}
		line, err := strconv.Atoi(r[0])
		switch {
		case err != nil:
			return fmt.Errorf("%s: line %q is not a number", args[0], r[0])
		case line == last:
			return fmt.Errorf("%s: line %d reported twice", args[0], line)
		case line < last:
			return fmt.Errorf("%s: line %d reported after line %d: not in input order", args[0], line, last)
		}
		last = line
	}
	if got := len(rows) - 1; got != want {
		return fmt.Errorf("%s has %d rows, want %d", args[0], got, want)
	}
	return nil
}

// exits CODE COMMAND [ARGS...]: run a command and check its exit code; its
// output is kept for stdout/stderr checks as with exec. "! exits 2 ..."
// wants any exit code but 2.
func checkExits(ts *testscript.TestScript, args []string) error {
	if len(args) < 2 {
		ts.Fatalf("usage: exits CODE COMMAND [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		got = ee.ExitCode()
	} else if err != nil {
		ts.Fatalf("%v", err)
	}
	if got != want {
		return fmt.Errorf("exit code %d, want %d", got, want)
	}
	return nil
}

const reportHeader = "line,phone_number,action,result,changed_fields,first_name_old,first_name_new,last_name_old,last_name_new,image_url_old,image_url_new,http_status,error_code,error_message,attempts,trace_id,duration_ms"

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
