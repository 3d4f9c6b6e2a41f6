package e2e

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/pulse-survey/pulse/survey"
	"github.com/pulse-survey/pulse/survey/demo"
)

// demoEnv is the demo organisation with its year of history, served by a
// real Pulse server: shared by the employee, leader and admin scenarios,
// which run in this order (the admin closes the round the employee answers).
type demoEnv struct {
	srv      *pulseServer
	accounts map[string]demo.Account // by email
	secret   string                  // an employee's survey link in the open round
}

// TestDemo seeds the demo once (about half a minute of real rounds) and
// runs the scenarios against it.
func TestDemo(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("-short: the demo replays a year of rounds first")
	}
	needBrowser(t) // skip before the long seed when there is no browser
	ctx := context.Background()
	start := time.Now()
	d := &demoEnv{srv: startPulse(t), accounts: map[string]demo.Account{}}
	accs, err := demo.Ensure(ctx, d.srv.svc)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range accs {
		d.accounts[a.Email] = a
	}
	if d.secret, err = demo.History(ctx, d.srv.svc, time.Now(), nil, nil); err != nil {
		t.Fatal(err)
	}
	if d.secret == "" {
		t.Fatal("the demo history returned no survey link")
	}
	t.Logf("demo seeded in %s on %s; %s", time.Since(start).Round(time.Millisecond), d.srv.URL, browser.version)

	t.Run("employee", d.employee)
	t.Run("doctored manifest", d.doctoredManifest)
	t.Run("leader", d.leader)
	t.Run("admin", d.admin)
}

// employee answers on a phone with the keyboard only, then finds the link
// used up, in the same browser and in another one.
func (d *demoEnv) employee(t *testing.T) {
	link := d.srv.URL + "/s/" + d.secret
	tb := newTab(t, "employee", phone)
	tb.navigate(link)
	tb.waitFor("the survey form", `!document.getElementById("pulse-survey").hidden`)
	questions := eval[[]string](tb, `Array.from(document.querySelectorAll("fieldset[data-question-id]"), (f) => f.dataset.questionId)`)
	if len(questions) == 0 {
		t.Fatal("the survey shows no question")
	}
	// The page checked the manifest and says whom the answers are pooled with.
	tb.waitFor("the pooling sentence", `!document.getElementById("pooling").hidden`)
	if pool := eval[string](tb, `document.getElementById("pooling").textContent`); !strings.Contains(pool, "Your answers are pooled with ") {
		t.Errorf("pooling sentence %q", pool)
	} else {
		t.Logf("pooling: %q", pool)
	}
	tb.shot("survey")
	if w := eval[[]int](tb, `[document.documentElement.scrollWidth, innerWidth]`); w[0] > w[1] {
		t.Errorf("the survey page scrolls sideways on a phone: %d px wide in a %d px viewport", w[0], w[1])
	}
	checkAxe(tb, "survey (phone)")
	idrefProblemsFail(tb, "survey")
	darkAxe(tb, "survey (phone, dark)")

	// Keyboard only, from the top of the page: Tab to each stop; in each
	// radio group Space picks 1 and each Right arrow one more.
	const comment = "Pairing sessions help a lot."
	want := map[string]int{}
	var stops []focusStop
	for i := 0; i < 60; i++ {
		tb.key(kb.Tab)
		s := focused(tb)
		stops = append(stops, s)
		if s.Type == "radio" {
			q := s.Question
			v := 1 + len(want)%5
			want[q] = v
			tb.key(" ")
			for j := 1; j < v; j++ {
				tb.key(kb.ArrowRight)
			}
		}
		if s.Tag == "textarea" {
			tb.key(comment)
		}
		if s.Tag == "button" && s.Type == "submit" {
			break
		}
	}
	var order []string
	for _, s := range stops {
		order = append(order, s.String())
	}
	t.Logf("Tab order: %s", strings.Join(order, " → "))
	for _, p := range surveyOrderProblems(stops, questions) {
		t.Errorf("focus order: %s", p)
	}
	for _, p := range focusVisibleProblems(stops) {
		t.Errorf("visible focus: %s", p)
	}
	got := eval[map[string]int](tb, `Object.fromEntries(Array.from(document.querySelectorAll("fieldset[data-question-id]"),
		(f) => [f.dataset.questionId, Number(f.querySelector("input:checked")?.value || 0)]))`)
	for _, q := range questions {
		if got[q] != want[q] {
			t.Errorf("question %s: the keyboard chose %d, the form holds %d", q, want[q], got[q])
		}
	}
	if v := eval[string](tb, `document.getElementById("comment").value`); v != comment {
		t.Errorf("comment holds %q, typed %q", v, comment)
	}
	tb.shot("answered")

	// Enter on the focused submit button sends the answers.
	tb.key(kb.Enter)
	tb.waitFor("the thank-you", `!document.getElementById("thank-you").hidden`)
	if id := eval[string](tb, `document.activeElement.id`); id != "thank-you" {
		t.Errorf("after sending, focus is on %q, want the thank-you message", id)
	}
	if eval[bool](tb, `!document.getElementById("pulse-survey").hidden`) {
		t.Error("the form is still shown after the thank-you")
	}
	tb.shot("thank-you")
	reqs := tb.requested()
	if !containsPrefix(reqs, "POST "+d.srv.URL+"/api/v1/survey/issue") || !containsPrefix(reqs, "POST "+d.srv.URL+"/api/v1/survey/ballots") {
		t.Errorf("the page did not issue a token and send a ballot: %v", reqs)
	}
	v, err := d.srv.svc.Rounds.SurveyBySecret(context.Background(), d.secret)
	if err != nil {
		t.Fatal(err)
	}
	var box int64
	d.srv.db.Table("ballot_box").Where("round_id = ?", v.Round.ID).Count(&box)
	if box != 1 {
		t.Errorf("ballot box of round %d holds %d ballots, want 1", v.Round.ID, box)
	}
	// Chromium sealed it (the server opened it to validate it): only ciphertext is stored.
	var row survey.BoxBallot
	d.srv.db.Where("round_id = ?", v.Round.ID).First(&row)
	if len(row.Payload) != survey.SealedBallotLen || len(row.Token) == 0 || bytes.Contains(row.Payload, []byte(comment)) {
		t.Errorf("the box row is not a sealed ballot: %d bytes, token %d bytes", len(row.Payload), len(row.Token))
	}

	// Reopening the link: already answered.
	tb.navigate(link)
	tb.waitFor("the already-answered message", `!document.getElementById("already-answered").hidden`)
	if eval[bool](tb, `!document.getElementById("pulse-survey").hidden`) {
		t.Error("reopened link: the form is shown")
	}
	tb.shot("reopened")
	checkAxe(tb, "survey: already answered")
	// The skip link shows when focused and moves focus to the content.
	tb.key(kb.Tab)
	if s := focused(tb); !strings.Contains(s.Class, "skip-link") || len(focusVisibleProblems([]focusStop{s})) > 0 {
		t.Errorf("first Tab: %s, %v", s, focusVisibleProblems([]focusStop{s}))
	}
	tb.key(kb.Enter)
	tb.waitFor("focus on main after the skip link", `document.activeElement.id === "main"`)

	// Another browser (fresh cookies and storage) with the same link.
	other := newTab(t, "employee-other-browser", phone)
	other.navigate(link)
	other.waitFor("the already-answered message", `!document.getElementById("already-answered").hidden`)
	if eval[bool](other, `!document.getElementById("pulse-survey").hidden`) {
		t.Error("second browser: the form is shown")
	}
	other.shot("already-answered")
	// Even with the form forced open, the server refuses a second token.
	other.allow("console", "/api/v1/survey/issue") // the refused request's console line
	eval[bool](other, `(() => {
		const f = document.getElementById("pulse-survey");
		f.hidden = false;
		f.querySelectorAll("fieldset[data-question-id]").forEach((fs) => { fs.querySelector("input[value='3']").checked = true; });
		f.requestSubmit();
		return true;
	})()`)
	other.waitFor("the refusal", `document.getElementById("survey-status").classList.contains("alert-error")`)
	msg := eval[string](other, `document.getElementById("survey-status").textContent`)
	t.Logf("second browser, forced form: %q", msg)
	other.shot("refused")
	if containsPrefix(other.requested(), "POST "+d.srv.URL+"/api/v1/survey/ballots") {
		t.Error("the second browser sent a ballot")
	}
	d.srv.db.Table("ballot_box").Where("round_id = ?", v.Round.ID).Count(&box)
	if box != 1 {
		t.Errorf("after the second browser, the ballot box holds %d ballots, want 1", box)
	}
}

// doctoredManifest: a server that lists the employee's unit with fewer than k invitees (as
// one handing out a personal key would) is refused by the page, which obtains no token.
func (d *demoEnv) doctoredManifest(t *testing.T) {
	ctx := context.Background()
	svc := d.srv.svc
	open := openRound(t, svc)
	links, err := svc.Rounds.Links(ctx, open)
	if err != nil {
		t.Fatal(err)
	}
	var secret string
	var unit uint
	for _, l := range links {
		v, err := svc.Rounds.SurveyBySecret(ctx, l.Secret)
		if err != nil {
			t.Fatal(err)
		}
		if !v.TokenIssued {
			secret, unit = l.Secret, v.UnitID
			break
		}
	}
	if secret == "" {
		t.Skip("every invitee of the open round already has a token")
	}
	var teams []survey.RoundTeam
	d.srv.db.Where("round_id = ? AND unit_id = ?", open, unit).Find(&teams)
	if err := d.srv.db.Model(&survey.RoundTeam{}).Where("round_id = ? AND unit_id = ?", open, unit).Update("invited", 1).Error; err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, rt := range teams {
			d.srv.db.Model(&survey.RoundTeam{}).Where("round_id = ? AND team_id = ?", open, rt.TeamID).Update("invited", rt.Invited)
		}
	}()
	tb := newTab(t, "doctored-manifest", phone)
	tb.navigate(d.srv.URL + "/s/" + secret)
	tb.waitFor("the refusal", `!document.getElementById("survey-refused").hidden`)
	msg := eval[string](tb, `document.getElementById("survey-refused-reason").textContent`)
	t.Logf("doctored manifest: %q", msg)
	if !strings.Contains(msg, "does not pool your answers") {
		t.Errorf("refusal %q does not say why", msg)
	}
	if eval[bool](tb, `!document.getElementById("pulse-survey").hidden`) {
		t.Error("the form is shown under a doctored manifest")
	}
	tb.shot("doctored-manifest")
	checkAxe(tb, "survey: doctored manifest")
	if containsPrefix(tb.requested(), "POST "+d.srv.URL+"/api/v1/survey/issue") {
		t.Error("the page asked for a token under a doctored manifest")
	}
	if v, err := svc.Rounds.SurveyBySecret(ctx, secret); err != nil || v.TokenIssued {
		t.Errorf("token issued under a doctored manifest: %v", err)
	}
}

// leader signs in, reads the organisation's report, switches units and
// exports CSV.
func (d *demoEnv) leader(t *testing.T) {
	tb := newTab(t, "leader", desktop)
	tb.navigate(d.srv.URL + "/login")
	tb.shot("login")
	checkAxe(tb, "login")
	idrefProblemsFail(tb, "login")

	// A wrong password first: the error must be announced and labelled.
	tb.allow("console", "status of 401")
	tb.do(chromedp.SendKeys(chromedp.ID("email"), "ceo@"+demo.Domain), chromedp.SendKeys(chromedp.ID("password"), "not the password"))
	if resp := tb.navigation(chromedp.KeyEvent(kb.Enter)); resp == nil || resp.Status != 401 {
		t.Errorf("wrong password: status %v, want 401", statusOf(resp))
	}
	tb.shot("login-error")
	checkAxe(tb, "login: wrong password")
	idrefProblemsFail(tb, "login: wrong password")

	acc := d.accounts["ceo@"+demo.Domain]
	signIn(tb, d.srv.URL, acc.Email, acc.Password)
	tb.navigate(d.srv.URL + "/dashboard") // redirects to the first unit's report
	if !regexp.MustCompile(`/reports/\d+$`).MatchString(tb.url()) {
		t.Fatalf("the dashboard led to %s, want a report", tb.url())
	}
	root := tb.url()
	reportChecks(tb, "report: organisation", 2)

	units := eval[[]struct {
		Value, Text string
	}](tb, `Array.from(document.querySelectorAll("#unit option"), (o) => ({Value: o.value, Text: o.textContent.trim()}))`)
	t.Logf("units in the picker: %v", units)
	pick := func(prefix string) string {
		for _, u := range units {
			if strings.HasPrefix(u.Text, prefix) {
				return u.Value
			}
		}
		t.Fatalf("no unit %q in the picker: %v", prefix, units)
		return ""
	}

	// Switch to Engineering with the picker: Site Reliability (3 people)
	// is below the minimum group size and counted in Engineering.
	tb.do(chromedp.SetValue(chromedp.ID("unit"), pick("Engineering")))
	tb.navigation(chromedp.Click(chromedp.CSS("#unit-picker button")))
	if !strings.HasSuffix(tb.url(), "/reports/"+pick("Engineering")) {
		t.Errorf("the picker led to %s", tb.url())
	}
	body := eval[string](tb, `document.querySelector("main").innerText`)
	if !strings.Contains(body, "Includes Engineering/Site Reliability") {
		t.Errorf("Engineering's report does not say it includes Site Reliability:\n%s", shorten(body))
	}
	reportChecks(tb, "report: department", 2)

	// Research often has fewer than 5 respondents, and a unit can also be
	// hidden so that it cannot be worked out from others. A suppressed unit
	// is marked in the picker and its page says why no results are shown.
	suppressed := func(text string) bool {
		return strings.Contains(text, "not shown") || strings.Contains(text, "fewer than")
	}
	visited := 0
	for _, u := range units {
		research := strings.HasSuffix(u.Text, "/Research") || strings.Contains(u.Text, "/Research ")
		if !research && (!suppressed(u.Text) || visited > 0) {
			continue
		}
		tb.do(chromedp.SetValue(chromedp.ID("unit"), u.Value))
		tb.navigation(chromedp.Click(chromedp.CSS("#unit-picker button")))
		body := eval[string](tb, `document.querySelector("main").innerText`)
		t.Logf("unit %q: suppressed in the latest round: %v", u.Text, suppressed(u.Text))
		if suppressed(u.Text) {
			visited++
			if !strings.Contains(body, "No result for this group in the latest round") {
				t.Errorf("%q is suppressed but its page does not say so:\n%s", u.Text, shorten(body))
			}
			reportChecks(tb, "report: suppressed team", 1)
		} else {
			reportChecks(tb, "report: team (Research)", 1)
		}
	}
	if visited == 0 {
		t.Log("no unit is suppressed in the latest round of this seed")
	}

	// CSV export of the organisation's report, as the link serves it.
	tb.navigate(root)
	exp := eval[struct {
		Status            int
		Type, Disposition string
		Body              string
		Download          bool
	}](tb, `(async () => {
		const a = document.querySelector('a[href$="/export.csv"]');
		const r = await fetch(a.href);
		return {Status: r.status, Type: r.headers.get("content-type") || "", Disposition: r.headers.get("content-disposition") || "",
			Body: await r.text(), Download: a.hasAttribute("download")};
	})()`)
	if exp.Status != 200 || exp.Type != "text/csv; charset=utf-8" || !strings.HasPrefix(exp.Disposition, "attachment;") || !exp.Download {
		t.Errorf("CSV export: status %d, type %q, disposition %q, download attribute %v", exp.Status, exp.Type, exp.Disposition, exp.Download)
	}
	rows, err := csv.NewReader(strings.NewReader(exp.Body)).ReadAll()
	if err != nil {
		t.Fatalf("CSV export does not parse: %v", err)
	}
	trend := 0
	for _, r := range rows {
		if r[0] == "trend" {
			trend++
		}
	}
	if len(rows) < 2 || rows[0][0] != "section" || len(rows[0]) != 14 || trend < demo.HistoryRounds {
		t.Errorf("CSV export: %d rows, header %v, %d trend rows (want at least %d)", len(rows), rows[0], trend, demo.HistoryRounds)
	}
	t.Logf("CSV export: %d rows of %d columns, %d trend rows", len(rows), len(rows[0]), trend)

	// On a phone: the organisation's, a department's and a team's report,
	// with no table wider than its box (nothing cut off at 390 px).
	ph := newTab(t, "leader-phone", phone)
	signIn(ph, d.srv.URL, acc.Email, acc.Password)
	for _, u := range []struct{ label, url string }{
		{"organisation", root},
		{"department", d.srv.URL + "/reports/" + pick("Engineering")},
		{"team", d.srv.URL + "/reports/" + pick("Product & Design/Research")},
	} {
		ph.navigate(u.url)
		cut := eval[[]string](ph, `Array.from(document.querySelectorAll(".table-stack"),
			(t) => t.scrollWidth > t.parentElement.clientWidth + 1 ? t.querySelector("caption")?.textContent || "table" : "").filter(Boolean)`)
		if len(cut) > 0 {
			t.Errorf("phone, %s report: tables wider than the screen: %q", u.label, cut)
		}
		if w := eval[[]int](ph, `[document.documentElement.scrollWidth, innerWidth]`); w[0] > w[1] {
			t.Errorf("phone, %s report: the page scrolls sideways (%d px in %d)", u.label, w[0], w[1])
		}
		reportChecks(ph, "report on a phone: "+u.label, 1)
	}
}

// adminPages are the admin pages that get the page checks when they exist
// (several are being built; a 404 is logged, not failed).
var adminPages = []string{"/admin/teams", "/admin/people", "/admin/leaders", "/admin/programs", "/admin/rounds",
	"/admin/roster", "/admin/audit", "/admin/tokens", "/admin/comments"}

// admin checks the admin pages, then closes the demo's open round and
// launches and closes another from the admin pages; each release shows in
// the report.
func (d *demoEnv) admin(t *testing.T) {
	ctx := context.Background()
	svc := d.srv.svc
	tb := newTab(t, "admin", desktop)
	acc := d.accounts[demo.AdminEmail]
	signIn(tb, d.srv.URL, acc.Email, acc.Password)
	if !strings.HasSuffix(tb.url(), "/admin") {
		t.Fatalf("the admin landed on %s", tb.url())
	}
	tb.shot("admin")
	checkAxe(tb, "admin")
	idrefProblemsFail(tb, "admin")
	for _, p := range adminPages {
		if resp := tb.navigate(d.srv.URL + p); resp == nil || resp.Status != 200 {
			tb.allow("console", "(Not Found) "+d.srv.URL+p)
			t.Logf("%s: status %v, not checked", p, statusOf(resp))
			continue
		}
		tb.shot(slug(p))
		checkAxe(tb, "admin: "+strings.TrimPrefix(p, "/admin/"))
		idrefProblemsFail(tb, "admin: "+strings.TrimPrefix(p, "/admin/"))
	}

	// Where the round buttons are: the rounds page, or the overview.
	roundsPage := d.srv.URL + "/admin/rounds"
	if resp := tb.navigate(roundsPage); resp == nil || resp.Status != 200 {
		roundsPage = d.srv.URL + "/admin"
	}
	clickForm := func(action string) {
		t.Helper()
		tb.navigate(roundsPage)
		sel := fmt.Sprintf(`form[action%s] button[type=submit]`, action)
		if !eval[bool](tb, fmt.Sprintf(`!!document.querySelector(%q)`, sel)) {
			tb.shot("missing-button")
			t.Fatalf("no %s on %s", sel, roundsPage)
		}
		// Close asks for a ticked confirmation first.
		confirm := fmt.Sprintf(`form[action%s] input[name=confirm]`, action)
		if eval[bool](tb, fmt.Sprintf(`!!document.querySelector(%q)`, confirm)) {
			tb.do(chromedp.Click(chromedp.CSS(confirm)))
		}
		tb.navigation(chromedp.Click(chromedp.CSS(sel)))
	}

	tb.navigate(d.srv.URL + "/dashboard")
	root := tb.url()
	rows0, label0 := trendRows(tb), latestLabel(tb)
	t.Logf("organisation report before: %d rounds in the trend, latest %q", rows0, label0)

	// 1. Close the demo's open round (answered by most people first).
	open := openRound(t, svc)
	t.Logf("round %d: %d ballots submitted in Go before closing", open, answerOpenRound(t, svc, open))
	clickForm(fmt.Sprintf(`="/admin/rounds/%d/close"`, open))
	if r, err := svc.Rounds.Round(ctx, open); err != nil || r.Status != survey.RoundClosed {
		t.Fatalf("round %d after Close now: %+v, %v", open, r, err)
	}
	tb.navigate(roundsPage)
	if eval[bool](tb, fmt.Sprintf(`!!document.querySelector('form[action="/admin/rounds/%d/close"]')`, open)) {
		t.Error("the closed round still has a Close button")
	}
	tb.shot("closed")

	tb.navigate(root)
	rows1, label1 := trendRows(tb), latestLabel(tb)
	today := time.Now().UTC().Format("2006-01-02")
	if rows1 != rows0+1 || label1 != "closed "+today || label1 == label0 {
		t.Errorf("after closing: %d rounds in the trend (want %d), latest %q (want %q, was %q)", rows1, rows0+1, label1, "closed "+today, label0)
	}
	reportChecks(tb, "report: after a release", 2)

	// 2. Launch a round from the admin page, answer it, close it.
	clickForm(`$="/launch"`)
	launched := openRound(t, svc)
	if launched == open {
		t.Fatal("no new round was launched")
	}
	tb.navigate(roundsPage)
	tb.shot("launched")
	checkAxe(tb, "admin: rounds, one open")
	t.Logf("round %d: %d ballots submitted in Go", launched, answerOpenRound(t, svc, launched))
	clickForm(fmt.Sprintf(`="/admin/rounds/%d/close"`, launched))
	tb.navigate(root)
	if rows2 := trendRows(tb); rows2 != rows1+1 {
		t.Errorf("after the launched round closed: %d rounds in the trend, want %d", rows2, rows1+1)
	}
	tb.shot("second-release")
}

// reportChecks runs the checks every report page gets.
func reportChecks(tb *tab, label string, minCharts int) {
	tb.t.Helper()
	charts, problems := chartProblems(tb, minCharts, 10*time.Second)
	for _, p := range problems {
		tb.t.Errorf("%s: %s", label, p)
	}
	for _, c := range charts {
		tb.t.Logf("%s: chart %q drew %d of %d pixels on %d canvas(es)", label, c.Label, c.Painted, c.Total, c.Canvases)
	}
	tb.shot(slug(label))
	checkAxe(tb, label)
	idrefProblemsFail(tb, label)
}

func signIn(tb *tab, base, email, password string) {
	tb.t.Helper()
	tb.navigate(base + "/login")
	tb.do(chromedp.SendKeys(chromedp.ID("email"), email), chromedp.SendKeys(chromedp.ID("password"), password))
	if resp := tb.navigation(chromedp.KeyEvent(kb.Enter)); resp == nil || resp.Status != 200 {
		tb.t.Fatalf("sign in as %s: status %v on %s", email, statusOf(resp), tb.url())
	}
}

func openRound(t *testing.T, svc *survey.Services) uint {
	t.Helper()
	rs, err := svc.Rounds.Rounds(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.Status == survey.RoundOpen {
			return r.ID
		}
	}
	t.Fatal("no open round")
	return 0
}

func trendRows(tb *tab) int {
	return eval[int](tb, `document.querySelectorAll('section[aria-labelledby="h-trend"] tbody tr').length`)
}

func latestLabel(tb *tab) string {
	return eval[string](tb, `document.querySelector("#h-summary .muted")?.textContent.trim() || ""`)
}

// darkAxe runs axe again with the dark colour scheme.
func darkAxe(tb *tab, label string) {
	tb.t.Helper()
	setScheme := func(scheme string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			var features []*emulation.MediaFeature
			if scheme != "" {
				features = []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}
			}
			_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: features})
			return err
		})
	}
	tb.do(setScheme("dark"))
	defer tb.do(setScheme(""))
	tb.shot(slug(label))
	checkAxe(tb, label)
}

// idrefJS lists ARIA and label references to ids that are not in the page.
const idrefJS = `(() => {
	const out = [];
	for (const attr of ["aria-describedby", "aria-labelledby", "aria-controls", "aria-errormessage"]) {
		for (const el of document.querySelectorAll("[" + attr + "]")) {
			for (const id of el.getAttribute(attr).split(/\s+/).filter(Boolean)) {
				if (!document.getElementById(id)) out.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + " " + attr + '="' + id + '": no element has that id');
			}
		}
	}
	for (const l of document.querySelectorAll("label[for]")) {
		if (!document.getElementById(l.htmlFor)) out.push('label for="' + l.htmlFor + '": no element has that id');
	}
	return out;
})()`

// idrefProblemsFail fails on references to missing ids (screen readers then
// read nothing for the reference).
func idrefProblemsFail(tb *tab, label string) {
	tb.t.Helper()
	for _, p := range eval[[]string](tb, idrefJS) {
		tb.t.Errorf("%s: %s", label, p)
	}
}

func containsPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

func statusOf(resp *network.Response) any {
	if resp == nil {
		return "no response"
	}
	return resp.Status
}

var nonWord = regexp.MustCompile(`[^a-z0-9]+`)

func slug(s string) string {
	return strings.Trim(nonWord.ReplaceAllString(strings.ToLower(s), "-"), "-")
}
