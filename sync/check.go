package sync

import (
	"cmp"
	"context"
	"crypto/tls"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// The checks of `bulksync check`: a preflight that reads what a run would
// read and writes nothing, creates nothing, takes no lock and sends no
// change. Each check ends ok, warn (worth a look; a run would go on) or
// fail (a run would stop). A failure is local (the key, the state, the
// input: exit 2) or remote (the API: exit 3).

// CheckStatus is a check's outcome.
type CheckStatus string

const (
	CheckOK   CheckStatus = "ok"
	CheckWarn CheckStatus = "warn"
	CheckFail CheckStatus = "fail"
)

// CheckResult is one line of check's output.
type CheckResult struct {
	Name    string // key, endpoint, lines, cards, state, input, row
	Status  CheckStatus
	Remote  bool // a failure on the API's side (exit 3), not here (exit 2)
	Message string
}

// CheckExitCode is check's exit code: 3 when a remote check failed, 2 when
// a local one did, else 0. Warnings do not count.
func CheckExitCode(results []CheckResult) int {
	code := 0
	for _, r := range results {
		if r.Status != CheckFail {
			continue
		}
		if r.Remote {
			return 3
		}
		code = 2
	}
	return code
}

// certWarning is how close to its expiry a server certificate is worth a
// warning: the nightly job should not be the first to notice.
const certWarning = 14 * 24 * time.Hour

// CheckEndpoint connects to the base URL's host as a request would (TCP,
// then TLS for https, verified against the system's CA bundle) and says
// which TLS version and certificate it got. It sends no request.
func CheckEndpoint(ctx context.Context, baseURL string) CheckResult {
	res := CheckResult{Name: "endpoint", Remote: true}
	u, err := CheckBaseURL(baseURL)
	if err != nil {
		res.Status, res.Remote, res.Message = CheckFail, false, err.Error()
		return res
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"https": "443", "http": "80"}[u.Scheme]
	}
	addr := net.JoinHostPort(u.Hostname(), port)
	start := time.Now()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		res.Status, res.Message = CheckFail, fmt.Sprintf("%s: cannot connect to %s: %v", u.Redacted(), addr, causeOf(ctx, err))
		return res
	}
	defer conn.Close()
	if u.Scheme == "http" {
		res.Status, res.Message = CheckOK, fmt.Sprintf("%s: connected in %s (plain http: loopback only)", u.Redacted(), ms(time.Since(start)))
		return res
	}
	tc := tls.Client(conn, &tls.Config{ServerName: u.Hostname()})
	if err := tc.HandshakeContext(ctx); err != nil {
		res.Status, res.Message = CheckFail, fmt.Sprintf("%s: TLS handshake with %s failed: %v", u.Redacted(), addr, causeOf(ctx, err))
		return res
	}
	st := tc.ConnectionState()
	cert := st.PeerCertificates[0]
	left := time.Until(cert.NotAfter)
	res.Status = CheckOK
	res.Message = fmt.Sprintf("%s: %s in %s, certificate for %s valid until %s", u.Redacted(), tls.VersionName(st.Version),
		ms(time.Since(start)), cert.Subject.CommonName, cert.NotAfter.UTC().Format(time.DateOnly))
	if left < certWarning {
		res.Status = CheckWarn
		res.Message += fmt.Sprintf(": it expires in %d days", int(left.Hours()/24))
	}
	return res
}

// causeOf prefers the context's cause (a timeout) to the error it caused.
func causeOf(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return err
}

func ms(d time.Duration) string {
	if d < time.Millisecond {
		return "under 1ms"
	}
	return d.Round(time.Millisecond).String()
}

// CheckCards reads the live cards once, as a run's snapshot does, and
// reports how many there are and how long the read took. keyFrom names
// where the key came from, for the message when the API refuses it.
func CheckCards(ctx context.Context, read func(context.Context) (*Cards, error), keyFrom string) CheckResult {
	res := CheckResult{Name: "cards", Remote: true}
	start := time.Now()
	cards, err := read(ctx)
	took := time.Since(start)
	if err != nil {
		res.Status, res.Message = CheckFail, refusedKey(err, keyFrom)
		return res
	}
	inactive := 0
	for c := range cards.All() {
		if !c.Active {
			inactive++
		}
	}
	res.Status = CheckOK
	res.Message = fmt.Sprintf("%d live cards (%d inactive) read in one GET in %s", cards.Len(), inactive, ms(took))
	return res
}

// CheckLines reads the account's lines once and says how many there are
// and which are not healthy. As in a run, the list is an aid, not a gate:
// a list that cannot be read is a warning (runs then skip the not_owned
// check), not a failure.
func CheckLines(ctx context.Context, read func(context.Context) (*Lines, error), keyFrom string) CheckResult {
	res := CheckResult{Name: "lines", Remote: true}
	start := time.Now()
	lines, err := read(ctx)
	took := time.Since(start)
	if err != nil {
		res.Status = CheckWarn
		res.Message = "cannot read the account's phone numbers; runs will go on without checking the export's numbers against them: " + refusedKey(err, keyFrom)
		return res
	}
	unhealthy := lines.Unhealthy()
	res.Status = CheckOK
	res.Message = fmt.Sprintf("%d lines on the account, all healthy, read in %s", lines.Len(), ms(took))
	if len(unhealthy) > 0 {
		const shown = 5
		var names []string
		for i, l := range unhealthy {
			if i == shown {
				names = append(names, fmt.Sprintf("and %d more", len(unhealthy)-shown))
				break
			}
			names = append(names, l.Phone+" "+cmp.Or(l.Reputation, l.Health))
		}
		res.Status = CheckWarn
		res.Message = fmt.Sprintf("%d lines on the account, %d not healthy: %s", lines.Len(), len(unhealthy), strings.Join(names, ", "))
	}
	return res
}

// refusedKey words a failed read: a refused key names where the key came
// from (never the key).
func refusedKey(err error, keyFrom string) string {
	var apiErr *APIError
	if errors.As(err, &apiErr) && (apiErr.Status == 401 || apiErr.Status == 403) {
		return fmt.Sprintf("the API refused the key from %s (HTTP %d, code %d: %s): check the key and its permissions",
			keyFrom, apiErr.Status, apiErr.Code, apiErr.Message)
	}
	msg := err.Error()
	// FetchSnapshot's errors start with the exit-code sentinel's text.
	msg = strings.TrimPrefix(msg, ErrAborted.Error()+": ")
	return msg
}

// StateInfo is what InspectState found.
type StateInfo struct {
	Exists  bool
	Runs    int
	LastRun string // "apply at 2026-12-01T02:30:00Z, exit 0"
	Holder  string // who holds the lock, "" when free
}

// CheckState looks at the state database at path without creating,
// migrating or locking anything: whether it exists and belongs to this
// account, its history, and whether a run holds its lock. When it does not
// exist, it says where a run will create it, and fails when it could not.
func CheckState(path, account string) CheckResult {
	res := CheckResult{Name: "state"}
	fail := func(format string, args ...any) CheckResult {
		res.Status, res.Message = CheckFail, fmt.Sprintf(format, args...)
		return res
	}
	holder, err := lockHolder(path + ".lock")
	if err != nil {
		return fail("%s: cannot check the lock: %v", path+".lock", err)
	}
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		dir, err := creatableDir(filepath.Dir(path))
		if err != nil {
			return fail("%s does not exist and cannot be created: %v", path, err)
		}
		res.Status, res.Message = CheckOK, fmt.Sprintf("%s does not exist yet: the first plan or apply creates it (in %s)", path, dir)
		return res
	}
	if err != nil {
		return fail("%s: %v", path, err)
	}
	if fi.IsDir() {
		return fail("%s is a directory, not a state database", path)
	}
	info, err := readState(path, account)
	if err != nil {
		return fail("%v", err)
	}
	res.Status, res.Message = CheckOK, fmt.Sprintf("%s: %d runs", path, info.Runs)
	if info.LastRun != "" {
		res.Message += ", the last " + info.LastRun
	}
	if holder != "" {
		res.Status = CheckWarn
		res.Message += "; locked by " + holder + ": a run starting now would exit 3"
	}
	return res
}

// readState opens the database read-only and reads its marker, account and
// last run.
func readState(path, account string) (StateInfo, error) {
	info := StateInfo{Exists: true}
	// Read-only is not enough: SQLite opens a WAL database's -wal and -shm
	// files, creating them if need be. Without a -wal file there is nothing
	// but the database to read, and immutable=1 reads it without them.
	params := "?mode=ro&_pragma=busy_timeout(5000)"
	if _, err := os.Stat(path + "-wal"); errors.Is(err, os.ErrNotExist) {
		params = "?mode=ro&immutable=1"
	}
	db, err := sql.Open("sqlite", "file:"+path+params)
	if err != nil {
		return info, fmt.Errorf("%s: %v", path, err)
	}
	defer db.Close()
	var version int
	if err := db.QueryRow(`PRAGMA user_version`).Scan(&version); err != nil {
		return info, fmt.Errorf("%s is not a bulksync state database (%v): a run would refuse it", path, err)
	}
	if version > stateSchema {
		return info, fmt.Errorf("%s was written by a newer bulksync (schema %d; this one knows %d): upgrade bulksync", path, version, stateSchema)
	}
	if version == 0 {
		var tables int
		if err := db.QueryRow(`SELECT count(*) FROM sqlite_master`).Scan(&tables); err != nil || tables > 0 {
			return info, fmt.Errorf("%s is not a bulksync state database: a run would refuse it", path)
		}
		return info, nil // an empty file: a run initialises it
	}
	var app, acct string
	err = db.QueryRow(`SELECT (SELECT value FROM meta WHERE key='app'), (SELECT value FROM meta WHERE key='account')`).Scan(&app, &acct)
	if err != nil || app != stateApp {
		return info, fmt.Errorf("%s is not a bulksync state database (no bulksync marker): a run would refuse it", path)
	}
	if acct != account {
		return info, fmt.Errorf("%s belongs to another account (base URL or API key differ): a run would refuse it", path)
	}
	if err := db.QueryRow(`SELECT count(*) FROM runs`).Scan(&info.Runs); err != nil {
		return info, fmt.Errorf("%s: reading the runs: %v", path, err)
	}
	var command, started string
	var exit sql.NullInt64
	err = db.QueryRow(`SELECT command, started, exit_code FROM runs ORDER BY id DESC LIMIT 1`).Scan(&command, &started, &exit)
	if err == nil {
		info.LastRun = command + " at " + started
		if exit.Valid {
			info.LastRun += fmt.Sprintf(", exit %d", exit.Int64)
		}
	}
	return info, nil
}

// lockHolder says who holds the state's lock ("" when nobody), opening the
// lock file read-only: it creates nothing.
func lockHolder(path string) (string, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	defer f.Close()
	held, err := lockHeld(f)
	if err != nil || !held {
		return "", err
	}
	var h lockInfo
	if b, _ := io.ReadAll(f); json.Unmarshal(b, &h) == nil && h.PID != 0 {
		return fmt.Sprintf("bulksync %s, pid %d on %s, started %s", h.Command, h.PID, h.Host, h.Started.Format(time.RFC3339)), nil
	}
	return "another run", nil
}

// creatableDir returns the nearest existing ancestor of dir, and an error
// when a run could not create dir under it.
func creatableDir(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err == nil {
			if !fi.IsDir() {
				return d, fmt.Errorf("%s is not a directory", d)
			}
			return d, writable(d)
		}
		if !errors.Is(err, os.ErrNotExist) || filepath.Dir(d) == d {
			return d, err
		}
	}
}

// writable reports whether this process may create files in dir, by
// creating and removing a temporary file: access(2) does not know about
// read-only mounts.
func writable(dir string) error {
	f, err := os.CreateTemp(dir, ".bulksync-check-*")
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(f.Name())
}

// CheckInput reads the header and the first n records of in as a run
// would: which column feeds each field, and what each of the first records
// becomes (its phone number in E.164, or why it is invalid).
func CheckInputPreview(in io.Reader, name string, opts SourceOptions, norm NormalizeOptions, n int) []CheckResult {
	src, err := OpenSource(in, opts)
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), ErrUsage.Error()+": ")
		return []CheckResult{{Name: "input", Status: CheckFail, Message: name + ": " + msg}}
	}
	cols := src.Columns()
	var feeds []string
	for _, f := range []string{FieldPhone, FieldFirstName, FieldLastName, FieldImageURL} {
		if c, ok := cols[f]; ok {
			feeds = append(feeds, fmt.Sprintf("%s <- %q", f, c))
		}
	}
	preset := src.Preset()
	if preset == "" {
		preset = "custom"
	}
	results := []CheckResult{{Name: "input", Status: CheckOK,
		Message: fmt.Sprintf("%s: preset %s; %s", name, preset, strings.Join(feeds, ", "))}}
	for i := 0; i < n; i++ {
		rec, err := src.Next()
		if err == io.EOF {
			if i == 0 {
				results = append(results, CheckResult{Name: "input", Status: CheckFail,
					Message: name + ": no records: the input has a header and nothing else"})
			}
			break
		}
		if err != nil {
			results = append(results, CheckResult{Name: "row", Status: CheckFail, Message: err.Error()})
			break
		}
		results = append(results, previewRow(rec, norm))
	}
	return results
}

// previewRow says what one record becomes. An invalid row is a warning: a
// run reports it and goes on.
func previewRow(rec Record, norm NormalizeOptions) CheckResult {
	res := CheckResult{Name: "row", Status: CheckOK}
	if rec.Problem != "" {
		res.Status, res.Message = CheckWarn, fmt.Sprintf("line %d: invalid: %s", rec.Line, rec.Problem)
		return res
	}
	d := Normalize(rec, norm)
	if d.Invalid != "" {
		res.Status, res.Message = CheckWarn, fmt.Sprintf("line %d: %q: invalid: %s", rec.Line, rec.Phone, d.Invalid)
		return res
	}
	var fields []string
	for _, f := range []struct{ name, v string }{{FieldFirstName, d.FirstName}, {FieldLastName, d.LastName}, {FieldImageURL, d.ImageURL}} {
		if f.v != "" {
			fields = append(fields, f.name)
		}
	}
	res.Message = fmt.Sprintf("line %d: %q -> %s (%s)", rec.Line, rec.Phone, d.Phone, strings.Join(slices.Clip(fields), ", "))
	return res
}
