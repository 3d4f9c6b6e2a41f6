package e2e

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/oauth2-proxy/mockoidc"

	"github.com/pulse-survey/pulse/api"
	"github.com/pulse-survey/pulse/survey"
)

// TestSSOSignIn signs an admin in through a real OpenID Connect provider
// (mockoidc on another local port), in Chromium: the browser follows the
// redirects to the provider and back. An unverified email is refused on
// the sign-in page.
func TestSSOSignIn(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	idp, err := mockoidc.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := idp.Start(ln, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idp.Shutdown() })
	srv := startPulse(t, func(d *api.Deps) {
		d.SSO = &api.SSOConfig{Issuer: idp.Issuer(), ClientID: idp.ClientID, ClientSecret: idp.ClientSecret,
			AllowedDomains: []string{"acme.example"}}
	})
	ctx := context.Background()
	if _, err := srv.svc.Org.Init(ctx, survey.SettingsInput{Name: "Acme", TimeZone: "UTC", MinGroupSize: 5}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.svc.Accounts.CreateUser(ctx, survey.UserInput{Email: "alex@acme.example", Name: "Alex Admin",
		Role: survey.RoleAdmin, Password: "a long enough passphrase"}); err != nil {
		t.Fatal(err)
	}

	tb := newTab(t, "sso", desktop)
	tb.navigate(srv.URL + "/login")
	tb.shot("login-with-sso")
	checkAxe(tb, "login: with single sign-on")
	idrefProblemsFail(tb, "login: with single sign-on")
	idp.QueueUser(&mockoidc.MockUser{Subject: "alex", Email: "alex@acme.example", EmailVerified: true})
	tb.navigation(chromedp.Click(chromedp.ID("sso-link")))
	tb.waitFor("the admin page", `location.pathname === "/admin"`)
	if !strings.HasSuffix(tb.url(), "/admin") {
		t.Fatalf("after single sign-on the browser is on %s, want /admin", tb.url())
	}
	if !visitedProvider(tb.requested(), idp.AuthorizationEndpoint()) {
		t.Errorf("the browser never went to the provider: %v", tb.requested())
	}

	refused := newTab(t, "sso-refused", desktop)
	refused.allow("console", "status of 403")
	refused.navigate(srv.URL + "/login")
	idp.QueueUser(&mockoidc.MockUser{Subject: "sam", Email: "alex@acme.example", EmailVerified: false})
	resp := refused.navigation(chromedp.Click(chromedp.ID("sso-link")))
	refused.waitFor("the refusal", `document.getElementById("login-error") !== null`)
	if resp != nil && resp.Status != http.StatusForbidden {
		t.Errorf("unverified email: status %v, want 403", statusOf(resp))
	}
	text := eval[string](refused, `document.getElementById("login-error").innerText`)
	if !strings.Contains(text, "has not verified this email address") {
		t.Errorf("refusal says %q", text)
	}
	refused.shot("sso-refused")
	checkAxe(refused, "login: single sign-on refused")
}

func visitedProvider(reqs []string, authorize string) bool {
	for _, r := range reqs {
		if strings.Contains(r, strings.TrimPrefix(authorize, "http://")) {
			return true
		}
	}
	return false
}
