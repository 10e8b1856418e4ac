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
// Run (run.go) drives it for an export, RunSaved (savedplan.go) for a
// saved plan. The input is read twice: the first pass finds
// duplicate phone numbers and counts the changes (for --max-changes), since
// no write may happen before both are known; the second pass decides each
// record and, for apply, hands it to the workers. Only a small entry per
// phone number survives between the passes, so memory stays flat.
//
// Goroutines: Run's own goroutine reads the input and decides; at most
// --concurrency errgroup workers each carry one change through its attempts
// and write its report row (ReportWriter and Summary are safe for that).
// Two contexts steer them, as in rclone: the stop context ends on a fatal
// answer or the first interrupt and keeps new attempts from starting; the
// run's context ends on the second interrupt and cuts requests in flight.
//
// The package is named sync after its job; code needing the standard
// library's sync imports it as stdsync.
package sync
