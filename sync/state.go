package sync

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // pure-Go SQLite: no cgo, one static binary
)

// The state store remembers, per account, what bulksync applied: the source
// values it sent (above all the source image URL, since Linq rehosts images
// and never gives it back), the live values the API answered, and the
// history of runs. It is one SQLite file, opened by one run at a time.
//
// It is written only after a confirmed 2xx, so it may know less than the
// server (an answer lost in a crash), never more: a rerun then sends the
// change once more, which converges.

// stateSchema is the schema version this build writes. Migrations move an
// older file forward; a newer file is refused rather than guessed at.
const stateSchema = 2

var migrations = []string{
	1: `
CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
CREATE TABLE cards (
	phone      TEXT PRIMARY KEY, -- E.164
	src_first  TEXT NOT NULL,    -- source values last applied
	src_last   TEXT NOT NULL,
	src_image  TEXT NOT NULL,
	live_first TEXT NOT NULL,    -- live values the API answered then
	live_last  TEXT NOT NULL,
	live_image TEXT NOT NULL,    -- the CDN URL
	applied_at TEXT NOT NULL,
	run_id     INTEGER NOT NULL
);
CREATE TABLE runs (
	id           INTEGER PRIMARY KEY,
	command      TEXT NOT NULL,
	started      TEXT NOT NULL,
	ended        TEXT,
	pid          INTEGER NOT NULL,
	host         TEXT NOT NULL,
	input        TEXT NOT NULL,
	input_sha256 TEXT NOT NULL,
	report       TEXT NOT NULL,
	counts       TEXT,            -- JSON: actions, results, error codes
	exit_code    INTEGER
);`,
	// 2: what each run changed, with the values before, so that 'bulksync
	// undo' can put them back. Runs recorded before this migration have no
	// rows: run_changes_since says from which run on the rows exist.
	2: `
CREATE TABLE run_changes (
	run_id       INTEGER NOT NULL REFERENCES runs(id),
	phone        TEXT NOT NULL,
	line         INTEGER NOT NULL, -- the record's line in the run's input
	created      INTEGER NOT NULL, -- 1: the run created the card; nothing to put back
	fields       TEXT NOT NULL,    -- the fields the run changed, '|'-joined
	before_first TEXT NOT NULL,    -- live before the run
	before_last  TEXT NOT NULL,
	before_image TEXT NOT NULL,    -- the source URL applied before; the CDN URL when none is known
	before_cdn   INTEGER NOT NULL, -- 1: before_image is the CDN URL (no source URL known)
	after_first  TEXT NOT NULL,    -- live values the API answered
	after_last   TEXT NOT NULL,
	after_image  TEXT NOT NULL,
	PRIMARY KEY (run_id, phone)
);
INSERT INTO meta(key, value) SELECT 'run_changes_since', coalesce(max(id), 0) + 1 FROM runs;`,
}

// stateApp marks a database as bulksync's, so a foreign SQLite file given to
// --state is refused instead of being written into.
const stateApp = "bulksync-state"

// Applied is what the state knows of one card.
type Applied struct {
	SrcFirst, SrcLast, SrcImage    string
	LiveFirst, LiveLast, LiveImage string
	At                             time.Time
	RunID                          int64
}

// State is an open state database, locked for this run.
type State struct {
	db      *sql.DB
	path    string
	lock    *os.File
	runID   int64
	writes  chan stateWrite
	flushed chan error
}

type stateWrite struct {
	phone  string
	a      Applied
	change *RunChange // what the card held before, for undo; nil: none kept
}

// Account returns the fingerprint of an account: the base URL and the API
// key, hashed. The key itself is never stored.
func Account(baseURL, apiKey string) string {
	h := sha256.Sum256([]byte("bulksync account\x00" + strings.TrimSuffix(baseURL, "/") + "\x00" + apiKey))
	return hex.EncodeToString(h[:8])
}

// DefaultStatePath is where an account's state lives unless --state says:
// $XDG_STATE_HOME/bulksync/<account>.db, XDG's default being ~/.local/state.
func DefaultStatePath(getenv func(string) string, account string) (string, error) {
	dir := getenv("XDG_STATE_HOME")
	if dir == "" {
		home := getenv("HOME")
		if home == "" {
			return "", fmt.Errorf("%w: --state: neither XDG_STATE_HOME nor HOME is set; give --state FILE", ErrUsage)
		}
		dir = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(dir, "bulksync", account+".db"), nil
}

// ErrLocked is wrapped (with ErrAborted) when another run holds the state.
var ErrLocked = errors.New("another run holds the state lock")

// OpenState opens (or creates) the state database at path for account and
// takes its lock. Another run holding it is ErrAborted (exit 3); a file that
// is not a bulksync state for this account, or is from a newer bulksync, is
// ErrUsage (exit 2) and is left untouched: it is never recreated silently.
func OpenState(path, account, command string) (*State, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("%w: --state: %v", ErrUsage, err)
	}
	lock, err := lockState(path+".lock", command)
	if err != nil {
		return nil, err
	}
	s, err := openLocked(path, account)
	if err != nil {
		unlockState(lock)
		return nil, err
	}
	s.lock = lock
	return s, nil
}

func openLocked(path, account string) (*State, error) {
	_, statErr := os.Stat(path)
	fresh := errors.Is(statErr, os.ErrNotExist)
	if fresh {
		// SQLite would create it 0644; it holds customers' names. Its
		// -wal and -shm files take the database file's mode.
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, fmt.Errorf("%w: --state %s: %v", ErrUsage, path, err)
		}
		f.Close()
	}
	// WAL is not among these pragmas: switching to it rewrites the file's
	// header, and a file that turns out not to be ours must be left as it
	// was. It is switched on once the file is known to be a state.
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)")
	if err != nil {
		return nil, fmt.Errorf("%w: --state %s: %v", ErrUsage, path, err)
	}
	// One connection: the writes are serialised anyway, and it keeps the
	// pragmas above in force for every statement.
	db.SetMaxOpenConns(1)
	s := &State{db: db, path: path}
	if err := s.migrate(fresh, account); err != nil {
		db.Close()
		return nil, err
	}
	// WAL lets 'bulksync runs' read while a run writes; the mode is kept in
	// the file, so this is a no-op after the first time.
	if _, err := db.Exec(`PRAGMA journal_mode=WAL`); err != nil {
		db.Close()
		return nil, fmt.Errorf("%w: --state %s: %v", ErrUsage, path, err)
	}
	return s, nil
}

func (s *State) migrate(fresh bool, account string) error {
	notOurs := func(why string) error {
		return fmt.Errorf("%w: --state %s is not a bulksync state database (%s); it is left as it is: move it away or give another --state", ErrUsage, s.path, why)
	}
	var version int
	if err := s.db.QueryRow(`PRAGMA user_version`).Scan(&version); err != nil {
		return notOurs(err.Error())
	}
	if version > stateSchema {
		return fmt.Errorf("%w: --state %s was written by a newer bulksync (schema %d; this one knows %d): upgrade bulksync", ErrUsage, s.path, version, stateSchema)
	}
	if version == 0 {
		var tables int
		if err := s.db.QueryRow(`SELECT count(*) FROM sqlite_master`).Scan(&tables); err != nil {
			return notOurs(err.Error())
		}
		if tables > 0 || !fresh && !s.emptyFile() {
			return notOurs("it has tables of its own")
		}
	} else {
		var app, acct string
		err := s.db.QueryRow(`SELECT (SELECT value FROM meta WHERE key='app'), (SELECT value FROM meta WHERE key='account')`).Scan(&app, &acct)
		if err != nil || app != stateApp {
			return notOurs("no bulksync marker")
		}
		if acct != account {
			return fmt.Errorf("%w: --state %s belongs to another account (base URL or API key differ); give this account its own --state", ErrUsage, s.path)
		}
	}
	for v := version + 1; v <= stateSchema; v++ {
		tx, err := s.db.Begin()
		if err != nil {
			return fmt.Errorf("%w: --state %s: %v", ErrUsage, s.path, err)
		}
		_, err = tx.Exec(migrations[v])
		if err == nil && v == 1 {
			_, err = tx.Exec(`INSERT INTO meta(key, value) VALUES ('app', ?), ('account', ?), ('created', ?)`,
				stateApp, account, time.Now().UTC().Format(time.RFC3339))
		}
		if err == nil {
			_, err = tx.Exec(fmt.Sprintf(`PRAGMA user_version = %d`, v))
		}
		if err == nil {
			err = tx.Commit()
		} else {
			tx.Rollback()
		}
		if err != nil {
			return fmt.Errorf("%w: --state %s: migrating to schema %d: %v", ErrUsage, s.path, v, err)
		}
	}
	return nil
}

func (s *State) emptyFile() bool {
	fi, err := os.Stat(s.path)
	return err == nil && fi.Size() == 0
}

// lockInfo is written into the lock file, so a second run can name the
// first.
type lockInfo struct {
	PID     int       `json:"pid"`
	Host    string    `json:"host"`
	Command string    `json:"command"`
	Started time.Time `json:"started"`
}

// lockState takes an exclusive flock on the lock file. The kernel drops the
// lock when its process dies, however it dies, so a lock left by a killed
// run is simply free: no stale-lock guessing is needed.
func lockState(path, command string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%w: --state: cannot create the lock file: %v", ErrUsage, err)
	}
	if err := tryLock(f); err != nil {
		var holder lockInfo
		b, _ := os.ReadFile(path)
		f.Close()
		if json.Unmarshal(b, &holder) == nil && holder.PID != 0 {
			return nil, fmt.Errorf("%w: %w: bulksync %s, pid %d on %s, started %s", ErrAborted, ErrLocked,
				holder.Command, holder.PID, holder.Host, holder.Started.Local().Format(time.RFC3339))
		}
		return nil, fmt.Errorf("%w: %w (%s)", ErrAborted, ErrLocked, path)
	}
	host, _ := os.Hostname()
	b, _ := json.Marshal(lockInfo{PID: os.Getpid(), Host: host, Command: command, Started: time.Now()})
	if err := f.Truncate(0); err == nil {
		f.WriteAt(b, 0)
	}
	return f, nil
}

func unlockState(f *os.File) {
	f.Truncate(0)
	unlock(f)
	f.Close()
}

// Load returns everything the state knows, keyed by phone number.
func (s *State) Load(ctx context.Context) (map[string]Applied, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT phone, src_first, src_last, src_image, live_first, live_last, live_image, applied_at, run_id FROM cards`)
	if err != nil {
		return nil, fmt.Errorf("%w: reading --state %s: %v", ErrUsage, s.path, err)
	}
	defer rows.Close()
	known := make(map[string]Applied)
	for rows.Next() {
		var phone, at string
		var a Applied
		if err := rows.Scan(&phone, &a.SrcFirst, &a.SrcLast, &a.SrcImage, &a.LiveFirst, &a.LiveLast, &a.LiveImage, &at, &a.RunID); err != nil {
			return nil, fmt.Errorf("%w: reading --state %s: %v", ErrUsage, s.path, err)
		}
		a.At, _ = time.Parse(time.RFC3339Nano, at)
		known[phone] = a
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%w: reading --state %s: %v", ErrUsage, s.path, err)
	}
	return known, nil
}

// RunInfo describes a run for the history.
type RunInfo struct {
	Command string
	Input   string
	Report  string
}

// BeginRun records the start of a run and starts the writer that records
// applied cards in batches: one transaction per batch keeps a big run from
// paying a commit per row, and workers never wait on the disk.
func (s *State) BeginRun(ctx context.Context, r RunInfo) error {
	host, _ := os.Hostname()
	res, err := s.db.ExecContext(ctx, `INSERT INTO runs(command, started, pid, host, input, input_sha256, report) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		r.Command, time.Now().UTC().Format(time.RFC3339Nano), os.Getpid(), host, r.Input, "", r.Report)
	if err != nil {
		return fmt.Errorf("%w: writing --state %s: %v", ErrUsage, s.path, err)
	}
	s.runID, _ = res.LastInsertId()
	s.writes = make(chan stateWrite, 256)
	s.flushed = make(chan error, 1)
	go s.writer()
	return nil
}

// SaveApplied notes a change the API confirmed, answering card: what is now
// applied, and what the card held before, for undo. It is safe for
// concurrent use.
func (s *State) SaveApplied(c *Change, card Card) {
	a := appliedAfter(c, card, c.Known)
	a.At = time.Now()
	w := stateWrite{phone: c.Phone, a: a}
	if rc, changed := runChangeOf(c, card); changed {
		w.change = &rc
	}
	s.write(w)
}

// write hands one card to the writer, as recorded by this run.
func (s *State) write(w stateWrite) {
	w.a.RunID = s.runID
	s.writes <- w
}

func (s *State) writer() {
	var firstErr error
	ins, err := s.prepareInserts()
	if err != nil {
		firstErr = err
	} else {
		defer ins.close()
	}
	batch := make([]stateWrite, 0, 256)
	flush := func() {
		if len(batch) == 0 || firstErr != nil {
			batch = batch[:0]
			return
		}
		firstErr = s.writeBatch(ins, batch)
		batch = batch[:0]
	}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case w, ok := <-s.writes:
			if !ok {
				flush()
				s.flushed <- firstErr
				return
			}
			batch = append(batch, w)
			if len(batch) == cap(batch) {
				flush()
			}
		case <-tick.C:
			flush()
		}
	}
}

// rowsPerInsert is how many rows one INSERT statement carries. A statement
// per row cost more in database/sql and the driver (arguments, binding,
// reset) than SQLite's own work of inserting it; 32 rows of 12 values stay
// far under SQLite's limit of 32766 parameters.
const rowsPerInsert = 32

const (
	cardsInsert = `INSERT INTO cards(phone, src_first, src_last, src_image, live_first, live_last, live_image, applied_at, run_id) VALUES `
	cardsRow    = `(?, ?, ?, ?, ?, ?, ?, ?, ?)`
	// Rows of one statement are inserted in order, so a number that comes
	// twice ends with its last values, as one statement per row did.
	cardsUpsert = `
		ON CONFLICT(phone) DO UPDATE SET src_first=excluded.src_first, src_last=excluded.src_last, src_image=excluded.src_image,
			live_first=excluded.live_first, live_last=excluded.live_last, live_image=excluded.live_image,
			applied_at=excluded.applied_at, run_id=excluded.run_id`
	changesInsert = `INSERT INTO run_changes(run_id, phone, line, created, fields,
			before_first, before_last, before_image, before_cdn, after_first, after_last, after_image) VALUES `
	changesRow = `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	// A number is changed at most once per run; should it come twice, the
	// first row holds the values from before the run.
	changesIgnore = ` ON CONFLICT DO NOTHING`
)

// inserts are the writer's statements, prepared once per run: for one row
// and for rowsPerInsert rows, into cards and into run_changes.
type inserts struct {
	card1, cardN, change1, changeN *sql.Stmt
}

func (s *State) prepareInserts() (*inserts, error) {
	rows := func(row string, n int) string { return strings.Repeat(row+", ", n-1) + row }
	ins := &inserts{}
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&ins.card1, cardsInsert + cardsRow + cardsUpsert},
		{&ins.cardN, cardsInsert + rows(cardsRow, rowsPerInsert) + cardsUpsert},
		{&ins.change1, changesInsert + changesRow + changesIgnore},
		{&ins.changeN, changesInsert + rows(changesRow, rowsPerInsert) + changesIgnore},
	} {
		stmt, err := s.db.Prepare(p.sql)
		if err != nil {
			ins.close()
			return nil, err
		}
		*p.stmt = stmt
	}
	return ins, nil
}

func (ins *inserts) close() {
	for _, st := range []*sql.Stmt{ins.card1, ins.cardN, ins.change1, ins.changeN} {
		if st != nil {
			st.Close()
		}
	}
}

func (s *State) writeBatch(ins *inserts, batch []stateWrite) error {
	tx, err := s.db.Begin()
	if err != nil {
		return err
	}
	// The state has one connection, so tx.Stmt reuses the statements
	// prepared on it.
	cards := make([]any, 0, 9*rowsPerInsert)
	changes := make([]any, 0, 12*rowsPerInsert)
	for len(batch) > 0 {
		n := min(len(batch), rowsPerInsert)
		cards, changes = cards[:0], changes[:0]
		for _, w := range batch[:n] {
			a, rc := w.a, w.change
			cards = append(cards, w.phone, a.SrcFirst, a.SrcLast, a.SrcImage, a.LiveFirst, a.LiveLast, a.LiveImage,
				a.At.UTC().Format(time.RFC3339Nano), a.RunID)
			if rc != nil {
				changes = append(changes, a.RunID, w.phone, rc.Line, rc.Created, strings.Join(rc.Fields, "|"),
					rc.Before.FirstName, rc.Before.LastName, rc.Before.ImageURL, rc.BeforeImageIsCDN,
					rc.After.FirstName, rc.After.LastName, rc.After.ImageURL)
			}
		}
		batch = batch[n:]
		if err := execRows(tx, ins.card1, ins.cardN, cards, 9); err != nil {
			tx.Rollback()
			return err
		}
		if err := execRows(tx, ins.change1, ins.changeN, changes, 12); err != nil {
			tx.Rollback()
			return err
		}
	}
	return tx.Commit()
}

// execRows inserts args, width values a row, in order: all at once through
// many when they are rowsPerInsert rows, else row by row through one.
func execRows(tx *sql.Tx, one, many *sql.Stmt, args []any, width int) error {
	if len(args) == width*rowsPerInsert {
		_, err := tx.Stmt(many).Exec(args...)
		return err
	}
	st := tx.Stmt(one)
	for i := 0; i < len(args); i += width {
		if _, err := st.Exec(args[i : i+width]...); err != nil {
			return err
		}
	}
	return nil
}

// EndRun waits for the recorded cards to be written and closes the run's
// history entry.
func (s *State) EndRun(sum *Summary) error {
	var err error
	if s.writes != nil {
		close(s.writes)
		err = <-s.flushed
		s.writes = nil
	}
	counts, _ := sum.countsJSON()
	_, uerr := s.db.Exec(`UPDATE runs SET ended=?, counts=?, exit_code=?, input_sha256=?, report=? WHERE id=?`,
		time.Now().UTC().Format(time.RFC3339Nano), counts, sum.ExitCode, sum.InputSHA256, sum.Report, s.runID)
	if err == nil {
		err = uerr
	}
	if err != nil {
		return fmt.Errorf("writing --state %s: %v", s.path, err)
	}
	return nil
}

// Close releases the database and the lock.
func (s *State) Close() error {
	err := s.db.Close()
	if s.lock != nil {
		unlockState(s.lock)
		s.lock = nil
	}
	return err
}

// RunEntry is one line of the run history.
type RunEntry struct {
	ID          int64          `json:"id"`
	Command     string         `json:"command"`
	Started     time.Time      `json:"started"`
	Ended       *time.Time     `json:"ended,omitempty"`
	PID         int            `json:"pid"`
	Host        string         `json:"host"`
	Input       string         `json:"input"`
	InputSHA256 string         `json:"input_sha256"`
	Report      string         `json:"report"`
	Counts      map[string]any `json:"counts,omitempty"`
	ExitCode    *int           `json:"exit_code,omitempty"` // nil: still running, or killed
}

// Runs returns the newest runs first.
func (s *State) Runs(ctx context.Context, limit int) ([]RunEntry, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+runColumns+` FROM runs ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("reading --state %s: %v", s.path, err)
	}
	defer rows.Close()
	var out []RunEntry
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

const runColumns = `id, command, started, ended, pid, host, input, input_sha256, report, counts, exit_code`

// run returns one run; sql.ErrNoRows when there is none.
func (s *State) run(ctx context.Context, id int64) (RunEntry, error) {
	return scanRun(s.db.QueryRowContext(ctx, `SELECT `+runColumns+` FROM runs WHERE id = ?`, id))
}

func scanRun(row interface{ Scan(...any) error }) (RunEntry, error) {
	var r RunEntry
	var started string
	var ended, counts sql.NullString
	var code sql.NullInt64
	if err := row.Scan(&r.ID, &r.Command, &started, &ended, &r.PID, &r.Host, &r.Input, &r.InputSHA256, &r.Report, &counts, &code); err != nil {
		return r, err
	}
	r.Started, _ = time.Parse(time.RFC3339Nano, started)
	if ended.Valid {
		t, _ := time.Parse(time.RFC3339Nano, ended.String)
		r.Ended = &t
	}
	if counts.Valid {
		json.Unmarshal([]byte(counts.String), &r.Counts)
	}
	if code.Valid {
		c := int(code.Int64)
		r.ExitCode = &c
	}
	return r, nil
}

// OpenStateReadOnly opens a state database for reading its history, without
// taking the lock (a running apply must not block 'bulksync runs').
func OpenStateReadOnly(path string) (*State, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("%w: --state: %v", ErrUsage, err)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, fmt.Errorf("%w: --state %s: %v", ErrUsage, path, err)
	}
	var app string
	if err := db.QueryRow(`SELECT value FROM meta WHERE key='app'`).Scan(&app); err != nil || app != stateApp {
		db.Close()
		return nil, fmt.Errorf("%w: --state %s is not a bulksync state database", ErrUsage, path)
	}
	return &State{db: db, path: path}, nil
}
