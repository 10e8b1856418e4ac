package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/bulksync/bulksync/internal/cliflag"
	"github.com/bulksync/bulksync/sync"
	"golang.org/x/term"
)

// runsFormats are the values of runs --format.
var runsFormats = sync.Choices{Flag: "--format", Values: []string{"table", "csv", "json"}}

func runRuns(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "runs", "bulksync runs [--format table|csv|json] [--limit N] [--state FILE]",
		"Lists past runs of plan and apply for this account, newest first, from the state database.\n"+
			"It takes no lock, so it works while a run is going on.")
	var format string
	cliflag.Choice(fs, &format, "format", "", runsFormats, "output format (default: table on a terminal, csv otherwise)")
	limit := fs.Int("limit", 20, "how many runs to list")
	state := fs.String("state", "", "state database (default: the account's, from LINQ_API_V3_BASE_URL and the API key)")
	baseURL := fs.String("base-url", "", "Linq API base URL, to find the account's state")
	apiKeyFile := fs.String("api-key-file", "", "file holding the API key, to find the account's state")
	var quiet bool
	addQuiet(fs, e, &quiet)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if format == "" {
		format = "csv"
		// Any writer with a descriptor: main wraps standard output
		// (--quiet's hold) and the wrapper passes the file's on.
		if f, ok := e.stdout.(interface{ Fd() uintptr }); ok && term.IsTerminal(int(f.Fd())) {
			format = "table"
		}
	}
	if *limit < 1 {
		return fmt.Errorf("%w: --limit: must be at least 1", sync.ErrUsage)
	}
	path := *state
	if path == "" {
		base, key, err := sync.Credentials(e.getenv, *baseURL, *apiKeyFile)
		if err != nil {
			return err
		}
		if key == "" {
			return fmt.Errorf("%w: no API key to find the account's state: set LINQ_API_V3_API_KEY or give --state FILE", sync.ErrUsage)
		}
		if path, err = sync.DefaultStatePath(e.getenv, sync.Account(base, key)); err != nil {
			return err
		}
	}
	st, err := sync.OpenStateReadOnly(path)
	if err != nil {
		return err
	}
	defer st.Close()
	runs, err := st.Runs(ctx, *limit)
	if err != nil {
		return err
	}
	switch format {
	case "json":
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if runs == nil {
			runs = []sync.RunEntry{}
		}
		return enc.Encode(runs)
	case "csv":
		w := csv.NewWriter(e.stdout)
		w.Write([]string{"id", "command", "started", "ended", "exit_code", "records", "changes", "ok", "failed", "skipped", "input", "input_sha256", "report"})
		for _, r := range runs {
			// A file name such as "=cmd|..." must not run when the list is
			// opened in a spreadsheet, any more than a report cell.
			row := runRow(r, time.RFC3339)
			for i := range row {
				row[i] = sync.Neutralise(row[i])
			}
			w.Write(row)
		}
		w.Flush()
		return w.Error()
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCOMMAND\tSTARTED\tENDED\tEXIT\tRECORDS\tCHANGES\tOK\tFAILED\tSKIPPED\tINPUT")
	for _, r := range runs {
		row := runRow(r, "2006-01-02 15:04:05")
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], row[9], row[10])
	}
	return tw.Flush()
}

// runRow flattens a run for csv and table output.
func runRow(r sync.RunEntry, layout string) []string {
	ended, exit := "", "running or killed"
	if r.Ended != nil {
		ended = r.Ended.Local().Format(layout)
	}
	if r.ExitCode != nil {
		exit = strconv.Itoa(*r.ExitCode)
	}
	// A run killed before its end has no counts at all: blank. A finished
	// one leaves out results it had none of: 0.
	num := func(v any) string {
		if f, ok := v.(float64); ok {
			return strconv.FormatFloat(f, 'f', -1, 64)
		}
		if r.Counts != nil {
			return "0"
		}
		return ""
	}
	results, _ := r.Counts["results"].(map[string]any)
	return []string{strconv.FormatInt(r.ID, 10), r.Command, r.Started.Local().Format(layout), ended, exit,
		num(r.Counts["records"]), num(r.Counts["changes"]), num(results["ok"]), num(results["failed"]), num(results["skipped"]),
		r.Input, r.InputSHA256, r.Report}
}
