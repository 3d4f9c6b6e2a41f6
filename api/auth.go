package api

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/pulse-survey/pulse/survey"
)

const (
	sessionCookie = "pulse_session"
	csrfCookie    = "pulse_csrf"
	csrfField     = "_csrf"
	principalKey  = "pulse.principal"
)

// csrf protects every form and cookie-authenticated API call. Forms carry
// the token in a hidden field, scripts in the X-CSRF-Token header.
func (s *Server) csrf() echo.MiddlewareFunc {
	return middleware.CSRFWithConfig(middleware.CSRFConfig{
		TokenLookup:    "form:" + csrfField + ",header:X-CSRF-Token",
		CookieName:     csrfCookie,
		CookiePath:     "/",
		CookieHTTPOnly: true,
		CookieSecure:   s.secure,
		CookieSameSite: http.SameSiteStrictMode,
		// A request with an API token carries no cookie that a forged
		// request could ride on (loadPrincipal then ignores the session).
		Skipper: func(c echo.Context) bool {
			_, ok := bearerToken(c)
			return ok
		},
		ErrorHandler: func(err error, c echo.Context) error {
			return echo.NewHTTPError(http.StatusForbidden, "The form expired or came from another site. Reload the page and try again.")
		},
	})
}

// loadPrincipal resolves the session cookie, if any, into a principal. On
// the JSON API an Authorization: Bearer header takes precedence: the API
// token alone then decides, and a bad one is 401 whatever the cookies.
func (s *Server) loadPrincipal(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if secret, ok := bearerToken(c); ok {
			p, err := s.svc.APITokens().Principal(c.Request().Context(), secret)
			if errors.Is(err, survey.ErrInvalidToken) {
				c.Response().Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
				return echo.NewHTTPError(http.StatusUnauthorized, "The API token is unknown, revoked or expired.")
			}
			if err != nil {
				return err
			}
			c.Set(principalKey, p)
			return next(c)
		}
		ck, err := c.Cookie(sessionCookie)
		if err != nil || ck.Value == "" {
			return next(c)
		}
		ctx := c.Request().Context()
		u, err := s.svc.Accounts.SessionUser(ctx, ck.Value)
		if errors.Is(err, survey.ErrExpired) {
			s.clearSessionCookie(c)
			return next(c)
		}
		if err != nil {
			return err
		}
		p, err := s.svc.Accounts.Principal(ctx, u)
		if err != nil {
			return err
		}
		c.Set(principalKey, p)
		return next(c)
	}
}

// bearerToken returns the API token of a request to the JSON API. Pages
// never read the Authorization header: they run on the session cookie only.
func bearerToken(c echo.Context) (string, bool) {
	if !strings.HasPrefix(c.Request().URL.Path, "/api/v1/") {
		return "", false
	}
	scheme, token, ok := strings.Cut(c.Request().Header.Get(echo.HeaderAuthorization), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(token), true
}

func principal(c echo.Context) *survey.Principal {
	p, _ := c.Get(principalKey).(*survey.Principal)
	return p
}

// authorize is the one check every protected route uses: the request must
// come from an account with at least the role (admin includes leader), and
// each team given must be in the account's scope.
func (s *Server) authorize(c echo.Context, role survey.Role, teamIDs ...uint) (*survey.Principal, error) {
	p := principal(c)
	if p == nil {
		return nil, errUnauthenticated
	}
	if role == survey.RoleAdmin && !p.IsAdmin() {
		return nil, survey.ErrForbidden
	}
	if s.needsTwoFactor(p) {
		return nil, errTwoFactorRequired
	}
	for _, id := range teamIDs {
		if !p.Can(id) {
			return nil, survey.ErrForbidden
		}
	}
	return p, nil
}

// requireRole guards a route with authorize for the role alone; handlers
// check team scope themselves with authorize.
func (s *Server) requireRole(role survey.Role) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if _, err := s.authorize(c, role); err != nil {
				return err
			}
			return next(c)
		}
	}
}

func (s *Server) setSessionCookie(c echo.Context, token string) {
	c.SetCookie(&http.Cookie{Name: sessionCookie, Value: token, Path: "/", HttpOnly: true, Secure: s.secure,
		SameSite: http.SameSiteLaxMode, MaxAge: int(s.deps.SessionTTL / time.Second)})
}

func (s *Server) clearSessionCookie(c echo.Context) {
	c.SetCookie(&http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true, Secure: s.secure,
		SameSite: http.SameSiteLaxMode, MaxAge: -1})
}

type loginForm struct {
	Email    string `form:"email"`
	Password string `form:"password"`
	Next     string `form:"next"`
}

type loginView struct {
	Email string
	Next  string
	Error string
	// Reset says the password was just changed by a reset link.
	Reset bool
	// SSO offers single sign-on; SSOOnly hides the password form.
	SSO, SSOOnly bool
	// SSOFailed says Error is about single sign-on, not the form's fields.
	SSOFailed bool
}

func (s *Server) loginForm(c echo.Context) error {
	if p := principal(c); p != nil {
		return c.Redirect(http.StatusSeeOther, homeFor(p))
	}
	return c.Render(http.StatusOK, "login.html", s.page(c, "Sign in", loginView{Next: safeNext(c.QueryParam("next")),
		Reset: c.QueryParam("reset") == "1", SSO: s.sso != nil, SSOOnly: s.ssoOnly()}))
}

func (s *Server) login(c echo.Context) error {
	var f loginForm
	if err := c.Bind(&f); err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "The form could not be read.")
	}
	view := loginView{Email: f.Email, Next: safeNext(f.Next), SSO: s.sso != nil, SSOOnly: s.ssoOnly()}
	if view.SSOOnly {
		view.Error = "Passwords are turned off here: sign in with single sign-on."
		return c.Render(http.StatusForbidden, "login.html", s.page(c, "Sign in", view))
	}
	if !s.limiter.allow(c.RealIP(), f.Email) {
		view.Error = "Too many sign-in attempts failed. Wait a few minutes, then try again."
		return c.Render(http.StatusTooManyRequests, "login.html", s.page(c, "Sign in", view))
	}
	ctx := c.Request().Context()
	u, err := s.svc.Accounts.Authenticate(ctx, f.Email, f.Password)
	if errors.Is(err, survey.ErrInvalidCredentials) {
		s.limiter.fail(c.RealIP(), f.Email)
		view.Error = "The email or password is wrong."
		return c.Render(http.StatusUnauthorized, "login.html", s.page(c, "Sign in", view))
	}
	if err != nil {
		return err
	}
	if !u.TwoFactor() {
		// With two-factor sign-in, the counters clear only after the code.
		s.limiter.succeed(c.RealIP(), f.Email)
	}
	return s.signIn(c, u, view.Next)
}

func (s *Server) logout(c echo.Context) error {
	if ck, err := c.Cookie(sessionCookie); err == nil && ck.Value != "" {
		if err := s.svc.Accounts.EndSession(c.Request().Context(), ck.Value); err != nil {
			return err
		}
	}
	s.clearSessionCookie(c)
	return c.Redirect(http.StatusSeeOther, "/")
}

func homeFor(p *survey.Principal) string {
	if p.IsAdmin() {
		return "/admin"
	}
	return "/dashboard"
}

// safeNext accepts only local paths, so the login form cannot be used to
// redirect to another site.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.Contains(next, "\\") {
		return ""
	}
	if u, err := url.Parse(next); err != nil || u.Host != "" || u.Scheme != "" {
		return ""
	}
	return next
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

type setupForm struct {
	OrgName      string `form:"org_name"`
	TimeZone     string `form:"time_zone"`
	MinGroupSize int    `form:"min_group_size"`
	Name         string `form:"name"`
	Email        string `form:"email"`
	Password     string `form:"password"`
}

type setupView struct {
	Form      setupForm
	NeedsOrg  bool
	Role      survey.Role
	Email     string // fixed by the invite, if any
	Errors    map[string]string
	TimeZones []string
}

// setupForm serves a one-time account link: the first admin (with the
// organisation's settings when none exist yet) or an invited account.
func (s *Server) setupForm(c echo.Context) error {
	ctx := c.Request().Context()
	inv, err := s.svc.Accounts.Invite(ctx, c.Param("token"))
	if err != nil {
		return err
	}
	view, err := s.setupViewFor(c, inv)
	if err != nil {
		return err
	}
	view.Form.TimeZone = "UTC"
	view.Form.MinGroupSize = survey.DefaultMinGroupSize
	return c.Render(http.StatusOK, "setup.html", s.page(c, "Create your account", view))
}

func (s *Server) setupViewFor(c echo.Context, inv *survey.AccountInvite) (setupView, error) {
	hasOrg, err := s.svc.Org.Initialized(c.Request().Context())
	if err != nil {
		return setupView{}, err
	}
	return setupView{NeedsOrg: !hasOrg && inv.Role == survey.RoleAdmin, Role: inv.Role, Email: inv.Email,
		TimeZones: commonTimeZones}, nil
}

func (s *Server) setup(c echo.Context) error {
	ctx := c.Request().Context()
	token := c.Param("token")
	inv, err := s.svc.Accounts.Invite(ctx, token)
	if err != nil {
		return err
	}
	view, err := s.setupViewFor(c, inv)
	if err != nil {
		return err
	}
	if err := c.Bind(&view.Form); err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "The form could not be read.")
	}
	fail := func(err error) error {
		var ve *survey.ValidationError
		if !errors.As(err, &ve) {
			return err
		}
		view.Errors = ve.Fields
		return c.Render(http.StatusUnprocessableEntity, "setup.html", s.page(c, "Create your account", view))
	}
	var org *survey.SettingsInput
	if view.NeedsOrg {
		org = &survey.SettingsInput{Name: view.Form.OrgName, TimeZone: view.Form.TimeZone, MinGroupSize: view.Form.MinGroupSize}
	}
	u, err := s.svc.Accounts.Setup(ctx, org, survey.AcceptInput{Token: token, Email: view.Form.Email,
		Name: view.Form.Name, Password: view.Form.Password})
	if err != nil {
		return fail(err)
	}
	sessionToken, err := s.svc.Accounts.CreateSession(ctx, u.ID, s.deps.SessionTTL)
	if err != nil {
		return err
	}
	s.setSessionCookie(c, sessionToken)
	return c.Redirect(http.StatusSeeOther, homeFor(&survey.Principal{User: *u}))
}

// commonTimeZones fills the time zone picker; any IANA name is accepted.
var commonTimeZones = []string{
	"UTC", "Europe/London", "Europe/Dublin", "Europe/Lisbon", "Europe/Paris", "Europe/Berlin", "Europe/Amsterdam",
	"Europe/Madrid", "Europe/Rome", "Europe/Stockholm", "Europe/Warsaw", "Europe/Athens", "Europe/Helsinki",
	"America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles", "America/Toronto",
	"America/Sao_Paulo", "America/Mexico_City", "Asia/Kolkata", "Asia/Singapore", "Asia/Tokyo", "Asia/Shanghai",
	"Asia/Dubai", "Australia/Sydney", "Pacific/Auckland", "Africa/Johannesburg", "Africa/Lagos",
}
