package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulksync/bulksync/internal/linqfake"
	"github.com/bulksync/bulksync/sync"
)

// The benchmarks below run sync.Run in-process against the fake, so that
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

// runInProcess is what `bulksync plan|apply` does, less flags and the
// report file, with a state database in a temporary directory.
func runInProcess(b *testing.B, url string, export []byte, dryRun bool, concurrency int) {
	b.Helper()
	command := "apply"
	if dryRun {
		command = "plan"
	}
	state, err := sync.OpenState(filepath.Join(b.TempDir(), "state.db"), "profile", command)
	if err != nil {
		b.Fatal(err)
	}
	defer state.Close()
	client, err := sync.NewClient(url, profileToken, sync.NewHTTPClient(concurrency, 2*time.Minute))
	if err != nil {
		b.Fatal(err)
	}
	report, err := sync.NewReportWriter(io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	apply := sync.DefaultApplyOptions
	apply.Concurrency = concurrency
	cfg := sync.Config{
		Input:     bytes.NewReader(export),
		Normalize: sync.NormalizeOptions{Region: "US"},
		Plan:      sync.PlanOptions{Empty: sync.EmptyKeep, OnDuplicate: sync.DuplicateError},
		DryRun:    dryRun,
		Apply:     apply,
		Client:    client,
		Report:    report,
		Summary:   sync.NewSummary(command),
		State:     state,
	}
	if err := state.BeginRun(context.Background(), sync.RunInfo{Command: command, Input: "profile.csv"}); err != nil {
		b.Fatal(err)
	}
	if err := sync.Run(context.Background(), cfg); err != nil && !errors.Is(err, sync.ErrIncomplete) {
		b.Fatal(err)
	}
	if err := state.EndRun(cfg.Summary); err != nil {
		b.Fatal(err)
	}
}

func exportOf(b *testing.B, rows int) []byte {
	b.Helper()
	var buf bytes.Buffer
	if _, err := writeExport(&buf, rows); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkPlan plans 50k rows, 10k of them against live cards.
func BenchmarkPlan(b *testing.B) {
	const rows, seed = 50_000, 10_000
	_, srv, _ := profileFake(b, seed, linqfake.Options{})
	export := exportOf(b, rows)
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
	export := exportOf(b, rows)
	for b.Loop() {
		runInProcess(b, srv.URL, export, false, workers)
		b.StopTimer()
		reseed(b, fake, rows)
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
	b.ReportMetric(float64(conns.Load())/float64(b.N), "conns/op")
}
