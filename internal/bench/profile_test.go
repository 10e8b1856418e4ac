package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulksync/bulksync/internal/linqfake"
	"github.com/bulksync/bulksync/sync"
)

// The benchmarks below run a sync.Job in-process against the fake, so that
// `go test -cpuprofile` / `-memprofile` can show where a plan or an apply
// spends its time, which the process-level figures of `make bench` cannot:
//
//	go test ./internal/bench -run '^$' -bench Plan -cpuprofile /tmp/cpu.out
//	go tool pprof -top /tmp/cpu.out
//
// They report time per row and assert nothing about speed.

const profileToken = "profile-token"

// profileFake serves a fake seeded with seed cards (first_name Old). conns
// counts the connections the fake accepts.
func profileFake(b *testing.B, seed int, opts linqfake.Options) (fake *linqfake.Server, srv *httptest.Server, conns *atomic.Int64) {
	b.Helper()
	opts.Token = profileToken
	fake = linqfake.New(opts)
	reseed(b, fake, seed)
	srv = httptest.NewUnstartedServer(fake.Handler())
	conns = new(atomic.Int64)
	srv.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	b.Cleanup(srv.Close)
	return fake, srv, conns
}

func reseed(b *testing.B, fake *linqfake.Server, n int) {
	b.Helper()
	var seed bytes.Buffer
	if _, err := writeSeed(&seed, n); err != nil {
		b.Fatal(err)
	}
	if err := fake.SeedCSV(&seed); err != nil {
		b.Fatal(err)
	}
}

// runInProcess is what `bulksync plan|apply` does, less flags, with the
// report and a state database in a temporary directory.
func runInProcess(b *testing.B, url, export string, dryRun bool, concurrency int) {
	b.Helper()
	dir := b.TempDir()
	apply := sync.DefaultApplyOptions
	apply.Concurrency = concurrency
	job := &sync.Job{
		DryRun:          dryRun,
		Input:           export,
		Report:          filepath.Join(dir, "report.csv"),
		StateFile:       filepath.Join(dir, "state.db"),
		Getenv:          func(k string) string { return map[string]string{"LINQ_API_V3_API_KEY": profileToken}[k] },
		BaseURL:         url,
		Normalize:       sync.NormalizeOptions{Region: "US"},
		Plan:            sync.PlanOptions{Empty: sync.EmptyKeep, OnDuplicate: sync.DuplicateError},
		Apply:           apply,
		SnapshotTimeout: 2 * time.Minute,
	}
	defer job.Close()
	if err := job.Run(context.Background(), context.Background()); err != nil && !errors.Is(err, sync.ErrIncomplete) {
		b.Fatal(err)
	}
}

// exportFile writes an export of rows records and returns its path.
func exportFile(b *testing.B, rows int) string {
	b.Helper()
	var buf bytes.Buffer
	if _, err := writeExport(&buf, rows); err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "export.csv")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkPlan plans 50k rows, 10k of them against live cards.
func BenchmarkPlan(b *testing.B) {
	const rows, seed = 50_000, 10_000
	_, srv, _ := profileFake(b, seed, linqfake.Options{})
	export := exportFile(b, rows)
	for b.Loop() {
		runInProcess(b, srv.URL, export, true, 1)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
}

// BenchmarkPlanMillion plans 1M rows against 1M live cards, the scale of
// issue 12 and figure 4b: run it alone, with -benchtime 1x.
func BenchmarkPlanMillion(b *testing.B) {
	const rows = 1_000_000
	_, srv, _ := profileFake(b, rows, linqfake.Options{})
	export := exportFile(b, rows)
	for b.Loop() {
		runInProcess(b, srv.URL, export, true, 1)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
}

// BenchmarkApply applies 10k updates at concurrency 32 with no latency.
// conns/op counts the connections the fake accepted: about one per worker
// when the client keeps its connections.
func BenchmarkApply(b *testing.B) {
	const rows, workers = 10_000, 32
	fake, srv, conns := profileFake(b, rows, linqfake.Options{})
	export := exportFile(b, rows)
	for b.Loop() {
		runInProcess(b, srv.URL, export, false, workers)
		b.StopTimer()
		reseed(b, fake, rows)
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
	b.ReportMetric(float64(conns.Load())/float64(b.N), "conns/op")
}
