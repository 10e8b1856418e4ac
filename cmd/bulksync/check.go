package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/bulksync/bulksync/sync"
)

// checkRows is how many records of --input check shows.
const checkRows = 5

func runCheck(ctx context.Context, e *env, args []string) error {
	var o syncOptions
	fs := newFlagSet(e, "check", "bulksync check [--input EXPORT.csv] [plan and apply's flags]",
		"A preflight for a scheduled job: reads the key, connects to the API, reads the card list once,\n"+
			"looks at the state database and its lock and, with --input, the export's header and first rows.\n"+
			"It writes nothing, creates nothing, takes no lock and sends no change. It takes plan and apply's\n"+
			"flags, so a job's command line can be checked as it is (flags that shape a run are ignored).\n"+
			"One line per check: ok, warn or fail. Exit 0 when nothing failed, 2 when a local check failed\n"+
			"(key, state, input), 3 when a remote one did (endpoint, key refused, card list).")
	o.addFlags(fs, e)
	fs.StringVar(&o.planOut, "out", "", "ignored (plan's)")
	fs.StringVar(&o.planIn, "plan", "", "ignored (apply's)")
	a := &o.apply
	fs.IntVar(&a.Concurrency, "concurrency", a.Concurrency, "ignored (apply's)")
	fs.Float64Var(&a.Rate, "rate", a.Rate, "ignored (apply's)")
	fs.DurationVar(&a.RequestTimeout, "request-timeout", 30*time.Second, "time limit for connecting to the API (the card list has --snapshot-timeout)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var out checkOutput
	switch o.obs.LogFormat {
	case "text":
		out = &textChecks{w: e.stdout}
	case "json":
		// command, as on every JSON record of plan and apply: one log
		// pipeline can take all three.
		out = &jsonChecks{log: slog.New(slog.NewJSONHandler(e.stdout, nil)).With("command", "check")}
	default:
		return fmt.Errorf("%w: --log-format: unknown %q; allowed: text, json", sync.ErrUsage, o.obs.LogFormat)
	}
	results := checks(ctx, e, &o, out.print)
	code := sync.CheckExitCode(results)
	out.done(code)
	switch code {
	case 2:
		return fmt.Errorf("%w: %w", sync.ErrUsage, errReported)
	case 3:
		return fmt.Errorf("%w: %w", sync.ErrAborted, errReported)
	}
	return nil
}

// checks runs every check in order, printing each as it ends, so that a
// slow one shows which.
func checks(ctx context.Context, e *env, o *syncOptions, print func(sync.CheckResult)) []sync.CheckResult {
	var results []sync.CheckResult
	add := func(r ...sync.CheckResult) {
		for _, x := range r {
			print(x)
		}
		results = append(results, r...)
	}

	// The key: present, and from where. Never its value.
	base, key, err := sync.Credentials(e.getenv, o.baseURL, o.apiKeyFile)
	keyFrom := "$LINQ_API_V3_API_KEY"
	if o.apiKeyFile != "" {
		keyFrom = "--api-key-file " + o.apiKeyFile
	}
	switch {
	case err != nil:
		add(sync.CheckResult{Name: "key", Status: sync.CheckFail, Message: trimSentinel(err)})
	case key == "":
		add(sync.CheckResult{Name: "key", Status: sync.CheckFail, Message: "no API key: set LINQ_API_V3_API_KEY or give --api-key-file FILE"})
	default:
		add(sync.CheckResult{Name: "key", Status: sync.CheckOK, Message: "read from " + keyFrom + " (not shown)"})
	}

	// The API: connect, then read as a run reads, once, without retries.
	ctxC, cancel := context.WithTimeoutCause(ctx, o.apply.RequestTimeout,
		fmt.Errorf("no answer within --request-timeout %s", o.apply.RequestTimeout))
	endpoint := sync.CheckEndpoint(ctxC, base)
	cancel()
	add(endpoint)
	var account string
	if key != "" {
		account = sync.Account(base, key)
		if endpoint.Status == sync.CheckFail {
			add(sync.CheckResult{Name: "cards", Status: sync.CheckFail, Remote: endpoint.Remote, Message: "not read: the endpoint check failed"})
		} else {
			client, err := sync.NewClient(base, key, sync.NewHTTPClient(1, o.apply.RequestTimeout))
			if err != nil {
				add(sync.CheckResult{Name: "cards", Status: sync.CheckFail, Message: trimSentinel(err)})
			} else {
				once := o.apply
				once.MaxAttempts = 1
				ctxS, cancel := context.WithTimeoutCause(ctx, o.timeout,
					fmt.Errorf("not read within --snapshot-timeout %s", o.timeout))
				add(sync.CheckCards(ctxS, func(ctx context.Context) (*sync.Cards, error) {
					return sync.FetchSnapshot(ctx, client, once, nil)
				}, keyFrom))
				cancel()
				ctxL, cancel := context.WithTimeoutCause(ctx, o.timeout,
					fmt.Errorf("not read within --snapshot-timeout %s", o.timeout))
				add(sync.CheckLines(ctxL, func(ctx context.Context) (*sync.Lines, error) {
					return sync.FetchLines(ctx, client, once, nil)
				}, keyFrom))
				cancel()
			}
		}
	}

	// The state: where it is or will be, and whether a run holds it.
	if account != "" {
		path, err := sync.StatePath(e.getenv, o.state, account, o.shard)
		if err != nil {
			add(sync.CheckResult{Name: "state", Status: sync.CheckFail, Message: trimSentinel(err)})
		} else {
			add(sync.CheckState(path, account))
		}
	}

	// The export: its columns and what its first rows become.
	if o.input != "" {
		add(checkInput(e, o)...)
	}
	return results
}

func checkInput(e *env, o *syncOptions) []sync.CheckResult {
	fail := func(err error) []sync.CheckResult {
		return []sync.CheckResult{{Name: "input", Status: sync.CheckFail, Message: trimSentinel(err)}}
	}
	delim, err := sync.ParseDelimiter(o.delimiter)
	if err != nil {
		return fail(err)
	}
	preset := o.preset
	if preset == "auto" {
		preset = ""
	}
	var in io.Reader = e.stdin
	name := "standard input"
	if o.input != "-" {
		f, err := os.Open(o.input)
		if err != nil {
			return fail(fmt.Errorf("--input: %v", err))
		}
		defer f.Close()
		in, name = f, o.input
	}
	return sync.CheckInputPreview(in, name,
		sync.SourceOptions{Preset: preset, Map: o.maps, Delimiter: delim, Encoding: o.encoding},
		sync.NormalizeOptions{Region: o.region}, checkRows)
}

// trimSentinel drops the exit-code sentinel's text ("usage error: ")
// from a message: check's own lines say ok/warn/fail.
func trimSentinel(err error) string {
	msg := err.Error()
	for _, s := range []error{sync.ErrUsage, sync.ErrAborted} {
		if p := s.Error() + ": "; len(msg) > len(p) && msg[:len(p)] == p {
			return msg[len(p):]
		}
	}
	return msg
}

type checkOutput interface {
	print(sync.CheckResult)
	done(code int)
}

// textChecks prints "ok    key       read from ..." lines.
type textChecks struct {
	w     io.Writer
	fails int
}

func (t *textChecks) print(r sync.CheckResult) {
	if r.Status == sync.CheckFail {
		t.fails++
	}
	fmt.Fprintf(t.w, "%-5s %-9s %s\n", r.Status, r.Name, r.Message)
}

func (t *textChecks) done(code int) {
	if code == 0 {
		fmt.Fprintln(t.w, "check: ok: a run would start")
		return
	}
	fmt.Fprintf(t.w, "check: %d failed (exit %d)\n", t.fails, code)
}

// jsonChecks writes one slog JSON record per check: level INFO, WARN or
// ERROR for ok, warn and fail.
type jsonChecks struct{ log *slog.Logger }

func (j *jsonChecks) print(r sync.CheckResult) {
	level := map[sync.CheckStatus]slog.Level{sync.CheckOK: slog.LevelInfo, sync.CheckWarn: slog.LevelWarn, sync.CheckFail: slog.LevelError}[r.Status]
	attrs := []slog.Attr{slog.String("check", r.Name), slog.String("status", string(r.Status))}
	if r.Status == sync.CheckFail {
		where := "local"
		if r.Remote {
			where = "remote"
		}
		attrs = append(attrs, slog.String("side", where))
	}
	j.log.LogAttrs(context.Background(), level, r.Message, attrs...)
}

func (j *jsonChecks) done(code int) {
	j.log.LogAttrs(context.Background(), slog.LevelInfo, "check done", slog.Int("exit_code", code))
}
