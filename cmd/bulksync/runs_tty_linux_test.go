//go:build linux

package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/bulksync/bulksync/sync"
)

// openPTY opens a pseudo-terminal: what is written to tty is read from
// the master.
func openPTY(t *testing.T) (master, tty *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	var unlock int32
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); errno != 0 {
		t.Skipf("no pseudo-terminal: unlock: %v", errno)
	}
	var n uint32
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); errno != 0 {
		t.Skipf("no pseudo-terminal: number: %v", errno)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}

// runs prints a table on a terminal and CSV otherwise, though main wraps
// standard output (for --quiet) before any command sees it.
func TestRunsTableOnATerminal(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state.db")
	st, err := sync.OpenState(state, "acct", "plan")
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	master, tty := openPTY(t)
	read := make(chan string, 1)
	go func() {
		// A pty read may return part of what was written: read on to the
		// end of the first line, which is enough to tell a table from CSV.
		var got []byte
		b := make([]byte, 4096)
		for !bytes.Contains(got, []byte("\n")) {
			n, err := master.Read(b)
			got = append(got, b[:n]...)
			if err != nil {
				break
			}
		}
		read <- string(got)
	}()
	var stderr bytes.Buffer
	if code := run([]string{"runs", "--state", state}, &env{stdout: tty, stderr: &stderr, getenv: func(string) string { return "" }}); code != 0 {
		t.Fatalf("runs on a terminal: exit %d: %s", code, stderr.String())
	}
	select {
	case got := <-read:
		if !strings.HasPrefix(got, "ID  ") {
			t.Errorf("runs on a terminal printed %q, want the table", got)
		}
	case <-time.After(10 * time.Second):
		t.Error("runs on a terminal printed no whole line in 10 s")
	}

	var out bytes.Buffer
	if code := run([]string{"runs", "--state", state}, &env{stdout: &out, stderr: io.Discard, getenv: func(string) string { return "" }}); code != 0 || !strings.HasPrefix(out.String(), "id,command,") {
		t.Errorf("runs into a pipe: exit %d, printed %q, want CSV", code, out.String())
	}
}
