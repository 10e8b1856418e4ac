package observe

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/bulksync/bulksync/sync"
)

// The default log level is warn: a nightly cron run of 100,000 rows against
// a throttling API makes thousands of retries, and at info each would be a
// line in the cron mail. At warn, the log holds only what needs a person:
// failed rows and the reason a run stopped; the summary and the report have
// the rest.
const defaultLogLevel = "warn"

// The values of --log-format and --log-level.
var (
	LogFormats = sync.Choices{Flag: "--log-format", Values: []string{"text", "json"}}
	LogLevels  = sync.Choices{Flag: "--log-level", Values: []string{"debug", "info", "warn", "error"}}
)

// newLogger returns the --log-format handler at --log-level, writing to w.
// An empty format or level is the default, for runs built without flags.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	if level == "" {
		level = defaultLogLevel
	}
	level, err := LogLevels.Parse(level)
	if err != nil {
		return nil, err
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("%w: --log-level %s: %v", sync.ErrUsage, level, err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	if format == "" {
		format = "text"
	}
	format, err = LogFormats.Parse(format)
	if err != nil {
		return nil, err
	}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}

// logEvents logs a run's events. Every line about a row carries its line
// and phone_number. Levels:
//
//	error  the API refused the key (401): the run stops
//	warn   a row failed (with http_status, error_code, trace_id, message)
//	info   the plan's counts; a retry after a wait; a row not synced for a
//	       reason in the export (invalid, duplicate, missing, inactive,
//	       stale) or skipped because the run stopped
//	debug  every HTTP attempt; every row that ended ok or planned
//
// The API key is never an attribute: nothing here can reach it.
type logEvents struct{ log *slog.Logger }

func (l logEvents) Planned(records, changes int) {
	l.log.LogAttrs(context.Background(), slog.LevelInfo, "planned",
		slog.Int("records", records), slog.Int("changes", changes))
}

func (l logEvents) Attempted(ev sync.AttemptEvent) {
	var level slog.Level
	var msg string
	switch {
	case ev.Class == sync.ClassFatal:
		level, msg = slog.LevelError, "the API refused the API key; stopping the run"
	case ev.Refused > 0:
		// An hour's Retry-After is worth a person's look even at the
		// default level: the API may be limiting the whole account.
		level, msg = slog.LevelWarn, "not retrying: the server asked for a longer wait than --max-retry-wait"
	case ev.Wait > 0:
		level, msg = slog.LevelInfo, "retrying"
	default:
		level, msg = slog.LevelDebug, "attempt"
	}
	ctx := context.Background()
	if !l.log.Enabled(ctx, level) {
		return
	}
	var attrs []slog.Attr
	if ev.Line == 0 {
		// Not about a record: the one GET of every live card, or of the
		// account's phone numbers.
		what := ev.Read
		if what == "" {
			what = "live cards"
		}
		msg += " (reading the " + what + ")"
	} else {
		attrs = append(attrs, slog.Int("line", ev.Line), slog.String("phone_number", ev.Phone))
	}
	attrs = append(attrs,
		slog.String("method", ev.Method),
		slog.Int("attempt", ev.Attempt),
		slog.Int("http_status", ev.Status),
		slog.Int("error_code", ev.Code),
		slog.String("class", ev.Class.String()),
		slog.Int64("took_ms", ev.Took.Milliseconds()),
	)
	if ev.Err != "" {
		attrs = append(attrs, slog.String("message", ev.Err))
	}
	if ev.Wait > 0 {
		attrs = append(attrs, slog.Int64("wait_ms", ev.Wait.Milliseconds()))
	}
	if ev.Refused > 0 {
		attrs = append(attrs, slog.Int64("asked_wait_ms", ev.Refused.Milliseconds()))
	}
	attrs = append(attrs, slog.Float64("limiter_rate", ev.Rate))
	l.log.LogAttrs(ctx, level, msg, attrs...)
}

func (l logEvents) Reported(r sync.ReportRow) {
	var level slog.Level
	var msg string
	switch {
	case r.Result == sync.ResultFailed:
		level, msg = slog.LevelWarn, "row failed"
	case r.Result == sync.ResultSkipped:
		level, msg = slog.LevelInfo, "row not synced"
	default:
		level = slog.LevelDebug
	}
	ctx := context.Background()
	if !l.log.Enabled(ctx, level) {
		return
	}
	if msg == "" {
		// Made only when logged: most rows are not, at the default level.
		msg = "row " + string(r.Result)
	}
	attrs := []slog.Attr{
		slog.Int("line", r.Line),
		slog.String("phone_number", r.PhoneNumber),
		slog.String("action", string(r.Action)),
		slog.String("result", string(r.Result)),
	}
	if r.ChangedFields != "" {
		attrs = append(attrs, slog.String("changed_fields", r.ChangedFields))
	}
	if r.Attempts > 0 {
		attrs = append(attrs, slog.Int("attempts", r.Attempts))
	}
	// A failed row always has the four keys, so a log query can rely on
	// them; other rows only say what they have.
	failed := r.Result == sync.ResultFailed
	for _, kv := range [...][2]string{
		{"http_status", r.HTTPStatus}, {"error_code", r.ErrorCode},
		{"trace_id", r.TraceID}, {"message", r.ErrorMessage},
	} {
		if failed || kv[1] != "" {
			attrs = append(attrs, slog.String(kv[0], kv[1]))
		}
	}
	l.log.LogAttrs(ctx, level, msg, attrs...)
}
