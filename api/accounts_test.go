package api_test

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pulse-survey/pulse/api"
	"github.com/pulse-survey/pulse/survey"
)

// all returns what the mailer accepted so far.
func (m *recordingMailer) all() []survey.Email {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]survey.Email(nil), m.sent...)
}

var (
	resetLinkRE = regexp.MustCompile(`http://pulse\.test/password/reset/[A-Za-z0-9_-]{43}`)
	setupLinkRE = regexp.MustCompile(`http://pulse\.test/setup/[A-Za-z0-9_-]{32}`)
)

func onlyLink(t *testing.T, re *regexp.Regexp, body string) string {
	t.Helper()
	all := re.FindAllString(html.UnescapeString(body), -1)
	if len(all) == 0 {
		t.Fatalf("no link matching %s in:\n%s", re, body)
	}
	for _, l := range all[1:] {
		if l != all[0] {
			t.Fatalf("several different links: %v", all)
		}
	}
	return all[0]
}

func linkPath(link string) string { return strings.TrimPrefix(link, baseURL) }

func decodeAccount(t *testing.T, r *response) accountJSON {
	t.Helper()
	wantStatus(t, r, http.StatusOK)
	var a accountJSON
	if err := json.Unmarshal([]byte(r.Body), &a); err != nil {
		t.Fatalf("account body %q: %v", r.Body, err)
	}
	return a
}

type accountJSON struct {
	ID     uint   `json:"id"`
	Email  string `json:"email"`
	Active bool   `json:"active"`
	Scope  []uint `json:"scope"`
}

func TestDeactivateEndsSessionsAndTokensAtOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	o := buildOrg(h)
	h.admin("boss@acme.example")
	ops := h.admin("ops@acme.example")
	lead := h.leader("lead@acme.example", o.eng)
	_, opsSecret, err := h.svc.APITokens().Create(h.ctx, survey.APITokenInput{Name: "ops bot", Role: survey.RoleAdmin, CreatedBy: ops.ID})
	if err != nil {
		t.Fatal(err)
	}
	boss, opsC, leadC := h.client(), h.client(), h.client()
	boss.login("boss@acme.example")
	opsC.login("ops@acme.example")
	leadC.login("lead@acme.example")
	wantStatus(t, opsC.get("/admin"), http.StatusOK)
	wantStatus(t, h.bearer(opsSecret).get("/api/v1/admin/teams"), http.StatusOK)

	// Deactivate by the page: the next request of each session is refused.
	page := fmt.Sprintf("/admin/leaders/%d", ops.ID)
	wantStatus(t, boss.get(page), http.StatusOK)
	wantRedirect(t, boss.submit(page, page+"/deactivate", nil), page+"?saved=deactivated")
	wantRedirect(t, opsC.get("/admin"), "/login?next=%2Fadmin")
	wantAPIError(t, h.bearer(opsSecret).get("/api/v1/admin/teams"), http.StatusUnauthorized, "unauthorized")
	opsC.get("/login")
	wantStatus(t, opsC.submit("/login", "/login", url.Values{"email": {"ops@acme.example"}, "password": {password}}), http.StatusUnauthorized)
	wantContains(t, boss.get(page+"?saved=deactivated").Body, "deactivated", "Reactivate")

	// Deactivate a leader by the API (session + CSRF header).
	boss.get("/admin")
	a := decodeAccount(t, boss.tokSend(http.MethodPost, fmt.Sprintf("/api/v1/admin/leaders/%d/deactivate", lead.ID), "", true))
	if a.Active {
		t.Fatal("API answered active after deactivation")
	}
	wantAPIError(t, leadC.get("/api/v1/me"), http.StatusUnauthorized, "unauthenticated")

	// Reactivate: signs in again; the old token stays revoked.
	a = decodeAccount(t, boss.tokSend(http.MethodPost, fmt.Sprintf("/api/v1/admin/leaders/%d/reactivate", ops.ID), "", true))
	if !a.Active {
		t.Fatal("not active after reactivation")
	}
	opsC.login("ops@acme.example")
	wantAPIError(t, h.bearer(opsSecret).get("/api/v1/admin/teams"), http.StatusUnauthorized, "unauthorized")

	// Refusals: your own account; nothing half-done.
	me := decodeAccount(t, boss.get("/api/v1/me"))
	wantAPIError(t, boss.tokSend(http.MethodPost, fmt.Sprintf("/api/v1/admin/leaders/%d/deactivate", me.ID), "", true), http.StatusConflict, "conflict")
	r := boss.submit("/admin", fmt.Sprintf("/admin/leaders/%d/deactivate", me.ID), nil)
	wantStatus(t, r, http.StatusConflict)
	wantContains(t, r.Body, "cannot deactivate your own account")
	wantAPIError(t, boss.tokSend(http.MethodPost, "/api/v1/admin/leaders/9999/deactivate", "", true), http.StatusNotFound, "not_found")
	wantStatus(t, boss.get("/admin"), http.StatusOK)
}

func TestChangeLeaderTeams(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	o := buildOrg(h)
	h.admin("admin@acme.example")
	lead := h.leader("lead@acme.example", o.eng)
	admin, leadC := h.client(), h.client()
	admin.login("admin@acme.example")
	leadC.login("lead@acme.example")
	if got := strings.Join(teamNames(t, leadC.get("/api/v1/org/teams")), ","); got != "Apps,Engineering,Platform" {
		t.Fatalf("before: %s", got)
	}

	admin.get("/admin")
	path := fmt.Sprintf("/api/v1/admin/leaders/%d/teams", lead.ID)
	a := decodeAccount(t, admin.tokSend(http.MethodPut, path, fmt.Sprintf(`{"team_ids":[%d]}`, o.sales), true))
	if len(a.Scope) != 1 || a.Scope[0] != o.sales {
		t.Fatalf("scope %v", a.Scope)
	}
	// The leader's existing session sees the new scope at once.
	if got := strings.Join(teamNames(t, leadC.get("/api/v1/org/teams")), ","); got != "EMEA,Sales" {
		t.Fatalf("after: %s", got)
	}
	wantAPIError(t, admin.tokSend(http.MethodPut, path, `{"team_ids":[]}`, true), http.StatusUnprocessableEntity, "invalid")
	wantAPIError(t, admin.tokSend(http.MethodPut, path, `{"team_ids":[99999]}`, true), http.StatusUnprocessableEntity, "invalid")
	wantAPIError(t, admin.tokSend(http.MethodPut, path, `{"teams":[1]}`, true), http.StatusBadRequest, "bad_request")

	// The page form.
	page := fmt.Sprintf("/admin/leaders/%d", lead.ID)
	wantContains(t, admin.get(page).Body, "Save teams")
	wantRedirect(t, admin.submit(page, page+"/teams", url.Values{"team_ids": {fmt.Sprint(o.platform), fmt.Sprint(o.emea)}}), page+"?saved=teams")
	if got := strings.Join(teamNames(t, leadC.get("/api/v1/org/teams")), ","); got != "EMEA,Platform" {
		t.Fatalf("after the form: %s", got)
	}
	r := admin.submit(page, page+"/teams", nil)
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantContains(t, r.Body, "choose at least one team")
	if got := strings.Join(teamNames(t, leadC.get("/api/v1/org/teams")), ","); got != "EMEA,Platform" {
		t.Fatalf("a refused form changed the scope: %s", got)
	}
}

func TestInvitationResendAndRevoke(t *testing.T) {
	t.Parallel()
	mailer := &recordingMailer{}
	h := newHarness(t, func(d *api.Deps) { d.Mailer = mailer })
	o := buildOrg(h)
	h.admin("admin@acme.example")
	admin := h.client()
	admin.login("admin@acme.example")

	r := admin.submit("/admin/leaders", "/admin/leaders/invite", url.Values{"email": {"new@acme.example"}, "role": {"leader"},
		"team_ids": {fmt.Sprint(o.eng)}})
	wantStatus(t, r, http.StatusCreated)
	first := onlyLink(t, setupLinkRE, r.Body)
	wantContains(t, r.Body, "Pulse emailed this link to new@acme.example")
	if sent := mailer.all(); len(sent) != 1 || sent[0].To != "new@acme.example" || !strings.Contains(sent[0].Text, first) {
		t.Fatalf("invitation email: %+v", sent)
	}

	var list struct {
		Invites []struct {
			ID      uint   `json:"id"`
			Email   string `json:"email"`
			TeamIDs []uint `json:"team_ids"`
			Expired bool   `json:"expired"`
		} `json:"invites"`
	}
	lr := admin.get("/api/v1/admin/leaders/invites")
	wantStatus(t, lr, http.StatusOK)
	if err := json.Unmarshal([]byte(lr.Body), &list); err != nil || len(list.Invites) != 1 || list.Invites[0].Email != "new@acme.example" {
		t.Fatalf("invites %s: %v", lr.Body, err)
	}
	id := list.Invites[0].ID
	wantContains(t, admin.get("/admin/leaders").Body, "Pending invitations", "new@acme.example", "Send a new link")

	// Resend by the API: a new emailed link; the old one is dead.
	h.clock.Advance(survey.InviteLinkTTL + time.Hour)
	admin.login("admin@acme.example") // the session ended meanwhile
	rr := admin.tokSend(http.MethodPost, fmt.Sprintf("/api/v1/admin/leaders/invites/%d/resend", id), "", true)
	wantStatus(t, rr, http.StatusOK)
	var link struct {
		Link    string `json:"link"`
		Emailed bool   `json:"emailed"`
	}
	if err := json.Unmarshal([]byte(rr.Body), &link); err != nil || !link.Emailed || link.Link == first {
		t.Fatalf("resend: %s", rr.Body)
	}
	if sent := mailer.all(); len(sent) != 2 || !strings.Contains(sent[1].Text, link.Link) {
		t.Fatalf("resend email: %+v", sent)
	}
	anon := h.client()
	wantStatus(t, anon.get(linkPath(first)), http.StatusNotFound) // replaced: unknown now
	wantStatus(t, anon.get(linkPath(link.Link)), http.StatusOK)

	// Resend by the page, then revoke by the page: no link works.
	r = admin.submit("/admin/leaders", fmt.Sprintf("/admin/leaders/invites/%d/resend", id), nil)
	wantStatus(t, r, http.StatusOK)
	third := onlyLink(t, setupLinkRE, r.Body)
	wantRedirect(t, admin.submit("/admin/leaders", fmt.Sprintf("/admin/leaders/invites/%d/revoke", id), nil), "/admin/leaders?revoked=1")
	wantStatus(t, anon.get(linkPath(third)), http.StatusNotFound)
	wantAPIError(t, admin.tokSend(http.MethodDelete, fmt.Sprintf("/api/v1/admin/leaders/invites/%d", id), "", true), http.StatusNotFound, "not_found")
	wantNotContains(t, admin.get("/admin/leaders").Body, "Pending invitations")
}

func TestPasswordResetByAdminLink(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	o := buildOrg(h)
	h.admin("admin@acme.example")
	lead := h.leader("lead@acme.example", o.eng)
	admin, leadC := h.client(), h.client()
	admin.login("admin@acme.example")
	leadC.login("lead@acme.example")

	page := fmt.Sprintf("/admin/leaders/%d", lead.ID)
	r := admin.submit(page, page+"/password-reset", nil)
	wantStatus(t, r, http.StatusCreated)
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q on a page with a reset link", cc)
	}
	link := linkPath(onlyLink(t, resetLinkRE, r.Body))

	anon := h.client()
	form := anon.get(link)
	wantStatus(t, form, http.StatusOK)
	wantContains(t, form.Body, "lead@acme.example", "Choose a new password")
	const newPassword = "violet tram orbit"
	r = anon.submit(link, link, url.Values{"password": {newPassword}, "password_again": {newPassword + "x"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantContains(t, r.Body, "the two passwords differ")
	r = anon.submit(link, link, url.Values{"password": {"qwerty123456"}, "password_again": {"qwerty123456"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantContains(t, r.Body, "too common")
	wantRedirect(t, anon.submit(link, link, url.Values{"password": {newPassword}, "password_again": {newPassword}}), "/login?reset=1")
	wantContains(t, anon.get("/login?reset=1").Body, "Your password was changed")

	// The reset ended the leader's session; the new password works, the old does not; the link is spent.
	wantAPIError(t, leadC.get("/api/v1/me"), http.StatusUnauthorized, "unauthenticated")
	c := h.client()
	c.get("/login")
	wantStatus(t, c.submit("/login", "/login", url.Values{"email": {"lead@acme.example"}, "password": {password}}), http.StatusUnauthorized)
	wantRedirect(t, c.submit("/login", "/login", url.Values{"email": {"lead@acme.example"}, "password": {newPassword}}), "/dashboard")
	wantStatus(t, anon.get(link), http.StatusGone)
	wantStatus(t, anon.submit("/login", link, url.Values{"password": {"another fine phrase"}, "password_again": {"another fine phrase"}}), http.StatusGone)

	// The API link expires after 24 hours; API tokens cannot make one.
	admin.get("/admin")
	ar := admin.tokSend(http.MethodPost, fmt.Sprintf("/api/v1/admin/leaders/%d/password-reset", lead.ID), "", true)
	wantStatus(t, ar, http.StatusCreated)
	apiLink := linkPath(onlyLink(t, resetLinkRE, ar.Body))
	h.clock.Advance(survey.AdminResetTTL)
	wantStatus(t, anon.get(apiLink), http.StatusGone)
	_, secret, err := h.svc.APITokens().Create(h.ctx, survey.APITokenInput{Name: "bot", Role: survey.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	wantAPIError(t, h.bearer(secret).tokSend(http.MethodPost, fmt.Sprintf("/api/v1/admin/leaders/%d/password-reset", lead.ID), "", false),
		http.StatusForbidden, "forbidden")
}

func TestForgotPassword(t *testing.T) {
	t.Parallel()

	t.Run("email off", func(t *testing.T) {
		h := newHarness(t)
		h.initOrg("Acme")
		h.admin("admin@acme.example")
		c := h.client()
		wantContains(t, c.get("/login").Body, `href="/password/forgot"`)
		wantContains(t, c.get("/password/forgot").Body, "Ask one of your organisation")
		r := c.submit("/password/forgot", "/password/forgot", url.Values{"email": {"admin@acme.example"}})
		wantStatus(t, r, http.StatusOK)
		wantContains(t, r.Body, "Ask one of your organisation")
	})

	t.Run("email on", func(t *testing.T) {
		mailer := &recordingMailer{}
		h := newHarness(t, func(d *api.Deps) { d.Mailer = mailer })
		h.initOrg("Acme")
		h.admin("admin@acme.example")
		c := h.client()
		same := "If an active account uses that address"
		for _, addr := range []string{"nobody@acme.example", "not an address"} {
			r := c.submit("/password/forgot", "/password/forgot", url.Values{"email": {addr}})
			wantStatus(t, r, http.StatusOK)
			wantContains(t, r.Body, same)
		}
		if n := len(mailer.all()); n != 0 {
			t.Fatalf("%d emails for unknown addresses", n)
		}
		r := c.submit("/password/forgot", "/password/forgot", url.Values{"email": {"Admin@acme.example"}})
		wantStatus(t, r, http.StatusOK)
		wantContains(t, r.Body, same)
		sent := mailer.all()
		if len(sent) != 1 || sent[0].To != "admin@acme.example" {
			t.Fatalf("sent %+v", sent)
		}
		link := linkPath(onlyLink(t, resetLinkRE, sent[0].Text))
		wantRedirect(t, c.submit(link, link, url.Values{"password": {"violet tram orbit"}, "password_again": {"violet tram orbit"}}), "/login?reset=1")

		// One address cannot flood a mailbox.
		limited := false
		for i := 0; i < 10 && !limited; i++ {
			r := c.submit("/password/forgot", "/password/forgot", url.Values{"email": {"admin@acme.example"}})
			limited = r.StatusCode == http.StatusTooManyRequests
		}
		if !limited || len(mailer.all()) > 6 {
			t.Fatalf("limited %v after %d emails", limited, len(mailer.all()))
		}
	})
}

// TestAccountManagementAdminOnly: leaders (sessions and tokens) and
// strangers cannot use any account management route, and nothing changes.
func TestAccountManagementAdminOnly(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	o := buildOrg(h)
	victim := h.admin("admin@acme.example")
	h.leader("lead@acme.example", o.eng)
	if _, err := h.svc.Accounts.CreateInvite(h.ctx, survey.InviteInput{Email: "x@acme.example", Role: survey.RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	pending, _ := h.svc.Accounts.PendingInvites(h.ctx)
	_, leaderSecret, err := h.svc.APITokens().Create(h.ctx, survey.APITokenInput{Name: "lead", Role: survey.RoleLeader, TeamIDs: []uint{o.eng}})
	if err != nil {
		t.Fatal(err)
	}
	u, inv := victim.ID, pending[0].ID
	pages := []string{
		fmt.Sprintf("/admin/leaders/%d/deactivate", u), fmt.Sprintf("/admin/leaders/%d/teams", u),
		fmt.Sprintf("/admin/leaders/%d/password-reset", u), fmt.Sprintf("/admin/leaders/invites/%d/resend", inv),
		fmt.Sprintf("/admin/leaders/invites/%d/revoke", inv),
	}
	apis := [][2]string{
		{http.MethodGet, fmt.Sprintf("/api/v1/admin/leaders/%d", u)},
		{http.MethodPost, fmt.Sprintf("/api/v1/admin/leaders/%d/deactivate", u)},
		{http.MethodPost, fmt.Sprintf("/api/v1/admin/leaders/%d/reactivate", u)},
		{http.MethodPut, fmt.Sprintf("/api/v1/admin/leaders/%d/teams", u)},
		{http.MethodPost, fmt.Sprintf("/api/v1/admin/leaders/%d/password-reset", u)},
		{http.MethodGet, "/api/v1/admin/leaders/invites"},
		{http.MethodPost, fmt.Sprintf("/api/v1/admin/leaders/invites/%d/resend", inv)},
		{http.MethodDelete, fmt.Sprintf("/api/v1/admin/leaders/invites/%d", inv)},
	}
	leader := h.client()
	leader.login("lead@acme.example")
	leader.get("/dashboard")
	wantStatus(t, leader.get(fmt.Sprintf("/admin/leaders/%d", u)), http.StatusForbidden)
	for _, p := range pages {
		wantStatus(t, leader.submit("/dashboard", p, url.Values{"team_ids": {fmt.Sprint(o.root)}}), http.StatusForbidden)
	}
	bot := h.bearer(leaderSecret)
	anon := h.client()
	for _, a := range apis {
		body := ""
		if a[0] == http.MethodPut {
			body = fmt.Sprintf(`{"team_ids":[%d]}`, o.root)
		}
		wantAPIError(t, leader.tokSend(a[0], a[1], body, true), http.StatusForbidden, "forbidden")
		wantAPIError(t, bot.tokSend(a[0], a[1], body, false), http.StatusForbidden, "forbidden")
		if a[0] == http.MethodGet {
			wantAPIError(t, anon.get(a[1]), http.StatusUnauthorized, "unauthenticated")
		} else { // a stranger has no CSRF token either
			wantAPIError(t, anon.tokSend(a[0], a[1], body, false), http.StatusForbidden, "forbidden")
		}
	}
	if got, _ := h.svc.Accounts.User(h.ctx, u); !got.Active {
		t.Fatal("a refused request deactivated the admin")
	}
	if p, _ := h.svc.Accounts.PendingInvites(h.ctx); len(p) != 1 {
		t.Fatal("a refused request revoked the invitation")
	}
	if n := h.auditCount(); n != 0 {
		t.Fatalf("%d audit entries from refused requests", n)
	}
}
