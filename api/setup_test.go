package api_test

import (
	"net/http"
	"net/url"
	"regexp"
	"testing"

	"github.com/pulse-survey/pulse/survey"
)

func (h *harness) setupLink() string {
	h.t.Helper()
	tok, err := h.svc.Accounts.CreateSetupLink(h.ctx)
	if err != nil {
		h.t.Fatalf("setup link: %v", err)
	}
	return tok
}

func (h *harness) wantNothingSetUp() {
	h.t.Helper()
	init, err := h.svc.Org.Initialized(h.ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	needs, err := h.svc.Accounts.NeedsSetup(h.ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	if init || !needs {
		h.t.Fatalf("after a rejected setup: Org.Initialized=%v (want false), NeedsSetup=%v (want true)", init, needs)
	}
	var teams int64
	if err := h.db.Model(&survey.Team{}).Count(&teams).Error; err != nil {
		h.t.Fatal(err)
	}
	if teams != 0 {
		h.t.Fatalf("%d teams written by a rejected setup", teams)
	}
}

func TestSetupFlow(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tok := h.setupLink()
	c := h.client()

	page := c.get("/setup/" + tok)
	wantStatus(t, page, http.StatusOK)
	wantContains(t, page.Body, `name="org_name"`, `name="time_zone"`, `name="min_group_size"`,
		`name="name"`, `name="email"`, `name="password"`, "Set up Pulse")

	bad := url.Values{"org_name": {"Acme"}, "time_zone": {"Mars/Olympus"}, "min_group_size": {"2"},
		"name": {"Ada Admin"}, "email": {"ada@example.com"}, "password": {"tiny-pw"}}
	r := c.submit("/setup/"+tok, "/setup/"+tok, bad)
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantContains(t, r.Body, layoutMarker, `id="err-tz"`, "is not a known time zone", `id="err-k"`,
		"cannot be below 3", `id="err-pw"`, "at least 12 characters", `value="Acme"`, `value="ada@example.com"`)
	wantNotContains(t, r.Body, "tiny-pw")
	h.wantNothingSetUp()
	if c.cookie("pulse_session") != nil {
		t.Fatal("rejected setup signed the client in")
	}

	// A rejected form does not use up the link.
	wantStatus(t, c.get("/setup/"+tok), http.StatusOK)

	good := url.Values{"org_name": {"Acme"}, "time_zone": {"Europe/Berlin"}, "min_group_size": {"5"},
		"name": {"Ada Admin"}, "email": {"Ada@Example.com"}, "password": {password}}
	r = c.submit("/setup/"+tok, "/setup/"+tok, good)
	wantRedirect(t, r, "/admin")
	if ck := setCookieNamed(r, "pulse_session"); ck == nil || ck.Value == "" || !ck.HttpOnly {
		t.Fatalf("setup did not sign in: %v", r.Header.Values("Set-Cookie"))
	}
	admin := c.get("/admin")
	wantStatus(t, admin, http.StatusOK)
	wantContains(t, admin.Body, "Acme", "ada@example.com")

	st := h.settings()
	if st.Name != "Acme" || st.TimeZone != "Europe/Berlin" || st.MinGroupSize != 5 {
		t.Errorf("settings = %+v", st)
	}
	u, err := h.svc.Accounts.UserByEmail(h.ctx, "ada@example.com")
	if err != nil || u.Role != survey.RoleAdmin {
		t.Fatalf("admin account: %+v, %v", u, err)
	}

	// The link is single-use.
	other := h.client()
	r = other.get("/setup/" + tok)
	wantStatus(t, r, http.StatusGone)
	wantContains(t, r.Body, layoutMarker, "expired or was already used")
	good.Set("email", "eve@example.com")
	other.get("/login") // the error page has no form: take a CSRF token from one that has
	good.Set("_csrf", other.csrf)
	wantStatus(t, other.post("/setup/"+tok, good), http.StatusGone)
	if _, err := h.svc.Accounts.UserByEmail(h.ctx, "eve@example.com"); err == nil {
		t.Fatal("a used setup link created a second account")
	}

	// An unknown token is 404.
	r = other.get("/setup/not-a-token")
	wantStatus(t, r, http.StatusNotFound)
	wantContains(t, r.Body, layoutMarker)
}

func TestSetupExpiredLink(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tok := h.setupLink()
	h.clock.Advance(survey.SetupLinkTTL + 1)
	wantStatus(t, h.client().get("/setup/"+tok), http.StatusGone)
}

// fieldErrorRE finds a field error paragraph's id and text.
var fieldErrorRE = regexp.MustCompile(`<p class="field-error" id="([^"]+)">([^<]*)</p>`)

func fieldErrors(body string) map[string]string {
	out := map[string]string{}
	for _, m := range fieldErrorRE.FindAllStringSubmatch(body, -1) {
		out[m[1]] = m[2]
	}
	return out
}

// TestSetupNameErrorsGoToTheirOwnField: the organisation's name and the
// admin's own name are different inputs, each needs its own message.
func TestSetupNameErrorsGoToTheirOwnField(t *testing.T) {
	t.Parallel()

	t.Run("first admin, org name fine, own name empty", func(t *testing.T) {
		h := newHarness(t)
		tok := h.setupLink()
		c := h.client()
		r := c.submit("/setup/"+tok, "/setup/"+tok, url.Values{"org_name": {"Acme"}, "time_zone": {"UTC"},
			"min_group_size": {"5"}, "name": {""}, "email": {"ada@example.com"}, "password": {password}})
		wantStatus(t, r, http.StatusUnprocessableEntity)
		errs := fieldErrors(r.Body)
		if msg, ok := errs["err-org-name"]; ok {
			t.Errorf("the valid organisation name is flagged with %q (the admin's own name is what is missing)", msg)
		}
		wantContains(t, r.Body, "enter your name")
		h.wantNothingSetUp()
	})

	t.Run("first admin, both names empty", func(t *testing.T) {
		h := newHarness(t)
		tok := h.setupLink()
		c := h.client()
		r := c.submit("/setup/"+tok, "/setup/"+tok, url.Values{"org_name": {""}, "time_zone": {"UTC"},
			"min_group_size": {"5"}, "name": {""}, "email": {"ada@example.com"}, "password": {password}})
		wantStatus(t, r, http.StatusUnprocessableEntity)
		wantContains(t, r.Body, "enter the organisation", "enter your name")
		h.wantNothingSetUp()
	})

	t.Run("invited leader, own name empty", func(t *testing.T) {
		h := newHarness(t)
		root := h.initOrg("Acme")
		tok, err := h.svc.Accounts.CreateInvite(h.ctx, survey.InviteInput{Email: "lead@example.com", Role: survey.RoleLeader, TeamIDs: []uint{root}})
		if err != nil {
			t.Fatal(err)
		}
		c := h.client()
		page := c.get("/setup/" + tok)
		wantStatus(t, page, http.StatusOK)
		wantNotContains(t, page.Body, `name="org_name"`)
		wantContains(t, page.Body, `value="lead@example.com" readonly`)
		r := c.submit("/setup/"+tok, "/setup/"+tok, url.Values{"name": {""}, "password": {password}})
		wantStatus(t, r, http.StatusUnprocessableEntity)
		wantContains(t, r.Body, "enter your name")
	})
}

func TestSetupInvitedLeader(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	root := h.initOrg("Acme")
	eng := h.team(root, "Engineering")
	tok, err := h.svc.Accounts.CreateInvite(h.ctx, survey.InviteInput{Email: "lead@example.com", Role: survey.RoleLeader, TeamIDs: []uint{eng}})
	if err != nil {
		t.Fatal(err)
	}
	c := h.client()
	// The email is fixed by the invite: a different one in the form is ignored.
	r := c.submit("/setup/"+tok, "/setup/"+tok, url.Values{"name": {"Lea Lead"}, "email": {"mallory@example.com"}, "password": {password}})
	wantRedirect(t, r, "/dashboard")
	if _, err := h.svc.Accounts.UserByEmail(h.ctx, "mallory@example.com"); err == nil {
		t.Fatal("the invite's email was overridden by the form")
	}
	if got := teamNames(t, c.get("/api/v1/org/teams")); len(got) != 1 || got[0] != "Engineering" {
		t.Errorf("invited leader sees %v", got)
	}
	if st := h.settings(); st.Name != "Acme" {
		t.Errorf("settings changed by a leader setup: %+v", st)
	}
}
