package sync

import (
	"net/http"

	"context"
	"fmt"
	"github.com/bulksync/bulksync/gen/linq"
	"io"
	"os"
	"strings"
)

// Credentials reads the base URL and the API key: the flags, else the
// official SDK's environment variables, else the default base URL.
func Credentials(getenv func(string) string, baseURL, apiKeyFile string) (base, key string, err error) {
	base = baseURL
	if base == "" {
		base = getenv("LINQ_API_V3_BASE_URL")
	}
	if base == "" {
		base = DefaultBaseURL
	}
	key = getenv("LINQ_API_V3_API_KEY")
	if apiKeyFile != "" {
		b, err := os.ReadFile(apiKeyFile)
		if err != nil {
			return "", "", fmt.Errorf("%w: --api-key-file: %v", ErrUsage, err)
		}
		key = strings.TrimSpace(string(b))
		if key == "" {
			return "", "", fmt.Errorf("%w: --api-key-file: %s is empty", ErrUsage, apiKeyFile)
		}
	}
	return base, key, nil
}

// Connect builds the API client for the credentials the flags and the
// environment give (Credentials) and returns it with the account's
// fingerprint, which keys the state. The key stays inside the client: it
// is never put in an error, a log line or a report.
func Connect(getenv func(string) string, baseURL, apiKeyFile string, hc *http.Client) (*linq.ClientWithResponses, string, error) {
	base, key, err := Credentials(getenv, baseURL, apiKeyFile)
	if err != nil {
		return nil, "", err
	}
	client, err := NewClient(base, key, hc)
	if err != nil {
		return nil, "", err
	}
	return client, Account(base, key), nil
}

// StatePath is --state when given, or the account's default; each shard
// has its own, so the shards of one export can run at once.
func StatePath(getenv func(string) string, flag, account string, shard Shard) (string, error) {
	if flag != "" {
		return flag, nil
	}
	if shard.Count > 0 {
		account = fmt.Sprintf("%s-shard-%d-of-%d", account, shard.Index, shard.Count)
	}
	return DefaultStatePath(getenv, account)
}

// openInput opens the export. Standard input, a FIFO or a process
// substitution (--input <(cmd)) is spooled to a temporary file first,
// because planning reads the input twice. Reading it may block for as long
// as the writer takes (opening a FIFO blocks until one appears): stop (the
// first interrupt, --max-duration) ends the wait.
func openInput(stop context.Context, name string, stdin io.Reader) (*os.File, func(), error) {
	if name != "-" {
		fi, err := os.Stat(name)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: --input: %v", ErrUsage, err)
		}
		if fi.IsDir() {
			return nil, nil, fmt.Errorf("%w: --input: %s is a directory", ErrUsage, name)
		}
		if fi.Mode().IsRegular() {
			f, err := os.Open(name)
			if err != nil {
				return nil, nil, fmt.Errorf("%w: --input: %v", ErrUsage, err)
			}
			return f, func() { f.Close() }, nil
		}
	}
	what := "standard input"
	if name != "-" {
		what = "--input " + name
	}
	spool, cleanup, err := spoolFile()
	if err != nil {
		return nil, nil, fmt.Errorf("%w: spooling %s: %v", ErrUsage, what, err)
	}
	copied := make(chan error, 1)
	go func() {
		src := stdin
		if name != "-" {
			f, err := os.Open(name)
			if err != nil {
				copied <- err
				return
			}
			defer f.Close()
			src = f
		}
		_, err := io.Copy(spool, src)
		copied <- err
	}()
	select {
	case err = <-copied:
	case <-stop.Done():
		// The copy is left blocked on its read; the process ends soon.
		cleanup()
		return nil, nil, fmt.Errorf("%w: %v while reading %s", ErrAborted, context.Cause(stop), what)
	}
	if err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("%w: reading %s: %v", ErrUsage, what, err)
	}
	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("%w: spooling %s: %v", ErrUsage, what, err)
	}
	return spool, cleanup, nil
}

// spoolFile creates the temporary file that holds a non-seekable input,
// 0600 since it holds customers' names. Its name is removed at once where
// the system allows it, so even a killed run leaves no copy behind; cleanup
// closes it and removes it where that failed.
func spoolFile() (*os.File, func(), error) {
	f, err := os.CreateTemp("", "bulksync-input-*.csv")
	if err != nil {
		return nil, nil, err
	}
	removed := os.Remove(f.Name()) == nil
	return f, func() {
		f.Close()
		if !removed {
			os.Remove(f.Name())
		}
	}, nil
}
