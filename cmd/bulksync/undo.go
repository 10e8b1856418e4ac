package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/bulksync/bulksync/gen/linq"
	"github.com/bulksync/bulksync/internal/atomicfile"
	"github.com/bulksync/bulksync/internal/cliflag"
	"github.com/bulksync/bulksync/internal/htmlreport"
	"github.com/bulksync/bulksync/sync"
)

func runUndo(ctx context.Context, e *env, args []string) error {
	fl := newFlagSet(e, "undo", "bulksync undo RUN --out PLAN [flags]",
		"Writes a saved plan that puts back what run RUN (the id 'bulksync runs' lists) changed: each field it\n"+
			"changed gets its value from before the run, as the state recorded it (a blank one is cleared; an image\n"+
			"is the source URL applied before). Review the plan, then apply it with 'bulksync apply --plan PLAN'.\n"+
			"Cards changed in Linq since the run are stale and left alone; cards the run created are cannot_undo\n"+
			"(the API cannot delete a card). Nothing is written to Linq. The state is the one the run used: give\n"+
			"the same --state or --shard as the run, or neither for the account's default.")
	out := fl.String("out", "", "file to write the plan to (replaced whole; 0600)")
	html := fl.String("html", "", "also write the plan as one self-contained HTML page for review (as plan --html)")
	state := fl.String("state", "", "state database the run recorded into (default $XDG_STATE_HOME/bulksync/<account>.db)")
	var shard sync.Shard
	cliflag.Value(fl, &shard, "shard", "i/n", "", sync.ParseShard, "the run was shard i of n of an export (e.g. 0/4), with that shard's default state")
	var read readFlags
	read.addFlags(fl)
	var quiet bool
	addQuiet(fl, e, &quiet)
	// RUN may come before the flags, after them or between them.
	var pos []string
	for {
		if err := cliflag.Parse(fl, args); err != nil {
			return flagError(fl, err)
		}
		if args = fl.Args(); len(args) == 0 {
			break
		}
		pos, args = append(pos, args[0]), args[1:]
	}
	holdIfQuiet(fl)
	if len(pos) > 1 {
		return fmt.Errorf("%w: unexpected argument %q: undo takes one RUN (flags come as --name value)", sync.ErrUsage, pos[1])
	}
	var runArg string
	if len(pos) == 1 {
		runArg = pos[0]
	}
	if runArg == "" {
		return fmt.Errorf("%w: RUN is required: the id of the run to undo, as 'bulksync runs' lists it", sync.ErrUsage)
	}
	id, err := strconv.ParseInt(runArg, 10, 64)
	if err != nil || id < 1 {
		return fmt.Errorf("%w: RUN: %q is not a run id; 'bulksync runs' lists them (the id column)", sync.ErrUsage, runArg)
	}
	if *out == "" {
		return fmt.Errorf("%w: --out is required: the file to write the plan to", sync.ErrUsage)
	}
	if err := read.check(); err != nil {
		return err
	}
	client, account, err := read.connect(e)
	if err != nil {
		return err
	}
	path, err := sync.StatePath(e.getenv, *state, account, shard)
	if err != nil {
		return err
	}
	if err := sync.CheckPaths([]sync.PathArg{
		{Flag: "--api-key-file", Path: read.apiKeyFile},
		{Flag: "--state", Path: path},
		{Flag: "--out", Path: *out, Output: true},
		{Flag: "--html", Path: *html, Output: true},
	}); err != nil {
		return err
	}
	// Undo reads the state; it never creates one.
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("%w: --state %s: no state database there, so no run to undo; give the --state the run used", sync.ErrUsage, path)
	}
	st, err := sync.OpenState(path, account, "undo")
	if err != nil {
		return err
	}
	defer st.Close()
	run, changes, err := st.RunChanges(ctx, id)
	if err != nil {
		return err
	}
	// The undo is a run of its own in the history ('bulksync runs'): what
	// its plan holds and how it ended. A usage error above leaves no row.
	input := fmt.Sprintf("undo of run %d", id)
	sum := sync.NewSummary("undo")
	sum.Input, sum.Report = input, *out
	if abs, err := filepath.Abs(*out); err == nil {
		sum.Report = abs
	}
	if err := st.BeginRun(ctx, sync.RunInfo{Command: "undo", Input: input, Report: sum.Report}); err != nil {
		return err
	}
	counts, err := writeUndo(ctx, read, client, account, id, changes, shard, sum, *out, *html)
	sum.End(err)
	if eerr := st.EndRun(sum); eerr != nil {
		// The plan is written; only its history entry is incomplete.
		fmt.Fprintf(e.stderr, "undo: cannot end the run's history row: %v\n", eerr)
	}
	if err != nil {
		return err
	}
	printUndo(e.stderr, run, len(changes), counts, *out)
	return nil
}

// writeUndo writes the plan that puts back changes, run id's, to out (and
// the page to html), counting its rows into sum. Its records are of shard,
// the run's.
func writeUndo(ctx context.Context, read readFlags, client *linq.ClientWithResponses, account string, id int64,
	changes []sync.RunChange, shard sync.Shard, sum *sync.Summary, out, html string) (map[sync.Action]int, error) {
	var cards *sync.Cards
	if len(changes) > 0 {
		var err error
		if cards, err = read.fetchCards(ctx, client); err != nil {
			return nil, err
		}
	}
	var page *htmlreport.Collector
	if html != "" {
		page = htmlreport.New("undo")
	}
	report := func(r sync.ReportRow) {
		sum.Count(r, false)
		if page != nil {
			page.Add(r)
		}
	}
	var counts map[sync.Action]int
	err := atomicfile.Write(out, true, func(w io.Writer) error {
		pw := sync.NewPlanWriter(w, account, sum.Input)
		pw.SetShard(shard)
		var err error
		if counts, err = sync.WriteUndo(pw, id, changes, cards, report); err != nil {
			return err
		}
		return pw.Close()
	})
	if err != nil {
		return nil, fmt.Errorf("%w: --out: %v", sync.ErrUsage, err)
	}
	sum.Records, sum.Changes = len(changes), counts[sync.ActionUpdate]
	if page != nil {
		if err := atomicfile.Write(html, true, func(w io.Writer) error { return page.Write(w, sum.Input, time.Now()) }); err != nil {
			return nil, fmt.Errorf("%w: --html: %v", sync.ErrAborted, err)
		}
	}
	return counts, nil
}

// printUndo says what the plan holds and what to do with it.
func printUndo(w io.Writer, run sync.RunEntry, changed int, counts map[sync.Action]int, out string) {
	what := fmt.Sprintf("run %d (%s of %s, started %s)", run.ID, run.Command, run.Input, run.Started.Local().Format("2006-01-02 15:04:05"))
	if changed == 0 {
		why := "it changed no card"
		switch run.Command {
		case "plan":
			why = "it was a plan, which sends nothing"
		case "undo":
			why = "it was an undo, which only writes a plan (undo the apply --plan of it instead)"
		}
		fmt.Fprintf(w, "undo: %s: %s; the plan in %s is empty\n", what, why, out)
		return
	}
	fmt.Fprintf(w, "undo: %s changed %d cards\n", what, changed)
	if run.Ended == nil {
		fmt.Fprintf(w, "  the run did not end (it was killed): these are the changes the API confirmed before\n")
	}
	var parts []string
	for _, a := range sync.Actions {
		if n := counts[a]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", a, n))
		}
	}
	fmt.Fprintf(w, "  plan:    %s\n", strings.Join(parts, ", "))
	fmt.Fprintf(w, "  written to %s; review it, then: bulksync apply --plan %s\n", out, out)
}
