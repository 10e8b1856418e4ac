// Package cliflag is what the flag sets of every bulksync command share:
// flags that take one of a fixed set of values, checked as the command line
// is parsed, and help that writes flags as --name, the way the README and
// the docs do.
//
// The allowed values are sync.Choices, kept next to the Parse functions of
// package sync that decide what a value means; a flag here only wraps them.
package cliflag

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/bulksync/bulksync/sync"
)

// choice is a string flag that takes one of a fixed set of values.
type choice struct {
	p       *string
	choices sync.Choices
	err     error // why the last Set failed, for Parse to report as it is
}

func (c *choice) String() string {
	if c.p == nil { // the zero value flag.isZeroValue makes
		return ""
	}
	return *c.p
}

func (c *choice) Set(s string) error {
	v, err := c.choices.Parse(s)
	c.err = err
	if err != nil {
		return err
	}
	*c.p = v
	return nil
}

// Choice defines a string flag that takes one of choices' values, stored
// in canonical form. Its default, value, is not checked: "" may stand for
// "not given". Help lists the values in place of the type:
// "--empty keep|clear".
func Choice(fs *flag.FlagSet, p *string, name, value string, choices sync.Choices, usage string) {
	*p = value
	fs.Var(&choice{p: p, choices: choices}, name, usage)
}

// Parse parses args into fs. Unlike fs.Parse it prints nothing on an
// error, which the caller prints once; the error of a bad choice is its
// Parse's own, naming the flag and the allowed values; the flag package's
// other errors name flags as --name. On -h or --help it prints fs's help
// and returns flag.ErrHelp.
func Parse(fs *flag.FlagSet, args []string) error {
	help, out := fs.Usage, fs.Output()
	if help == nil {
		help = func() { PrintDefaults(fs) }
	}
	fs.Usage = func() {}
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.Usage = help
	fs.SetOutput(out)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp):
		help()
		return err
	}
	var bad error
	fs.VisitAll(func(f *flag.Flag) {
		if c, ok := f.Value.(*choice); ok && c.err != nil {
			bad = c.err
		}
	})
	if bad != nil {
		return bad
	}
	return errors.New(dashes.Replace(err.Error()))
}

// dashes turns the flag package's "-name" in its errors into "--name".
var dashes = strings.NewReplacer(
	"not defined: -", "not defined: --",
	"for flag -", "for flag --",
	"for -", "for --",
	"needs an argument: -", "needs an argument: --",
)

// PrintDefaults prints fs's flags as flag.PrintDefaults does, but as
// --name, and with a choice's values in place of its type:
//
//	--input string
//	  	CSV or .xlsx export to read
//	--empty keep|clear
//	  	what a blank cell means (default keep)
func PrintDefaults(fs *flag.FlagSet) {
	w := fs.Output()
	fs.VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		if c, ok := f.Value.(*choice); ok {
			arg = strings.Join(c.choices.Values, "|")
		}
		line := "  --" + f.Name
		if arg != "" {
			line += " " + arg
		}
		fmt.Fprintf(w, "%s\n    \t%s", line, strings.ReplaceAll(usage, "\n", "\n    \t"))
		switch def := f.DefValue; {
		case def == "", def == "0", def == "false", def == "0s":
			// The zero value says nothing.
		case arg == "string":
			fmt.Fprintf(w, " (default %q)", def)
		default:
			fmt.Fprintf(w, " (default %s)", def)
		}
		fmt.Fprintln(w)
	})
}
