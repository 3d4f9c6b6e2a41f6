package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp/kb"
)

// Negative controls: each check of this package must fail on a page that is
// broken on purpose, served from a tiny server with Pulse's own
// Content-Security-Policy (TestSetupPage checks that Pulse still sends
// exactly this one). A clean page of the same shape passes every check.

// controlCSP is the policy of api/routes.go.
const controlCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; manifest-src 'self'; form-action 'self'; base-uri 'none'; " +
	"frame-ancestors 'none'"

const controlCSS = `body { font-family: sans-serif; color: #111; background: #fff; margin: 1rem; }
:focus-visible { outline: 3px solid #1a56b0; outline-offset: 2px; }
.skip-link { position: absolute; left: 0.5rem; top: 0.5rem; transform: translateY(-200%); background: #fff; }
.skip-link:focus { transform: none; }
.chart { width: 300px; height: 150px; }
label { display: inline-block; padding: 0.25rem; }`

// controlNoFocusCSS is the classic mistake: focus rings removed.
const controlNoFocusCSS = `*:focus, *:focus-visible { outline: none !important; box-shadow: none !important; }`

const controlDrawJS = `for (const c of document.querySelectorAll("canvas.draw")) {
	const g = c.getContext("2d");
	g.fillStyle = "#1a56b0";
	g.fillRect(10, 10, c.width - 20, c.height - 20);
}`

const controlConsoleJS = `console.error("control: a deliberate console error");
throw new Error("control: a deliberate uncaught exception");`

// controlPage is a small survey-shaped page: skip link, navigation, two
// questions, a comment and a submit button.
func controlPage(head, body, submitAttrs string) string {
	return fmt.Sprintf(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Control page</title>
<link rel="stylesheet" href="/control.css">%s</head>
<body><a class="skip-link" href="#main">Skip to content</a>
<header><nav aria-label="Main"><ul><li><a href="/clean">Home</a></li></ul></nav></header>
<main id="main" tabindex="-1"><h1>Control page</h1>
<form id="pulse-survey" action="/clean">
<fieldset data-question-id="11"><legend>First statement</legend>
<label><input type="radio" name="q-11" value="1"> 1</label><label><input type="radio" name="q-11" value="2"> 2</label></fieldset>
<fieldset data-question-id="12"><legend>Second statement</legend>
<label><input type="radio" name="q-12" value="1"> 1</label><label><input type="radio" name="q-12" value="2"> 2</label></fieldset>
<p><label for="comment">Comment</label><br><textarea id="comment" name="comment"></textarea></p>
<button type="submit"%s>Send</button>
</form>
%s
</main>
<footer><p>Control footer</p></footer></body></html>`, head, submitAttrs, body)
}

var controlQuestions = []string{"11", "12"}

const gif1x1 = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"

func controlServer(t *testing.T) *httptest.Server {
	drawn := `<div class="chart" role="img" aria-label="Drawn chart" data-echarts-option="{}"><canvas class="draw" width="300" height="150"></canvas></div>
<script src="/draw.js"></script>`
	pages := map[string]string{
		"/clean":   controlPage("", drawn, ""),
		"/console": controlPage(`<script src="/console.js"></script>`, "", ""),
		// An inline script and an inline style attribute: both refused
		// by the CSP.
		"/csp": controlPage("", `<script>document.title = "inline script ran";</script><p style="color: red">inline style</p>`, ""),
		// A script tag and an image from other hosts.
		"/external": controlPage(`<script src="http://cdn.example.invalid/lib.js"></script>`,
			`<img src="https://tracker.example.invalid/pixel.gif" alt="">`, ""),
		// A text field without a label and an image without alt text.
		"/axe": controlPage("", `<p><input type="text" name="nolabel"></p><p><img src="`+gif1x1+`"></p>`, ""),
		// The submit button jumps the Tab order.
		"/focus-order": controlPage("", "", ` tabindex="1"`),
		// Focus rings removed.
		"/focus-hidden": controlPage(`<link rel="stylesheet" href="/nofocus.css">`, "", ""),
		// A chart that drew nothing, and one whose script failed.
		"/blank-chart": controlPage("", `<div class="chart" role="img" aria-label="Blank chart" data-echarts-option="{}"><canvas width="300" height="150"></canvas></div>
<div class="chart" role="img" aria-label="Failed chart" data-echarts-option="{}" data-chart-error></div>`, ""),
		// A reference to an id that is not there.
		"/idref": controlPage("", `<p><label for="nowhere">Orphan label</label></p><p><input type="text" id="described" aria-label="Described" aria-describedby="missing-hint"></p>`, ""),
	}
	files := map[string]struct{ typ, body string }{
		"/control.css": {"text/css", controlCSS},
		"/nofocus.css": {"text/css", controlNoFocusCSS},
		"/draw.js":     {"text/javascript", controlDrawJS},
		"/console.js":  {"text/javascript", controlConsoleJS},
	}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", controlCSP)
		if p, ok := pages[r.URL.Path]; ok {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, p)
			return
		}
		if f, ok := files[r.URL.Path]; ok {
			w.Header().Set("Content-Type", f.typ)
			fmt.Fprint(w, f.body)
			return
		}
		if r.URL.Path == "/favicon.ico" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(ts.Close)
	return ts
}

// controlTab is a tab whose problems are expected: the control asserts them
// instead of failing on them.
func controlTab(t *testing.T, name string) *tab {
	tb := newTab(t, name, desktop)
	tb.dirtyOK = true
	return tb
}

// waitProblem waits until the tab saw a problem of the kind whose text
// contains substr, and returns it.
func waitProblem(t *testing.T, tb *tab, kind, substr string) problem {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, p := range tb.found() {
			if p.Kind == kind && strings.Contains(p.Text, substr) {
				t.Logf("detected as expected: %s", p)
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the %s check did not detect %q; it saw: %v", kind, substr, tb.found())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tabWalk presses Tab from the top of the page until the submit button
// has focus (or max stops).
func tabWalk(tb *tab, max int) []focusStop {
	var stops []focusStop
	for range max {
		tb.key(kb.Tab)
		s := focused(tb)
		stops = append(stops, s)
		if s.Tag == "button" && s.Type == "submit" && len(stops) > 1 {
			break
		}
	}
	return stops
}

func TestControls(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	ts := controlServer(t)

	t.Run("clean page passes every check", func(t *testing.T) {
		tb := newTab(t, "control-clean", desktop) // fails on any problem at the end
		tb.navigate(ts.URL + "/clean")
		if res, err := runAxe(tb); err != nil {
			t.Fatal(err)
		} else if slices.ContainsFunc(res.Violations, axeViolation.blocking) {
			t.Errorf("axe on the clean page: %v", res.Violations)
		}
		if _, ps := chartProblems(tb, 1, 2*time.Second); len(ps) > 0 {
			t.Errorf("charts on the clean page: %v", ps)
		}
		if ps := eval[[]string](tb, idrefJS); len(ps) > 0 {
			t.Errorf("id references on the clean page: %v", ps)
		}
		stops := tabWalk(tb, 20)
		if ps := append(surveyOrderProblems(stops, controlQuestions), focusVisibleProblems(stops)...); len(ps) > 0 {
			t.Errorf("focus on the clean page: %v", ps)
		}
		tb.shot("clean")
	})

	t.Run("request to another host", func(t *testing.T) {
		tb := controlTab(t, "control-host")
		tb.navigate(ts.URL + "/external")
		waitProblem(t, tb, "host", "http://cdn.example.invalid/lib.js")
		waitProblem(t, tb, "host", "https://tracker.example.invalid/pixel.gif")
	})

	t.Run("console error and uncaught exception", func(t *testing.T) {
		tb := controlTab(t, "control-console")
		tb.navigate(ts.URL + "/console")
		waitProblem(t, tb, "console", "control: a deliberate console error")
		waitProblem(t, tb, "exception", "control: a deliberate uncaught exception")
	})

	t.Run("CSP violation", func(t *testing.T) {
		tb := controlTab(t, "control-csp")
		tb.navigate(ts.URL + "/csp")
		waitProblem(t, tb, "csp", "script-src-elem blocked \"inline\"")
		waitProblem(t, tb, "csp", "style-src-attr blocked \"inline\"")
		if title := eval[string](tb, "document.title"); title != "Control page" {
			t.Errorf("the inline script ran: title %q", title)
		}
	})

	t.Run("axe: missing label and alt text", func(t *testing.T) {
		tb := controlTab(t, "control-axe")
		tb.navigate(ts.URL + "/axe")
		res, err := runAxe(tb)
		if err != nil {
			t.Fatal(err)
		}
		vs := res.Violations
		for _, id := range []string{"label", "image-alt"} {
			i := slices.IndexFunc(vs, func(v axeViolation) bool { return v.ID == id })
			if i < 0 || !vs[i].blocking() {
				t.Errorf("axe did not report %s as serious or critical: %v", id, vs)
			} else {
				t.Logf("detected as expected: %s", vs[i])
			}
		}
	})

	t.Run("focus order", func(t *testing.T) {
		tb := controlTab(t, "control-focus-order")
		tb.navigate(ts.URL + "/focus-order")
		ps := surveyOrderProblems(tabWalk(tb, 20), controlQuestions)
		if len(ps) == 0 {
			t.Error("the focus order check passed a page whose submit button has tabindex=1")
		}
		t.Logf("detected as expected: %v", ps)
	})

	t.Run("visible focus", func(t *testing.T) {
		tb := controlTab(t, "control-focus-hidden")
		tb.navigate(ts.URL + "/focus-hidden")
		stops := tabWalk(tb, 20)
		ps := focusVisibleProblems(stops)
		if len(ps) < len(stops) {
			t.Errorf("the visible focus check flagged %d of %d stops without a focus ring: %v", len(ps), len(stops), ps)
		}
		t.Logf("detected as expected: %v", ps)
	})

	t.Run("blank chart", func(t *testing.T) {
		tb := controlTab(t, "control-blank-chart")
		tb.navigate(ts.URL + "/blank-chart")
		_, ps := chartProblems(tb, 1, 2*time.Second)
		if len(ps) != 2 || !strings.Contains(strings.Join(ps, "\n"), "blank canvas") || !strings.Contains(strings.Join(ps, "\n"), "data-chart-error") {
			t.Errorf("the chart check did not flag the blank and the failed chart: %v", ps)
		}
		t.Logf("detected as expected: %v", ps)
	})

	t.Run("reference to a missing id", func(t *testing.T) {
		tb := controlTab(t, "control-idref")
		tb.navigate(ts.URL + "/idref")
		ps := eval[[]string](tb, idrefJS)
		if len(ps) != 2 {
			t.Errorf("the id reference check found %v, want the label and the aria-describedby", ps)
		}
		t.Logf("detected as expected: %v", ps)
	})
}
