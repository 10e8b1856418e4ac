package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/bulksync/bulksync/internal/atomicfile"
	"github.com/bulksync/bulksync/internal/cliflag"
	"github.com/bulksync/bulksync/sync"
)

func runExport(ctx context.Context, e *env, args []string) error {
	fl := newFlagSet(e, "export", "bulksync export --output FILE [--format csv|jsonl] [flags]",
		"Writes every live contact card (one GET) to FILE, mode 0600, as a backup before a migration.\n"+
			"CSV is the generic input format plus is_active, formula-safe; applied back with 'apply --input FILE'\n"+
			"it plans noop for every active card (inactive ones are reported inactive: bulksync never writes to them).\n"+
			"FILE must not exist: a backup never overwrites a file, such as the input or the state.")
	output := fl.String("output", "", "file to write; it must not exist")
	var format string
	cliflag.Choice(fl, &format, "format", "csv", sync.ExportFormats, "csv: the generic input format plus is_active; jsonl: one card per line")
	baseURL := fl.String("base-url", "", "Linq API base URL (default $LINQ_API_V3_BASE_URL or "+sync.DefaultBaseURL+")")
	keyFile := fl.String("api-key-file", "", "file holding the API key (default: $LINQ_API_V3_API_KEY)")
	timeout := fl.Duration("snapshot-timeout", 2*time.Minute, "time limit for reading all live cards, retries and waits included")
	retry := sync.DefaultApplyOptions
	fl.IntVar(&retry.MaxAttempts, "max-attempts", retry.MaxAttempts, "attempts for transient failures and 429s")
	fl.DurationVar(&retry.BackoffBase, "backoff-base", retry.BackoffBase, "first retry waits up to this long; doubles per attempt")
	fl.DurationVar(&retry.BackoffMax, "backoff-max", retry.BackoffMax, "longest wait between attempts (Retry-After may ask for more)")
	if err := parseFlags(fl, args); err != nil {
		return err
	}
	if *output == "" {
		return fmt.Errorf("%w: --output is required: the file to write the cards to", sync.ErrUsage)
	}
	f, err := sync.ParseExportFormat(format)
	if err != nil {
		return err
	}
	if err := retry.Check(); err != nil {
		return err
	}
	// Refused before the GET, and again, atomically, when the file is
	// linked into place.
	if _, err := os.Lstat(*output); err == nil {
		return fmt.Errorf("%w: --output: %s already exists; a backup never overwrites a file: choose a new name", sync.ErrUsage, *output)
	}
	if *timeout <= 0 {
		return fmt.Errorf("%w: --snapshot-timeout: must be positive, e.g. 2m; got %v", sync.ErrUsage, *timeout)
	}
	client, _, err := sync.Connect(e.getenv, *baseURL, *keyFile, sync.NewHTTPClient(1, 0))
	if err != nil {
		return err
	}
	sctx, cancel := context.WithTimeoutCause(ctx, *timeout, fmt.Errorf("--snapshot-timeout %v reached", *timeout))
	defer cancel()
	cards, err := sync.FetchSnapshot(sctx, client.ClientInterface, retry, nil)
	if err != nil {
		return err
	}
	err = atomicfile.Write(*output, false, func(w io.Writer) error { return sync.WriteExport(w, cards, f) })
	switch {
	case errors.Is(err, fs.ErrExist):
		return fmt.Errorf("%w: --output: %s already exists; a backup never overwrites a file: choose a new name", sync.ErrUsage, *output)
	case err != nil:
		return fmt.Errorf("%w: --output: %v", sync.ErrUsage, err)
	}
	active := 0
	for _, c := range cards {
		if c.Active {
			active++
		}
	}
	fmt.Fprintf(e.stderr, "export: %d cards (%d active, %d inactive) written to %s\n", len(cards), active, len(cards)-active, *output)
	return nil
}
