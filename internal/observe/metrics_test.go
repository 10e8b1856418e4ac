package observe

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulksync/bulksync/sync"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// parseMetricsFile reads a textfile-collector file with Prometheus's own
// text parser, as the node exporter does.
func parseMetricsFile(t *testing.T, path string) map[string]*dto.MetricFamily {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(f)
	if err != nil {
		t.Fatalf("%s does not parse: %v", path, err)
	}
	return families
}

// sample finds the value of the series with exactly these labels.
func sample(families map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	mf, ok := families[name]
	if !ok {
		return 0, false
	}
	for _, m := range mf.GetMetric() {
		if len(m.GetLabel()) != len(labels) {
			continue
		}
		match := true
		for _, lp := range m.GetLabel() {
			match = match && labels[lp.GetName()] == lp.GetValue()
		}
		if !match {
			continue
		}
		switch {
		case m.GetCounter() != nil:
			return m.GetCounter().GetValue(), true
		case m.GetGauge() != nil:
			return m.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

// feedMetrics plays a small apply: two updates ok (one after a 429 and a
// 503), one failed with 1002, one invalid row.
func feedMetrics(m *metrics) *sync.Summary {
	m.Planned(4, 3)
	m.Attempted(sync.AttemptEvent{Method: "PATCH", Status: 429, Code: 1007, Class: sync.ClassThrottled, Wait: time.Second})
	m.Attempted(sync.AttemptEvent{Method: "PATCH", Status: 503, Class: sync.ClassTransient, Wait: time.Second})
	m.Attempted(sync.AttemptEvent{Method: "PATCH", Status: 200, Class: sync.ClassOK})
	m.Attempted(sync.AttemptEvent{Method: "PATCH", Status: 200, Class: sync.ClassOK})
	m.Attempted(sync.AttemptEvent{Method: "POST", Status: 400, Code: 1002, Class: sync.ClassPermanent})
	m.Attempted(sync.AttemptEvent{Method: "POST", Status: 0, Class: sync.ClassTransient})
	for _, r := range []sync.ReportRow{
		{Action: sync.ActionUpdate, Result: sync.ResultOK},
		{Action: sync.ActionUpdate, Result: sync.ResultOK},
		{Action: sync.ActionCreate, Result: sync.ResultFailed},
		{Action: sync.ActionInvalid, Result: sync.ResultSkipped},
	} {
		m.Reported(r)
	}
	s := sync.NewSummary(m.command)
	s.Records, s.Changes, s.Drift = 4, 3, 1
	return s
}

func TestMetricsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bulksync.prom")
	end := time.Unix(1_800_000_000, 0)

	// A successful run.
	m := newMetrics("apply", "1/4", path, "")
	if problems := m.finish(feedMetrics(m), 0, 1500*time.Millisecond, end); problems != nil {
		t.Fatal(problems)
	}
	fams := parseMetricsFile(t, path)
	base := map[string]string{"command": "apply", "shard": "1/4"}
	with := func(kv ...string) map[string]string {
		l := map[string]string{"command": "apply", "shard": "1/4"}
		for i := 0; i < len(kv); i += 2 {
			l[kv[i]] = kv[i+1]
		}
		return l
	}
	for _, c := range []struct {
		name   string
		typ    dto.MetricType
		labels map[string]string
		want   float64
	}{
		{"bulksync_rows_total", dto.MetricType_COUNTER, with("action", "update", "result", "ok"), 2},
		{"bulksync_rows_total", dto.MetricType_COUNTER, with("action", "create", "result", "failed"), 1},
		{"bulksync_rows_total", dto.MetricType_COUNTER, with("action", "invalid", "result", "skipped"), 1},
		{"bulksync_api_errors_total", dto.MetricType_COUNTER, with("code", "1007"), 1},
		{"bulksync_api_errors_total", dto.MetricType_COUNTER, with("code", "http_503"), 1},
		{"bulksync_api_errors_total", dto.MetricType_COUNTER, with("code", "1002"), 1},
		{"bulksync_api_errors_total", dto.MetricType_COUNTER, with("code", "no_answer"), 1},
		{"bulksync_requests_total", dto.MetricType_COUNTER, with("method", "PATCH", "class", "ok"), 2},
		{"bulksync_requests_total", dto.MetricType_COUNTER, with("method", "PATCH", "class", "throttled"), 1},
		{"bulksync_requests_total", dto.MetricType_COUNTER, with("method", "POST", "class", "permanent"), 1},
		{"bulksync_retries_total", dto.MetricType_COUNTER, base, 2},
		{"bulksync_run_duration_seconds", dto.MetricType_GAUGE, base, 1.5},
		{"bulksync_exit_code", dto.MetricType_GAUGE, base, 0},
		{"bulksync_records", dto.MetricType_GAUGE, base, 4},
		{"bulksync_changes_planned", dto.MetricType_GAUGE, base, 3},
		{"bulksync_drift_records", dto.MetricType_GAUGE, base, 1},
		{"bulksync_last_run_timestamp_seconds", dto.MetricType_GAUGE, base, 1.8e9},
		{"bulksync_last_success_timestamp_seconds", dto.MetricType_GAUGE, base, 1.8e9},
	} {
		if got := fams[c.name].GetType(); got != c.typ {
			t.Errorf("%s is a %v, want %v", c.name, got, c.typ)
		}
		if got, ok := sample(fams, c.name, c.labels); !ok || got != c.want {
			t.Errorf("%s%v = %v (found %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("file mode %v (%v): the node exporter, another user, must read it", fi.Mode(), err)
	}

	// A failed run keeps the last success time of the one before.
	m = newMetrics("apply", "1/4", path, "")
	if problems := m.finish(feedMetrics(m), 1, time.Second, end.Add(24*time.Hour)); problems != nil {
		t.Fatal(problems)
	}
	fams = parseMetricsFile(t, path)
	if got, _ := sample(fams, "bulksync_exit_code", base); got != 1 {
		t.Errorf("exit code %v, want 1", got)
	}
	if got, ok := sample(fams, "bulksync_last_success_timestamp_seconds", base); !ok || got != 1.8e9 {
		t.Errorf("last success after a failure: %v (found %v), want the previous 1.8e9", got, ok)
	}
	if got, _ := sample(fams, "bulksync_last_run_timestamp_seconds", base); got != 1.8e9+86400 {
		t.Errorf("last run %v, want this run's end", got)
	}
	// Only the file and nothing else is left in the directory.
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 1 {
		t.Errorf("the directory holds %d entries, want only the metrics file", len(ents))
	}

	// A failure with no earlier success has no success time at all, and
	// no shard label without --shard.
	other := filepath.Join(t.TempDir(), "plan.prom")
	m = newMetrics("plan", "", other, "")
	if problems := m.finish(nil, 3, time.Second, end); problems != nil {
		t.Fatal(problems)
	}
	fams = parseMetricsFile(t, other)
	if _, ok := fams["bulksync_last_success_timestamp_seconds"]; ok {
		t.Error("a failed first run has a success time")
	}
	if got, ok := sample(fams, "bulksync_exit_code", map[string]string{"command": "plan"}); !ok || got != 3 {
		t.Errorf("exit code %v (found %v), want 3", got, ok)
	}
}

// A metrics file that cannot be written is a message, not an error.
func TestMetricsFileUnwritable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no", "such", "dir", "bulksync.prom")
	m := newMetrics("apply", "", path, "")
	problems := m.finish(nil, 0, time.Second, time.Now())
	if len(problems) != 1 || !strings.HasPrefix(problems[0], "--metrics-file: ") || !strings.Contains(problems[0], "exit code is unchanged") {
		t.Errorf("problems %q", problems)
	}
}

func TestMetricsPushgateway(t *testing.T) {
	type pushed struct {
		method, path string
		families     map[string]*dto.MetricFamily
	}
	got := make(chan pushed, 2)
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := pushed{method: r.Method, path: r.URL.Path, families: map[string]*dto.MetricFamily{}}
		dec := expfmt.NewDecoder(r.Body, expfmt.ResponseFormat(r.Header))
		for {
			mf := new(dto.MetricFamily)
			if err := dec.Decode(mf); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Errorf("pushed body does not decode: %v", err)
				break
			}
			p.families[mf.GetName()] = mf
		}
		got <- p
		w.WriteHeader(http.StatusOK)
	}))
	defer gw.Close()

	for _, code := range []int{0, 1} {
		m := newMetrics("apply", "1/4", "", gw.URL)
		if problems := m.finish(feedMetrics(m), code, time.Second, time.Unix(1_800_000_000, 0)); problems != nil {
			t.Fatal(problems)
		}
		p := <-got
		// POST replaces only the names pushed, so a failed run leaves the
		// last success time on the gateway. "1/4" is base64 in the path.
		key, ok := strings.CutPrefix(p.path, "/metrics/job/bulksync/")
		parts := strings.Split(key, "/")
		if len(parts) == 4 && parts[0] > parts[2] {
			parts = append(parts[2:], parts[:2]...) // the order is not fixed
		}
		if p.method != http.MethodPost || !ok || strings.Join(parts, "/") != "command/apply/shard@base64/MS80" {
			t.Errorf("pushed %s %s", p.method, p.path)
		}
		// The grouping key's labels are added by the gateway: the series
		// must not carry them.
		if v, ok := sample(p.families, "bulksync_rows_total", map[string]string{"action": "update", "result": "ok"}); !ok || v != 2 {
			t.Errorf("exit %d: rows_total{update,ok} = %v (found %v)", code, v, ok)
		}
		_, hasSuccess := p.families["bulksync_last_success_timestamp_seconds"]
		if hasSuccess != (code == 0) {
			t.Errorf("exit %d: last success pushed: %v", code, hasSuccess)
		}
	}
}

func TestMetricsPushgatewayUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	m := newMetrics("apply", "", "", "http://"+addr)
	problems := m.finish(nil, 0, time.Second, time.Now())
	if len(problems) != 1 || !strings.HasPrefix(problems[0], "--pushgateway: ") || !strings.Contains(problems[0], "exit code is unchanged") {
		t.Errorf("problems %q", problems)
	}
}

func TestCheckPushgateway(t *testing.T) {
	for _, ok := range []string{"", "http://pushgateway:9091", "https://pgw.example.com/prefix"} {
		if err := checkPushgateway(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"pushgateway:9091", "ftp://x", "http://", "::"} {
		if err := checkPushgateway(bad); !errors.Is(err, sync.ErrUsage) {
			t.Errorf("%q: %v, want a usage error", bad, err)
		}
	}
}
