// Command soak checks that bulksync converges under a misbehaving API.
//
// It builds bulksync, starts `bulksync fake-api` as its own process with
// injected faults, and runs `bulksync apply` against it:
//
//   - soak: one apply and a rerun over an export of -rows records, with
//     10% 5xx answers, 5% 429s and 2% dropped connections. Every report
//     must account for every record; no row may be reported ok unless its
//     card is as desired; after the rerun every card must be as desired;
//     no card may be created twice.
//   - kill: -kills times, an apply is SIGKILLed at a random moment and then
//     rerun to completion; each time the cards converge and every report
//     written, even the killed run's, is valid CSV.
//
// It prints its figures and exits non-zero when a check fails. Run it with
// `make soak`. All traffic stays on the loopback interface.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/bulksync/bulksync/internal/linqfake"
)

const token = "soak-token"

func main() {
	rows := flag.Int("rows", 10000, "records in the export")
	kills := flag.Int("kills", 5, "kill-and-rerun rounds")
	flag.Parse()
	if err := run(*rows, *kills); err != nil {
		fmt.Fprintln(os.Stderr, "soak: FAIL:", err)
		os.Exit(1)
	}
	fmt.Println("soak: all checks passed")
}

func run(rows, kills int) error {
	dir, err := os.MkdirTemp("", "bulksync-soak-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "bulksync")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/bulksync").CombinedOutput(); err != nil {
		return fmt.Errorf("building bulksync: %v\n%s", err, out)
	}
	ex := newExport(rows)
	if err := ex.write(dir); err != nil {
		return err
	}

	fmt.Printf("== soak: %d records; fake: 10%% 5xx (3006/4004/2022), 5%% 429, 2%% dropped connections\n", rows)
	if err := soak(bin, dir, ex); err != nil {
		return err
	}
	if kills > 0 {
		fmt.Printf("\n== kill and rerun: %d rounds of SIGKILL at a random moment, then a rerun to completion\n", kills)
		if err := killRerun(bin, dir, ex, kills); err != nil {
			return err
		}
	}
	return nil
}

// export is the desired state: half the numbers have a card already (with
// an old name), half are created; a quarter carry an image.
type export struct {
	phones  []string
	desired map[string]want
}

type want struct{ first, last, image string }

func newExport(n int) *export {
	ex := &export{desired: make(map[string]want, n)}
	for i := range n {
		phone := phoneNumber(i)
		w := want{first: fmt.Sprintf("First%d", i), last: fmt.Sprintf("Last%d", i)}
		if i%4 == 0 {
			w.image = fmt.Sprintf("https://images.example.com/%d.png", i)
		}
		ex.phones = append(ex.phones, phone)
		ex.desired[phone] = w
	}
	return ex
}

// phoneNumber returns the i-th of a million valid US numbers.
func phoneNumber(i int) string {
	areas := []int{212, 213, 305, 312, 415, 503, 617, 646, 702, 718}
	return fmt.Sprintf("+1%d%03d%04d", areas[i/100000%len(areas)], 200+i/10000%10, i%10000)
}

func (ex *export) write(dir string) error {
	var seed, in, lines bytes.Buffer
	seed.WriteString("phone_number,first_name,last_name,image_url,is_active\n")
	in.WriteString("phone_number,first_name,last_name,image_url\n")
	for i, p := range ex.phones {
		w := ex.desired[p]
		if i%2 == 0 {
			fmt.Fprintf(&seed, "%s,Old%d,%s,,true\n", p, i, w.last)
		}
		fmt.Fprintf(&in, "%s,%s,%s,%s\n", p, w.first, w.last, w.image)
		fmt.Fprintln(&lines, p) // every number is the account's, so the other half can be created
	}
	if err := os.WriteFile(filepath.Join(dir, "lines.txt"), lines.Bytes(), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "seed.csv"), seed.Bytes(), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "export.csv"), in.Bytes(), 0o644)
}

// fake is a running `bulksync fake-api` process.
type fake struct {
	cmd  *exec.Cmd
	url  string
	log  string
	done chan error
}

func startFake(bin, dir, name string, faults ...string) (*fake, error) {
	logPath := filepath.Join(dir, name+"-requests.jsonl")
	args := append([]string{"fake-api", "--addr", "127.0.0.1:0", "--seed", filepath.Join(dir, "seed.csv"),
		"--lines", filepath.Join(dir, "lines.txt"), "--request-log", logPath, "--random-seed", "42"}, faults...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "LINQ_FAKE_TOKEN="+token)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	f := &fake{cmd: cmd, log: logPath, done: make(chan error, 1)}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		return nil, fmt.Errorf("fake-api did not start: %v", err)
	}
	f.url = strings.TrimSpace(strings.TrimPrefix(line, "listening on "))
	go func() { f.done <- cmd.Wait() }()
	return f, nil
}

func (f *fake) stop() {
	f.cmd.Process.Signal(os.Interrupt)
	select {
	case <-f.done:
	case <-time.After(10 * time.Second):
		f.cmd.Process.Kill()
	}
}

// cards reads every card from the fake, retrying its injected faults.
func (f *fake) cards() (map[string]want, error) {
	var last error
	for range 50 {
		req, _ := http.NewRequest(http.MethodGet, f.url+"/v3/contact_card", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
		if err != nil {
			last = err
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			last = fmt.Errorf("status %d", resp.StatusCode)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		var list struct {
			Cards []struct {
				Phone string  `json:"phone_number"`
				First string  `json:"first_name"`
				Last  *string `json:"last_name"`
				Image *string `json:"image_url"`
			} `json:"contact_cards"`
		}
		if err := json.Unmarshal(body, &list); err != nil {
			return nil, err
		}
		out := make(map[string]want, len(list.Cards))
		for _, c := range list.Cards {
			w := want{first: c.First}
			if c.Last != nil {
				w.last = *c.Last
			}
			if c.Image != nil {
				w.image = *c.Image
			}
			out[c.Phone] = w
		}
		return out, nil
	}
	return nil, fmt.Errorf("reading the fake's cards: %v", last)
}

// matches reports whether a live card is the desired one; images are
// compared through the fake's deterministic rehosting.
func matches(live want, ok bool, d want) bool {
	if !ok || live.first != d.first || live.last != d.last {
		return false
	}
	if d.image == "" {
		return live.image == ""
	}
	return live.image == linqfake.RehostedURL(d.image)
}

type applyResult struct {
	exit    int
	rows    map[string][]string // phone -> report row
	lines   int
	summary map[string]any
	took    time.Duration
}

func apply(ctx context.Context, bin, dir, url, name string, killAfter time.Duration) (applyResult, error) {
	report := filepath.Join(dir, name+".csv")
	summary := filepath.Join(dir, name+"-summary.json")
	cmd := exec.CommandContext(ctx, bin, "apply", "--input", filepath.Join(dir, "export.csv"), "--report", report,
		"--summary-json", summary, "--state", filepath.Join(dir, "state.db"), "--create-missing",
		"--concurrency", "16", "--max-attempts", "8", "--backoff-base", "20ms", "--backoff-max", "500ms")
	cmd.Env = append(os.Environ(), "LINQ_API_V3_BASE_URL="+url, "LINQ_API_V3_API_KEY="+token)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return applyResult{}, err
	}
	if killAfter > 0 {
		timer := time.AfterFunc(killAfter, func() { cmd.Process.Signal(syscall.SIGKILL) })
		defer timer.Stop()
	}
	err := cmd.Wait()
	res := applyResult{took: time.Since(start)}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		res.exit = ee.ExitCode()
	} else if err != nil {
		return res, err
	}
	rows, lines, rerr := readReport(report)
	if rerr != nil {
		return res, fmt.Errorf("%s: %v\n%s", name, rerr, stderr.String())
	}
	res.rows, res.lines = rows, lines
	if b, err := os.ReadFile(summary); err == nil {
		json.Unmarshal(b, &res.summary)
	}
	return res, nil
}

// readReport parses a report; a killed run's report may end mid-buffer,
// but what is there must be valid CSV with whole rows.
func readReport(path string) (map[string][]string, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	recs, err := r.ReadAll()
	if err != nil {
		return nil, 0, fmt.Errorf("report %s is not valid CSV: %v", filepath.Base(path), err)
	}
	if len(recs) == 0 || recs[0][0] != "line" {
		return nil, 0, fmt.Errorf("report %s has no header", filepath.Base(path))
	}
	rows := make(map[string][]string)
	seen := make(map[string]bool)
	for _, rec := range recs[1:] {
		if seen[rec[0]] {
			return nil, 0, fmt.Errorf("report %s lists line %s twice", filepath.Base(path), rec[0])
		}
		seen[rec[0]] = true
		rows[rec[1]] = rec
	}
	return rows, len(recs) - 1, nil
}

// requestStats counts the fake's request log.
type requestStats struct {
	total, throttled, serverErr, dropped int
	creates                              map[string]int // successful POSTs per phone
}

func readRequests(path string) (requestStats, error) {
	st := requestStats{creates: map[string]int{}}
	f, err := os.Open(path)
	if err != nil {
		return st, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r struct {
			Method, Fault string
			Status        int
			Body          json.RawMessage
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return st, fmt.Errorf("request log: %v", err)
		}
		st.total++
		switch {
		case r.Status == 429:
			st.throttled++
		case r.Status >= 500:
			st.serverErr++
		case r.Fault == "drop":
			st.dropped++
		}
		if r.Method == http.MethodPost && r.Status == 200 {
			var b struct {
				Phone string `json:"phone_number"`
			}
			json.Unmarshal(r.Body, &b)
			st.creates[b.Phone]++
		}
	}
	return st, sc.Err()
}

func soak(bin, dir string, ex *export) error {
	f, err := startFake(bin, dir, "soak", "--fail-3006", "0.05", "--fail-4004", "0.03", "--fail-2022", "0.02",
		"--fail-429", "0.05", "--drop", "0.02")
	if err != nil {
		return err
	}
	defer f.stop()
	ctx := context.Background()
	for i, name := range []string{"run 1", "run 2 (rerun)"} {
		res, err := apply(ctx, bin, dir, f.url, fmt.Sprintf("soak-%d", i+1), 0)
		if err != nil {
			return err
		}
		if res.lines != len(ex.phones) {
			return fmt.Errorf("%s: the report has %d rows for %d records", name, res.lines, len(ex.phones))
		}
		live, err := f.cards()
		if err != nil {
			return err
		}
		okRows, wrongOK, mismatched := 0, 0, 0
		for _, p := range ex.phones {
			l, has := live[p]
			good := matches(l, has, ex.desired[p])
			if res.rows[p][3] == "ok" {
				okRows++
				if !good {
					wrongOK++
				}
			}
			if !good {
				mismatched++
			}
		}
		fmt.Printf("%-14s exit %d in %5.1fs: %d/%d rows reported, %d ok, %d rows ok but card not as desired, %d cards not yet as desired\n",
			name, res.exit, res.took.Seconds(), res.lines, len(ex.phones), okRows, wrongOK, mismatched)
		if wrongOK > 0 {
			return fmt.Errorf("%s: %d rows reported ok whose card is not in the desired state", name, wrongOK)
		}
		if i == 1 && mismatched > 0 {
			return fmt.Errorf("after the rerun %d cards are not in the desired state", mismatched)
		}
	}
	f.stop()
	st, err := readRequests(f.log)
	if err != nil {
		return err
	}
	doubled := 0
	for _, n := range st.creates {
		if n > 1 {
			doubled++
		}
	}
	fmt.Printf("requests: %d in all; %d answered 5xx (%.1f%%), %d answered 429 (%.1f%%), %d dropped (%.1f%%)\n",
		st.total, st.serverErr, pct(st.serverErr, st.total), st.throttled, pct(st.throttled, st.total), st.dropped, pct(st.dropped, st.total))
	fmt.Printf("cards created: %d; created twice: %d\n", len(st.creates), doubled)
	if doubled > 0 {
		return fmt.Errorf("%d cards were created twice", doubled)
	}
	return nil
}

func killRerun(bin, dir string, ex *export, rounds int) error {
	for round := 1; round <= rounds; round++ {
		os.Remove(filepath.Join(dir, "state.db"))
		f, err := startFake(bin, dir, fmt.Sprintf("kill-%d", round), "--latency", "2ms", "--jitter", "3ms",
			"--fail-3006", "0.05", "--drop", "0.02")
		if err != nil {
			return err
		}
		ctx := context.Background()
		after := time.Duration(100+rand.IntN(900)) * time.Millisecond
		killed, err := apply(ctx, bin, dir, f.url, fmt.Sprintf("kill-%d-killed", round), after)
		if err != nil {
			f.stop()
			return fmt.Errorf("round %d, killed run: %v", round, err)
		}
		rerun, err := apply(ctx, bin, dir, f.url, fmt.Sprintf("kill-%d-rerun", round), 0)
		if err != nil {
			f.stop()
			return fmt.Errorf("round %d, rerun: %v", round, err)
		}
		live, err := f.cards()
		f.stop()
		if err != nil {
			return err
		}
		mismatched := 0
		for _, p := range ex.phones {
			l, has := live[p]
			if !matches(l, has, ex.desired[p]) {
				mismatched++
			}
		}
		state := "killed"
		if killed.exit >= 0 && killed.lines == len(ex.phones) {
			state = fmt.Sprintf("finished before the kill (exit %d)", killed.exit)
		}
		fmt.Printf("round %d: SIGKILL after %4dms, %s, its report valid CSV with %d rows; rerun exit %d, %d rows; cards not as desired: %d\n",
			round, after.Milliseconds(), state, killed.lines, rerun.exit, rerun.lines, mismatched)
		if mismatched > 0 || rerun.lines != len(ex.phones) {
			return fmt.Errorf("round %d did not converge", round)
		}
	}
	return nil
}

func pct(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return 100 * float64(n) / float64(of)
}
