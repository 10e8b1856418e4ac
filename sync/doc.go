// Package sync keeps Linq contact cards in step with a CRM export.
//
// A Job (job.go) is one run of plan or apply, its whole life in one place:
// Validate makes every check that can end in exit 2 before anything is
// created, locked or sent (paths.go keeps outputs off the inputs;
// openinput.go spools a stdin or FIFO input); Run then takes the state's
// lock, opens the outputs, starts the history row, runs the pipeline and
// ends the history row. cmd/bulksync only turns flags into a Job.
//
// The pipeline, data flowing one way, each stage in its own file:
//
//	source.go     read records from the CSV/CRM export (streaming, gocsv)
//	normalize.go  phone to E.164 (phonefast.go for the usual shapes), trim,
//	              NFC, check image URLs
//	snapshot.go   read every live card in one GET
//	diff.go       compare a record with its live card, field by field, and
//	              with what the state says was applied (images, drift)
//	plan.go       one action per record: create, update, noop, invalid,
//	              duplicate, missing, inactive
//	apply.go      send the changes: bounded errgroup, shared rate limiter
//	              (limiter.go), retries by answer class (classify.go)
//	report.go     one CSV row per record, streamed; summary.go counts them
//
// Beside the stages: state.go keeps what was applied, the run lock and the
// history in SQLite; savedplan.go writes and applies reviewed plans (stale
// records are skipped); events.go is how internal/observe watches a run
// (progress, logs, metrics) and how --shard splits one; client.go builds the
// generated client and reads error answers.
//
// One lifecycle (runner.run, run.go) serves both kinds of run; they differ
// only in where the changes come from (changes.go): an export planned
// against the live cards, or a saved plan checked against them.
//
//	snapshot      the live cards; a stop here reports every record as
//	              not attempted
//	lines, known  the account's phone numbers; what the state says was
//	              applied before
//	first pass    count the records and the changes (duplicates need every
//	              record), note the numbers named
//	absent        the live cards no record names
//	max-changes   checked before anything is sent
//	second pass   decide each record again and report it (dry run, abort)
//	              or hand it to the workers (execute)
//	finish        the absent rows, the report flushed, the run's error
//
// The input is read twice, since no write may happen before the number of
// changes is known. Only a small entry per phone number survives between
// the passes, so memory stays flat.
//
// Goroutines: the run's own goroutine reads the input and decides; a fixed
// set of errgroup workers (8 per --concurrency request slot, fed from a
// channel) each carry one change at a time through its attempts and write
// its report row (ReportWriter and Summary are safe for that).
// Two contexts steer them, as in rclone: the stop context ends on a fatal
// answer or the first interrupt and keeps new attempts from starting; the
// run's context ends on the second interrupt and cuts requests in flight.
//
// The package is named sync after its job; code needing the standard
// library's sync imports it as stdsync.
package sync
