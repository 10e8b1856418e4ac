package observe

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

// Every JSON record of the console carries its attrs once, whether they
// were set before or after the format, and a record's own attr of the same
// key does not make a second one.
func TestConsoleRecordsCarryAttrsOnce(t *testing.T) {
	var buf bytes.Buffer
	con := NewConsole(&buf)
	con.With(slog.String("command", "apply"))
	con.SetFormat("json")
	con.With(slog.String("shard", "0/4"), slog.String("command", "plan")) // replaces command
	con.Record(slog.LevelInfo, "summary", slog.String("command", "plan"), slog.Int("records", 3))
	con.Notice(slog.LevelWarn, "metrics problem")
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 records, got %q", buf.String())
	}
	for _, line := range lines {
		if strings.Count(line, `"command"`) != 1 || strings.Count(line, `"shard"`) != 1 {
			t.Errorf("record %s: want command and shard once each", line)
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("record %q: %v", line, err)
		}
		if rec["command"] != "plan" || rec["shard"] != "0/4" {
			t.Errorf("record %s: command %v shard %v, want plan 0/4", line, rec["command"], rec["shard"])
		}
	}
	if !strings.Contains(lines[0], `"records":3`) {
		t.Errorf("the record's own attrs were lost: %s", lines[0])
	}

	// Text: no records, whatever the attrs.
	buf.Reset()
	con.SetFormat("text")
	con.Record(slog.LevelInfo, "summary")
	if buf.Len() != 0 {
		t.Errorf("a text console wrote a record: %q", buf.String())
	}
}
