package api_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/pulse-survey/pulse/api"
	"github.com/pulse-survey/pulse/survey"
)

func TestSessionAbsoluteExpiry(t *testing.T) {
	t.Parallel()
	h := newHarness(t) // SessionTTL: 1h
	root := h.initOrg("Acme")
	h.leader("lead@example.com", root)
	c := h.client()
	c.login("lead@example.com")

	h.clock.Advance(59 * time.Minute)
	wantStatus(t, c.get("/dashboard"), http.StatusOK)

	h.clock.Advance(2 * time.Minute) // 61 minutes after sign-in, despite recent activity
	r := c.get("/dashboard")
	wantRedirect(t, r, "/login?next=%2Fdashboard")
	if ck := setCookieNamed(r, "pulse_session"); ck == nil || ck.MaxAge >= 0 {
		t.Errorf("expired session cookie was not cleared: %v", r.Header.Values("Set-Cookie"))
	}
	wantStatus(t, c.get("/api/v1/me"), http.StatusUnauthorized)
}

func TestSessionIdleTimeout(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(d *api.Deps) { d.SessionTTL = 24 * time.Hour })
	root := h.initOrg("Acme")
	h.leader("lead@example.com", root)
	c := h.client()
	c.login("lead@example.com")
	old := c.cookie("pulse_session").Value

	// Activity within the idle timeout keeps the session alive.
	step := survey.SessionIdleTimeout - time.Minute
	for i := 0; i < 3; i++ {
		h.clock.Advance(step)
		wantStatus(t, c.get("/dashboard"), http.StatusOK)
	}

	h.clock.Advance(survey.SessionIdleTimeout + time.Second)
	wantRedirect(t, c.get("/dashboard"), "/login?next=%2Fdashboard")

	// The session is gone server-side, not only from the browser.
	c.setCookie("pulse_session", old)
	wantRedirect(t, c.get("/dashboard"), "/login?next=%2Fdashboard")
}

func TestLogoutEndsSessionServerSide(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.initOrg("Acme")
	h.admin("admin@example.com")
	c := h.client()
	c.login("admin@example.com")
	page := c.get("/admin")
	wantStatus(t, page, http.StatusOK)
	wantContains(t, page.Body, `action="/logout"`)
	old := c.cookie("pulse_session").Value

	// Without the CSRF token, logout is refused and the session survives.
	wantStatus(t, c.post("/logout", url.Values{}), http.StatusForbidden)
	wantStatus(t, c.get("/admin"), http.StatusOK)

	r := c.submit("/admin", "/logout", url.Values{})
	wantRedirect(t, r, "/")
	if ck := setCookieNamed(r, "pulse_session"); ck == nil || ck.MaxAge >= 0 {
		t.Errorf("logout did not clear the cookie: %v", r.Header.Values("Set-Cookie"))
	}
	wantRedirect(t, c.get("/admin"), "/login?next=%2Fadmin")

	// Replaying the old cookie value does not bring the session back.
	c.setCookie("pulse_session", old)
	wantRedirect(t, c.get("/admin"), "/login?next=%2Fadmin")
	wantRedirect(t, c.get("/dashboard"), "/login?next=%2Fdashboard")
	var n int64
	if err := h.db.Model(&survey.Session{}).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d sessions left in the database after logout", n)
	}
}

func TestForgedSessionCookieIsAnonymous(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.initOrg("Acme")
	c := h.client()
	c.setCookie("pulse_session", "not-a-real-session")
	wantRedirect(t, c.get("/admin"), "/login?next=%2Fadmin")
	wantStatus(t, c.get("/"), http.StatusOK)
}
