package main

import "context"

func runApply(ctx context.Context, e *env, args []string) error {
	var o syncOptions
	fs := newFlagSet(e, "apply", "bulksync apply --input EXPORT.csv [--report REPORT.csv] [flags]",
		"Plans as 'bulksync plan' does, then sends the changes: PATCH for updates (only the changed fields),\n"+
			"POST for creates. Transient failures and 429s are retried; 401/403 stop the run.\n"+
			"The first SIGINT/SIGTERM stops gracefully (requests in flight finish); a second cancels them.")
	helpWithExitStatus(fs)
	o.addFlags(fs, e)
	fs.StringVar(&o.planIn, "plan", "", "apply exactly this saved plan (from 'plan --out') instead of reading --input;\nrecords whose card changed since are reported stale and not sent")
	a := &o.apply
	fs.IntVar(&a.Concurrency, "concurrency", a.Concurrency, "requests in flight at once (1 to 1024)")
	fs.Float64Var(&a.Rate, "rate", a.Rate, "requests per second over all workers; 0 = unlimited (the run still slows down on 429s)")
	fs.DurationVar(&a.RequestTimeout, "request-timeout", a.RequestTimeout, "time limit for one request")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return runSync(ctx, e, &o, "apply")
}
