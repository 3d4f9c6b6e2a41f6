package api_test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/pulse-survey/pulse/api"
)

var (
	secretRE   = regexp.MustCompile(`<code id="totp-secret">([A-Z2-7]+)</code>`)
	recoveryRE = regexp.MustCompile(`<li><code>([a-z2-7]{5}-[a-z2-7]{5})</code></li>`)
)

func totpCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCode(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enrol turns two-factor sign-in on through the account's page and returns
// the secret and the recovery codes.
func enrol(t *testing.T, h *harness, c *client) (string, []string) {
	t.Helper()
	page := c.get("/account/2fa")
	wantStatus(t, page, http.StatusOK)
	wantContains(t, page.Body, `src="data:image/png;base64,`)
	m := secretRE.FindStringSubmatch(page.Body)
	if m == nil {
		t.Fatalf("no secret on the page:\n%s", page.Body)
	}
	secret := m[1]
	r := c.submit("/account/2fa", "/account/2fa/enable", url.Values{"secret": {secret}, "code": {"123 456"}})
	if r.StatusCode == http.StatusOK {
		t.Fatal("a wrong code turned two-factor sign-in on")
	}
	wantStatus(t, r, http.StatusUnprocessableEntity)
	r = c.submit("/account/2fa", "/account/2fa/enable", url.Values{"secret": {secret}, "code": {totpCode(t, secret, h.clock.Now())}})
	wantStatus(t, r, http.StatusOK)
	var codes []string
	for _, m := range recoveryRE.FindAllStringSubmatch(r.Body, -1) {
		codes = append(codes, m[1])
	}
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes shown", len(codes))
	}
	return secret, codes
}

func TestTwoFactorSignIn(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.initOrg("Acme")
	h.admin("admin@acme.example")
	c := h.client()
	c.login("admin@acme.example")
	secret, codes := enrol(t, h, c)

	// Signing in now takes the password, then a code.
	h.clock.Advance(time.Minute)
	d := h.client()
	d.get("/login")
	r := d.submit("/login", "/login", url.Values{"email": {"admin@acme.example"}, "password": {password}, "next": {"/admin/leaders"}})
	wantRedirect(t, r, "/login/2fa?next=%2Fadmin%2Fleaders")
	if ck := setCookieNamed(r, "pulse_session"); ck != nil && ck.Value != "" {
		t.Fatal("a session before the second factor")
	}
	// The pending sign-in grants nothing.
	wantRedirect(t, d.get("/admin"), "/login?next=%2Fadmin")
	wantAPIError(t, d.get("/api/v1/me"), http.StatusUnauthorized, "unauthenticated")
	d.get("/login/2fa")
	r = d.submit("/login/2fa", "/login/2fa", url.Values{"code": {totpCode(t, secret, h.clock.Now().Add(-time.Hour))}, "next": {"/admin/leaders"}})
	wantStatus(t, r, http.StatusUnauthorized)
	wantContains(t, r.Body, "The code is wrong")
	good := totpCode(t, secret, h.clock.Now())
	wantRedirect(t, d.submit("/login/2fa", "/login/2fa", url.Values{"code": {good}, "next": {"/admin/leaders"}}), "/admin/leaders")
	wantStatus(t, d.get("/admin"), http.StatusOK)

	// The same code cannot sign in again; a recovery code can, once.
	e := h.client()
	e.get("/login")
	wantRedirect(t, e.submit("/login", "/login", url.Values{"email": {"admin@acme.example"}, "password": {password}}), "/login/2fa?next=%2Fadmin")
	e.get("/login/2fa")
	wantStatus(t, e.submit("/login/2fa", "/login/2fa", url.Values{"code": {good}}), http.StatusUnauthorized)
	wantRedirect(t, e.submit("/login/2fa", "/login/2fa", url.Values{"code": {codes[0]}}), "/admin")

	f := h.client()
	f.get("/login")
	f.submit("/login", "/login", url.Values{"email": {"admin@acme.example"}, "password": {password}})
	f.get("/login/2fa")
	wantStatus(t, f.submit("/login/2fa", "/login/2fa", url.Values{"code": {codes[0]}}), http.StatusUnauthorized)

	// Guessing codes is limited like guessing passwords.
	limited := false
	for i := 0; i < 10 && !limited; i++ {
		r := f.submit("/login/2fa", "/login/2fa", url.Values{"code": {fmt.Sprintf("%06d", i)}})
		limited = r.StatusCode == http.StatusTooManyRequests
	}
	if !limited {
		t.Fatal("10 wrong codes in a row were never limited")
	}

	// The pending sign-in expires.
	g := h.client()
	g.get("/login")
	g.submit("/login", "/login", url.Values{"email": {"admin@acme.example"}, "password": {password}})
	h.clock.Advance(6 * time.Minute)
	g.get("/login/2fa")
	wantRedirect(t, g.submit("/login/2fa", "/login/2fa", url.Values{"code": {totpCode(t, secret, h.clock.Now())}}), "/login")
}

func TestTwoFactorRequiredForAdmins(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(d *api.Deps) { d.RequireAdmin2FA = true })
	o := buildOrg(h)
	h.admin("admin@acme.example")
	other := h.admin("other@acme.example")
	h.leader("lead@acme.example", o.eng)

	// Leaders are not affected.
	l := h.client()
	l.login("lead@acme.example")
	wantStatus(t, l.get("/dashboard"), http.StatusOK)

	c := h.client()
	c.login("admin@acme.example")
	wantRedirect(t, c.get("/admin"), "/account/2fa")
	wantRedirect(t, c.get("/dashboard"), "/account/2fa")
	wantAPIError(t, c.get("/api/v1/admin/teams"), http.StatusForbidden, "forbidden")
	wantContains(t, c.get("/account/2fa").Body, "must turn on two-factor sign-in")
	secret, _ := enrol(t, h, c)
	wantStatus(t, c.get("/admin"), http.StatusOK)

	// An admin can turn it off for someone else (lost phone); the page shows it.
	o2 := h.client()
	o2.login("other@acme.example")
	enrol(t, h, o2)
	page := fmt.Sprintf("/admin/leaders/%d", other.ID)
	c.get(page)
	wantRedirect(t, c.submit(page, page+"/2fa-reset", nil), page+"?saved=2fa")
	wantRedirect(t, o2.get("/admin"), "/account/2fa")

	// Under the requirement an admin cannot turn their own off.
	h.clock.Advance(time.Minute)
	c.get("/account/2fa")
	wantStatus(t, c.submit("/account/2fa", "/account/2fa/disable", url.Values{"code": {totpCode(t, secret, h.clock.Now())}}), http.StatusConflict)
	wantStatus(t, c.get("/admin"), http.StatusOK)
}

func TestTwoFactorTurnOff(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	o := buildOrg(h)
	h.leader("lead@acme.example", o.eng)
	c := h.client()
	c.login("lead@acme.example")
	secret, _ := enrol(t, h, c)
	h.clock.Advance(time.Minute)
	wantStatus(t, c.submit("/account/2fa", "/account/2fa/disable", url.Values{"code": {"000000"}}), http.StatusUnprocessableEntity)
	wantRedirect(t, c.submit("/account/2fa", "/account/2fa/disable", url.Values{"code": {totpCode(t, secret, h.clock.Now())}}), "/account/2fa?saved=off")
	// Back to the password alone.
	d := h.client()
	d.login("lead@acme.example")
	wantStatus(t, d.get("/dashboard"), http.StatusOK)
	// API tokens have no account page.
	wantStatus(t, h.client().get("/account/2fa"), http.StatusSeeOther)
}
