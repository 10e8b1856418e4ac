package htmlreport

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulksync/bulksync/internal/browsertest"
	"github.com/bulksync/bulksync/sync"
	"github.com/chromedp/chromedp"
)

// The row data is JSON in a script block that no cell can end, and the
// page holds no markup made of a cell.
func TestPageEscapes(t *testing.T) {
	c := New("plan")
	evil := `</script><script>alert(1)</script><img src=x onerror=alert(2)><!--`
	c.Add(sync.ReportRow{Line: 2, PhoneNumber: "+12125550101", Action: sync.ActionUpdate, Result: sync.ResultPlanned,
		ChangedFields: "first_name", FirstNameOld: "Ada", FirstNameNew: evil})
	var buf bytes.Buffer
	if err := c.Write(&buf, "in.csv"+evil, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, bad := range []string{"<img src=x", "<script>alert", "</script><script>alert", "<!--"} {
		if strings.Contains(page, bad) {
			t.Errorf("the page holds %q verbatim", bad)
		}
	}
	start := strings.Index(page, `<script type="application/json" id="data">`)
	end := strings.Index(page[start:], "</script>")
	var rows [][]any
	if err := json.Unmarshal([]byte(page[start+len(`<script type="application/json" id="data">`):start+end]), &rows); err != nil {
		t.Fatalf("row data is not JSON: %v", err)
	}
	if len(rows) != 1 || rows[0][6] != evil {
		t.Errorf("rows %v, want the name back intact", rows)
	}
}

// A 20k-row page (the bench times 100k) draws a window of rows, not 20k, and still reaches its
// last row and filters.
func TestPageHundredThousandRows(t *testing.T) {
	path := browsertest.Path()
	if path == "" {
		if os.Getenv("BULKSYNC_REQUIRE_BROWSER") != "" {
			t.Fatal("no chromium, and BULKSYNC_REQUIRE_BROWSER is set")
		}
		t.Skip("chromium is not installed (apt-get install chromium); CI installs it")
	}
	const n = 20_000
	file := filepath.Join(t.TempDir(), "big.html")
	if err := WriteSample(file, n); err != nil {
		t.Fatal(err)
	}
	b, err := browsertest.Start(t.Context(), path, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Do(20*time.Second, chromedp.Navigate("file://"+file), chromedp.WaitVisible(`body[data-ready="true"]`)); err != nil {
		t.Fatal(err)
	}
	got, err := browsertest.Eval[[]any](b, 10*time.Second, `(async () => {
		const drawn = document.querySelectorAll('#rows > *').length;
		const list = document.getElementById('list');
		list.scrollTop = list.scrollHeight;
		list.dispatchEvent(new Event('scroll'));
		await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
		const lines = [...document.querySelectorAll('#rows .row')].map(e => +e.dataset.line);
		const s = document.getElementById('f-action'); s.value = 'create'; s.dispatchEvent(new Event('change'));
		return [drawn, Math.max(...lines), document.getElementById('shown').textContent];
	})()`)
	if err != nil {
		t.Fatal(err)
	}
	drawn, last, shown := got[0].(float64), got[1].(float64), got[2].(string)
	if drawn < 10 || drawn > 200 {
		t.Errorf("%v rows drawn at once, want a window of 10 to 200", drawn)
	}
	if int(last) != n+1 {
		t.Errorf("scrolled to the end, the last line drawn is %v, want %d", last, n+1)
	}
	if want := fmt.Sprintf("Showing %d of %d rows", n/4, n); shown != want {
		t.Errorf("filtered: %q, want %q", shown, want)
	}
	for _, p := range b.Problems() {
		t.Error(p)
	}
}

// appendString decodes as encoding/json's own encoding does, and never
// writes a byte that could end a script element.
func TestAppendString(t *testing.T) {
	for _, s := range []string{"", "Ada", `"quoted" \ back`, "</script>", "<!--", "a&b", "tab\there\nnl\x00\x1f",
		"\u2028\u2029", "Zoë Ångström 😀", "bad \xff\xfe utf8", "'=HYPERLINK()"} {
		enc := appendString(nil, s)
		if bytes.ContainsAny(enc, "<>&") {
			t.Errorf("%q encodes as %s, holding < > or &", s, enc)
		}
		var got, want string
		if err := json.Unmarshal(enc, &got); err != nil {
			t.Errorf("%q encodes as %s: %v", s, enc, err)
			continue
		}
		j, _ := json.Marshal(s)
		json.Unmarshal(j, &want)
		if got != want {
			t.Errorf("%q decodes as %q, encoding/json gives %q", s, got, want)
		}
	}
}
