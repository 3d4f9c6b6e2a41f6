package api_test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/pulse-survey/pulse/api"
	"github.com/pulse-survey/pulse/reports"
	"github.com/pulse-survey/pulse/survey"
)

// --- audit helpers ----------------------------------------------------------------

// auditLog returns every audit entry, newest first.
func (h *harness) auditLog() []survey.AuditEntry {
	h.t.Helper()
	page, err := h.svc.Audit().List(h.ctx, survey.AuditFilter{Limit: survey.MaxAuditLimit})
	if err != nil {
		h.t.Fatalf("audit list: %v", err)
	}
	return page.Entries
}

func (h *harness) auditCount() int64 {
	h.t.Helper()
	var n int64
	if err := h.db.Table("audit_log").Count(&n).Error; err != nil {
		h.t.Fatal(err)
	}
	return n
}

// wantNewAudit checks that exactly the given number of entries were added
// since before and returns them, oldest first.
func wantNewAudit(t *testing.T, h *harness, before int64, n int) []survey.AuditEntry {
	t.Helper()
	got := h.auditCount()
	if got != before+int64(n) {
		var lines []string
		for _, e := range h.auditLog() {
			lines = append(lines, fmt.Sprintf("%s %s %s", e.Action, e.Target, e.Detail))
		}
		t.Fatalf("audit log has %d entries, want %d; newest first:\n%s", got, before+int64(n), strings.Join(lines, "\n"))
	}
	es := h.auditLog()[:n]
	for i, j := 0, len(es)-1; i < j; i, j = i+1, j-1 {
		es[i], es[j] = es[j], es[i]
	}
	return es
}

func wantAuditEntry(t *testing.T, e survey.AuditEntry, action, target string, user *survey.User) {
	t.Helper()
	if e.Action != action || e.Target != target {
		t.Errorf("entry %s %s, want %s %s", e.Action, e.Target, action, target)
	}
	if user != nil {
		if e.ActorUserID == nil || *e.ActorUserID != user.ID || e.ActorTokenID != nil {
			t.Errorf("%s: actor user %v token %v, want user %d", action, e.ActorUserID, e.ActorTokenID, user.ID)
		}
		if want := user.Name + " <" + user.Email + ">"; e.ActorLabel != want {
			t.Errorf("%s: actor label %q, want %q", action, e.ActorLabel, want)
		}
	}
	if e.At.IsZero() {
		t.Errorf("%s: no time", action)
	}
}

func (h *harness) auditUser(email string) *survey.User {
	h.t.Helper()
	u, err := h.svc.Accounts.UserByEmail(h.ctx, email)
	if err != nil {
		h.t.Fatal(err)
	}
	return u
}

// --- admin actions ------------------------------------------------------------------

func TestAuditAdminActions(t *testing.T) {
	o := newRepOrg(t)
	h := o.h
	admin := h.auditUser("admin@acme.example")
	if n := h.auditCount(); n != 0 {
		t.Fatalf("%d audit entries before any admin action (sign-in and service calls write none)", n)
	}
	c := o.admin
	c.get("/admin")

	t.Run("settings", func(t *testing.T) {
		n := h.auditCount()
		r := c.submit("/admin", "/admin/settings", url.Values{"name": {"Acme Corp"}, "time_zone": {"Europe/Berlin"}, "min_group_size": {"6"}})
		wantRedirect(t, r, "/admin?saved=1")
		e := wantNewAudit(t, h, n, 1)[0]
		wantAuditEntry(t, e, "settings.update", "settings", admin)
		wantContains(t, e.Detail, `"Acme Corp"`, "Europe/Berlin", "minimum group size 6")
	})

	var round uint
	t.Run("launch and close", func(t *testing.T) {
		n := h.auditCount()
		r := c.submit("/admin", fmt.Sprintf("/admin/programs/%d/launch", o.prog.ID), nil)
		wantStatus(t, r, http.StatusSeeOther)
		if err := h.db.Table("rounds").Where("status = ?", survey.RoundOpen).Pluck("id", &round).Error; err != nil || round == 0 {
			t.Fatalf("open round: %v", err)
		}
		e := wantNewAudit(t, h, n, 1)[0]
		wantAuditEntry(t, e, "round.launch", fmt.Sprintf("round:%d", round), admin)
		wantContains(t, e.Detail, fmt.Sprintf("program:%d", o.prog.ID))

		r = c.submit("/admin", fmt.Sprintf("/admin/rounds/%d/close", round), url.Values{"confirm": {"yes"}})
		wantStatus(t, r, http.StatusSeeOther)
		e = wantNewAudit(t, h, n, 2)[1]
		wantAuditEntry(t, e, "round.close", fmt.Sprintf("round:%d", round), admin)
		if e.Detail != "POST /admin/rounds/:round/close" {
			t.Errorf("detail %q", e.Detail)
		}
	})

	t.Run("comments", func(t *testing.T) {
		held, err := (&reports.Moderator{DB: h.db}).Held(h.ctx)
		if err != nil || len(held) != 2 {
			t.Fatalf("held comments: %d, %v", len(held), err)
		}
		n := h.auditCount()
		wantRedirect(t, c.submit("/admin/comments", "/admin/comments/"+held[0].ID, url.Values{"action": {"release"}}), "/admin/comments")
		wantRedirect(t, c.submit("/admin/comments", "/admin/comments/"+held[1].ID, url.Values{"action": {"redact"}}), "/admin/comments")
		es := wantNewAudit(t, h, n, 2)
		wantAuditEntry(t, es[0], "comment.release", "comment:"+held[0].ID, admin)
		wantAuditEntry(t, es[1], "comment.redact", "comment:"+held[1].ID, admin)
		for i, e := range es {
			if strings.Contains(e.Detail, held[i].Text) || strings.Contains(e.ActorLabel+e.Target, held[i].Text) {
				t.Errorf("audit entry holds the comment's text: %+v", e)
			}
		}
	})

	t.Run("tokens", func(t *testing.T) {
		n := h.auditCount()
		r := c.submit("/admin/tokens", "/admin/tokens", url.Values{"name": {"Warehouse"}, "role": {"leader"},
			"team_ids": {strconv.Itoa(int(o.eng))}})
		wantStatus(t, r, http.StatusOK)
		secret := tokenOnPage(t, r.Body)
		e := wantNewAudit(t, h, n, 1)[0]
		ts, err := h.svc.APITokens().List(h.ctx)
		if err != nil || len(ts) != 1 {
			t.Fatalf("tokens %v %v", ts, err)
		}
		wantAuditEntry(t, e, "token.create", fmt.Sprintf("token:%d", ts[0].ID), admin)
		wantContains(t, e.Detail, `"Warehouse"`, "role leader", ts[0].Prefix)
		if strings.Contains(e.Detail, secret[12:]) {
			t.Error("the audit entry holds the token's secret")
		}

		r = c.submit("/admin/tokens", fmt.Sprintf("/admin/tokens/%d/revoke", ts[0].ID), nil)
		wantRedirect(t, r, "/admin/tokens?revoked=1")
		e = wantNewAudit(t, h, n, 2)[1]
		wantAuditEntry(t, e, "token.revoke", fmt.Sprintf("token:%d", ts[0].ID), admin)
	})

	t.Run("failed, refused and read-only requests write nothing", func(t *testing.T) {
		n := h.auditCount()
		// Validation error: the form is shown again.
		r := c.submit("/admin", "/admin/settings", url.Values{"name": {"Acme"}, "time_zone": {"Europe/Berlin"}, "min_group_size": {"1"}})
		wantStatus(t, r, http.StatusUnprocessableEntity)
		r = c.submit("/admin/tokens", "/admin/tokens", url.Values{"name": {"x"}, "role": {"leader"}})
		wantStatus(t, r, http.StatusUnprocessableEntity)
		// Not found, conflict.
		wantStatus(t, c.submit("/admin", "/admin/programs/9999/launch", nil), http.StatusNotFound)
		if r := c.submit("/admin", fmt.Sprintf("/admin/rounds/%d/close", round), nil); r.StatusCode < 400 {
			t.Errorf("closing a closed round: status %d", r.StatusCode)
		}
		wantStatus(t, c.submit("/admin", "/admin/tokens/9999/revoke", nil), http.StatusNotFound)
		// No CSRF token.
		wantStatus(t, c.post("/admin/settings", url.Values{"name": {"Evil"}, "time_zone": {"UTC"}, "min_group_size": {"5"}}), http.StatusForbidden)
		// A leader.
		wantStatus(t, o.leader.get("/help/statistics"), http.StatusOK)
		r = o.leader.submit("/help/statistics", "/admin/settings", url.Values{"name": {"Evil"}, "time_zone": {"UTC"}, "min_group_size": {"5"}})
		wantStatus(t, r, http.StatusForbidden)
		wantStatus(t, o.leader.submit("/help/statistics", fmt.Sprintf("/admin/programs/%d/launch", o.prog.ID), nil), http.StatusForbidden)
		// Anonymous.
		o.anon.get("/login")
		r = o.anon.submit("/login", "/admin/settings", url.Values{"name": {"Evil"}})
		wantRedirect(t, r, "/login")
		// Reading admin pages and the audit log.
		for _, p := range []string{"/admin", "/admin/comments", "/admin/audit", "/admin/tokens", "/api/v1/admin/audit", "/api/v1/admin/tokens"} {
			wantStatus(t, c.get(p), http.StatusOK)
		}
		if got := h.auditCount(); got != n {
			t.Fatalf("%d entries written by failed or read-only requests", got-n)
		}
	})

	t.Run("audit page", func(t *testing.T) {
		r := c.get("/admin/audit")
		wantStatus(t, r, http.StatusOK)
		wantContains(t, r.Body, "settings.update", "round.launch", "comment.redact", "token.revoke", admin.Email,
			`<option value="round.close">`)
		// Newest first.
		if strings.Index(r.Body, "token.revoke</code>") > strings.Index(r.Body, "settings.update</code>") {
			t.Error("entries are not newest first")
		}

		r = c.get("/admin/audit?action=round.close")
		wantStatus(t, r, http.StatusOK)
		wantContains(t, r.Body, "round.close</code>", `<option value="round.close" selected>`)
		wantNotContains(t, r.Body, "settings.update</code>", "token.create</code>")

		// Pages of 2, following the "Older entries" link.
		older := regexp.MustCompile(`href="(/admin/audit\?before=\d+[^"]*)">Older entries`)
		seen := 0
		next := "/admin/audit?limit=2"
		for i := 0; next != ""; i++ {
			if i > 10 {
				t.Fatal("pagination does not end")
			}
			r = c.get(strings.ReplaceAll(next, "&amp;", "&"))
			wantStatus(t, r, http.StatusOK)
			seen += strings.Count(r.Body, "</code></td>")
			next = ""
			if m := older.FindStringSubmatch(r.Body); m != nil {
				next = m[1] + "&limit=2"
			}
		}
		if want := int(h.auditCount()); seen != want {
			t.Errorf("pages showed %d entries, want %d", seen, want)
		}

		wantStatus(t, c.get("/admin/audit?before=x"), http.StatusUnprocessableEntity)
	})

	t.Run("audit API", func(t *testing.T) {
		var all []auditEntryResp
		next := "/api/v1/admin/audit?limit=3"
		for i := 0; next != ""; i++ {
			if i > 10 {
				t.Fatal("pagination does not end")
			}
			var page struct {
				Entries    []auditEntryResp `json:"entries"`
				NextBefore *uint            `json:"next_before"`
			}
			repDecode(t, c.get(next), &page)
			if len(page.Entries) > 3 {
				t.Fatalf("%d entries on a page of 3", len(page.Entries))
			}
			all = append(all, page.Entries...)
			next = ""
			if page.NextBefore != nil {
				next = fmt.Sprintf("/api/v1/admin/audit?limit=3&before=%d", *page.NextBefore)
			}
		}
		if len(all) != int(h.auditCount()) {
			t.Fatalf("API pages gave %d entries, want %d", len(all), h.auditCount())
		}
		for i := 1; i < len(all); i++ {
			if all[i].ID >= all[i-1].ID {
				t.Fatalf("entries not newest first: %d after %d", all[i].ID, all[i-1].ID)
			}
		}
		last := all[len(all)-1]
		if last.Action != "settings.update" || last.Actor.Type != "user" || last.Actor.ID != admin.ID || last.At == "" {
			t.Errorf("oldest entry %+v", last)
		}

		var closes struct {
			Entries []auditEntryResp `json:"entries"`
		}
		repDecode(t, c.get("/api/v1/admin/audit?action=round.close"), &closes)
		if len(closes.Entries) != 1 || closes.Entries[0].Target != fmt.Sprintf("round:%d", round) {
			t.Errorf("round.close entries %+v", closes.Entries)
		}

		for _, q := range []string{"limit=0", "limit=201", "limit=x", "before=0", "before=-1"} {
			r := c.get("/api/v1/admin/audit?" + q)
			e := wantAPIError(t, r, http.StatusUnprocessableEntity, "invalid")
			if len(e.Error.Fields) != 1 {
				t.Errorf("%s: fields %v", q, e.Error.Fields)
			}
		}
	})
}

type auditEntryResp struct {
	ID    uint   `json:"id"`
	At    string `json:"at"`
	Actor struct {
		Type  string `json:"type"`
		ID    uint   `json:"id"`
		Label string `json:"label"`
	} `json:"actor"`
	Action string `json:"action"`
	Target string `json:"target"`
	Detail string `json:"detail"`
}

// --- report views -------------------------------------------------------------------

func TestAuditReportViews(t *testing.T) {
	o := newRepOrg(t)
	h := o.h
	leader := h.auditUser("eng@acme.example")
	admin := h.auditUser("admin@acme.example")
	eng := fmt.Sprintf("unit:%d", o.eng)

	n := h.auditCount()
	p := repPaths(o.eng)
	wantStatus(t, o.leader.get(p["page"]), http.StatusOK)
	wantStatus(t, o.leader.get(p["api"]), http.StatusOK)
	wantStatus(t, o.leader.get(p["csv"]), http.StatusOK)
	es := wantNewAudit(t, h, n, 3)
	for i, format := range []string{"page", "json", "csv"} {
		wantAuditEntry(t, es[i], "report.view", eng, leader)
		if want := format + ": Acme / Eng"; es[i].Detail != want && es[i].Detail != format+": Eng" {
			t.Errorf("detail %q, want %q", es[i].Detail, want)
		}
	}

	t.Run("refused views write nothing", func(t *testing.T) {
		n := h.auditCount()
		for _, unit := range []uint{o.root, o.sales} {
			for _, path := range repPaths(unit) {
				wantStatus(t, o.leader.get(path), http.StatusForbidden)
				o.anon.get(path)
			}
		}
		wantStatus(t, o.leader.get("/reports/999999"), http.StatusForbidden)
		wantStatus(t, o.admin.get("/api/v1/reports/units/x"), http.StatusNotFound)
		// Listing units is not a report view.
		wantStatus(t, o.leader.get("/api/v1/reports/units"), http.StatusOK)
		if got := h.auditCount(); got != n {
			t.Fatalf("%d entries written by refused views", got-n)
		}
	})

	t.Run("admin", func(t *testing.T) {
		n := h.auditCount()
		wantStatus(t, o.admin.get(repPaths(o.sales)["csv"]), http.StatusOK)
		wantAuditEntry(t, wantNewAudit(t, h, n, 1)[0], "report.view", fmt.Sprintf("unit:%d", o.sales), admin)
	})

	t.Run("API token", func(t *testing.T) {
		tok, secret, err := h.svc.APITokens().Create(h.ctx, survey.APITokenInput{Name: "Warehouse", Role: survey.RoleLeader,
			TeamIDs: []uint{o.eng}, CreatedBy: admin.ID})
		if err != nil {
			t.Fatal(err)
		}
		bot := h.client()
		bot.header.Set("Authorization", "Bearer "+secret)
		n := h.auditCount()
		wantStatus(t, bot.get(repPaths(o.platform)["api"]), http.StatusOK)
		wantStatus(t, bot.get(repPaths(o.sales)["api"]), http.StatusForbidden)
		e := wantNewAudit(t, h, n, 1)[0]
		wantAuditEntry(t, e, "report.view", fmt.Sprintf("unit:%d", o.platform), nil)
		if e.ActorTokenID == nil || *e.ActorTokenID != tok.ID || e.ActorUserID != nil || e.ActorLabel != "API token Warehouse" {
			t.Errorf("token actor: %+v", e)
		}
	})
}

// --- the survey routes ----------------------------------------------------------------

// TestSurveyRoutesWriteNoAudit: answering a pulse leaves no audit entry,
// whatever the request carries: an audit row per issuance or ballot would
// date and order them.
func TestSurveyRoutesWriteNoAudit(t *testing.T) {
	e := newSurveyEnv(t)
	admin := e.admin("admin@acme.example")
	_, secret, err := e.svc.APITokens().Create(e.ctx, survey.APITokenInput{Name: "all", Role: survey.RoleAdmin, CreatedBy: admin.ID})
	if err != nil {
		t.Fatal(err)
	}
	// An employee who is also signed in as admin, with an API token in the header.
	c := e.client()
	c.login("admin@acme.example")
	c.header.Set("Authorization", "Bearer "+secret)

	for _, l := range e.links[:3] {
		got := e.obtain(c, l.Secret)
		r := c.postJSON(ballotPath, mustJSON(t, e.ballotFields(got.Token)))
		wantStatus(t, r, http.StatusCreated)
		// Replays and bad requests too.
		wantStatus(t, c.postJSON(ballotPath, mustJSON(t, e.ballotFields(got.Token))), http.StatusConflict)
	}
	for _, r := range []*response{c.postJSON(issuePath, `{"secret":"nope","blinded_msg":"AA"}`),
		c.postJSON(issuePath, issueJSON("nope", e.blindedFor(c, e.links[4].Secret))), c.postJSON(ballotPath, `{}`),
		c.get("/s/not-a-link")} {
		if r.StatusCode < 400 {
			t.Errorf("%s %s: status %d, want an error", r.Request.Method, r.Request.URL.Path, r.StatusCode)
		}
	}
	wantStatus(t, c.get(fmt.Sprintf("/api/v1/survey/rounds/%d/manifest", e.round.ID), api.LinkHeader, e.links[0].Secret), http.StatusOK)

	if n := e.auditCount(); n != 0 {
		t.Fatalf("survey routes wrote %d audit entries", n)
	}
	// The token was not even looked at.
	var used int64
	e.db.Table("api_tokens").Where("last_used_at IS NOT NULL").Count(&used)
	if used != 0 {
		t.Error("a survey route resolved the API token")
	}
}

// --- the public page ----------------------------------------------------------------

func TestLoggingPage(t *testing.T) {
	h := newHarness(t)
	h.initOrg("Acme")
	c := h.client()
	r := c.get("/logging")
	wantStatus(t, r, http.StatusOK)
	wantContains(t, r.Body, layoutMarker, "What Pulse logs", "Every admin action", "Every report view",
		"IP addresses", "took part", "at least 5 people invited", "never")
	// Linked from every page's footer.
	wantContains(t, c.get("/anonymity").Body, `href="/logging"`)
	wantContains(t, c.get("/").Body, `href="/logging"`)
}
