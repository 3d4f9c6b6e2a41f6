package api

// Single sign-on with OpenID Connect for leaders and admins (authorization
// code flow with state, nonce and PKCE). Employees never sign in: survey
// routes know nothing of it.

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/labstack/echo/v4"
	"golang.org/x/oauth2"

	"github.com/pulse-survey/pulse/survey"
)

// SSOConfig turns on sign-in with an OpenID Connect identity provider.
type SSOConfig struct {
	// Issuer is the provider's issuer URL (its discovery document lives at
	// Issuer + "/.well-known/openid-configuration").
	Issuer       string
	ClientID     string
	ClientSecret string
	// AllowedDomains limits sign-in to these email domains; empty allows any
	// (accounts are still matched by verified email).
	AllowedDomains []string
	// Only turns password sign-in and password reset requests off.
	Only bool
}

const (
	ssoCookie    = "pulse_sso"
	ssoCookieTTL = 10 * time.Minute
	ssoCallback  = "/login/sso/callback"
)

// sso holds the provider, discovered on first use (and again after a
// failed discovery), so Pulse starts even while the provider is down.
type sso struct {
	cfg      SSOConfig
	mu       sync.Mutex
	provider *oidc.Provider
}

func (x *sso) discover(ctx context.Context) (*oidc.Provider, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.provider != nil {
		return x.provider, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(ctx, x.cfg.Issuer)
	if err != nil {
		return nil, err
	}
	x.provider = p
	return p, nil
}

// ssoFlow is what the browser carries between the redirect to the provider
// and the callback, in a short-lived HttpOnly cookie.
type ssoFlow struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Next     string `json:"x"`
}

func (s *Server) oauthConfig(c echo.Context, p *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{ClientID: s.sso.cfg.ClientID, ClientSecret: s.sso.cfg.ClientSecret, Endpoint: p.Endpoint(),
		RedirectURL: s.publicURL(c) + ssoCallback, Scopes: []string{oidc.ScopeOpenID, "email"}}
}

// ssoStart redirects to the identity provider.
func (s *Server) ssoStart(c echo.Context) error {
	if s.sso == nil {
		return survey.ErrNotFound
	}
	p, err := s.sso.discover(c.Request().Context())
	if err != nil {
		s.logger(c).Error("single sign-on: provider discovery failed", "issuer", s.sso.cfg.Issuer, "err", err)
		return s.loginRefused(c, http.StatusBadGateway, "The identity provider cannot be reached. Try again in a moment.")
	}
	f := ssoFlow{State: oauth2.GenerateVerifier(), Nonce: oauth2.GenerateVerifier(), Verifier: oauth2.GenerateVerifier(),
		Next: safeNext(c.QueryParam("next"))}
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	c.SetCookie(&http.Cookie{Name: ssoCookie, Value: base64.RawURLEncoding.EncodeToString(b), Path: "/",
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode, MaxAge: int(ssoCookieTTL / time.Second)})
	url := s.oauthConfig(c, p).AuthCodeURL(f.State, oidc.Nonce(f.Nonce), oauth2.S256ChallengeOption(f.Verifier))
	return c.Redirect(http.StatusFound, url)
}

func (s *Server) loginRefused(c echo.Context, status int, msg string) error {
	return c.Render(status, "login.html", s.page(c, "Sign in", loginView{Error: msg, SSO: s.sso != nil, SSOOnly: s.ssoOnly(), SSOFailed: true}))
}

func (s *Server) ssoOnly() bool { return s.sso != nil && s.sso.cfg.Only }

// ssoCallback completes the sign-in: the state must match the cookie, the
// code is exchanged with the PKCE verifier, and the ID token must be signed
// by the provider, issued by the configured issuer for this client, unexpired
// and carry the nonce. Then the verified email must match an active account.
func (s *Server) ssoCallback(c echo.Context) error {
	if s.sso == nil {
		return survey.ErrNotFound
	}
	// The flow cookie is single-use, whatever happens next.
	c.SetCookie(&http.Cookie{Name: ssoCookie, Value: "", Path: "/", HttpOnly: true, Secure: s.secure,
		SameSite: http.SameSiteLaxMode, MaxAge: -1})
	restart := "The sign-in expired or did not start here. Start again."
	var f ssoFlow
	ck, err := c.Cookie(ssoCookie)
	if err != nil {
		return s.loginRefused(c, http.StatusBadRequest, restart)
	}
	raw, err := base64.RawURLEncoding.DecodeString(ck.Value)
	if err != nil || json.Unmarshal(raw, &f) != nil || f.State == "" || f.Nonce == "" || f.Verifier == "" {
		return s.loginRefused(c, http.StatusBadRequest, restart)
	}
	state := c.QueryParam("state")
	if subtle.ConstantTimeCompare([]byte(state), []byte(f.State)) != 1 {
		return s.loginRefused(c, http.StatusBadRequest, restart)
	}
	if e := c.QueryParam("error"); e != "" {
		s.logger(c).Warn("single sign-on: the provider refused", "error", e)
		return s.loginRefused(c, http.StatusForbidden, "The identity provider did not sign you in.")
	}
	ctx := c.Request().Context()
	p, err := s.sso.discover(ctx)
	if err != nil {
		s.logger(c).Error("single sign-on: provider discovery failed", "issuer", s.sso.cfg.Issuer, "err", err)
		return s.loginRefused(c, http.StatusBadGateway, "The identity provider cannot be reached. Try again in a moment.")
	}
	tok, err := s.oauthConfig(c, p).Exchange(ctx, c.QueryParam("code"), oauth2.VerifierOption(f.Verifier))
	if err != nil {
		s.logger(c).Warn("single sign-on: code exchange failed", "err", err)
		return s.loginRefused(c, http.StatusForbidden, "The identity provider did not confirm the sign-in. Start again.")
	}
	rawID, _ := tok.Extra("id_token").(string)
	idt, err := p.Verifier(&oidc.Config{ClientID: s.sso.cfg.ClientID}).Verify(ctx, rawID)
	if err == nil && subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(f.Nonce)) != 1 {
		err = errors.New("nonce mismatch")
	}
	if err != nil {
		s.logger(c).Warn("single sign-on: ID token refused", "err", err)
		return s.loginRefused(c, http.StatusForbidden, "The identity provider's answer could not be verified. Start again.")
	}
	var claims struct {
		Email         string `json:"email"`
		EmailVerified any    `json:"email_verified"`
	}
	if err := idt.Claims(&claims); err != nil {
		return s.loginRefused(c, http.StatusForbidden, "The identity provider's answer could not be read.")
	}
	// Some providers send email_verified as a string.
	verified := claims.EmailVerified == true || claims.EmailVerified == "true"
	u, err := s.svc.Accounts.SSOUser(ctx, survey.SSOIdentity{Email: claims.Email, EmailVerified: verified}, s.sso.cfg.AllowedDomains)
	if errors.Is(err, survey.ErrSSORefused) {
		msg, _, _ := strings.Cut(err.Error(), ": ")
		return s.loginRefused(c, http.StatusForbidden, "Single sign-on refused: "+msg+".")
	}
	if err != nil {
		return err
	}
	return s.signIn(c, u, f.Next)
}
