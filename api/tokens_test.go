package api_test

import (
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pulse-survey/pulse/survey"
)

var tokenRE = regexp.MustCompile(`pls_[A-Za-z0-9_-]{43}`)

// tokenOnPage returns the one API token shown on a page.
func tokenOnPage(t *testing.T, body string) string {
	t.Helper()
	all := tokenRE.FindAllString(body, -1)
	if len(all) != 1 {
		t.Fatalf("page shows %d tokens, want 1", len(all))
	}
	return all[0]
}

// tokSend sends a JSON API request with the client's cookies; withCSRF adds
// the session's X-CSRF-Token header.
func (c *client) tokSend(method, path, body string, withCSRF bool, hdr ...string) *response {
	c.h.t.Helper()
	req := c.newRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if withCSRF {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return c.do(req)
}

// bearer returns a client without cookies that sends the API token.
func (h *harness) bearer(secret string) *client {
	c := h.client()
	c.header.Set("Authorization", "Bearer "+secret)
	return c
}

type tokenResp struct {
	ID         uint       `json:"id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	Role       string     `json:"role"`
	TeamIDs    []uint     `json:"team_ids"`
	CreatedBy  *uint      `json:"created_by"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
	Active     bool       `json:"active"`
}

type tokenCreatedResp struct {
	Token    string    `json:"token"`
	APIToken tokenResp `json:"api_token"`
}

type meResp struct {
	ID      uint   `json:"id"`
	Email   string `json:"email"`
	Name    string `json:"name"`
	Role    string `json:"role"`
	All     bool   `json:"all"`
	Scope   []uint `json:"scope"`
	TokenID uint   `json:"token_id"`
}

const csrfMessage = "The form expired or came from another site"

// wantNoSecret fails if any column of any row of the tables holds the
// token's random part.
func wantNoSecret(t *testing.T, h *harness, secret string, tables ...string) {
	t.Helper()
	part := strings.TrimPrefix(secret, "pls_")[8:]
	for _, table := range tables {
		var rows []map[string]any
		if err := h.db.Table(table).Find(&rows).Error; err != nil {
			t.Fatal(err)
		}
		for _, row := range rows {
			for col, v := range row {
				if strings.Contains(fmt.Sprint(v), part) || fmt.Sprintf("%s", v) == secret {
					t.Errorf("%s.%s holds the token's secret", table, col)
				}
			}
		}
	}
}

func TestAPITokenLifecycle(t *testing.T) {
	o := newRepOrg(t)
	h := o.h
	admin := h.auditUser("admin@acme.example")
	o.admin.get("/admin")

	// Create a leader token of Eng through the JSON API.
	body := fmt.Sprintf(`{"name":"Warehouse","role":"leader","team_ids":[%d]}`, o.eng)
	r := o.admin.tokSend(http.MethodPost, "/api/v1/admin/tokens", body, true)
	wantStatus(t, r, http.StatusCreated)
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
	var created tokenCreatedResp
	repDecodeStatus(t, r, &created)
	secret, tok := created.Token, created.APIToken
	if !tokenRE.MatchString(secret) || len(secret) != 47 {
		t.Fatalf("token %q is not pls_ + 43 base64url characters", secret)
	}
	if tok.Prefix != secret[:12] || tok.Name != "Warehouse" || tok.Role != "leader" || !tok.Active ||
		!reflect.DeepEqual(tok.TeamIDs, []uint{o.eng}) || tok.CreatedBy == nil || *tok.CreatedBy != admin.ID ||
		tok.RevokedAt != nil || tok.ExpiresAt != nil || tok.LastUsedAt != nil {
		t.Errorf("created token %+v", tok)
	}

	t.Run("hashed at rest, shown once", func(t *testing.T) {
		var hash string
		h.db.Table("api_tokens").Where("id = ?", tok.ID).Pluck("token_hash", &hash)
		if hash != sha256Hex([]byte(secret)) {
			t.Errorf("stored hash %q, want SHA-256 of the token", hash)
		}
		wantNoSecret(t, h, secret, "api_tokens", "api_token_teams", "audit_log")
		r := o.admin.get("/api/v1/admin/tokens")
		wantStatus(t, r, http.StatusOK)
		wantContains(t, r.Body, tok.Prefix)
		wantNotContains(t, r.Body, secret)
		r = o.admin.get("/admin/tokens")
		wantContains(t, r.Body, tok.Prefix, "Warehouse", "leader of Eng")
		wantNotContains(t, r.Body, secret)
	})

	bot := h.bearer(secret)
	t.Run("acts as a leader of its teams", func(t *testing.T) {
		var me meResp
		repDecode(t, bot.get("/api/v1/me"), &me)
		if me.ID != 0 || me.TokenID != tok.ID || me.Role != "leader" || me.All || me.Name != "Warehouse" ||
			!reflect.DeepEqual(me.Scope, []uint{o.eng}) {
			t.Errorf("me %+v", me)
		}
		if got, want := repUnitNames(t, bot.get("/api/v1/reports/units")), []string{"Eng", "Mobile", "Platform"}; !reflect.DeepEqual(got, want) {
			t.Errorf("units %v, want %v", got, want)
		}
		var rep repReport
		repDecode(t, bot.get(repPaths(o.mobile)["api"]), &rep)
		if rep.Unit.ID != o.mobile {
			t.Errorf("report of %d", rep.Unit.ID)
		}
		for _, unit := range []uint{o.root, o.sales} {
			wantAPIError(t, bot.get(repPaths(unit)["api"]), http.StatusForbidden, "forbidden")
		}
		for _, p := range []string{"/api/v1/admin/audit", "/api/v1/admin/tokens"} {
			wantAPIError(t, bot.get(p), http.StatusForbidden, "forbidden")
		}
		if ck := bot.jar.Cookies(bot.base); len(ck) != 0 {
			t.Errorf("bearer requests got cookies: %v", ck)
		}
		var used *time.Time
		got, err := h.svc.APITokens().Get(h.ctx, tok.ID)
		if err == nil {
			used = got.LastUsedAt
		}
		if used == nil || !used.Equal(h.clock.Now()) {
			t.Errorf("last used %v, want %v", used, h.clock.Now())
		}
	})

	t.Run("ignored on HTML pages", func(t *testing.T) {
		for _, p := range []string{repPaths(o.eng)["page"], repPaths(o.eng)["csv"], "/dashboard", "/admin"} {
			r := bot.get(p)
			wantRedirect(t, r, "/login?next="+url.QueryEscape(p))
		}
		// A bad token on a page is not an error either: the page just sees no session.
		wantRedirect(t, h.bearer("pls_nope").get("/dashboard"), "/login?next=%2Fdashboard")
		// And a signed-in leader's page is unaffected by a foreign header.
		o.leader.header.Set("Authorization", "Bearer pls_nope")
		wantStatus(t, o.leader.get(repPaths(o.eng)["page"]), http.StatusOK)
		o.leader.header.Del("Authorization")
	})

	t.Run("bad tokens are 401", func(t *testing.T) {
		for _, hdr := range []string{"Bearer pls_nope", "Bearer " + secret + "x", "Bearer ", "bearer " + strings.TrimPrefix(secret, "pls_")} {
			c := h.client()
			c.header.Set("Authorization", hdr)
			r := c.get("/api/v1/me")
			wantAPIError(t, r, http.StatusUnauthorized, "unauthorized")
			if got := r.Header.Get("WWW-Authenticate"); !strings.Contains(got, "invalid_token") {
				t.Errorf("%q: WWW-Authenticate %q", hdr, got)
			}
		}
		// Another scheme is no API token: the request is simply not signed in.
		c := h.client()
		c.header.Set("Authorization", "Basic YWRtaW46YWRtaW4=")
		wantAPIError(t, c.get("/api/v1/me"), http.StatusUnauthorized, "unauthenticated")
		// A bad token is not rescued by a valid session cookie.
		o.admin.header.Set("Authorization", "Bearer pls_nope")
		wantAPIError(t, o.admin.get("/api/v1/me"), http.StatusUnauthorized, "unauthorized")
		o.admin.header.Del("Authorization")
		wantStatus(t, o.admin.get("/api/v1/me"), http.StatusOK)
	})

	t.Run("revoked", func(t *testing.T) {
		r := o.admin.tokSend(http.MethodDelete, fmt.Sprintf("/api/v1/admin/tokens/%d", tok.ID), "", true)
		var revoked tokenResp
		repDecode(t, r, &revoked)
		if revoked.RevokedAt == nil || !revoked.RevokedAt.Equal(h.clock.Now()) || revoked.Active {
			t.Errorf("revoked token %+v", revoked)
		}
		wantAPIError(t, bot.get("/api/v1/me"), http.StatusUnauthorized, "unauthorized")
		wantAPIError(t, bot.get(repPaths(o.eng)["api"]), http.StatusUnauthorized, "unauthorized")
		// Again: nothing changes.
		h.clock.Advance(time.Minute)
		var again tokenResp
		repDecode(t, o.admin.tokSend(http.MethodDelete, fmt.Sprintf("/api/v1/admin/tokens/%d", tok.ID), "", true), &again)
		if again.RevokedAt == nil || !again.RevokedAt.Equal(*revoked.RevokedAt) {
			t.Errorf("second revoke: %v, want %v", again.RevokedAt, revoked.RevokedAt)
		}
		wantAPIError(t, o.admin.tokSend(http.MethodDelete, "/api/v1/admin/tokens/9999", "", true), http.StatusNotFound, "not_found")
	})

	t.Run("expired", func(t *testing.T) {
		exp := h.clock.Now().Add(30 * time.Minute).Format(time.RFC3339)
		r := o.admin.tokSend(http.MethodPost, "/api/v1/admin/tokens", `{"name":"Short","role":"admin","expires_at":"`+exp+`"}`, true)
		var c tokenCreatedResp
		repDecodeStatus(t, r, &c)
		if c.APIToken.ExpiresAt == nil || c.APIToken.ExpiresAt.Format(time.RFC3339) != exp {
			t.Errorf("expires_at %v, want %s", c.APIToken.ExpiresAt, exp)
		}
		short := h.bearer(c.Token)
		var me meResp
		repDecode(t, short.get("/api/v1/me"), &me)
		if me.Role != "admin" || !me.All {
			t.Errorf("admin token me %+v", me)
		}
		wantStatus(t, short.get("/api/v1/admin/audit"), http.StatusOK)
		h.clock.Advance(29 * time.Minute)
		wantStatus(t, short.get("/api/v1/me"), http.StatusOK)
		h.clock.Advance(time.Minute)
		wantAPIError(t, short.get("/api/v1/me"), http.StatusUnauthorized, "unauthorized")
	})
}

// repDecodeStatus is repDecode for a 201.
func repDecodeStatus(t *testing.T, r *response, v any) {
	t.Helper()
	if r.StatusCode == http.StatusCreated {
		r.StatusCode = http.StatusOK
	}
	repDecode(t, r, v)
}

func TestAPITokenCreateValidation(t *testing.T) {
	h := newHarness(t)
	root := h.initOrg("Acme")
	h.admin("admin@acme.example")
	c := h.client()
	c.login("admin@acme.example")
	c.get("/admin")
	past := h.clock.Now().Add(-time.Hour).Format(time.RFC3339)
	for _, tc := range []struct {
		body   string
		status int
		field  string
	}{
		{`{"name":"","role":"admin"}`, http.StatusUnprocessableEntity, "name"},
		{`{"name":"x","role":"owner"}`, http.StatusUnprocessableEntity, "role"},
		{`{"name":"x","role":"leader"}`, http.StatusUnprocessableEntity, "team_ids"},
		{fmt.Sprintf(`{"name":"x","role":"admin","team_ids":[%d]}`, root), http.StatusUnprocessableEntity, "team_ids"},
		{`{"name":"x","role":"leader","team_ids":[424242]}`, http.StatusUnprocessableEntity, "team_ids"},
		{`{"name":"x","role":"admin","expires_at":"tomorrow"}`, http.StatusUnprocessableEntity, "expires_at"},
		{`{"name":"x","role":"admin","expires_at":"` + past + `"}`, http.StatusUnprocessableEntity, "expires_at"},
		{`{"name":"x","role":"admin","scope":"all"}`, http.StatusBadRequest, ""},
		{`{"name":"x","role":"admin"} {}`, http.StatusBadRequest, ""},
		{`not json`, http.StatusBadRequest, ""},
	} {
		r := c.tokSend(http.MethodPost, "/api/v1/admin/tokens", tc.body, true)
		e := wantAPIError(t, r, tc.status, "")
		if _, ok := e.Error.Fields[tc.field]; tc.field != "" && !ok {
			t.Errorf("%s: fields %v, want %s", tc.body, e.Error.Fields, tc.field)
		}
	}
	r := c.tokSend(http.MethodPost, "/api/v1/admin/tokens", `{"name":"x","role":"admin"}`, true, "Content-Type", "text/plain")
	wantAPIError(t, r, http.StatusUnsupportedMediaType, "")
	var n int64
	h.db.Table("api_tokens").Count(&n)
	if n != 0 || h.auditCount() != 0 {
		t.Errorf("%d tokens, %d audit entries after failed creates", n, h.auditCount())
	}
}

// TestBearerSkipsCSRF: requests with an API token need no CSRF token (they
// carry no cookie a forged request could use); cookie requests still do.
func TestBearerSkipsCSRF(t *testing.T) {
	h := newHarness(t)
	h.initOrg("Acme")
	admin := h.admin("admin@acme.example")
	_, adminSecret, err := h.svc.APITokens().Create(h.ctx, survey.APITokenInput{Name: "ops", Role: survey.RoleAdmin, CreatedBy: admin.ID})
	if err != nil {
		t.Fatal(err)
	}
	victim, _, err := h.svc.APITokens().Create(h.ctx, survey.APITokenInput{Name: "victim", Role: survey.RoleAdmin, CreatedBy: admin.ID})
	if err != nil {
		t.Fatal(err)
	}
	c := h.client()
	c.login("admin@acme.example")
	c.get("/admin")
	revoke := fmt.Sprintf("/api/v1/admin/tokens/%d", victim.ID)

	// Cookie without CSRF token: refused by the CSRF check.
	for _, m := range []string{http.MethodPost, http.MethodDelete} {
		path := revoke
		body := ""
		if m == http.MethodPost {
			path, body = "/api/v1/admin/tokens", `{"name":"forged","role":"admin"}`
		}
		r := c.tokSend(m, path, body, false)
		e := wantAPIError(t, r, http.StatusForbidden, "")
		if !strings.Contains(e.Error.Message, csrfMessage) {
			t.Errorf("%s %s without CSRF: %q, want the CSRF message", m, path, e.Error.Message)
		}
		r = c.tokSend(m, path, body, false, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example")
		wantAPIError(t, r, http.StatusForbidden, "")
	}

	// Bearer without CSRF token: past the CSRF check (with no CSRF cookie
	// at all), stopped only by the rule that tokens do not manage tokens.
	bot := h.bearer(adminSecret)
	for _, m := range []string{http.MethodPost, http.MethodDelete} {
		path := revoke
		body := ""
		if m == http.MethodPost {
			path, body = "/api/v1/admin/tokens", `{"name":"minted","role":"admin"}`
		}
		r := bot.tokSend(m, path, body, false)
		e := wantAPIError(t, r, http.StatusForbidden, "forbidden")
		if strings.Contains(e.Error.Message, csrfMessage) || !strings.Contains(e.Error.Message, "API tokens cannot") {
			t.Errorf("bearer %s %s: %q, want the token-management message", m, path, e.Error.Message)
		}
	}
	// The same bearer request with a session cookie and no CSRF token: the
	// cookie is ignored, the CSRF check skipped, the token decides.
	c.header.Set("Authorization", "Bearer "+adminSecret)
	e := wantAPIError(t, c.tokSend(http.MethodDelete, revoke, "", false), http.StatusForbidden, "forbidden")
	if strings.Contains(e.Error.Message, csrfMessage) {
		t.Errorf("bearer with cookie: %q", e.Error.Message)
	}
	c.header.Del("Authorization")

	got, err := h.svc.APITokens().Get(h.ctx, victim.ID)
	if err != nil || got.RevokedAt != nil {
		t.Fatalf("victim token revoked: %+v %v", got, err)
	}
	ts, _ := h.svc.APITokens().List(h.ctx)
	if len(ts) != 2 || h.auditCount() != 0 {
		t.Fatalf("%d tokens, %d audit entries: a refused request changed something", len(ts), h.auditCount())
	}

	// With the CSRF header, the session works, and the action is audited.
	wantStatus(t, c.tokSend(http.MethodDelete, revoke, "", true), http.StatusOK)
	es := wantNewAudit(t, h, 0, 1)
	wantAuditEntry(t, es[0], "token.revoke", fmt.Sprintf("token:%d", victim.ID), admin)

	// A state-changing admin route that tokens may use (team creation, from
	// the org management API): the bearer POST without CSRF succeeds and is
	// audited with the token as actor, the cookie POST without CSRF fails.
	hasRoute := false
	for _, rt := range h.e.Routes() {
		hasRoute = hasRoute || rt.Method == http.MethodPost && rt.Path == "/api/v1/admin/teams"
	}
	if !hasRoute {
		t.Log("no POST /api/v1/admin/teams route: skipping the successful bearer POST")
		return
	}
	body := fmt.Sprintf(`{"parent_id":%d,"name":"Ops"}`, h.root())
	r := c.tokSend(http.MethodPost, "/api/v1/admin/teams", body, false)
	if e := wantAPIError(t, r, http.StatusForbidden, ""); !strings.Contains(e.Error.Message, csrfMessage) {
		t.Errorf("cookie POST without CSRF: %q", e.Error.Message)
	}
	r = bot.tokSend(http.MethodPost, "/api/v1/admin/teams", body, false)
	if r.StatusCode != http.StatusCreated && r.StatusCode != http.StatusOK {
		t.Fatalf("bearer POST without CSRF: status %d, want success; body %s", r.StatusCode, r.Body)
	}
	ae := wantNewAudit(t, h, 1, 1)[0]
	if ae.Action != "team.create" || ae.ActorTokenID == nil || ae.ActorUserID != nil || ae.ActorLabel != "API token ops" {
		t.Errorf("audit of a token's admin action: %+v", ae)
	}
}

// TestTokenAndAuditAdminOnly: leaders get 403 on the audit log and token
// management, pages and API; admin tokens may read the audit log but not
// manage tokens.
func TestTokenAndAuditAdminOnly(t *testing.T) {
	h := newHarness(t)
	root := h.initOrg("Acme")
	eng := h.team(root, "Eng")
	admin := h.admin("admin@acme.example")
	h.leader("lead@acme.example", eng)
	_, leaderSecret, err := h.svc.APITokens().Create(h.ctx, survey.APITokenInput{Name: "lead", Role: survey.RoleLeader, TeamIDs: []uint{eng}})
	if err != nil {
		t.Fatal(err)
	}
	victim, adminSecret, err := h.svc.APITokens().Create(h.ctx, survey.APITokenInput{Name: "ops", Role: survey.RoleAdmin, CreatedBy: admin.ID})
	if err != nil {
		t.Fatal(err)
	}
	leader := h.client()
	leader.login("lead@acme.example")
	leader.get("/help/statistics")
	revokePage := fmt.Sprintf("/admin/tokens/%d/revoke", victim.ID)
	revokeAPI := fmt.Sprintf("/api/v1/admin/tokens/%d", victim.ID)

	t.Run("leader session", func(t *testing.T) {
		for _, p := range []string{"/admin/audit", "/admin/tokens"} {
			wantStatus(t, leader.get(p), http.StatusForbidden)
		}
		wantStatus(t, leader.submit("/help/statistics", "/admin/tokens", url.Values{"name": {"x"}, "role": {"admin"}}), http.StatusForbidden)
		wantStatus(t, leader.submit("/help/statistics", revokePage, nil), http.StatusForbidden)
		for _, p := range []string{"/api/v1/admin/audit", "/api/v1/admin/tokens"} {
			wantAPIError(t, leader.get(p), http.StatusForbidden, "forbidden")
		}
		wantAPIError(t, leader.tokSend(http.MethodPost, "/api/v1/admin/tokens", `{"name":"x","role":"admin"}`, true), http.StatusForbidden, "forbidden")
		wantAPIError(t, leader.tokSend(http.MethodDelete, revokeAPI, "", true), http.StatusForbidden, "forbidden")
	})

	t.Run("leader token", func(t *testing.T) {
		bot := h.bearer(leaderSecret)
		for _, p := range []string{"/api/v1/admin/audit", "/api/v1/admin/tokens"} {
			wantAPIError(t, bot.get(p), http.StatusForbidden, "forbidden")
		}
		wantAPIError(t, bot.tokSend(http.MethodPost, "/api/v1/admin/tokens", `{"name":"x","role":"admin"}`, false), http.StatusForbidden, "forbidden")
		wantAPIError(t, bot.tokSend(http.MethodDelete, revokeAPI, "", false), http.StatusForbidden, "forbidden")
	})

	t.Run("admin token", func(t *testing.T) {
		bot := h.bearer(adminSecret)
		wantStatus(t, bot.get("/api/v1/admin/audit"), http.StatusOK)
		wantAPIError(t, bot.get("/api/v1/admin/tokens"), http.StatusForbidden, "forbidden")
	})

	t.Run("anonymous", func(t *testing.T) {
		anon := h.client()
		for _, p := range []string{"/admin/audit", "/admin/tokens"} {
			wantRedirect(t, anon.get(p), "/login?next="+url.QueryEscape(p))
		}
		for _, p := range []string{"/api/v1/admin/audit", "/api/v1/admin/tokens"} {
			wantAPIError(t, anon.get(p), http.StatusUnauthorized, "unauthenticated")
		}
	})

	if got, err := h.svc.APITokens().Get(h.ctx, victim.ID); err != nil || got.RevokedAt != nil {
		t.Fatalf("token revoked by a refused request: %v", err)
	}
	if n := h.auditCount(); n != 0 {
		t.Fatalf("%d audit entries from refused requests", n)
	}
}

func TestTokenPages(t *testing.T) {
	h := newHarness(t)
	root := h.initOrg("Acme") // Europe/Berlin
	eng := h.team(root, "Eng")
	h.admin("admin@acme.example")
	c := h.client()
	c.login("admin@acme.example")

	r := c.get("/admin")
	wantContains(t, r.Body, `href="/admin/audit"`, `href="/admin/tokens"`)
	r = c.get("/admin/tokens")
	wantStatus(t, r, http.StatusOK)
	wantContains(t, r.Body, "No tokens yet", `name="team_ids" value="`+strconv.Itoa(int(eng))+`"`)

	// Errors are shown with the form as filled in.
	r = c.submit("/admin/tokens", "/admin/tokens", url.Values{"name": {"Nightly"}, "role": {"leader"},
		"team_ids": {strconv.Itoa(int(eng))}, "expires_on": {"soon"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantContains(t, r.Body, "enter a date like", `value="Nightly"`, `value="soon"`, `aria-invalid="true"`,
		`value="`+strconv.Itoa(int(eng))+`" checked`)
	r = c.submit("/admin/tokens", "/admin/tokens", url.Values{"name": {"Nightly"}, "role": {"leader"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantContains(t, r.Body, "choose at least one team")

	// 10 March 2031 in Berlin (UTC+1) ends at 23:00 UTC.
	r = c.submit("/admin/tokens", "/admin/tokens", url.Values{"name": {"Nightly"}, "role": {"leader"},
		"team_ids": {strconv.Itoa(int(eng))}, "expires_on": {"2031-03-10"}})
	wantStatus(t, r, http.StatusOK)
	secret := tokenOnPage(t, r.Body)
	wantContains(t, r.Body, "shown only this once", "2031-03-10 23:00")
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
	ts, err := h.svc.APITokens().List(h.ctx)
	if err != nil || len(ts) != 1 {
		t.Fatalf("tokens %v %v", ts, err)
	}
	if want := time.Date(2031, 3, 10, 23, 0, 0, 0, time.UTC); ts[0].ExpiresAt == nil || !ts[0].ExpiresAt.Equal(want) {
		t.Errorf("expires %v, want %v", ts[0].ExpiresAt, want)
	}
	var me meResp
	repDecode(t, h.bearer(secret).get("/api/v1/me"), &me)
	if me.TokenID != ts[0].ID {
		t.Errorf("me %+v", me)
	}

	// The list never shows the secret again.
	r = c.get("/admin/tokens")
	wantNotContains(t, r.Body, secret)
	wantContains(t, r.Body, ts[0].Prefix+"…", "Nightly", "leader of Eng", "User admin@acme.example")

	// An admin token: teams ticked before choosing admin are ignored.
	r = c.submit("/admin/tokens", "/admin/tokens", url.Values{"name": {"Ops"}, "role": {"admin"}, "team_ids": {strconv.Itoa(int(eng))}})
	wantStatus(t, r, http.StatusOK)
	tokenOnPage(t, r.Body)

	r = c.submit("/admin/tokens", fmt.Sprintf("/admin/tokens/%d/revoke", ts[0].ID), nil)
	wantRedirect(t, r, "/admin/tokens?revoked=1")
	r = c.get("/admin/tokens?revoked=1")
	wantContains(t, r.Body, "Token revoked", `<span class="badge badge-muted">revoked</span>`)
	wantAPIError(t, h.bearer(secret).get("/api/v1/me"), http.StatusUnauthorized, "unauthorized")
}
