package e2e

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/pulse-survey/pulse/survey"
)

// TestSetupPage creates the first admin of a new organisation through the
// one-time setup link, as after a fresh install.
func TestSetupPage(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	srv := startPulse(t)

	// The controls are served with Pulse's own policy.
	resp, err := http.Get(srv.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Content-Security-Policy"); got != controlCSP {
		t.Errorf("Pulse's Content-Security-Policy changed; update controlCSP in controls_test.go:\n got %s\nwant %s", got, controlCSP)
	}

	token, err := srv.svc.Accounts.CreateSetupLink(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	tb := newTab(t, "setup", desktop)
	tb.navigate(srv.URL + "/setup/" + token)
	tb.shot("setup")
	checkAxe(tb, "setup: first admin")
	idrefProblemsFail(tb, "setup: first admin")

	// Sent empty: the errors are announced and tied to their fields. The
	// 422 status is right, and the browser logs it.
	tb.allow("console", "status of 422")
	if resp := tb.navigation(chromedp.Click(chromedp.CSS(`main button[type=submit]`))); resp == nil || resp.Status != http.StatusUnprocessableEntity {
		t.Errorf("empty setup form: status %v, want 422", statusOf(resp))
	}
	tb.shot("setup-errors")
	checkAxe(tb, "setup: with errors")
	idrefProblemsFail(tb, "setup: with errors")

	tb.do(
		chromedp.SetValue(chromedp.ID("org_name"), "Acme Test"),
		chromedp.SetValue(chromedp.ID("time_zone"), "Europe/Berlin"),
		chromedp.SetValue(chromedp.ID("min_group_size"), "5"),
		chromedp.SetValue(chromedp.ID("name"), "Alex Admin"),
		chromedp.SetValue(chromedp.ID("email"), "alex@acme.example"),
		chromedp.SetValue(chromedp.ID("password"), "a long enough passphrase"),
	)
	tb.navigation(chromedp.Click(chromedp.CSS(`main button[type=submit]`)))
	if !strings.HasSuffix(tb.url(), "/admin") {
		t.Fatalf("after setup the browser is on %s, want /admin", tb.url())
	}
	tb.shot("admin-new-organisation")
	checkAxe(tb, "admin: new organisation")
	idrefProblemsFail(tb, "admin: new organisation")
}

// TestAdminRosterImport imports a roster from the admin page: a file with
// errors changes nothing, the fixed file is previewed, then applied.
func TestAdminRosterImport(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	ctx := context.Background()
	srv := startPulse(t)
	token, err := srv.svc.Accounts.CreateSetupLink(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const email, password = "admin@acme.example", "a long enough passphrase"
	if _, err := srv.svc.Accounts.Setup(ctx, &survey.SettingsInput{Name: "Acme", TimeZone: "UTC", MinGroupSize: 5},
		survey.AcceptInput{Token: token, Email: email, Name: "Alex Admin", Password: password}); err != nil {
		t.Fatal(err)
	}
	tb := newTab(t, "roster", desktop)
	signIn(tb, srv.URL, email, password)
	if resp := tb.navigate(srv.URL + "/admin/roster"); resp == nil || resp.Status != http.StatusOK {
		tb.allow("console", "/admin/roster")
		t.Skipf("no roster import page yet (/admin/roster: status %v)", statusOf(resp))
	}
	tb.shot("roster")
	checkAxe(tb, "admin: roster import")
	idrefProblemsFail(tb, "admin: roster import")

	dir := t.TempDir()
	upload := func(name, body string) *network.Response {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		tb.do(chromedp.SetUploadFiles(chromedp.ID("roster-file"), []string{p}))
		return tb.navigation(chromedp.Click(chromedp.CSS(`form[action="/admin/roster/preview"] button[type=submit]`)))
	}
	people := func() int {
		ps, err := srv.svc.Org.People(ctx, nil, true)
		if err != nil {
			t.Fatal(err)
		}
		return len(ps)
	}

	// A file with errors: the problems are listed by line, nothing changes.
	tb.allow("console", "status of 422")
	resp := upload("roster-with-errors.csv", "email,name,team\n"+
		"ada@acme.example,Ada Lovelace,Engineering/Platform\n"+
		"ada@acme.example,Ada Again,Engineering/Platform\n"+
		"grace@acme.example,,Engineering/Platform\n"+
		",No Email,Engineering\n")
	if resp == nil || resp.Status != http.StatusUnprocessableEntity {
		t.Errorf("roster with errors: status %v, want 422", statusOf(resp))
	}
	lines := eval[int](tb, `document.querySelectorAll('section[aria-labelledby="h-errors"] tbody tr').length`)
	if lines < 3 || !eval[bool](tb, `!!document.querySelector('section[aria-labelledby="h-errors"] [role=alert]')`) {
		t.Errorf("roster with errors: %d problem lines listed, want at least 3, with an alert", lines)
	}
	if n := people(); n != 0 {
		t.Errorf("a roster with errors changed the people: %d", n)
	}
	tb.shot("roster-errors")
	checkAxe(tb, "admin: roster with errors")
	idrefProblemsFail(tb, "admin: roster with errors")

	// The fixed file: a preview, then the changes applied.
	upload("roster.csv", "email,name,team,leader\n"+
		"ada@acme.example,Ada Lovelace,Engineering/Platform,yes\n"+
		"grace@acme.example,Grace Hopper,Engineering/Platform,no\n"+
		"linus@acme.example,\"Torvalds, Linus\",Engineering/Kernel,\n"+
		"ken@acme.example,Ken Thompson,Engineering/Kernel,\n"+
		"barbara@acme.example,Barbara Liskov,Research,yes\n"+
		"edsger@acme.example,Edsger Dijkstra,Research,\n")
	if !eval[bool](tb, `!!document.querySelector('form[action="/admin/roster/apply"] button[type=submit]')`) {
		tb.shot("roster-no-apply")
		t.Fatal("the preview of a valid roster has no Apply button")
	}
	if n := people(); n != 0 {
		t.Errorf("a preview changed the people: %d", n)
	}
	tb.shot("roster-preview")
	checkAxe(tb, "admin: roster preview")
	idrefProblemsFail(tb, "admin: roster preview")
	tb.navigation(chromedp.Click(chromedp.CSS(`form[action="/admin/roster/apply"] button[type=submit]`)))
	if n := people(); n != 6 {
		t.Errorf("after applying the roster: %d active people, want 6", n)
	}
	if !strings.Contains(eval[string](tb, `document.querySelector("main").innerText`), "was imported") {
		t.Error("the applied roster page does not say it was imported")
	}
	tb.shot("roster-applied")
	checkAxe(tb, "admin: roster applied")
	idrefProblemsFail(tb, "admin: roster applied")
}
