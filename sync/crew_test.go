package sync

import (
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
)

// TestCrewSpareWorkers: a row away without its request slot brings in a
// spare worker, never more than most run at once, and a spare ends after
// its row once the rows it stood in for are back.
func TestCrewSpareWorkers(t *testing.T) {
	var g errgroup.Group
	c := newCrew(&g, 2, 3)
	started := make(chan struct{})
	release := make(chan struct{})
	c.work = func() error {
		started <- struct{}{}
		<-release
		return nil
	}
	running := func(want int) {
		t.Helper()
		for range want {
			select {
			case <-started:
			case <-time.After(10 * time.Second):
				t.Fatalf("fewer than %d workers started", want)
			}
		}
	}
	c.start()
	running(2)
	c.away(1) // a row waits out a Retry-After: a spare takes its place
	running(1)
	c.away(1) // another, but most (3) are running
	if n := c.workers.Load(); n != 3 {
		t.Fatalf("%d workers after two rows went away, want most = 3", n)
	}
	c.away(-1)
	if c.spare() {
		t.Error("a worker counted itself spare while a row is still away")
	}
	c.away(-1)
	if !c.spare() {
		t.Error("no worker is spare once both rows are back, with 3 running for 2 slots")
	}
	if c.spare() {
		t.Error("a second worker counted itself spare: only the base 2 are left")
	}
	close(release)
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
		t.Error("a worker started beyond most")
	default:
	}
}
