package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"embed"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/bulksync/bulksync/internal/linqfake"
	"github.com/bulksync/bulksync/internal/observe"
	"github.com/bulksync/bulksync/sync"
)

// demodata holds the demo's seed cards and a HubSpot-style export with the
// awkward rows real exports have.
//
//go:embed demodata
var demodata embed.FS

func runDemo(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "demo", "bulksync demo [--dir DIR]",
		"Starts the fake Linq API in-process, seeded with sample cards, then runs plan, apply, and apply\n"+
			"again on a sample HubSpot export, printing each summary and where the reports are.\nNothing leaves this machine.")
	dir := fs.String("dir", "", "where to write the sample export, the reports and the state; a rerun replaces them\n(default: a new temporary directory)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "bulksync-demo-")
		if err != nil {
			return err
		}
		*dir = d
	} else if err := os.MkdirAll(*dir, 0o755); err != nil {
		return fmt.Errorf("%w: --dir: %v", sync.ErrUsage, err)
	}

	token := randomToken()
	// The sample account's lines: every number of the sample export, so
	// that its new rep's card can be created.
	var lines []string
	for n := 101; n <= 111; n++ {
		lines = append(lines, fmt.Sprintf("+12125550%d", n))
	}
	fake := linqfake.New(linqfake.Options{Token: token, Lines: lines})
	seed, _ := demodata.ReadFile("demodata/cards.csv")
	if err := fake.SeedCSV(bytes.NewReader(seed)); err != nil {
		return fmt.Errorf("seeding the fake API: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("starting the fake API: %w", err)
	}
	srv := &http.Server{Handler: fake.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	baseURL := "http://" + ln.Addr().String()

	// Every demo starts from the same sample cards, on a new fake whose
	// address and key are new: the state of an earlier demo in dir speaks
	// of cards that no longer exist, and of another account (the account
	// is a hash of both), which opening it refuses. It is replaced, as the
	// reports are, so that a rerun shows what the first run showed.
	state := filepath.Join(*dir, "state.db")
	for _, p := range []string{state, state + "-wal", state + "-shm"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%w: --dir: replacing the earlier demo's state: %v", sync.ErrUsage, err)
		}
	}

	export, _ := demodata.ReadFile("demodata/hubspot-export.csv")
	input := filepath.Join(*dir, "hubspot-export.csv")
	if err := os.WriteFile(input, export, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "bulksync demo: fake Linq API at %s with %d cards; export %s\n\n", baseURL, len(fake.Cards()), input)

	// The demo's own environment: the key of the in-process fake, nothing
	// from the caller's (a real LINQ_API_V3_API_KEY must never reach it).
	demoEnv := *e
	demoEnv.getenv = func(k string) string {
		if k == "LINQ_API_V3_API_KEY" {
			return token
		}
		return ""
	}
	steps := []struct{ title, command, report, html string }{
		{"1. plan: what would change (nothing is written)", "plan", "report-1-plan.csv", "plan-1.html"},
		{"2. apply: send the changes", "apply", "report-2-apply.csv", "apply-2.html"},
		{"3. apply again: nothing changed in the export, so nothing is sent", "apply", "report-3-apply-again.csv", ""},
	}
	for _, step := range steps {
		fmt.Fprintf(e.stdout, "== %s\n", step.title)
		o := syncOptions{
			input: input, report: filepath.Join(*dir, step.report), preset: "auto", encoding: "utf-8",
			region: "US", empty: "keep", onDuplicate: "error", createMissing: true,
			baseURL: baseURL, timeout: 30 * time.Second, apply: sync.DefaultApplyOptions,
			state: state,
			// The demo prints to standard output, where a progress bar
			// does not belong, and its runs take a moment anyway.
			obs: observe.Options{Quiet: true},
		}
		if step.html != "" {
			o.html = filepath.Join(*dir, step.html)
		}
		demoEnv.stderr = e.stdout
		err := runSync(ctx, &demoEnv, &o, step.command)
		if err != nil && !errors.Is(err, sync.ErrIncomplete) {
			return err
		}
		if step.command == "plan" {
			showReport(e.stdout, o.report, 0, 0)
		}
		fmt.Fprintln(e.stdout)
	}
	fmt.Fprintf(e.stdout, "The sample export has rows that cannot sync on purpose (an invalid phone, a duplicate number,\n"+
		"an inactive card, an http image URL): they are reported, with their line numbers, in %s.\n", *dir)
	return nil
}

// showReport prints the main columns of a report, so the demo and plan
// --show show row by row what the plan decided and why. With limit > 0 it
// prints only the first limit rows that change a card (create, update),
// of the changed that the summary counted. The report is read row by row
// and only as far as needed: a plan of a million rows has a report of
// some 150 MB, which read whole took 360 MB and seconds.
func showReport(w io.Writer, path string, limit, changed int) {
	if limit > 0 && changed == 0 {
		return
	}
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	cr := csv.NewReader(bufio.NewReaderSize(f, 64<<10))
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return
	}
	col := map[string]int{}
	for i, h := range header {
		col[h] = i
	}
	show := []string{"line", "phone_number", "action", "changed_fields", "error_message"}
	for _, name := range show {
		if _, ok := col[name]; !ok {
			return
		}
	}
	var rows [][]string
	for limit == 0 || len(rows) < limit {
		r, err := cr.Read()
		if err != nil {
			break
		}
		if a := sync.Action(r[col["action"]]); limit > 0 && a != sync.ActionCreate && a != sync.ActionUpdate {
			continue
		}
		kept := make([]string, len(show)) // the record's memory is reused
		for i, name := range show {
			kept[i] = r[col[name]]
		}
		rows = append(rows, kept)
	}
	if len(rows) == 0 {
		return
	}
	if limit > 0 {
		fmt.Fprintf(w, "%d rows change a card", changed)
		if changed > limit {
			fmt.Fprintf(w, "; the first %d (--show), every row in %s", limit, path)
		}
		fmt.Fprintln(w, ":")
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  LINE\tPHONE\tACTION\tFIELDS\tWHY")
	for _, r := range rows {
		why := []rune(r[4])
		if len(why) > 70 {
			why = append(why[:67], []rune("...")...)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", r[0], r[1], r[2], r[3], string(why))
	}
	tw.Flush()
	if limit > 0 {
		fmt.Fprintln(w)
	}
}

func randomToken() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}
