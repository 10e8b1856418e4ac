package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/bulksync/bulksync/internal/browsertest"
	"github.com/bulksync/bulksync/internal/htmlreport"
	"github.com/chromedp/chromedp"
)

// htmlPage is figure 5: how long the --html page of 100k rows takes to
// become interactive in headless Chromium (loaded, the rows parsed, the
// first window drawn), against the same page of 100 rows, which is the
// browser's fixed cost. Drawing on demand keeps the ratio near the cost of
// parsing the data alone.
func (b *bench) htmlPage(ctx context.Context) []figure {
	const small, big = 100, 100_000
	fig := figure{id: "5", name: fmt.Sprintf("--html page of %s rows: time to interactive ÷ that of %d rows", count(big), small)}
	path := browsertest.Path()
	if path == "" {
		fig.shown, fig.detail = "n/a", "skipped: chromium is not installed (apt-get install chromium)"
		return []figure{fig}
	}
	fmt.Fprintf(b.log, "bench: figure 5: HTML page in %s\n", path)
	br, err := browsertest.Start(ctx, path, filepath.Join(b.dir, "chromium-profile"))
	if err != nil {
		fig.err = err
		return []figure{fig}
	}
	defer br.Close()
	timeTo := func(rows int) (time.Duration, error) {
		file := filepath.Join(b.dir, fmt.Sprintf("fig5-%d.html", rows))
		if err := htmlreport.WriteSample(file, rows); err != nil {
			return 0, err
		}
		best := time.Duration(0)
		for range 2 {
			start := time.Now()
			err := br.Do(time.Minute, chromedp.Navigate("file://"+file), chromedp.WaitVisible(`body[data-ready="true"]`))
			if err != nil {
				return 0, err
			}
			if took := time.Since(start); best == 0 || took < best {
				best = took
			}
		}
		return best, nil
	}
	// The first load warms the browser up.
	if _, err := timeTo(small); err != nil {
		fig.err = err
		return []figure{fig}
	}
	base, err := timeTo(small)
	if err == nil {
		var t time.Duration
		if t, err = timeTo(big); err == nil {
			fig.value = t.Seconds() / base.Seconds()
			fig.shown = times(fig.value)
			fig.detail = fmt.Sprintf("%s rows %.2f s, %d rows %.3f s (best of 2 loads each)", count(big), t.Seconds(), small, base.Seconds())
			drawn, derr := browsertest.Eval[int](br, 10*time.Second, `document.querySelectorAll('#rows > *').length`)
			if derr == nil {
				fig.detail = fmt.Sprintf("%s rows %.2f s, %d rows %.3f s (best of 2 loads each); %d DOM rows drawn for %s", count(big), t.Seconds(), small, base.Seconds(), drawn, count(big))
			}
		}
	}
	fig.err = err
	return []figure{fig}
}
