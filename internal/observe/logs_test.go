package observe

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bulksync/bulksync/sync"
)

func TestNewLoggerFlags(t *testing.T) {
	tests := []struct {
		format, level string
		wantErr       string
	}{
		{"text", "warn", ""},
		{"json", "debug", ""},
		{"", "", ""},
		{"xml", "warn", `--log-format: unknown "xml"; allowed: text, json`},
		{"text", "verbose", `--log-level: unknown "verbose"; allowed: debug, info, warn, error`},
		{"JSON", "WARN", ""}, // every enumerated flag takes its values in any case
	}
	for _, tt := range tests {
		_, err := newLogger(&bytes.Buffer{}, tt.format, tt.level)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%s/%s: %v", tt.format, tt.level, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%s/%s: error %v, want %q", tt.format, tt.level, err, tt.wantErr)
		case tt.wantErr != "" && !errors.Is(err, sync.ErrUsage):
			t.Errorf("%s/%s: %v is not a usage error (exit 2)", tt.format, tt.level, err)
		}
	}
}

// rowEvents feeds one of each kind of event about a row.
func rowEvents(ev sync.Events) {
	ev.Planned(4, 3)
	ev.Attempted(sync.AttemptEvent{Line: 2, Phone: "+12125550101", Method: "PATCH", Attempt: 1, Status: 200, Class: sync.ClassOK, Took: 30 * time.Millisecond})
	ev.Attempted(sync.AttemptEvent{Line: 3, Phone: "+12125550102", Method: "PATCH", Attempt: 1, Status: 429, Code: 1007, Class: sync.ClassThrottled, Err: "Rate limited", Wait: time.Second, Rate: 42})
	ev.Attempted(sync.AttemptEvent{Line: 4, Phone: "+12125550103", Method: "POST", Attempt: 1, Status: 401, Code: 2004, Class: sync.ClassFatal, Err: "Unauthorized"})
	ev.Reported(sync.ReportRow{Line: 2, PhoneNumber: "+12125550101", Action: sync.ActionUpdate, Result: sync.ResultOK, ChangedFields: "first_name", Attempts: 1, HTTPStatus: "200"})
	ev.Reported(sync.ReportRow{Line: 3, PhoneNumber: "+12125550102", Action: sync.ActionUpdate, Result: sync.ResultFailed, Attempts: 5, HTTPStatus: "429", ErrorCode: "1007", TraceID: "0123456789abcdef0123456789abcdef", ErrorMessage: "gave up after 5 attempts: Rate limited"})
	ev.Reported(sync.ReportRow{Line: 4, PhoneNumber: "+12125550103", Action: sync.ActionCreate, Result: sync.ResultFailed, Attempts: 1})
	ev.Reported(sync.ReportRow{Line: 5, PhoneNumber: "12", Action: sync.ActionInvalid, Result: sync.ResultSkipped, ErrorMessage: "phone_number: too short"})
}

// Every log line about a row carries line and phone_number, at every
// level; a failed row always has http_status, error_code, trace_id and
// message.
func TestLogLinesAboutRowsCarryLineAndPhone(t *testing.T) {
	var buf bytes.Buffer
	log, err := newLogger(&buf, "json", "debug")
	if err != nil {
		t.Fatal(err)
	}
	rowEvents(logEvents{log})
	levels := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		levels[rec["level"].(string)+" "+rec["msg"].(string)]++
		if rec["msg"] == "planned" {
			continue
		}
		if _, ok := rec["line"].(float64); !ok {
			t.Errorf("no line: %s", line)
		}
		if _, ok := rec["phone_number"].(string); !ok {
			t.Errorf("no phone_number: %s", line)
		}
		if rec["msg"] == "row failed" {
			for _, k := range []string{"http_status", "error_code", "trace_id", "message"} {
				if _, ok := rec[k]; !ok {
					t.Errorf("failed row without %s: %s", k, line)
				}
			}
		}
	}
	want := map[string]int{
		"INFO planned": 1, "DEBUG attempt": 1, "INFO retrying": 1,
		"ERROR the API refused the API key; stopping the run": 1,
		"DEBUG row ok": 1, "WARN row failed": 2, "INFO row not synced": 1,
	}
	for k, n := range want {
		if levels[k] != n {
			t.Errorf("%d lines %q, want %d (all: %v)", levels[k], k, n, levels)
		}
	}
}

// At the default level only failed rows and fatal answers are logged.
func TestLogDefaultLevelIsQuiet(t *testing.T) {
	var buf bytes.Buffer
	log, err := newLogger(&buf, "text", defaultLogLevel)
	if err != nil {
		t.Fatal(err)
	}
	rowEvents(logEvents{log})
	got := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(got) != 3 {
		t.Fatalf("%d lines at warn, want 3:\n%s", len(got), buf.String())
	}
	want := `level=WARN msg="row failed" line=3 phone_number=+12125550102 action=update result=failed attempts=5 http_status=429 error_code=1007 trace_id=0123456789abcdef0123456789abcdef message="gave up after 5 attempts: Rate limited"`
	if !strings.HasSuffix(got[1], want) {
		t.Errorf("failed row:\n got %s\nwant …%s", got[1], want)
	}
}

// The snapshot GET is about no record: its lines say so instead of carrying
// an empty line and phone_number.
func TestLogSnapshotAttempt(t *testing.T) {
	var buf bytes.Buffer
	log, err := newLogger(&buf, "text", "info")
	if err != nil {
		t.Fatal(err)
	}
	logEvents{log}.Attempted(sync.AttemptEvent{Method: "GET", Attempt: 1, Status: 503, Code: 4004, Class: sync.ClassTransient, Wait: time.Second})
	got := buf.String()
	if !strings.Contains(got, `msg="retrying (reading the live cards)"`) || strings.Contains(got, "phone_number") {
		t.Errorf("log line %q", got)
	}
}
