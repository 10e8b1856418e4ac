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

// parsed is a flag whose text parse turns into a value, checked as the
// command line is parsed.
type parsed[T any] struct {
	p     *T
	text  string // as given, for String and help's default
	form  string // what help shows in place of a type: "i/n"
	parse func(string) (T, error)
	err   error
}

func (v *parsed[T]) String() string { return v.text }

func (v *parsed[T]) Set(s string) error {
	x, err := v.parse(s)
	v.err = err
	if err != nil {
		return err
	}
	*v.p, v.text = x, s
	return nil
}

// Value defines a flag whose text parse turns into *p as the command line
// is parsed, so that a bad value is a usage error before anything runs.
// parse's error names the flag and the forms it takes. form is what help
// shows in place of a type ("--shard i/n"); value is the default, parsed
// now: it must parse.
func Value[T any](fs *flag.FlagSet, p *T, name, form, value string, parse func(string) (T, error), usage string) {
	v := &parsed[T]{p: p, form: form, parse: parse}
	if err := v.Set(value); err != nil {
		panic(fmt.Sprintf("cliflag: default of --%s: %v", name, err))
	}
	fs.Var(v, name, usage)
}

// badValue is a flag that kept why its last Set failed.
type badValue interface{ setErr() error }

func (c *choice) setErr() error    { return c.err }
func (v *parsed[T]) setErr() error { return v.err }

// formed is a flag whose help shows its form in place of its type.
type formed interface{ helpForm() string }

func (c *choice) helpForm() string    { return strings.Join(c.choices.Values, "|") }
func (v *parsed[T]) helpForm() string { return v.form }

// Parse parses args into fs. Unlike fs.Parse it prints nothing on an
// error, which the caller prints once; the error of a bad choice or Value
// is its parse function's own, naming the flag and the allowed values; the flag package's
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
		if b, ok := f.Value.(badValue); ok && b.setErr() != nil {
			bad = b.setErr()
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
// --name, and with a choice's values or a Value's form in place of its
// type:
//
//	--input string
//	  	CSV or .xlsx export to read
//	--empty keep|clear
//	  	what a blank cell means (default keep)
//	--shard i/n
//	  	only the records of shard i of n
func PrintDefaults(fs *flag.FlagSet) {
	w := fs.Output()
	fs.VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		if v, ok := f.Value.(formed); ok {
			arg = v.helpForm()
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
