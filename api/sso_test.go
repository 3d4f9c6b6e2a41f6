package api_test

import (
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauth2-proxy/mockoidc"

	"github.com/pulse-survey/pulse/api"
)

// idp is a real OpenID Connect provider (mockoidc) on a local port. Its
// token endpoint can be handed to an impostor that signs with the same
// key but claims another issuer or audience.
type idp struct {
	t  *testing.T
	m  *mockoidc.MockOIDC
	mu sync.Mutex
	// token, when set, answers the token endpoint instead of m.
	token http.HandlerFunc
}

func startIDP(t *testing.T) *idp {
	t.Helper()
	m, err := mockoidc.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	x := &idp{t: t, m: m}
	if err := m.AddMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			x.mu.Lock()
			h := x.token
			x.mu.Unlock()
			if h != nil && r.URL.Path == mockoidc.TokenEndpoint {
				h(w, r)
				return
			}
			next.ServeHTTP(w, r)
		})
	}); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ln, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Shutdown() })
	return x
}

// impostor makes the token endpoint answer with tokens signed by the real
// key but issued by issuerHost and for clientID.
func (x *idp) impostor(issuerHost, clientID string) {
	b, err := mockoidc.NewServer(x.m.Keypair.PrivateKey)
	if err != nil {
		x.t.Fatal(err)
	}
	b.Server = &http.Server{Addr: issuerHost} // only names the issuer; never started
	b.SessionStore = x.m.SessionStore
	b.ClientID, b.ClientSecret = clientID, x.m.ClientSecret
	x.mu.Lock()
	defer x.mu.Unlock()
	x.token = func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Form.Set("client_id", b.ClientID)
		r.Form.Set("client_secret", b.ClientSecret)
		b.Token(w, r)
	}
}

func (x *idp) config(only bool, domains ...string) *api.SSOConfig {
	return &api.SSOConfig{Issuer: x.m.Issuer(), ClientID: x.m.ClientID, ClientSecret: x.m.ClientSecret,
		AllowedDomains: domains, Only: only}
}

// ssoAuthorize starts single sign-on in c, lets the provider sign user in
// (a real HTTP round trip to it) and returns the callback URL path and
// query the provider sends the browser back to.
func ssoAuthorize(t *testing.T, c *client, x *idp, user *mockoidc.MockUser) (*url.URL, url.Values) {
	t.Helper()
	r := c.get("/login/sso?next=/reports")
	wantStatus(t, r, http.StatusFound)
	auth, err := url.Parse(r.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(auth.String(), x.m.AuthorizationEndpoint()) {
		t.Fatalf("redirect to %q, want the provider's authorization endpoint", r.Header.Get("Location"))
	}
	q := auth.Query()
	for _, p := range []string{"state", "nonce", "code_challenge"} {
		if len(q.Get(p)) < 32 {
			t.Fatalf("authorization request without a strong %s: %v", p, q)
		}
	}
	if q.Get("code_challenge_method") != "S256" || q.Get("redirect_uri") != baseURL+"/login/sso/callback" ||
		!strings.Contains(q.Get("scope"), "openid") || !strings.Contains(q.Get("scope"), "email") {
		t.Fatalf("authorization request %v", q)
	}
	if user != nil {
		x.m.QueueUser(user)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(auth.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	back, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound || !strings.HasPrefix(back.String(), baseURL+"/login/sso/callback?") {
		t.Fatalf("provider answered %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return back, back.Query()
}

func callbackPath(u *url.URL, q url.Values) string { return u.Path + "?" + q.Encode() }

func verifiedUser(email string) *mockoidc.MockUser {
	return &mockoidc.MockUser{Subject: "sub-" + email, Email: email, EmailVerified: true}
}

func TestSSOSignIn(t *testing.T) {
	t.Parallel()
	x := startIDP(t)
	h := newHarness(t, func(d *api.Deps) { d.SSO = x.config(false, "acme.example") })
	o := buildOrg(h)
	h.leader("lead@acme.example", o.eng)
	h.admin("admin@acme.example")

	c := h.client()
	wantContains(t, c.get("/login").Body, `href="/login/sso"`, "Sign in with single sign-on", `action="/login"`)
	back, q := ssoAuthorize(t, c, x, verifiedUser("Lead@Acme.example"))
	r := c.get(callbackPath(back, q))
	wantRedirect(t, r, "/reports")
	if ck := setCookieNamed(r, "pulse_session"); ck == nil || ck.Value == "" || !ck.HttpOnly {
		t.Fatalf("no session cookie: %v", r.Header.Values("Set-Cookie"))
	}
	if ck := setCookieNamed(r, "pulse_sso"); ck == nil || ck.MaxAge >= 0 {
		t.Error("the flow cookie is not cleared after the callback")
	}
	var me meResp
	decodeJSON(t, c.get("/api/v1/me"), &me)
	if me.Email != "lead@acme.example" || me.Role != "leader" {
		t.Fatalf("signed in as %+v", me)
	}
	// The flow is single-use: replaying the callback is refused.
	wantStatus(t, c.get(callbackPath(back, q)), http.StatusBadRequest)

	// Passwords still work when SSO is not exclusive.
	p := h.client()
	p.login("admin@acme.example")

	// Survey routes never involve single sign-on.
	anon := h.client()
	sr := anon.get("/s/not-a-real-link")
	if loc := sr.Header.Get("Location"); strings.Contains(loc, "sso") || strings.Contains(loc, "login") {
		t.Fatalf("a survey link redirected to %q", loc)
	}
	wantNotContains(t, sr.Body, "single sign-on")
	if anon.cookie("pulse_sso") != nil || anon.cookie("pulse_session") != nil {
		t.Fatal("a survey page set a sign-in cookie")
	}
}

func TestSSORefusals(t *testing.T) {
	t.Parallel()
	x := startIDP(t)
	h := newHarness(t, func(d *api.Deps) { d.SSO = x.config(false, "acme.example") })
	o := buildOrg(h)
	boss := h.admin("admin@acme.example")
	off := h.leader("off@acme.example", o.eng)
	if _, err := h.svc.Accounts.SetActive(h.ctx, boss.ID, off.ID, false); err != nil {
		t.Fatal(err)
	}
	h.leader("lead@other.example", o.eng)

	refused := func(t *testing.T, r *response, status int, msg string) {
		t.Helper()
		wantStatus(t, r, status)
		wantContains(t, r.Body, msg, `id="login-error"`)
		if ck := setCookieNamed(r, "pulse_session"); ck != nil && ck.Value != "" {
			t.Fatal("a refused sign-in set a session cookie")
		}
	}

	for _, tc := range []struct {
		name, email string
		verified    bool
		msg         string
	}{
		{"unverified email", "admin@acme.example", false, "has not verified this email address"},
		{"unknown email", "nobody@acme.example", true, "no Pulse account uses this email address"},
		{"deactivated account", "off@acme.example", true, "this Pulse account is deactivated"},
		{"domain not allowed", "lead@other.example", true, "email domain may not sign in"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := h.client()
			back, q := ssoAuthorize(t, c, x, &mockoidc.MockUser{Subject: "s", Email: tc.email, EmailVerified: tc.verified})
			refused(t, c.get(callbackPath(back, q)), http.StatusForbidden, tc.msg)
		})
	}

	t.Run("wrong state", func(t *testing.T) {
		c := h.client()
		back, q := ssoAuthorize(t, c, x, verifiedUser("admin@acme.example"))
		q.Set("state", q.Get("state")+"x")
		refused(t, c.get(callbackPath(back, q)), http.StatusBadRequest, "did not start here")
	})
	t.Run("callback without the flow cookie", func(t *testing.T) {
		starter := h.client()
		back, q := ssoAuthorize(t, starter, x, verifiedUser("admin@acme.example"))
		// A victim's browser is sent the attacker's callback: no cookie, no sign-in.
		refused(t, h.client().get(callbackPath(back, q)), http.StatusBadRequest, "did not start here")
	})
	t.Run("wrong nonce", func(t *testing.T) {
		c := h.client()
		back, q := ssoAuthorize(t, c, x, verifiedUser("admin@acme.example"))
		sess, err := x.m.SessionStore.GetSessionByID(q.Get("code"))
		if err != nil {
			t.Fatal(err)
		}
		sess.OIDCNonce = "a-nonce-from-another-flow"
		refused(t, c.get(callbackPath(back, q)), http.StatusForbidden, "could not be verified")
	})
	t.Run("wrong issuer", func(t *testing.T) {
		c := h.client()
		back, q := ssoAuthorize(t, c, x, verifiedUser("admin@acme.example"))
		x.impostor("idp.evil.example:443", x.m.ClientID)
		defer func() { x.mu.Lock(); x.token = nil; x.mu.Unlock() }()
		refused(t, c.get(callbackPath(back, q)), http.StatusForbidden, "could not be verified")
	})
	t.Run("wrong audience", func(t *testing.T) {
		c := h.client()
		back, q := ssoAuthorize(t, c, x, verifiedUser("admin@acme.example"))
		x.impostor(x.m.Server.Addr, "another-client")
		defer func() { x.mu.Lock(); x.token = nil; x.mu.Unlock() }()
		refused(t, c.get(callbackPath(back, q)), http.StatusForbidden, "could not be verified")
	})
	t.Run("positive control", func(t *testing.T) {
		// The same flow with nothing tampered signs in, so the refusals
		// above are the checks at work and not a broken setup.
		c := h.client()
		back, q := ssoAuthorize(t, c, x, verifiedUser("admin@acme.example"))
		wantRedirect(t, c.get(callbackPath(back, q)), "/reports")
	})
}

func TestSSOOnlyTurnsPasswordsOff(t *testing.T) {
	t.Parallel()
	x := startIDP(t)
	h := newHarness(t, func(d *api.Deps) {
		d.SSO = x.config(true)
		d.Mailer = &recordingMailer{}
	})
	h.initOrg("Acme")
	h.admin("admin@acme.example")

	c := h.client()
	page := c.get("/login")
	wantContains(t, page.Body, "Sign in with single sign-on")
	wantNotContains(t, page.Body, `action="/login"`, `type="password"`)
	// A script posting a password anyway (with a valid CSRF token) is refused.
	c.csrf = c.cookie("pulse_csrf").Value
	r := c.submit("/login", "/login", url.Values{"email": {"admin@acme.example"}, "password": {password}})
	wantStatus(t, r, http.StatusForbidden)
	wantContains(t, r.Body, "Passwords are turned off")
	if c.cookie("pulse_session") != nil {
		t.Fatal("a password signed in under SSO only")
	}
	r = c.submit("/password/forgot", "/password/forgot", url.Values{"email": {"admin@acme.example"}})
	wantContains(t, r.Body, "single sign-on only")
	if n := len(h.deps.Mailer.(*recordingMailer).all()); n != 0 {
		t.Fatalf("%d reset emails under SSO only", n)
	}

	back, q := ssoAuthorize(t, c, x, verifiedUser("admin@acme.example"))
	wantRedirect(t, c.get(callbackPath(back, q)), "/reports")
	wantStatus(t, c.get("/admin"), http.StatusOK)
}

func TestSSOOffHasNoRoutes(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.initOrg("Acme")
	c := h.client()
	wantStatus(t, c.get("/login/sso"), http.StatusNotFound)
	wantStatus(t, c.get("/login/sso/callback?state=x&code=y"), http.StatusNotFound)
	wantNotContains(t, c.get("/login").Body, "single sign-on")
}

// TestSSOThenSecondFactor: an account with two-factor sign-in still gives
// its code after single sign-on.
func TestSSOThenSecondFactor(t *testing.T) {
	t.Parallel()
	x := startIDP(t)
	h := newHarness(t, func(d *api.Deps) { d.SSO = x.config(false) })
	h.initOrg("Acme")
	h.admin("admin@acme.example")
	c := h.client()
	c.login("admin@acme.example")
	secret, _ := enrol(t, h, c)
	h.clock.Advance(time.Minute)

	d := h.client()
	back, q := ssoAuthorize(t, d, x, verifiedUser("admin@acme.example"))
	wantRedirect(t, d.get(callbackPath(back, q)), "/login/2fa?next=%2Freports")
	wantAPIError(t, d.get("/api/v1/me"), http.StatusUnauthorized, "unauthenticated")
	d.get("/login/2fa")
	wantRedirect(t, d.submit("/login/2fa", "/login/2fa", url.Values{"code": {totpCode(t, secret, h.clock.Now())}, "next": {"/reports"}}), "/reports")
	wantStatus(t, d.get("/admin"), http.StatusOK)
}
