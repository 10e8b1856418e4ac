package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

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
	var read readFlags
	read.addFlags(fl)
	var quiet bool
	addQuiet(fl, e, &quiet)
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
	if err := read.check(); err != nil {
		return err
	}
	// Refused before the GET, and again, atomically, when the file is
	// linked into place.
	if _, err := os.Lstat(*output); err == nil {
		return fmt.Errorf("%w: --output: %s already exists; a backup never overwrites a file: choose a new name", sync.ErrUsage, *output)
	}
	client, _, err := read.connect(e)
	if err != nil {
		return err
	}
	cards, err := read.fetchCards(ctx, client)
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
	for c := range cards.All() {
		if c.Active {
			active++
		}
	}
	fmt.Fprintf(e.stderr, "export: %d cards (%d active, %d inactive) written to %s\n", cards.Len(), active, cards.Len()-active, *output)
	return nil
}
