package observe

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/bulksync/bulksync/sync"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/push"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// pushTimeout bounds the push to the Pushgateway at the end of a run: an
// unreachable gateway must not hold a cron slot.
const pushTimeout = 10 * time.Second

// lastSuccessName is the gauge that alerts watch ("no successful sync for a
// day"); it is carried over from the previous --metrics-file when a run
// fails, so a failure does not make it vanish.
const lastSuccessName = "bulksync_last_success_timestamp_seconds"

// metrics counts a run's events for Prometheus: written at the end of the
// run to --metrics-file (the node exporter's textfile collector) and pushed
// to --pushgateway. Each run has its own registries, never the global one.
//
// The file's series carry the labels command (plan, apply) and, with
// --shard, shard; on the Pushgateway the same two are the grouping key
// (besides job="bulksync"), which the gateway adds to every series.
type metrics struct {
	command, shard string
	file, gateway  string // --metrics-file, --pushgateway

	rows      *prometheus.CounterVec
	apiErrors *prometheus.CounterVec
	requests  *prometheus.CounterVec
	retries   prometheus.Counter

	duration, exitCode, records, changes, drift, lastRun prometheus.Gauge

	collectors []prometheus.Collector
}

func newMetrics(command, shard, file, gateway string) *metrics {
	m := &metrics{command: command, shard: shard, file: file, gateway: gateway}
	m.rows = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bulksync_rows_total",
		Help: "Report rows, by the plan's action and the row's result.",
	}, []string{"action", "result"})
	m.apiErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bulksync_api_errors_total",
		Help: "Error answers to the run's HTTP attempts (the reads of the live cards and of the account's phone numbers, and apply's writes), retried ones included, by Linq error code (http_<status> when the body had none, no_answer when no answer came).",
	}, []string{"code"})
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bulksync_requests_total",
		Help: "The run's HTTP attempts, by method and answer class (ok, throttled, transient, fatal, permanent, conflict, forbidden): the GETs of the live cards and of the account's phone numbers, and apply's PATCHes, POSTs and re-reads.",
	}, []string{"method", "class"})
	m.retries = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "bulksync_retries_total",
		Help: "Attempts followed by a retry after a wait (429s and transient failures).",
	})
	gauge := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	}
	m.duration = gauge("bulksync_run_duration_seconds", "How long the run took.")
	m.exitCode = gauge("bulksync_exit_code", "The run's exit code: 0 synced, 1 some records did not sync, 2 usage or input error, 3 aborted.")
	m.records = gauge("bulksync_records", "Records in the input (in this shard's share of it, with --shard).")
	m.changes = gauge("bulksync_changes_planned", "Writes (creates and updates) in the plan.")
	m.drift = gauge("bulksync_drift_records", "Records whose card was edited in Linq since bulksync set it.")
	m.lastRun = gauge("bulksync_last_run_timestamp_seconds", "When the run ended, successful or not (Unix time).")
	m.collectors = []prometheus.Collector{m.rows, m.apiErrors, m.requests, m.retries,
		m.duration, m.exitCode, m.records, m.changes, m.drift, m.lastRun}
	return m
}

func (m *metrics) Planned(records, changes int) {}

func (m *metrics) Attempted(ev sync.AttemptEvent) {
	m.requests.WithLabelValues(ev.Method, ev.Class.String()).Inc()
	switch {
	case ev.Code != 0:
		m.apiErrors.WithLabelValues(strconv.Itoa(ev.Code)).Inc()
	case ev.Status >= 400:
		m.apiErrors.WithLabelValues("http_" + strconv.Itoa(ev.Status)).Inc()
	case ev.Status == 0:
		m.apiErrors.WithLabelValues("no_answer").Inc()
	}
	if ev.Wait > 0 {
		m.retries.Inc()
	}
}

func (m *metrics) Reported(r sync.ReportRow) {
	m.rows.WithLabelValues(string(r.Action), string(r.Result)).Inc()
}

// labels are the file's constant labels.
func (m *metrics) labels() prometheus.Labels {
	l := prometheus.Labels{"command": m.command}
	if m.shard != "" {
		l["shard"] = m.shard
	}
	return l
}

// finish records the run's end and writes and pushes the metrics. Its
// failures are returned as messages for standard error: metrics never
// change a run's exit code.
func (m *metrics) finish(s *sync.Summary, code int, took time.Duration, now time.Time) []string {
	if s != nil {
		m.records.Set(float64(s.Records))
		m.changes.Set(float64(s.Changes))
		m.drift.Set(float64(s.Drift))
	}
	m.duration.Set(took.Seconds())
	m.exitCode.Set(float64(code))
	m.lastRun.Set(float64(now.UnixNano()) / 1e9)
	var success prometheus.Gauge
	if code == 0 {
		success = prometheus.NewGauge(prometheus.GaugeOpts{Name: lastSuccessName, Help: lastSuccessHelp})
		success.Set(float64(now.UnixNano()) / 1e9)
	}
	var problems []string
	if m.file != "" {
		if err := m.writeFile(success); err != nil {
			problems = append(problems, fmt.Sprintf("--metrics-file: %v; the metrics of this run are lost (the run's exit code is unchanged)", err))
		}
	}
	if m.gateway != "" {
		if err := m.push(success); err != nil {
			problems = append(problems, fmt.Sprintf("--pushgateway: %v; the metrics of this run were not pushed (the run's exit code is unchanged)", err))
		}
	}
	return problems
}

const lastSuccessHelp = "When a run last ended with exit code 0 (Unix time); absent until one has."

// writeFile writes the textfile-collector file atomically: a temporary
// file in the same directory, renamed over the old one, so the node
// exporter never reads half a file. A failed run has no success time of its
// own: the previous file's is carried over.
func (m *metrics) writeFile(success prometheus.Gauge) error {
	reg := prometheus.NewRegistry()
	wrapped := prometheus.WrapRegistererWith(m.labels(), reg)
	for _, c := range m.collectors {
		if err := wrapped.Register(c); err != nil {
			return err
		}
	}
	if success == nil {
		if v, ok := previousSuccess(m.file, m.labels()); ok {
			success = prometheus.NewGauge(prometheus.GaugeOpts{Name: lastSuccessName, Help: lastSuccessHelp})
			success.Set(v)
		}
	}
	if success != nil {
		if err := wrapped.Register(success); err != nil {
			return err
		}
	}
	err := prometheus.WriteToTextfile(m.file, reg)
	var pe *fs.PathError
	if errors.As(err, &pe) {
		// Name the file asked for, not the temporary one beside it.
		return fmt.Errorf("cannot write %s: %v", m.file, pe.Err)
	}
	return err
}

// previousSuccess reads the success time with these labels from an earlier
// metrics file, if there is one and it has it.
func previousSuccess(path string, labels prometheus.Labels) (float64, bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(f)
	if err != nil {
		return 0, false
	}
	mf, ok := families[lastSuccessName]
	if !ok {
		return 0, false
	}
	for _, metric := range mf.GetMetric() {
		got := map[string]string{}
		for _, lp := range metric.GetLabel() {
			got[lp.GetName()] = lp.GetValue()
		}
		if len(got) != len(labels) {
			continue
		}
		match := true
		for k, v := range labels {
			match = match && got[k] == v
		}
		if match && metric.GetGauge() != nil {
			return metric.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

// push sends the metrics to the Pushgateway with POST, which replaces only
// the metric names pushed: a failed run sends no success time, so the one
// of the last successful run stays on the gateway.
func (m *metrics) push(success prometheus.Gauge) error {
	reg := prometheus.NewRegistry()
	for _, c := range m.collectors {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	if success != nil {
		if err := reg.Register(success); err != nil {
			return err
		}
	}
	p := push.New(m.gateway, "bulksync").Gatherer(reg).Grouping("command", m.command)
	if m.shard != "" {
		p = p.Grouping("shard", m.shard)
	}
	ctx, cancel := context.WithTimeout(context.Background(), pushTimeout)
	defer cancel()
	return p.AddContext(ctx)
}

// checkPushgateway validates --pushgateway before the run, so a typo is a
// usage error rather than a lost push at the end.
func checkPushgateway(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("%w: --pushgateway: %q is not an http(s) URL such as http://pushgateway:9091", sync.ErrUsage, raw)
	}
	return nil
}
