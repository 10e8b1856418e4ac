package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"math"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/bulksync/bulksync/internal/linqfake"
	bsync "github.com/bulksync/bulksync/sync"
)

// fakeAPIAbout is the help text above the flags.
const fakeAPIAbout = `Runs the fake Linq API (GET/POST/PATCH /v3/contact_card, GET /v3/phone_numbers)
until interrupted, for tests, scripts and benchmarks. An image_url whose host
ends in .invalid cannot be fetched: it answers 400/5007. Point bulksync at it with
--base-url http://ADDR. When it is ready it prints one line to stdout:

  listening on http://ADDR

Clients must send "Authorization: Bearer TOKEN"; the token comes from --token
or $LINQ_FAKE_TOKEN and is never printed. Faults are drawn per contact-card
request from a random source seeded by --random-seed, so a run can be
repeated. On SIGINT or SIGTERM it stops accepting requests, gives those in
flight 3 seconds, and exits 0.`

// fakeAPIShutdownGrace is how long requests in flight may take to finish
// once the fake is told to stop; hanging ones are then cut.
const fakeAPIShutdownGrace = 3 * time.Second

// addFakeBehaviourFlags defines the flags for the fake's account, limits,
// latency, faults and answers; the script tests' in-process fake takes the
// same ones. abs resolves a file name given to a flag (the script tests'
// files live in the script's work directory).
func addFakeBehaviourFlags(fs *flag.FlagSet, opts *linqfake.Options, abs func(string) string) {
	fs.Func("lines", "`file` of the account's phone numbers, one E.164 number per line, optionally followed by\n"+
		"its reputation (AT_RISK, CRITICAL, FLAGGED; default HEALTHY). GET /v3/phone_numbers lists them\n"+
		"and contact cards for other numbers answer 403. Without it any number is allowed and\n"+
		"GET /v3/phone_numbers lists the numbers that have cards", func(name string) error {
		f, err := os.Open(abs(name))
		if err != nil {
			return err
		}
		defer f.Close()
		opts.Lines, opts.Reputation, err = linqfake.ReadLines(f)
		return err
	})
	fs.IntVar(&opts.NotOwnedCode, "not-owned-code", 2006, "`code` of the 403 for a number not on the account: 2006 or 2005")
	fs.IntVar(&opts.NotFoundCode, "not-found-code", 2001, "`code` of the 404 for a PATCH with no active card: 2001 (as the Update page shows) or 2012")
	fs.BoolVar(&opts.HideInactive, "hide-inactive", false, "GET /v3/contact_card omits inactive cards (the SDK documents \"the active card(s)\")")
	fs.IntVar(&opts.PhoneNumbersStatus, "phone-numbers-status", 0, "`status` GET /v3/phone_numbers answers instead of the list: 403, 404, 500 or 503; 0 serves it")
	fs.StringVar(&opts.ShouldRetry, "should-retry", "", "send x-should-retry with this `value` (true or false) on every error answer to POST and PATCH")
	fs.Float64Var(&opts.RateLimit, "rate-limit", 0, "requests per second allowed, above which 429/1007 answers; 0 is unlimited")
	fs.BoolVar(&opts.WritesOnly, "rate-limit-writes-only", false, "--rate-limit counts writes only: reads (GET) always pass. By default they count too, so a\n"+
		"run's reads of the cards and the lines take from the bucket before its first write")
	fs.IntVar(&opts.Burst, "burst", 0, "requests allowed at once above --rate-limit (token bucket); 0 is one second's worth")
	fs.DurationVar(&opts.Window, "window", 0, "make --rate-limit a fixed window of this `length`, as Linq documents (30 per 60s is\n"+
		"--rate-limit 0.5 --window 60s): rate×length requests pass in each window, the rest answer 429\n"+
		"until it ends; a window opens with the first request after the last one ended. 0 is a\n"+
		"token bucket (--burst)")
	fs.Func("retry-after", "how a 429 above --rate-limit says when to come back: seconds (Retry-After and error.retry_after, the default: the wait until a request would pass, or until the window ends, rounded up), none, or a duration such as 250ms sent as retry-after-ms whatever the wait", func(s string) error {
		ra, err := linqfake.ParseRetryAfter(s)
		opts.RetryAfter = ra
		return err
	})
	fs.DurationVar(&opts.Latency, "latency", 0, "fixed delay added to each contact-card request")
	fs.DurationVar(&opts.Jitter, "jitter", 0, "random extra delay, up to this much, added to --latency")
	fs.DurationVar(&opts.NetworkDelay, "network-delay", 0, "delay before the server sees each request, as the round trip to a server that far away\n"+
		"would add: every answer comes at least this late, 429s and errors included (--latency is the\n"+
		"server's own time, after the rate limit, for accepted contact-card requests only)")
	fs.Float64Var(&opts.Faults.Error3006, "fail-3006", 0, "`probability` (0 to 1) of answering 500/3006 internal server error")
	fs.Float64Var(&opts.Faults.Error4004, "fail-4004", 0, "`probability` of answering 503/4004 service unavailable")
	fs.Float64Var(&opts.Faults.Error2022, "fail-2022", 0, "`probability` of answering 500/2022 contact card setup failed (POST, PATCH)")
	fs.Float64Var(&opts.Faults.Drop, "drop", 0, "`probability` of closing the connection without an answer")
	fs.Float64Var(&opts.Faults.Hang, "hang", 0, "`probability` of holding the request until the client gives up or --hang-for passes")
	fs.Float64Var(&opts.Faults.LostResponse, "lost-response", 0, "`probability` of applying the request, then closing the connection without an answer")
	fs.Float64Var(&opts.Faults.Throttle, "fail-429", 0, "`probability` of answering 429/1007 with Retry-After: 1 whatever the rate")
	fs.DurationVar(&opts.HangFor, "hang-for", 0, "how long a hang lasts before the request is served; 0 is until the client gives up")
	fs.Uint64Var(&opts.Seed, "random-seed", 0, "`seed` of the random source of faults and jitter")
}

func runFakeAPI(ctx context.Context, e *env, args []string) error {
	var (
		opts       linqfake.Options
		addr       string
		seedFile   string
		requestLog string
	)
	fs := newFlagSet(e, "fake-api", "bulksync fake-api [flags]", fakeAPIAbout)
	fs.StringVar(&addr, "addr", "127.0.0.1:8080", "`host:port` to listen on; port 0 picks a free port")
	fs.StringVar(&opts.Token, "token", "", "bearer `token` clients must send (default $LINQ_FAKE_TOKEN)")
	fs.StringVar(&seedFile, "seed", "", "CSV `file` of cards to start with: phone_number,first_name[,last_name,image_url,is_active]")
	fs.StringVar(&requestLog, "request-log", "", "`file` to write every request to as JSON lines (\"-\" for stderr); truncated first")
	addFakeBehaviourFlags(fs, &opts, func(name string) string { return name })
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if opts.Token == "" {
		opts.Token = e.getenv("LINQ_FAKE_TOKEN")
	}
	if err := checkFakeAPIFlags(addr, opts); err != nil {
		return fmt.Errorf("%w: %v", bsync.ErrUsage, err)
	}

	switch requestLog {
	case "":
	case "-":
		opts.RequestLog = e.stderr
	default:
		f, err := os.Create(requestLog)
		if err != nil {
			return fmt.Errorf("%w: --request-log: %v", bsync.ErrUsage, err)
		}
		defer f.Close()
		opts.RequestLog = f
	}
	fake := linqfake.New(opts)
	if seedFile != "" {
		f, err := os.Open(seedFile)
		if err != nil {
			return fmt.Errorf("%w: --seed: %v", bsync.ErrUsage, err)
		}
		err = fake.SeedCSV(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%w: --seed %s: %v", bsync.ErrUsage, seedFile, err)
		}
	}
	fake.EncodeLists()

	ln, err := new(net.ListenConfig).Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("%w: --addr: %v", bsync.ErrUsage, err)
	}
	srv := &http.Server{
		Handler:           fake.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(e.stderr, "bulksync fake-api: ", 0),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(e.stdout, "listening on http://%s\n", ln.Addr())

	select {
	case err := <-served:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), fakeAPIShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		// Requests still hanging after the grace period are cut.
		srv.Close()
	}
	return nil
}

// checkFakeAPIFlags reports the first flag whose value cannot work.
func checkFakeAPIFlags(addr string, opts linqfake.Options) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("--addr %q: want host:port, such as 127.0.0.1:8080 or :0", addr)
	}
	if opts.Token == "" {
		return errors.New("no token: pass --token or set LINQ_FAKE_TOKEN; clients must send it as \"Authorization: Bearer TOKEN\"")
	}
	if !(opts.RateLimit >= 0) || math.IsInf(opts.RateLimit, 0) {
		return fmt.Errorf("--rate-limit must be 0 (unlimited) or a number of requests per second, got %v", opts.RateLimit)
	}
	if opts.NotOwnedCode != 2006 && opts.NotOwnedCode != 2005 {
		return fmt.Errorf("--not-owned-code must be 2006 or 2005, got %d", opts.NotOwnedCode)
	}
	if opts.NotFoundCode != 2001 && opts.NotFoundCode != 2012 {
		return fmt.Errorf("--not-found-code must be 2001 or 2012, got %d", opts.NotFoundCode)
	}
	switch opts.PhoneNumbersStatus {
	case 0, 403, 404, 500, 503:
	default:
		return fmt.Errorf("--phone-numbers-status must be 0, 403, 404, 500 or 503, got %d", opts.PhoneNumbersStatus)
	}
	switch opts.ShouldRetry {
	case "", "true", "false":
	default:
		return fmt.Errorf("--should-retry must be true or false, got %q", opts.ShouldRetry)
	}
	if opts.Burst < 0 {
		return fmt.Errorf("--burst must be 0 or more, got %d", opts.Burst)
	}
	switch {
	case opts.Window < 0:
		return fmt.Errorf("--window must be 0 (a token bucket) or a duration such as 1s or 60s, got %v", opts.Window)
	case opts.WritesOnly && opts.RateLimit == 0:
		return fmt.Errorf("--rate-limit-writes-only needs --rate-limit")
	case opts.Window > 0 && opts.RateLimit == 0:
		return fmt.Errorf("--window %v needs --rate-limit: the window's requests are --rate-limit × --window", opts.Window)
	case opts.Window > 0 && opts.Burst != 0:
		return fmt.Errorf("--burst is for the token bucket; with --window %v every request of a window may come at once", opts.Window)
	case opts.Window > 0 && opts.RateLimit*opts.Window.Seconds() < 0.5:
		return fmt.Errorf("--rate-limit %v × --window %v allows no request per window; want at least 1", opts.RateLimit, opts.Window)
	}
	for _, d := range []struct {
		flag  string
		value time.Duration
	}{{"--latency", opts.Latency}, {"--jitter", opts.Jitter}, {"--network-delay", opts.NetworkDelay}, {"--hang-for", opts.HangFor}} {
		if d.value < 0 {
			return fmt.Errorf("%s must be 0 or more, got %v", d.flag, d.value)
		}
	}
	f := opts.Faults
	sum := 0.0
	for _, p := range []struct {
		flag  string
		value float64
	}{
		{"--fail-3006", f.Error3006}, {"--fail-4004", f.Error4004}, {"--fail-2022", f.Error2022},
		{"--drop", f.Drop}, {"--hang", f.Hang}, {"--lost-response", f.LostResponse}, {"--fail-429", f.Throttle},
	} {
		if !(p.value >= 0 && p.value <= 1) {
			return fmt.Errorf("%s must be a probability from 0 to 1, got %v", p.flag, p.value)
		}
		sum += p.value
	}
	if sum > 1+1e-9 { // leeway for rounding: 0.1+0.2+0.7 is not exactly 1
		return fmt.Errorf("the fault probabilities --fail-3006, --fail-4004, --fail-2022, --drop, --hang, --lost-response and --fail-429 add up to %v; at most 1 is allowed", sum)
	}
	return nil
}
