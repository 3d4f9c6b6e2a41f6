package api_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pulse-survey/pulse/api"
)

const wrongCredentials = "The email or password is wrong."

func TestLoginRedirectsByRoleWithSessionCookie(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	root := h.initOrg("Acme")
	h.admin("admin@example.com")
	h.leader("lead@example.com", root)

	for _, tc := range []struct {
		email, home string
	}{
		{"admin@example.com", "/admin"},
		{"lead@example.com", "/dashboard"},
		{"  LEAD@Example.com ", "/dashboard"}, // normalised like the stored address
	} {
		t.Run(strings.TrimSpace(tc.email), func(t *testing.T) {
			c := h.client()
			c.get("/login")
			r := c.submit("/login", "/login", url.Values{"email": {tc.email}, "password": {password}})
			wantRedirect(t, r, tc.home)
			ck := setCookieNamed(r, "pulse_session")
			if ck == nil || ck.Value == "" {
				t.Fatalf("no pulse_session cookie; Set-Cookie: %v", r.Header.Values("Set-Cookie"))
			}
			if !ck.HttpOnly {
				t.Error("session cookie is not HttpOnly")
			}
			if ck.SameSite != http.SameSiteLaxMode {
				t.Errorf("session cookie SameSite = %v, want Lax", ck.SameSite)
			}
			if ck.Path != "/" {
				t.Errorf("session cookie Path = %q, want /", ck.Path)
			}
			if ck.Secure {
				t.Error("session cookie is Secure on a plain-http base URL (browsers would drop it)")
			}
			// The session works.
			wantStatus(t, c.get(tc.home), http.StatusOK)
		})
	}
}

func TestLoginSessionCookieSecureOnHTTPS(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(d *api.Deps) { d.BaseURL = "https://pulse.example" })
	h.initOrg("Acme")
	h.admin("admin@example.com")
	c := h.client()
	c.get("/login")
	r := c.submit("/login", "/login", url.Values{"email": {"admin@example.com"}, "password": {password}})
	wantRedirect(t, r, "/admin")
	if ck := setCookieNamed(r, "pulse_session"); ck == nil || !ck.Secure {
		t.Fatalf("session cookie on an https base URL must be Secure: %v", r.Header.Values("Set-Cookie"))
	}
	if sts := r.Header.Get("Strict-Transport-Security"); !strings.Contains(sts, "max-age=31536000") {
		t.Errorf("Strict-Transport-Security = %q on https", sts)
	}
}

func TestLoginWrongPasswordAndUnknownEmail(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.initOrg("Acme")
	h.admin("admin@example.com")

	for _, tc := range []struct{ name, email, pw string }{
		{"wrong password", "admin@example.com", "not the password at all"},
		{"unknown email", "nobody@example.com", password},
		{"empty", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := h.client()
			c.get("/login")
			r := c.submit("/login", "/login", url.Values{"email": {tc.email}, "password": {tc.pw}})
			wantStatus(t, r, http.StatusUnauthorized)
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Errorf("Content-Type %q, want the HTML login page", ct)
			}
			wantContains(t, r.Body, wrongCredentials, `action="/login"`, layoutMarker)
			if tc.pw != "" {
				wantNotContains(t, r.Body, tc.pw) // the password is never echoed
			}
			if ck := setCookieNamed(r, "pulse_session"); ck != nil && ck.Value != "" {
				t.Errorf("failed login set a session cookie %q", ck.Value)
			}
			if c.cookie("pulse_session") != nil {
				t.Error("client holds a session cookie after a failed login")
			}
			wantRedirect(t, c.get("/dashboard"), "/login?next=%2Fdashboard")
		})
	}
}

func TestLoginNextParameter(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.initOrg("Acme")

	for i, tc := range []struct {
		next, want string
	}{
		{"/dashboard", "/dashboard"},
		{"/dashboard?x=1", "/dashboard?x=1"},
		{"", "/admin"},
		{"//evil.example", "/admin"},
		{"//evil.example/dashboard", "/admin"},
		{"https://evil.example", "/admin"},
		{"http://evil.example/admin", "/admin"},
		{`/\evil`, "/admin"},
		{`/\/evil.example`, "/admin"},
		{`\\evil.example`, "/admin"},
		{"/\t/evil.example", "/admin"},
		{"javascript:alert(1)", "/admin"},
		{"dashboard", "/admin"},
	} {
		t.Run(fmt.Sprintf("%q", tc.next), func(t *testing.T) {
			// One account per case: the per-email limiter allows a burst of 5.
			email := fmt.Sprintf("admin%d@example.com", i)
			h.admin(email)
			c := h.client()
			// The form carries next through; only a safe value is rendered.
			page := c.get("/login?next=" + url.QueryEscape(tc.next))
			wantStatus(t, page, http.StatusOK)
			if tc.want != tc.next {
				wantNotContains(t, page.Body, "evil.example")
			}
			r := c.submit("/login", "/login", url.Values{"email": {email}, "password": {password}, "next": {tc.next}})
			wantRedirect(t, r, tc.want)
		})
	}
}

func TestLoginFormRedirectsWhenSignedIn(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.initOrg("Acme")
	h.admin("admin@example.com")
	c := h.client()
	c.login("admin@example.com")
	wantRedirect(t, c.get("/login"), "/admin")
}

func TestLoginRateLimitPerEmail(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.initOrg("Acme")
	h.admin("victim@example.com")
	h.admin("other@example.com")

	attacker := h.client()
	attacker.remote = "203.0.113.1:5000"
	attacker.get("/login")
	wrong := url.Values{"email": {"victim@example.com"}, "password": {"guess guess guess"}}
	limitedAt := 0
	for i := 1; i <= 6; i++ {
		r := attacker.submit("/login", "/login", wrong)
		if r.StatusCode == http.StatusTooManyRequests {
			limitedAt = i
			wantContains(t, r.Body, "Too many sign-in attempts")
			break
		}
		wantStatus(t, r, http.StatusUnauthorized)
	}
	if limitedAt == 0 {
		t.Fatal("6 quick wrong attempts for one email were never limited")
	}
	if limitedAt < 5 {
		t.Errorf("limited at attempt %d; the per-email burst is 5", limitedAt)
	}

	// While limited, even the right password is refused, and no session is made.
	r := attacker.submit("/login", "/login", url.Values{"email": {"victim@example.com"}, "password": {password}})
	wantStatus(t, r, http.StatusTooManyRequests)
	wantContains(t, r.Body, "Too many sign-in attempts", layoutMarker)
	if ck := setCookieNamed(r, "pulse_session"); ck != nil && ck.Value != "" {
		t.Fatal("a limited login set a session cookie")
	}

	// Another email from another IP is unaffected.
	other := h.client()
	other.remote = "203.0.113.2:5000"
	other.get("/login")
	wantRedirect(t, other.submit("/login", "/login", url.Values{"email": {"other@example.com"}, "password": {password}}), "/admin")

	// The email bucket is per (normalised) address, whatever the IP.
	third := h.client()
	third.remote = "203.0.113.3:5000"
	third.get("/login")
	wantStatus(t, third.submit("/login", "/login", url.Values{"email": {" VICTIM@example.com"}, "password": {password}}),
		http.StatusTooManyRequests)

	// A minute later one attempt is allowed again (injected clock, no sleep).
	h.clock.Advance(61 * time.Second)
	wantRedirect(t, attacker.submit("/login", "/login", url.Values{"email": {"victim@example.com"}, "password": {password}}), "/admin")
}

func TestLoginRateLimitPerIP(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.initOrg("Acme")
	h.admin("real@example.com")

	c := h.client()
	c.remote = "203.0.113.50:1"
	c.get("/login")
	limited := false
	// Spraying many addresses from one IP: each email stays under its own burst.
	for i := 0; i < 40 && !limited; i++ {
		r := c.submit("/login", "/login", url.Values{"email": {fmt.Sprintf("spray%d@example.com", i)}, "password": {"x"}})
		switch r.StatusCode {
		case http.StatusTooManyRequests:
			limited = true
		case http.StatusUnauthorized:
		default:
			t.Fatalf("attempt %d: status %d", i, r.StatusCode)
		}
	}
	if !limited {
		t.Fatal("40 quick attempts from one IP were never limited")
	}
	// Another IP is not affected.
	d := h.client()
	d.remote = "203.0.113.51:1"
	d.get("/login")
	wantRedirect(t, d.submit("/login", "/login", url.Values{"email": {"real@example.com"}, "password": {password}}), "/admin")
}
