package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/bulksync/bulksync/gen/linq"
	"github.com/bulksync/bulksync/sync"
)

// readFlags are the flags of a command that reads the live cards and
// writes nothing to Linq (export, undo): where the API is, the key, and how
// the read is retried and bounded.
type readFlags struct {
	baseURL    string
	apiKeyFile string
	timeout    time.Duration // --snapshot-timeout
	retry      sync.ApplyOptions
}

func (r *readFlags) addFlags(fs *flag.FlagSet) {
	fs.StringVar(&r.baseURL, "base-url", "", "Linq API base URL (default $LINQ_API_V3_BASE_URL or "+sync.DefaultBaseURL+")")
	fs.StringVar(&r.apiKeyFile, "api-key-file", "", "file holding the API key (default: $LINQ_API_V3_API_KEY)")
	fs.DurationVar(&r.timeout, "snapshot-timeout", 2*time.Minute, "time limit for reading all live cards, retries and waits included")
	r.retry = sync.DefaultApplyOptions
	fs.IntVar(&r.retry.MaxAttempts, "max-attempts", r.retry.MaxAttempts, "attempts for transient failures and 429s")
	fs.DurationVar(&r.retry.BackoffBase, "backoff-base", r.retry.BackoffBase, "first retry waits up to this long; doubles per attempt")
	fs.DurationVar(&r.retry.BackoffMax, "backoff-max", r.retry.BackoffMax, "longest wait between attempts (Retry-After may ask for more)")
}

// check validates the flags, naming the one at fault.
func (r *readFlags) check() error {
	if err := r.retry.Check(); err != nil {
		return err
	}
	if r.timeout <= 0 {
		return fmt.Errorf("%w: --snapshot-timeout: must be positive, e.g. 2m; got %v", sync.ErrUsage, r.timeout)
	}
	return nil
}

// connect builds the API client and the account's fingerprint.
func (r *readFlags) connect(e *env) (*linq.ClientWithResponses, string, error) {
	return sync.Connect(e.getenv, r.baseURL, r.apiKeyFile, sync.NewHTTPClient(1, r.retry.RequestTimeout))
}

// fetchCards reads every live card once, within --snapshot-timeout.
func (r *readFlags) fetchCards(ctx context.Context, client *linq.ClientWithResponses) (*sync.Cards, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, r.timeout, fmt.Errorf("--snapshot-timeout %v reached", r.timeout))
	defer cancel()
	return sync.FetchSnapshot(ctx, client.ClientInterface, r.retry, nil)
}
