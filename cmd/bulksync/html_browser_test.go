package main

import (
	"bytes"
	"encoding/csv"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bulksync/bulksync/internal/browsertest"
	"github.com/bulksync/bulksync/internal/linqfake"
	"github.com/chromedp/chromedp"
)

var screenshot = flag.String("screenshot", "", "TestDemoPlanScreenshot: write a screenshot of the demo's plan page here (docs/plan-html.png)")

// startBrowser starts headless Chromium, or skips when there is none and
// BULKSYNC_REQUIRE_BROWSER is unset (CI sets it, so there it runs).
func startBrowser(t *testing.T) *browsertest.Browser {
	t.Helper()
	path := browsertest.Path()
	if path == "" {
		if os.Getenv("BULKSYNC_REQUIRE_BROWSER") != "" {
			t.Fatal("no chromium, and BULKSYNC_REQUIRE_BROWSER is set")
		}
		t.Skip("chromium is not installed (apt-get install chromium); the HTML report's browser tests need it. CI installs it.")
	}
	b, err := browsertest.Start(t.Context(), path, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

const hostileName = `<img src=x onerror=alert(1)>`

// TestHTMLReportInBrowser runs plan and apply with --html against the fake
// and checks the pages in Chromium: no console error, no request but the
// images, the counts of the CSV report, filters that show exactly the rows
// of an action, and hostile names shown as text.
func TestHTMLReportInBrowser(t *testing.T) {
	b := startBrowser(t)
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	seed := write("seed.csv", "phone_number,first_name,last_name,image_url,is_active\n"+
		"+12125550101,Ada,Lovelace,,true\n+12125550102,Grace,Hopper,,true\n+12125550103,Alan,Turing,,true\n"+
		"+12125550104,Edsger,Dijkstra,,false\n+12125550105,Barbara,Liskov,,true\n")
	input := write("export.csv", "phone_number,first_name,last_name,image_url\n"+
		"+12125550101,Ada,Lovelace-Byron,https://images.example.com/ada.png\n"+
		"+12125550102,\""+hostileName+"\",Hopper,\n"+
		"+12125550103,Alan,\"</script><script>alert(2)</script>\",http://images.example.com/alan.png\n"+
		"+12125550104,Edsger,Dijkstra,\n"+
		"+12125550105,Barbara,Liskov,\n"+
		"+12125550106,New,\"\"\"'&amp;<b>bold</b>\",https://images.example.com/new.png\n"+
		"not a phone,Nobody,Here,\n"+
		"+12125550107,Twice,One,\n+12125550107,Twice,Two,\n")

	fake := linqfake.New(linqfake.Options{Token: "t"})
	f, _ := os.Open(seed)
	if err := fake.SeedCSV(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: fake.Handler()}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	getenv := func(k string) string {
		switch k {
		case "LINQ_API_V3_BASE_URL":
			return "http://" + ln.Addr().String()
		case "LINQ_API_V3_API_KEY":
			return "t"
		}
		return ""
	}
	bulksync := func(want int, args ...string) {
		t.Helper()
		var out bytes.Buffer
		if code := run(args, &env{stdin: strings.NewReader(""), stdout: &out, stderr: &out, getenv: getenv}); code != want {
			t.Fatalf("bulksync %s: exit %d, want %d\n%s", strings.Join(args, " "), code, want, out.String())
		}
	}
	state := filepath.Join(dir, "state.db")
	bulksync(1, "plan", "--input", input, "--create-missing", "--state", state, "--quiet",
		"--report", filepath.Join(dir, "plan.csv"), "--html", filepath.Join(dir, "plan.html"))
	checkPage(t, b, dir, "plan")

	// apply, where every write fails once: failures show code and trace id.
	fake.SetFaults(linqfake.Faults{Error2022: 1})
	bulksync(1, "apply", "--input", input, "--create-missing", "--state", state, "--quiet", "--max-attempts", "1",
		"--report", filepath.Join(dir, "apply.csv"), "--html", filepath.Join(dir, "apply.html"))
	checkPage(t, b, dir, "apply")
	text, err := browsertest.Eval[string](b, 5*time.Second, `document.querySelector('.row[data-result="failed"] .err').textContent`)
	if err != nil || !strings.Contains(text, "code 2022") || !strings.Contains(text, "trace ") {
		t.Errorf("failed row shows %q (%v); want the code and the trace id", text, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "apply.html")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("apply.html: %v %v, want mode 0600", fi, err)
	}
}

func checkPage(t *testing.T, b *browsertest.Browser, dir, name string) {
	t.Helper()
	rows := readCSV(t, filepath.Join(dir, name+".csv"))
	pageURL := "file://" + filepath.Join(dir, name+".html")
	b.Reset()
	if err := b.Do(10*time.Second, chromedp.Navigate(pageURL), chromedp.WaitVisible(`body[data-ready="true"]`)); err != nil {
		t.Fatalf("%s: loading the page: %v", name, err)
	}
	// Images may fail to load (there is no network): that is allowed, and
	// nothing else.
	images := map[string]bool{}
	for _, r := range rows {
		for _, u := range []string{r["image_url_old"], r["image_url_new"]} {
			if strings.HasPrefix(u, "https://") {
				images[u] = true
			}
		}
	}
	for _, p := range b.Problems() {
		if strings.HasPrefix(p.Kind, "log network") && images[p.URL] {
			continue
		}
		t.Errorf("%s: %s", name, p)
	}
	for _, u := range b.Requests() {
		if u != pageURL && !images[u] {
			t.Errorf("%s: the page requested %s, which is not an image of the report", name, u)
		}
	}

	// Counts at the top equal the CSV report's.
	wantActions, wantResults := map[string]int{}, map[string]int{}
	for _, r := range rows {
		wantActions[r["action"]]++
		wantResults[r["result"]]++
	}
	for attr, want := range map[string]map[string]int{"data-action": wantActions, "data-result": wantResults} {
		got, err := browsertest.Eval[map[string]string](b, 5*time.Second, fmt.Sprintf(
			`Object.fromEntries([...document.querySelectorAll('td[%s]')].map(e => [e.getAttribute('%s'), e.textContent]))`, attr, attr))
		if err != nil {
			t.Fatal(err)
		}
		gotN := map[string]int{}
		for k, v := range got {
			gotN[k], _ = strconv.Atoi(v)
		}
		if !maps.Equal(gotN, want) {
			t.Errorf("%s: page counts %s %v, CSV report %v", name, attr, gotN, want)
		}
	}

	// Filtering by action shows exactly that action's rows.
	for action := range wantActions {
		var want []string
		for _, r := range rows {
			if r["action"] == action {
				want = append(want, r["line"])
			}
		}
		got, err := browsertest.Eval[[]string](b, 5*time.Second, fmt.Sprintf(`(() => {
			const s = document.getElementById('f-action'); s.value = %q;
			s.dispatchEvent(new Event('change'));
			return [...document.querySelectorAll('#rows .row')].map(e => e.dataset.line);
		})()`, action))
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: filter action=%s shows lines %v, want %v", name, action, got, want)
		}
	}
	browsertest.Eval[bool](b, 5*time.Second, `(() => { const s = document.getElementById('f-action'); s.value = ''; s.dispatchEvent(new Event('change')); return true })()`)

	// Hostile names are text: no element came of them, the text is intact.
	got, err := browsertest.Eval[[]any](b, 5*time.Second, fmt.Sprintf(`[
		document.querySelectorAll('#rows script, #rows b, #rows img:not([src^="https://"]), body > :not(header, main, script, noscript)').length,
		document.getElementById('rows').textContent.includes(%q),
		document.getElementById('rows').textContent.includes('</script><script>alert(2)</script>'),
		document.getElementById('rows').textContent.includes('"\'&amp;<b>bold</b>')]`, hostileName))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[0 true true true]" {
		t.Errorf("%s: hostile cells: [elements made, name shown, script shown, markup shown] = %v, want [0 true true true]", name, got)
	}
	// http images are text, never requested.
	http, err := browsertest.Eval[int](b, 5*time.Second, `[...document.querySelectorAll('#rows .url')].filter(e => e.textContent.startsWith('http://')).length`)
	if err != nil || http == 0 {
		t.Errorf("%s: the http image URL is not shown as text (%d, %v)", name, http, err)
	}
}

func readCSV(t *testing.T, path string) []map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]string
	for _, r := range recs[1:] {
		m := map[string]string{}
		for i, h := range recs[0] {
			m[h] = r[i]
		}
		out = append(out, m)
	}
	return out
}

// TestDemoPlanScreenshot writes docs/plan-html.png from the demo's plan
// page, with a placeholder image for every thumbnail:
//
//	go test ./cmd/bulksync -run TestDemoPlanScreenshot -screenshot ../../docs/plan-html.png
func TestDemoPlanScreenshot(t *testing.T) {
	if *screenshot == "" {
		t.Skip("give -screenshot FILE to write the README's screenshot")
	}
	b := startBrowser(t)
	dir := t.TempDir()
	var out bytes.Buffer
	if code := run([]string{"demo", "--dir", dir}, &env{stdout: &out, stderr: &out, getenv: func(string) string { return "" }}); code != 0 {
		t.Fatalf("demo: exit %d\n%s", code, out.String())
	}
	if err := b.ServeImages(placeholderPNG()); err != nil {
		t.Fatal(err)
	}
	err := b.Do(15*time.Second, chromedp.Navigate("file://"+filepath.Join(dir, "plan-1.html")),
		chromedp.WaitVisible(`body[data-ready="true"]`))
	if err != nil {
		t.Fatal(err)
	}
	// The thumbnails have loaded.
	if _, err := browsertest.Eval[bool](b, 10*time.Second, `new Promise(r => { const f = () => [...document.images].every(i => i.complete) ? r(true) : setTimeout(f, 50); f() })`); err != nil {
		t.Fatal(err)
	}
	shot, err := chromedp.Run(b.Context(), chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(*screenshot, shot, 0o644); err != nil {
		t.Fatal(err)
	}
}

// placeholderPNG is a 48x48 gradient, standing in for a contact's photo.
func placeholderPNG() []byte {
	img := image.NewRGBA(image.Rect(0, 0, 48, 48))
	for y := range 48 {
		for x := range 48 {
			img.Set(x, y, color.RGBA{uint8(90 + x*2), uint8(120 + y*2), 200, 255})
		}
	}
	var buf bytes.Buffer
	png.Encode(&buf, img)
	return buf.Bytes()
}
