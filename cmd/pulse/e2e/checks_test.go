package e2e

import (
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/chromedp"
)

// axeSource is axe-core, vendored from npm by scripts/refresh-vendor.sh
// (testdata/axe/, with its licences). It is injected through DevTools
// (Runtime.evaluate), never served by Pulse and never added as a script tag.
//
//go:embed testdata/axe/axe.min.js
var axeSource string

// axeViolation is one failed axe rule on a page.
type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
	Count  int      `json:"count"`
}

func (v axeViolation) String() string {
	return fmt.Sprintf("%s [%s] %s: %d node(s), e.g. %s", v.ID, v.Impact, v.Help, v.Count, strings.Join(v.Nodes, " | "))
}

// blocking reports whether a violation fails the test.
func (v axeViolation) blocking() bool { return v.Impact == "serious" || v.Impact == "critical" }

// axeResult is what axe found on a page: the violations, how many rules
// passed, and the rules that need a person to review.
type axeResult struct {
	Violations []axeViolation `json:"violations"`
	Passes     int            `json:"passes"`
	Incomplete []string       `json:"incomplete"`
}

const axeRunJS = `(async () => {
	const r = await axe.run(document, {resultTypes: ["violations"]});
	return {
		violations: r.violations.map((v) => ({id: v.id, impact: v.impact || "", help: v.help,
			nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ")), count: v.nodes.length})),
		passes: r.passes.length,
		incomplete: r.incomplete.map((v) => v.id),
	};
})()`

// runAxe injects axe-core into the page (once per document) and runs it.
func runAxe(tb *tab) (axeResult, error) {
	loaded, err := evalErr[bool](tb, `typeof axe !== "undefined"`)
	if err != nil {
		return axeResult{}, err
	}
	if !loaded {
		if _, err := evalErr[chromedp.Void](tb, axeSource+"\n;void 0"); err != nil {
			return axeResult{}, fmt.Errorf("inject axe-core: %w", err)
		}
	}
	return evalErr[axeResult](tb, axeRunJS)
}

// axeSummary collects one line per page checked, written to axe.txt in the
// screenshots folder at the end of the run.
var axeSummary struct {
	mu    sync.Mutex
	lines []string
}

// checkAxe runs axe on the page: serious and critical violations fail the
// test, the others are logged.
func checkAxe(tb *tab, label string) []axeViolation {
	tb.t.Helper()
	res, err := runAxe(tb)
	if err != nil {
		tb.t.Fatalf("%s: axe on %s: %v", tb.name, label, err)
	}
	vs := res.Violations
	counts := map[string]int{}
	var ids []string
	for _, v := range vs {
		counts[v.Impact]++
		ids = append(ids, v.ID+"("+v.Impact+")")
		if v.blocking() {
			tb.t.Errorf("%s: axe on %s: %s", tb.name, label, v)
		} else {
			tb.t.Logf("%s: axe on %s (not blocking): %s", tb.name, label, v)
		}
	}
	line := fmt.Sprintf("%-30s critical=%d serious=%d moderate=%d minor=%d | rules passed %d, to review: %s %s", label,
		counts["critical"], counts["serious"], counts["moderate"], counts["minor"], res.Passes,
		strings.Join(res.Incomplete, ","), strings.Join(ids, " "))
	tb.t.Logf("axe: %s", line)
	axeSummary.mu.Lock()
	axeSummary.lines = append(axeSummary.lines, line)
	axeSummary.mu.Unlock()
	return vs
}

func writeAxeSummary() {
	axeSummary.mu.Lock()
	defer axeSummary.mu.Unlock()
	if len(axeSummary.lines) == 0 || shots.dir == "" {
		return
	}
	lines := slices.Clone(axeSummary.lines)
	sort.Strings(lines)
	body := fmt.Sprintf("axe-core violations by impact, per page checked (%s)\n\n%s\n", time.Now().UTC().Format(time.RFC3339), strings.Join(lines, "\n"))
	os.WriteFile(filepath.Join(shots.dir, "axe.txt"), []byte(body), 0o644)
}

// focusStop describes the focused element after a Tab.
type focusStop struct {
	Tag          string  `json:"tag"`
	ID           string  `json:"id"`
	Name         string  `json:"name"`
	Type         string  `json:"type"`
	Class        string  `json:"cls"`
	Text         string  `json:"text"`
	Region       string  `json:"region"` // header, main, footer or body
	Question     string  `json:"question"`
	FocusVisible bool    `json:"focusVisible"`
	OutlineStyle string  `json:"outlineStyle"`
	OutlineWidth float64 `json:"outlineWidth"`
	BoxShadow    string  `json:"boxShadow"`
	X            float64 `json:"x"`
	Y            float64 `json:"y"`
	W            float64 `json:"w"`
	H            float64 `json:"h"`
	VW           float64 `json:"vw"`
	VH           float64 `json:"vh"`
}

func (s focusStop) String() string {
	d := s.Tag
	if s.ID != "" {
		d += "#" + s.ID
	}
	if s.Name != "" {
		d += "[name=" + s.Name + "]"
	}
	if s.Type != "" {
		d += "[type=" + s.Type + "]"
	}
	if s.Text != "" {
		d += fmt.Sprintf(" %q", s.Text)
	}
	return d
}

const focusedJS = `(() => {
	const el = document.activeElement;
	if (!el || el === document.body || el === document.documentElement) return {tag: "body"};
	const cs = getComputedStyle(el);
	const r = el.getBoundingClientRect();
	const region = el.closest("header") ? "header" : el.closest("main") ? "main" : el.closest("footer") ? "footer" : "body";
	return {tag: el.tagName.toLowerCase(), id: el.id, name: el.getAttribute("name") || "", type: el.getAttribute("type") || "",
		cls: String(el.className || ""), text: (el.innerText || el.value || "").trim().replace(/\s+/g, " ").slice(0, 50),
		region, question: el.closest("fieldset[data-question-id]")?.dataset.questionId || "",
		focusVisible: el.matches(":focus-visible"), outlineStyle: cs.outlineStyle, outlineWidth: parseFloat(cs.outlineWidth) || 0,
		boxShadow: cs.boxShadow, x: r.x, y: r.y, w: r.width, h: r.height, vw: innerWidth, vh: innerHeight};
})()`

// focused describes the focused element.
func focused(tb *tab) focusStop { return eval[focusStop](tb, focusedJS) }

// focusVisibleProblems checks that every stop shows where the focus is: it
// matches :focus-visible, has an outline or a box-shadow, a size, and is
// on screen.
func focusVisibleProblems(stops []focusStop) []string {
	var out []string
	for i, s := range stops {
		where := fmt.Sprintf("Tab stop %d (%s)", i+1, s)
		if s.Tag == "body" {
			out = append(out, where+": focus fell back to the page")
			continue
		}
		if !s.FocusVisible {
			out = append(out, where+": does not match :focus-visible")
		}
		if (s.OutlineStyle == "none" || s.OutlineWidth == 0) && (s.BoxShadow == "" || s.BoxShadow == "none") {
			out = append(out, fmt.Sprintf("%s: no visible focus indicator (outline-style %s, outline-width %g, box-shadow %s)",
				where, s.OutlineStyle, s.OutlineWidth, s.BoxShadow))
		}
		if s.W < 1 || s.H < 1 {
			out = append(out, fmt.Sprintf("%s: focused element is %gx%g px", where, s.W, s.H))
		} else if s.Y+s.H <= 0 || s.Y >= s.VH || s.X+s.W <= 0 || s.X >= s.VW {
			out = append(out, fmt.Sprintf("%s: focused element is off screen at (%g, %g)", where, s.X, s.Y))
		}
	}
	return out
}

// surveyOrderProblems checks the survey page's Tab order: the skip link,
// then the header's links, then in the form each question's radio group
// once, in question order, then the comment and the submit button.
func surveyOrderProblems(stops []focusStop, questions []string) []string {
	var out []string
	if len(stops) == 0 {
		return []string{"no Tab stops"}
	}
	if !strings.Contains(stops[0].Class, "skip-link") {
		out = append(out, fmt.Sprintf("Tab stop 1 is %s, not the skip link", stops[0]))
	}
	rank := map[string]int{"body": 0, "header": 1, "main": 2, "footer": 3}
	for i := 1; i < len(stops); i++ {
		if rank[stops[i].Region] < rank[stops[i-1].Region] {
			out = append(out, fmt.Sprintf("Tab stop %d (%s, %s) comes after stop %d (%s, %s)", i+1, stops[i], stops[i].Region, i, stops[i-1], stops[i-1].Region))
		}
	}
	first := slices.IndexFunc(stops, func(s focusStop) bool { return s.Type == "radio" })
	if first < 0 {
		return append(out, "no radio button was reached with Tab")
	}
	for i := 1; i < first; i++ {
		if stops[i].Region == "main" && stops[i].Tag != "a" {
			out = append(out, fmt.Sprintf("Tab stop %d (%s) comes before the first question", i+1, stops[i]))
		}
	}
	var seen []string
	i := first
	for ; i < len(stops) && stops[i].Type == "radio"; i++ {
		seen = append(seen, stops[i].Question)
	}
	if !slices.Equal(seen, questions) {
		out = append(out, fmt.Sprintf("radio groups reached in the order %v, want each question once in order %v", seen, questions))
	}
	rest := stops[i:]
	want := []string{"textarea#comment", "button[type=submit]"}
	var got []string
	for _, s := range rest {
		switch {
		case s.Tag == "textarea":
			got = append(got, "textarea#"+s.ID)
		case s.Tag == "button":
			got = append(got, "button[type="+s.Type+"]")
		default:
			got = append(got, s.String())
		}
	}
	if len(got) > len(want) {
		got = got[:len(want)+1]
	}
	if !slices.Equal(got, want) {
		out = append(out, fmt.Sprintf("after the questions, Tab reached %v, want %v", got, want))
	}
	return out
}

// chartPaint is what one [data-echarts-option] element drew.
type chartPaint struct {
	Label    string `json:"label"`
	Canvases int    `json:"canvases"`
	Painted  int    `json:"painted"`
	Total    int    `json:"total"`
	Error    bool   `json:"error"`
}

// chartsJS counts each chart's non-transparent canvas pixels.
const chartsJS = `Array.from(document.querySelectorAll("[data-echarts-option]"), (el) => {
	let painted = 0, total = 0;
	const canvases = el.querySelectorAll("canvas");
	for (const c of canvases) {
		if (!c.width || !c.height) continue;
		const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
		total += c.width * c.height;
		for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) painted++;
	}
	return {label: (el.getAttribute("aria-label") || el.id || "chart").slice(0, 60), canvases: canvases.length, painted, total,
		error: el.hasAttribute("data-chart-error")};
})`

// blank reports why a chart drew nothing, or "".
func (c chartPaint) blank() string {
	switch {
	case c.Error:
		return "data-chart-error is set"
	case c.Canvases == 0:
		return "no canvas"
	case c.Total == 0 || float64(c.Painted) < 0.005*float64(c.Total):
		return fmt.Sprintf("blank canvas (%d of %d pixels drawn)", c.Painted, c.Total)
	}
	return ""
}

// chartProblems waits (animations run) until every chart on the page has
// drawn, and returns what is still blank after the wait; at least min
// charts must be on the page.
func chartProblems(tb *tab, min int, wait time.Duration) ([]chartPaint, []string) {
	deadline := time.Now().Add(wait)
	for {
		charts := eval[[]chartPaint](tb, chartsJS)
		var out []string
		if len(charts) < min {
			out = append(out, fmt.Sprintf("%d charts on the page, want at least %d", len(charts), min))
		}
		for _, c := range charts {
			if why := c.blank(); why != "" {
				out = append(out, fmt.Sprintf("chart %q: %s", c.Label, why))
			}
		}
		if len(out) == 0 || time.Now().After(deadline) {
			return charts, out
		}
		time.Sleep(200 * time.Millisecond)
	}
}
