package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/bulksync/bulksync/sync"
)

func runPlan(ctx context.Context, e *env, args []string) error {
	var o syncOptions
	fs := newFlagSet(e, "plan", "bulksync plan --input EXPORT.csv [--report REPORT.csv] [flags]",
		"Reads the export, compares it with the live cards and writes, row by row, what apply would do.\nNothing is written to Linq.")
	o.addFlags(fs)
	fs.StringVar(&o.planOut, "out", "", "also save the plan to this file, for 'apply --plan' after review")
	fs.IntVar(&o.show, "show", 20, "print the first N rows that change a card on standard output; 0 prints none")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if o.show < 0 {
		return fmt.Errorf("%w: --show: %d is negative; give a number of rows, 0 for none", sync.ErrUsage, o.show)
	}
	return runSync(ctx, e, &o, "plan")
}

// newFlagSet returns a flag set whose help ends with the exit codes.
func newFlagSet(e *env, name, synopsis, about string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: %s\n\n%s\n\nFlags:\n", synopsis, about)
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), exitStatusHelp)
	}
	return fs
}

// parseFlags parses a command's flags; stray arguments are an error, since
// a misplaced flag value is the usual cause.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return errHelp
		}
		return fmt.Errorf("%w: %v", sync.ErrUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q (flags come as --name value)", sync.ErrUsage, fs.Arg(0))
	}
	return nil
}
