// Package browsertest opens pages in headless Chromium through chromedp, for
// the HTML report's tests and the bench. It records what a page must not do:
// console errors, uncaught exceptions, dialogs (an alert means markup ran),
// and every network request, so a test can check that a page loads nothing
// but what it allows.
package browsertest

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	stdsync "sync"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Path returns the Chromium binary, or "" when none is installed.
func Path() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// Browser is one headless Chromium with one tab.
type Browser struct {
	ctx    context.Context
	cancel func()

	mu       stdsync.Mutex
	requests []string // every URL the tab asked for
	problems []Problem
}

// Problem is something a page should not have done.
type Problem struct {
	Kind string // console, exception, dialog, log
	Text string
	URL  string // for log entries about a resource
}

func (p Problem) String() string {
	if p.URL != "" {
		return fmt.Sprintf("%s: %s (%s)", p.Kind, p.Text, p.URL)
	}
	return p.Kind + ": " + p.Text
}

// Start launches Chromium at path with a fresh profile in userDataDir. The
// host resolver answers every name with "not found", so a page cannot reach
// the network even where there is one.
func Start(parent context.Context, path, userDataDir string) (*Browser, error) {
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.UserDataDir(userDataDir),
		chromedp.WindowSize(1400, 900),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND"),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(parent, opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	b := &Browser{ctx: ctx, cancel: func() { cancelCtx(); cancelAlloc() }}
	err := chromedp.Listen(ctx, func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			b.requests = append(b.requests, ev.Request.URL)
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				var parts []string
				for _, a := range ev.Args {
					parts = append(parts, a.Description+string(a.Value))
				}
				b.problems = append(b.problems, Problem{Kind: "console " + string(ev.Type), Text: strings.Join(parts, " ")})
			}
		case *runtime.EventExceptionThrown:
			text := ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil {
				text += " " + ev.ExceptionDetails.Exception.Description
			}
			b.problems = append(b.problems, Problem{Kind: "exception", Text: text})
		case *page.EventJavascriptDialogOpening:
			b.problems = append(b.problems, Problem{Kind: "dialog", Text: string(ev.Type) + ": " + ev.Message})
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == cdplog.EntryLevelError || ev.Entry.Level == cdplog.EntryLevelWarning {
				b.problems = append(b.problems, Problem{Kind: "log " + string(ev.Entry.Source), Text: ev.Entry.Text, URL: ev.Entry.URL})
			}
		}
	})
	if err != nil {
		b.cancel()
		return nil, fmt.Errorf("starting %s: %w", path, err)
	}
	return b, nil
}

// Close stops the browser.
func (b *Browser) Close() { b.cancel() }

// Context is the tab's context, for chromedp actions.
func (b *Browser) Context() context.Context { return b.ctx }

// Do runs actions in the tab, within timeout.
func (b *Browser) Do(timeout time.Duration, actions ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	return chromedp.Do(ctx, actions...)
}

// Eval evaluates a JavaScript expression in the tab and returns its value;
// a promise is awaited.
func Eval[T any](b *Browser, timeout time.Duration, expr string) (T, error) {
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	await := true
	return chromedp.Run(ctx, chromedp.Evaluate[T](expr, func(p *runtime.EvaluateParams) { p.AwaitPromise = &await }))
}

// Reset forgets the requests and problems recorded so far, before the next
// page.
func (b *Browser) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.requests, b.problems = nil, nil
}

// Requests returns the URLs the tab asked for so far.
func (b *Browser) Requests() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.requests...)
}

// Problems returns what the pages did wrong so far.
func (b *Browser) Problems() []Problem {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Problem(nil), b.problems...)
}

// ServeImages answers every https request of the tab with img (a PNG), in
// place of the network: for screenshots that show thumbnails offline.
func (b *Browser) ServeImages(img []byte) error {
	paused := chromedp.Events(b.ctx, fetch.RequestPaused)
	err := chromedp.Do(b.ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "https://*"}}})
		return err
	}))
	if err != nil {
		return err
	}
	go func() {
		for ev, err := range paused {
			if err != nil {
				return
			}
			chromedp.Do(b.ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
				_, err := cdp.Call(ctx, t, fetch.FulfillRequest, fetch.FulfillRequestParams{
					RequestID: ev.RequestID, ResponseCode: 200, Body: img,
					ResponseHeaders: []*fetch.HeaderEntry{{Name: "Content-Type", Value: "image/png"}},
				})
				return err
			}))
		}
	}()
	return nil
}
