package api_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
)

func TestCSRFLoginForm(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.initOrg("Acme")
	h.admin("admin@example.com")
	creds := url.Values{"email": {"admin@example.com"}, "password": {password}}

	t.Run("no token, no cookie", func(t *testing.T) {
		c := h.client()
		r := c.post("/login", creds)
		wantStatus(t, r, http.StatusForbidden)
		if c.cookie("pulse_session") != nil {
			t.Fatal("session created without CSRF token")
		}
	})
	t.Run("no token, with CSRF cookie", func(t *testing.T) {
		c := h.client()
		c.get("/login")
		if c.cookie("pulse_csrf") == nil {
			t.Fatal("login page set no pulse_csrf cookie")
		}
		wantStatus(t, c.post("/login", creds), http.StatusForbidden)
		if c.cookie("pulse_session") != nil {
			t.Fatal("session created without CSRF token")
		}
	})
	t.Run("wrong token", func(t *testing.T) {
		c := h.client()
		c.get("/login")
		f := url.Values{"_csrf": {"x" + c.csrf}}
		for k, v := range creds {
			f[k] = v
		}
		wantStatus(t, c.post("/login", f), http.StatusForbidden)
		if c.cookie("pulse_session") != nil {
			t.Fatal("session created with a wrong CSRF token")
		}
	})
	t.Run("token from another client", func(t *testing.T) {
		a, b := h.client(), h.client()
		a.get("/login")
		b.get("/login")
		f := url.Values{"_csrf": {a.csrf}}
		for k, v := range creds {
			f[k] = v
		}
		wantStatus(t, b.post("/login", f), http.StatusForbidden)
	})
	t.Run("cross-site without token", func(t *testing.T) {
		c := h.client()
		c.get("/login")
		wantStatus(t, c.post("/login", creds, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"), http.StatusForbidden)
		if c.cookie("pulse_session") != nil {
			t.Fatal("cross-site login succeeded")
		}
	})
	t.Run("cross-site with a valid token", func(t *testing.T) {
		c := h.client()
		c.get("/login")
		f := url.Values{"_csrf": {c.csrf}}
		for k, v := range creds {
			f[k] = v
		}
		wantStatus(t, c.post("/login", f, "Sec-Fetch-Site", "cross-site"), http.StatusForbidden)
	})
	t.Run("page shows a message", func(t *testing.T) {
		c := h.client()
		r := c.post("/login", creds)
		wantStatus(t, r, http.StatusForbidden)
		wantContains(t, r.Body, layoutMarker, "Reload the page")
	})
}

func TestCSRFAdminSettings(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.initOrg("Acme")
	h.admin("admin@example.com")
	c := h.client()
	c.login("admin@example.com")
	change := url.Values{"name": {"Hacked"}, "time_zone": {"UTC"}, "min_group_size": {"3"}}

	wantStatus(t, c.post("/admin/settings", change), http.StatusForbidden)
	wantStatus(t, c.post("/admin/settings", change, "Sec-Fetch-Site", "cross-site"), http.StatusForbidden)
	wantStatus(t, c.post("/admin/settings", change, "Sec-Fetch-Site", "same-site"), http.StatusForbidden)
	withBad := url.Values{"_csrf": {"forged"}}
	for k, v := range change {
		withBad[k] = v
	}
	wantStatus(t, c.post("/admin/settings", withBad), http.StatusForbidden)
	if st := h.settings(); st.Name != "Acme" || st.MinGroupSize != 5 || st.TimeZone != "Europe/Berlin" {
		t.Fatalf("settings changed without a valid CSRF token: %+v", st)
	}

	// Positive control: the same change with the token is saved.
	c.get("/admin")
	wantRedirect(t, c.submit("/admin", "/admin/settings", change), "/admin?saved=1")
	if st := h.settings(); st.Name != "Hacked" || st.MinGroupSize != 3 || st.TimeZone != "UTC" {
		t.Fatalf("settings not saved with a valid token: %+v", st)
	}
	wantContains(t, c.get("/admin?saved=1").Body, "Settings saved.")
}

// orgTree builds Acme > {Engineering > {Platform, Apps}, Sales > {EMEA}}.
type orgTree struct {
	root, eng, platform, apps, sales, emea uint
}

func buildOrg(h *harness) orgTree {
	var o orgTree
	o.root = h.initOrg("Acme")
	o.eng = h.team(o.root, "Engineering")
	o.platform = h.team(o.eng, "Platform")
	o.apps = h.team(o.eng, "Apps")
	o.sales = h.team(o.root, "Sales")
	o.emea = h.team(o.sales, "EMEA")
	return o
}

func TestLeaderCannotUseAdmin(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	o := buildOrg(h)
	h.leader("lead@example.com", o.eng)
	c := h.client()
	c.login("lead@example.com")

	r := c.get("/admin")
	wantStatus(t, r, http.StatusForbidden)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("403 Content-Type %q, want HTML", ct)
	}
	wantContains(t, r.Body, layoutMarker, "You do not have access to this.")

	c.get("/dashboard") // fresh CSRF token
	r = c.submit("/dashboard", "/admin/settings", url.Values{"name": {"Leader Co"}, "time_zone": {"UTC"}, "min_group_size": {"3"}})
	wantStatus(t, r, http.StatusForbidden)
	if st := h.settings(); st.Name != "Acme" || st.MinGroupSize != 5 {
		t.Fatalf("a leader changed the settings: %+v", st)
	}
}

func TestAnonymousIsSentToLogin(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.initOrg("Acme")
	c := h.client()
	wantRedirect(t, c.get("/admin"), "/login?next=%2Fadmin")
	wantRedirect(t, c.get("/dashboard"), "/login?next=%2Fdashboard")
	wantRedirect(t, c.get("/admin?saved=1"), "/login?next=%2Fadmin%3Fsaved%3D1")

	for _, p := range []string{"/api/v1/me", "/api/v1/org/teams"} {
		r := c.get(p)
		wantStatus(t, r, http.StatusUnauthorized)
		if e := decodeAPIError(t, r); e.Error.Code != "unauthenticated" {
			t.Errorf("%s: error code %q, want unauthenticated", p, e.Error.Code)
		}
	}
	// A form post without a session (valid CSRF token) goes to the login page and changes nothing.
	c.get("/login")
	wantRedirect(t, c.submit("/login", "/admin/settings", url.Values{"name": {"Anon"}, "time_zone": {"UTC"}, "min_group_size": {"3"}}), "/login")
	if st := h.settings(); st.Name != "Acme" {
		t.Fatalf("anonymous post changed settings: %+v", st)
	}

	// A script asking for JSON gets JSON, not a redirect.
	r := c.get("/admin", "Accept", "application/json")
	wantStatus(t, r, http.StatusUnauthorized)
	decodeAPIError(t, r)
}

type teamsResp struct {
	Teams []struct {
		ID       uint   `json:"id"`
		ParentID *uint  `json:"parent_id"`
		Name     string `json:"name"`
		Path     string `json:"path"`
	} `json:"teams"`
}

func teamNames(t *testing.T, r *response) []string {
	t.Helper()
	wantStatus(t, r, http.StatusOK)
	var tr teamsResp
	if err := json.Unmarshal([]byte(r.Body), &tr); err != nil {
		t.Fatalf("teams body %q: %v", r.Body, err)
	}
	var names []string
	for _, tm := range tr.Teams {
		names = append(names, tm.Name)
	}
	sort.Strings(names)
	return names
}

func TestAPITeamsScope(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	o := buildOrg(h)
	h.leader("eng@example.com", o.eng)
	h.leader("two@example.com", o.platform, o.emea)
	h.leader("none@example.com")
	h.admin("admin@example.com")

	for _, tc := range []struct {
		email string
		want  string
	}{
		{"eng@example.com", "Apps,Engineering,Platform"},
		{"two@example.com", "EMEA,Platform"},
		{"none@example.com", ""},
		{"admin@example.com", "Acme,Apps,EMEA,Engineering,Platform,Sales"},
	} {
		t.Run(tc.email, func(t *testing.T) {
			c := h.client()
			c.login(tc.email)
			if got := strings.Join(teamNames(t, c.get("/api/v1/org/teams")), ","); got != tc.want {
				t.Errorf("teams = %q, want %q", got, tc.want)
			}
		})
	}

	t.Run("me", func(t *testing.T) {
		c := h.client()
		c.login("eng@example.com")
		r := c.get("/api/v1/me")
		wantStatus(t, r, http.StatusOK)
		var me struct {
			Email string `json:"email"`
			Role  string `json:"role"`
			All   bool   `json:"all"`
			Scope []uint `json:"scope"`
		}
		if err := json.Unmarshal([]byte(r.Body), &me); err != nil {
			t.Fatal(err)
		}
		if me.Email != "eng@example.com" || me.Role != "leader" || me.All || len(me.Scope) != 1 || me.Scope[0] != o.eng {
			t.Errorf("me = %+v", me)
		}
		wantNotContains(t, r.Body, "password", "$2a$")
	})

	t.Run("dashboard", func(t *testing.T) {
		c := h.client()
		c.login("eng@example.com")
		r := c.get("/dashboard")
		wantStatus(t, r, http.StatusOK)
		wantContains(t, r.Body, "Engineering/Platform", "Engineering/Apps")
		wantNotContains(t, r.Body, "Sales", "EMEA", "whole organisation")
	})
}
