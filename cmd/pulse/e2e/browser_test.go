package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/pulse-survey/pulse/survey/surveytest"
)

const (
	// bindingName is the DevTools binding through which the injected
	// monitor reports CSP violations to the test.
	bindingName = "__pulseE2EReport"

	// stepTimeout bounds each browser step, so a broken page fails the
	// test instead of hanging it.
	stepTimeout = 30 * time.Second
)

// viewport is what a tab emulates. A headless window cannot be narrower
// than 500 px, so the phone is emulated with device metrics.
type viewport struct {
	name          string
	width, height int64
	scale         float64
	mobile        bool
}

var (
	phone   = viewport{name: "phone", width: 390, height: 844, scale: 2, mobile: true}
	desktop = viewport{name: "desktop", width: 1280, height: 900, scale: 1}
)

// monitorScript runs in every document before the page's own scripts. It is
// added with Page.addScriptToEvaluateOnNewDocument, a DevTools feature, so
// the page's Content-Security-Policy does not apply to it, and it reports
// every securitypolicyviolation event through the binding.
var monitorScript = fmt.Sprintf(`(() => {
	const report = window[%q];
	if (typeof report !== "function") return;
	addEventListener("securitypolicyviolation", (e) => {
		report(JSON.stringify({page: location.href, directive: e.effectiveDirective || e.violatedDirective,
			blocked: e.blockedURI, source: e.sourceFile, line: e.lineNumber, sample: e.sample,
			disposition: e.disposition}));
	}, true);
})();`, bindingName)

// browser is the one Chromium of the test binary; every test opens its own
// tabs in fresh browser contexts (separate cookies and storage).
var browser struct {
	once    sync.Once
	ctx     context.Context
	stop    func()
	missing string // why there is no browser to run
	err     error
	version string
}

// chromiumPath finds Debian's Chromium, or the browser PULSE_CHROMIUM names.
func chromiumPath() (string, error) {
	if p := os.Getenv("PULSE_CHROMIUM"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("PULSE_CHROMIUM: %v", err)
		}
		return p, nil
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium", nil
	}
	return "", errors.New("chromium not found in PATH or at /usr/bin/chromium")
}

// ciStrict reports whether missing tools must fail the run (CI=true).
func ciStrict() bool {
	v := strings.ToLower(os.Getenv("CI"))
	return v == "true" || v == "1"
}

func startBrowser() {
	path, err := chromiumPath()
	if err != nil {
		browser.missing = err.Error()
		return
	}
	dir, err := os.MkdirTemp("", "pulse-e2e-chromium-")
	if err != nil {
		browser.err = err
		return
	}
	var output bytes.Buffer
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		// The flags of docs/STACK-NOTES.md, with a fresh profile.
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(dir),
		// Belt and braces: even if a page asked for another host, the
		// browser cannot resolve it, so a test never sends traffic off the
		// machine. The request is still seen (and fails the test).
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
		chromedp.WindowSize(int(desktop.width), int(desktop.height)),
		chromedp.CombinedOutput(&output),
	)
	allocCtx, allocCancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	browser.stop = func() {
		cancel()
		allocCancel()
		os.RemoveAll(dir)
	}
	if err := chromedp.Do(ctx); err != nil {
		browser.err = fmt.Errorf("start %s: %v\n%s", path, err, output.String())
		return
	}
	if v, err := chromedp.CallBrowser(ctx, cdpbrowser.GetVersion, cdp.Empty{}); err == nil {
		browser.version = v.Product
	}
	browser.ctx = ctx
}

// needBrowser returns the browser's context, or skips the test when no
// Chromium is installed (a failure under CI=true).
func needBrowser(t testing.TB) context.Context {
	t.Helper()
	browser.once.Do(startBrowser)
	if browser.missing != "" {
		if ciStrict() {
			t.Fatalf("%s: CI=true, so the browser tests must run (.ci/run installs Chromium with apt-get)", browser.missing)
		}
		t.Skipf("browser tests skipped: %s (install it with `apt-get install -y chromium`; never skipped when CI=true)", browser.missing)
	}
	if browser.err != nil {
		t.Fatal(browser.err)
	}
	return browser.ctx
}

// problem is something a page did that fails a test.
type problem struct {
	Kind string // host, console, exception, csp
	Page string
	Text string
}

func (p problem) String() string { return fmt.Sprintf("%s on %s: %s", p.Kind, p.Page, p.Text) }

// allowance excuses an expected problem, e.g. the console line of a request
// that a test makes fail on purpose.
type allowance struct{ kind, substr string }

// tab is one browser tab in its own browser context, watched from the
// first request on.
type tab struct {
	t    *testing.T
	name string
	ctx  context.Context

	mu       sync.Mutex
	page     string   // URL of the main frame's document
	pages    []string // every main-frame document, in order
	requests []string // "METHOD URL" of every request
	problems []problem
	allowed  []allowance
	dirtyOK  bool // a negative control: problems are expected
	shots    int
}

// newTab opens a tab with the viewport; at the end of the test it fails on
// every problem the tab saw, then closes.
func newTab(t *testing.T, name string, vp viewport) *tab {
	t.Helper()
	bctx := needBrowser(t)
	tb := &tab{t: t, name: name}
	ctx, cancel := chromedp.NewContext(bctx, chromedp.WithNewBrowserContext(), chromedp.WithListener(tb.onEvent))
	tb.ctx = ctx
	t.Cleanup(func() {
		if !tb.dirtyOK {
			tb.assertClean()
		}
		cancel()
	})
	emulate := chromedp.EmulateViewport(vp.width, vp.height, chromedp.EmulateScale(vp.scale))
	if vp.mobile {
		emulate = chromedp.EmulateViewport(vp.width, vp.height, chromedp.EmulateScale(vp.scale),
			chromedp.EmulateMobile, chromedp.EmulateTouch)
	}
	// The first Run opens the tab and binds it to the context of that call,
	// so it gets the tab's own context, without a step timeout.
	if err := chromedp.Do(ctx,
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			if _, err := cdp.Call(ctx, tg, runtime.AddBinding, runtime.AddBindingParams{Name: bindingName}); err != nil {
				return err
			}
			if _, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument,
				page.AddScriptToEvaluateOnNewDocumentParams{Source: monitorScript}); err != nil {
				return err
			}
			// Keyboard focus and :focus-visible behave as in a focused
			// window, also when several tabs run at once.
			_, err := cdp.Call(ctx, tg, emulation.SetFocusEmulationEnabled, emulation.SetFocusEmulationEnabledParams{Enabled: true})
			return err
		}),
		emulate,
	); err != nil {
		t.Fatalf("%s: open a tab: %v", name, err)
	}
	return tb
}

// onEvent runs in the tab's message loop: it only records.
func (tb *tab) onEvent(ev any) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	switch ev := ev.(type) {
	case *page.EventFrameNavigated:
		if ev.Frame.ParentID == "" {
			tb.page = ev.Frame.URL
			tb.pages = append(tb.pages, ev.Frame.URL)
		}
	case *network.EventRequestWillBeSent:
		req := ev.Request.Method + " " + shorten(ev.Request.URL)
		tb.requests = append(tb.requests, req)
		if offHost(ev.Request.URL) {
			where := ev.DocumentURL
			if where == "" {
				where = tb.page
			}
			tb.add(problem{Kind: "host", Page: where, Text: "request to another host: " + req})
		}
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			tb.add(problem{Kind: "console", Page: tb.page, Text: "console." + string(ev.Type) + ": " + argsText(ev.Args)})
		}
	case *runtime.EventExceptionThrown:
		tb.add(problem{Kind: "exception", Page: tb.page, Text: exceptionText(ev.ExceptionDetails)})
	case *cdplog.EventEntryAdded:
		// The browser's own console lines: failed loads, CSP refusals, ...
		if e := ev.Entry; e.Level == cdplog.EntryLevelError {
			tb.add(problem{Kind: "console", Page: tb.page, Text: fmt.Sprintf("[%s] %s %s", e.Source, e.Text, shorten(e.URL))})
		}
	case *runtime.EventBindingCalled:
		if ev.Name != bindingName {
			return
		}
		var v struct {
			Page, Directive, Blocked, Source, Sample, Disposition string
			Line                                                  int
		}
		if err := json.Unmarshal([]byte(ev.Payload), &v); err != nil {
			tb.add(problem{Kind: "csp", Page: tb.page, Text: "unreadable report: " + ev.Payload})
			return
		}
		tb.add(problem{Kind: "csp", Page: v.Page, Text: fmt.Sprintf("%s blocked %q (%s:%d) %s %s",
			v.Directive, v.Blocked, v.Source, v.Line, v.Disposition, v.Sample)})
	}
}

func (tb *tab) add(p problem) { tb.problems = append(tb.problems, p) }

// allow excuses problems of the kind whose text contains substr.
func (tb *tab) allow(kind, substr string) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.allowed = append(tb.allowed, allowance{kind, substr})
}

// found returns the problems seen so far that no allowance excuses.
func (tb *tab) found() []problem {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	var out []problem
next:
	for _, p := range tb.problems {
		for _, a := range tb.allowed {
			if p.Kind == a.kind && strings.Contains(p.Text, a.substr) {
				continue next
			}
		}
		out = append(out, p)
	}
	return out
}

func (tb *tab) assertClean() {
	tb.t.Helper()
	for _, p := range tb.found() {
		tb.t.Errorf("%s: %s", tb.name, p)
	}
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.t.Logf("%s: %d requests, all to 127.0.0.1 unless reported; pages: %s", tb.name, len(tb.requests), strings.Join(tb.pages, " "))
}

// url is the address of the page shown now.
func (tb *tab) url() string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return tb.page
}

// requested returns the requests seen so far.
func (tb *tab) requested() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return append([]string(nil), tb.requests...)
}

// offHost reports whether a request leaves 127.0.0.1.
func offHost(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return true
	}
	switch u.Scheme {
	case "data", "blob", "about":
		return false
	case "http", "https", "ws", "wss":
		return u.Hostname() != "127.0.0.1"
	}
	return true
}

func shorten(s string) string {
	if len(s) > 160 {
		return s[:160] + "…"
	}
	return s
}

func argsText(args []*runtime.RemoteObject) string {
	var parts []string
	for _, a := range args {
		switch {
		case a == nil:
		case len(a.Value) > 0:
			var s string
			if json.Unmarshal(a.Value, &s) == nil {
				parts = append(parts, s)
			} else {
				parts = append(parts, string(a.Value))
			}
		case a.Description != "":
			parts = append(parts, a.Description)
		default:
			parts = append(parts, string(a.Type))
		}
	}
	return strings.Join(parts, " ")
}

func exceptionText(d *runtime.ExceptionDetails) string {
	if d == nil {
		return "exception"
	}
	text := d.Text
	if d.Exception != nil && d.Exception.Description != "" {
		text += " " + d.Exception.Description
	}
	return fmt.Sprintf("%s (%s:%d)", text, d.URL, d.LineNumber+1)
}

// do runs the actions with a step timeout and fails the test on error.
func (tb *tab) do(actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.t.Fatalf("%s: %v", tb.name, err)
	}
}

// navigate opens the URL and waits for it to load.
func (tb *tab) navigate(u string) *network.Response {
	tb.t.Helper()
	return tb.navigation(chromedp.Navigate(u))
}

// navigation runs the actions that cause a page load, waits for it and
// returns the document's response.
func (tb *tab) navigation(actions ...chromedp.Action[chromedp.Void]) *network.Response {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, actions...)
	if err != nil {
		tb.t.Fatalf("%s: %v", tb.name, err)
	}
	return resp
}

// eval evaluates a JavaScript expression (awaiting a promise) in the page
// and decodes its value.
func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	v, err := evalErr[T](tb, expr)
	if err != nil {
		tb.t.Fatalf("%s: evaluate %s: %v", tb.name, shorten(expr), err)
	}
	return v
}

func evalErr[T any](tb *tab, expr string) (T, error) {
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}

// key types the keys (see package kb) into the focused element.
func (tb *tab) key(keys string, opts ...chromedp.KeyOption) {
	tb.t.Helper()
	tb.do(chromedp.KeyEvent(keys, opts...))
}

// waitFor polls the JavaScript condition until it is true.
func (tb *tab) waitFor(what, cond string) {
	tb.t.Helper()
	deadline := time.Now().Add(stepTimeout)
	for {
		ok, err := evalErr[bool](tb, "!!("+cond+")")
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			tb.shot("timeout")
			tb.t.Fatalf("%s: timed out waiting for %s (%s): %v", tb.name, what, cond, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// shot saves a full-page screenshot of the step for people to look at.
func (tb *tab) shot(label string) string {
	tb.t.Helper()
	tb.shots++
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.t.Errorf("%s: screenshot %s: %v", tb.name, label, err)
		return ""
	}
	p := filepath.Join(shotsDir(tb.t), fmt.Sprintf("%s-%02d-%s.png", tb.name, tb.shots, label))
	if err := os.WriteFile(p, buf, 0o644); err != nil {
		tb.t.Errorf("%s: %v", tb.name, err)
		return ""
	}
	tb.t.Logf("screenshot %s", p)
	return p
}

var shots struct {
	once sync.Once
	dir  string
	err  error
}

// shotsDir is screenshots/<dialect>/ at the repository root (git-ignored),
// or $PULSE_SCREENSHOTS/<dialect>/. Each run replaces the pictures of the
// previous one.
func shotsDir(t testing.TB) string {
	t.Helper()
	shots.once.Do(func() {
		base := os.Getenv("PULSE_SCREENSHOTS")
		if base == "" {
			root, err := surveytest.ModuleRoot()
			if err != nil {
				shots.err = err
				return
			}
			base = filepath.Join(root, "screenshots")
		}
		dir := filepath.Join(base, surveytest.Dialect())
		if shots.err = os.MkdirAll(dir, 0o755); shots.err != nil {
			return
		}
		old, _ := filepath.Glob(filepath.Join(dir, "*.png"))
		for _, f := range old {
			os.Remove(f)
		}
		os.Remove(filepath.Join(dir, "axe.txt"))
		shots.dir = dir
	})
	if shots.err != nil {
		t.Fatalf("screenshots folder: %v", shots.err)
	}
	return shots.dir
}
