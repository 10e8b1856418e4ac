// Command bulksync keeps Linq contact cards in step with a CRM export.
//
// See README.md for the commands; each lives in its own file here. This
// package only parses flags, wires dependencies and prints: plan and apply
// turn their flags into a sync.Job, which owns the run from its checks to
// its history row, and sync.ExitCode maps its error to the exit code.
//
// What a run shows while it goes (progress, logs, metrics) is package
// internal/observe, fed by the engine's events (sync.Events); this package
// only hands it the flags.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/bulksync/bulksync/internal/observe"
	"github.com/bulksync/bulksync/sync"
)

// env is what a command may touch of the outside world, injected so that
// tests can swap it.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
	// held is --quiet's hold on stdout and stderr (nil: nothing holds).
	held *heldOutput
	// hard ends on the second interrupt; the ctx a command receives ends on
	// the first. Only apply tells them apart.
	hard context.Context
}

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}

func commands() []command {
	return []command{
		{"plan", "show, row by row, what apply would change; writes nothing remote", runPlan},
		{"apply", "plan, then carry the plan out against the Linq API", runApply},
		{"runs", "list past runs from the state database", runRuns},
		{"export", "save every live card to a file: a backup before a migration", runExport},
		{"check", "preflight: key, API, card list, state and export; writes nothing", runCheck},
		{"undo", "write a saved plan that puts back what a run changed", runUndo},
		{"demo", "run plan and apply against a built-in fake Linq API with sample data", runDemo},
		{"fake-api", "run the fake Linq API (for tests, scripts and benchmarks)", runFakeAPI},
	}
}

const exitStatusHelp = `
EXIT STATUS
  0  every record ended ok (or planned)
  1  the run completed but some records did not sync
     (failed, invalid, duplicate, missing, inactive)
  2  usage, configuration or input-file error (an output that is an input,
     an export with no records, ...): nothing was sent, no file was touched
  3  aborted: 401/403 from the API, --max-changes exceeded, interrupted,
     --max-duration reached, another run holds the lock, or the remote
     snapshot could not be read (--snapshot-timeout included)
`

func usage(w io.Writer) {
	fmt.Fprintf(w, "bulksync keeps Linq contact cards in step with a CRM export.\n\nUsage:\n  bulksync <command> [flags]\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'bulksync <command> -h' for a command's flags, 'bulksync --version' for the build.\n%s", exitStatusHelp)
}

func main() {
	os.Exit(run(os.Args[1:], &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}))
}

// run executes one command line and returns the process exit code.
func run(args []string, e *env) int {
	// Everything on standard error goes through one console, so that a
	// progress bar is erased before any other line is written there.
	// Both streams can be held by --quiet until the exit code is known.
	e.held, e.stdout, e.stderr = newHeldOutput(e.stdout, e.stderr)
	e.stderr = observe.NewConsole(e.stderr)
	if len(args) == 0 {
		usage(e.stderr)
		return 2
	}
	switch args[0] {
	case "-h", "--help", "help":
		usage(e.stdout)
		return 0
	case "--version", "-version", "version":
		printVersion(e.stdout)
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		// With --log-format json, every record says which command
		// wrote it, as the log lines do.
		observe.NewConsole(e.stderr).With(slog.String("command", c.name))
		ctx, hard, release := signalContexts(e.stderr)
		defer release()
		e.hard = hard
		err := c.run(ctx, e, args[1:])
		code := exitCode(err)
		if err != nil && !errors.Is(err, errHelp) && !errors.Is(err, sync.ErrIncomplete) && !errors.Is(err, errReported) {
			if con := observe.NewConsole(e.stderr); con.JSON() {
				con.Record(slog.LevelError, err.Error(), slog.Int("exit_code", code))
			} else {
				fmt.Fprintf(e.stderr, "bulksync %s: %v\n", c.name, err)
			}
		}
		e.held.end(code)
		return code
	}
	fmt.Fprintf(e.stderr, "bulksync: unknown command %q; commands are plan, apply, runs, export, check, undo, demo, fake-api\n", args[0])
	return 2
}

// signalContexts returns a context that ends on the first SIGINT or
// SIGTERM and one that ends on the second, each with the signal as cause.
func signalContexts(stderr io.Writer) (first, second context.Context, release func()) {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	hard, cancelHard := context.WithCancelCause(context.Background())
	soft, cancelSoft := context.WithCancelCause(hard)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-sigs:
			cancelSoft(fmt.Errorf("interrupted by %s", signalName(s)))
			observe.NewConsole(stderr).Notice(slog.LevelWarn, signalName(s)+": stopping gracefully; work in flight finishes (signal again to stop at once)")
		case <-done:
			return
		}
		select {
		case s := <-sigs:
			cancelHard(fmt.Errorf("interrupted twice (%s)", signalName(s)))
		case <-done:
		}
	}()
	return soft, hard, func() {
		signal.Stop(sigs)
		close(done)
		cancelSoft(nil)
		cancelHard(nil)
	}
}

func signalName(s os.Signal) string {
	switch s {
	case os.Interrupt:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return s.String()
}

// errHelp is returned when -h was asked for: the help is already printed.
var errHelp = errors.New("help requested")

// errReported ends a command whose output already said what went wrong.
var errReported = errors.New("reported above")

func exitCode(err error) int {
	if errors.Is(err, errHelp) {
		return sync.ExitOK
	}
	return sync.ExitCode(err)
}
