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

// TestLoginRateLimitPerAccountAndIP: failures from one address lock that
// address out of the account, not the account's owner elsewhere; successes
// never count.
func TestLoginRateLimitPerAccountAndIP(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.initOrg("Acme")
	h.admin("victim@example.com")

	// Successes are not attempts to limit.
	owner := h.client()
	owner.remote = "198.51.100.7:5000"
	for i := 0; i < 8; i++ {
		owner.get("/login")
		wantRedirect(t, owner.submit("/login", "/login", url.Values{"email": {"victim@example.com"}, "password": {password}}), "/admin")
		owner.submit("/admin", "/logout", nil)
	}

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
	if limitedAt != 6 {
		t.Fatalf("limited at attempt %d, want 6 (5 failures are free)", limitedAt)
	}

	// While limited, even the right password is refused, and no session is made.
	r := attacker.submit("/login", "/login", url.Values{"email": {"victim@example.com"}, "password": {password}})
	wantStatus(t, r, http.StatusTooManyRequests)
	wantContains(t, r.Body, "Too many sign-in attempts", layoutMarker)
	if ck := setCookieNamed(r, "pulse_session"); ck != nil && ck.Value != "" {
		t.Fatal("a limited login set a session cookie")
	}

	// The owner, from another address (a new one too), still signs in.
	for _, remote := range []string{"198.51.100.7:5000", "198.51.100.8:5000"} {
		c := h.client()
		c.remote = remote
		c.get("/login")
		wantRedirect(t, c.submit("/login", "/login", url.Values{"email": {" VICTIM@example.com"}, "password": {password}}), "/admin")
	}

	// A minute later the attacker's address may try once more (injected clock).
	h.clock.Advance(61 * time.Second)
	wantStatus(t, attacker.submit("/login", "/login", wrong), http.StatusUnauthorized)
	wantStatus(t, attacker.submit("/login", "/login", wrong), http.StatusTooManyRequests)
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
