package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/bulksync/bulksync/internal/cliflag"
	"github.com/bulksync/bulksync/internal/observe"
	"github.com/bulksync/bulksync/sync"
)

func runPlan(ctx context.Context, e *env, args []string) error {
	var o syncOptions
	fs := newFlagSet(e, "plan", "bulksync plan --input EXPORT.csv [--report REPORT.csv] [flags]",
		"Reads the export, compares it with the live cards and writes, row by row, what apply would do.\nNothing is written to Linq.")
	helpWithExitStatus(fs)
	o.addFlags(fs, e)
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

// newFlagSet returns a command's flag set, whose help lists the flags as
// --name.
func newFlagSet(e *env, name, synopsis, about string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: %s\n\n%s\n\nFlags:\n", synopsis, about)
		cliflag.PrintDefaults(fs)
	}
	return fs
}

// helpWithExitStatus ends fs's help with the exit codes: plan's and apply's,
// the commands a script or cron job branches on.
func helpWithExitStatus(fs *flag.FlagSet) {
	usage := fs.Usage
	fs.Usage = func() {
		usage()
		fmt.Fprint(fs.Output(), exitStatusHelp)
	}
}

// parseFlags parses a command's flags; stray arguments are an error, since
// a misplaced flag value is the usual cause. A bad value is reported at
// once, in one line, before anything else is looked at. With --quiet, the
// command's output is held from here on.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := cliflag.Parse(fs, args); err != nil {
		jsonIfAsked(fs, args)
		return flagError(fs, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q (flags come as --name value)", sync.ErrUsage, fs.Arg(0))
	}
	holdIfQuiet(fs)
	return nil
}

// jsonIfAsked makes the error line of a command line that does not parse
// a JSON record when it asks for --log-format json, wherever: parsing
// stopped at the bad flag, which may come before --log-format. Every line
// of a run that asked for JSON must parse as JSON, this one included.
func jsonIfAsked(fs *flag.FlagSet, args []string) {
	if fs.Lookup("log-format") == nil {
		return
	}
	format := "" // the last one given wins, as when parsing
	for i, a := range args {
		if a == "--" {
			break
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "log-format" {
			continue
		}
		if !hasValue && i+1 < len(args) {
			value = args[i+1]
		}
		if v, err := observe.LogFormats.Parse(value); err == nil {
			format = v
		}
	}
	if format == "json" {
		observe.NewConsole(fs.Output()).SetFormat("json")
	}
}

// flagError is the error of cliflag.Parse as a command returns it.
func flagError(fs *flag.FlagSet, err error) error {
	switch {
	case errors.Is(err, flag.ErrHelp):
		return errHelp
	case errors.Is(err, sync.ErrUsage):
		return err
	}
	return fmt.Errorf("%w: %v ('bulksync %s -h' lists the flags)", sync.ErrUsage, err, fs.Name())
}
