package api

// Optional TOTP two-factor sign-in: the second step of a sign-in, the
// account's own page to turn it on or off, and the rule that can require
// it of admins.

import (
	"bytes"
	"encoding/base64"
	"errors"
	"html/template"
	"image/png"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/pulse-survey/pulse/survey"
)

const pendingCookie = "pulse_2fa"

// errTwoFactorRequired: admins must turn on two-factor sign-in before
// anything else (Deps.RequireAdmin2FA).
var errTwoFactorRequired = echo.NewHTTPError(http.StatusForbidden,
	"Admins must turn on two-factor sign-in first: open /account/2fa.")

// needsTwoFactor reports whether p must enrol before it may do anything.
// API tokens have no second factor to add.
func (s *Server) needsTwoFactor(p *survey.Principal) bool {
	return s.deps.RequireAdmin2FA && p.IsAdmin() && p.TokenID == 0 && !p.User.TwoFactor()
}

// signIn ends a successful first step (password or single sign-on): a
// session, or, for an account with two-factor sign-in, a pending sign-in
// that waits for the code.
func (s *Server) signIn(c echo.Context, u *survey.User, next string) error {
	ctx := c.Request().Context()
	if next == "" {
		next = homeFor(&survey.Principal{User: *u})
	}
	if u.TwoFactor() {
		token, err := s.svc.Accounts.CreatePendingSession(ctx, u.ID)
		if err != nil {
			return err
		}
		c.SetCookie(&http.Cookie{Name: pendingCookie, Value: token, Path: "/", HttpOnly: true, Secure: s.secure,
			SameSite: http.SameSiteLaxMode, MaxAge: int(survey.PendingSignInTTL.Seconds())})
		return c.Redirect(http.StatusSeeOther, "/login/2fa?next="+urlQueryEscape(next))
	}
	token, err := s.svc.Accounts.CreateSession(ctx, u.ID, s.deps.SessionTTL)
	if err != nil {
		return err
	}
	s.setSessionCookie(c, token)
	return c.Redirect(http.StatusSeeOther, next)
}

type secondFactorView struct {
	Next  string
	Error string
}

func (s *Server) pendingUser(c echo.Context) (*survey.User, string, error) {
	ck, err := c.Cookie(pendingCookie)
	if err != nil || ck.Value == "" {
		return nil, "", survey.ErrExpired
	}
	u, err := s.svc.Accounts.PendingUser(c.Request().Context(), ck.Value)
	return u, ck.Value, err
}

func (s *Server) secondFactorForm(c echo.Context) error {
	if _, _, err := s.pendingUser(c); err != nil {
		return c.Redirect(http.StatusSeeOther, "/login")
	}
	return c.Render(http.StatusOK, "login_2fa.html", s.page(c, "Two-factor sign-in", secondFactorView{Next: safeNext(c.QueryParam("next"))}))
}

// secondFactor checks the code. Wrong codes count as failed sign-ins of
// the account from this address, so the limiter bounds guessing.
func (s *Server) secondFactor(c echo.Context) error {
	u, token, err := s.pendingUser(c)
	if err != nil {
		return c.Redirect(http.StatusSeeOther, "/login")
	}
	view := secondFactorView{Next: safeNext(c.FormValue("next"))}
	if !s.limiter.allow(c.RealIP(), u.Email) {
		view.Error = "Too many sign-in attempts failed. Wait a few minutes, then try again."
		return c.Render(http.StatusTooManyRequests, "login_2fa.html", s.page(c, "Two-factor sign-in", view))
	}
	ctx := c.Request().Context()
	if err := s.svc.Accounts.CheckSecondFactor(ctx, u.ID, c.FormValue("code")); err != nil {
		if !errors.Is(err, survey.ErrSecondFactor) {
			return err
		}
		s.limiter.fail(c.RealIP(), u.Email)
		view.Error = "The code is wrong or was already used. Enter the current code from your app, or a recovery code."
		return c.Render(http.StatusUnauthorized, "login_2fa.html", s.page(c, "Two-factor sign-in", view))
	}
	s.limiter.succeed(c.RealIP(), u.Email)
	if err := s.svc.Accounts.EndSession(ctx, token); err != nil {
		return err
	}
	c.SetCookie(&http.Cookie{Name: pendingCookie, Value: "", Path: "/", HttpOnly: true, Secure: s.secure,
		SameSite: http.SameSiteLaxMode, MaxAge: -1})
	session, err := s.svc.Accounts.CreateSession(ctx, u.ID, s.deps.SessionTTL)
	if err != nil {
		return err
	}
	s.setSessionCookie(c, session)
	next := view.Next
	if next == "" {
		next = homeFor(&survey.Principal{User: *u})
	}
	return c.Redirect(http.StatusSeeOther, next)
}

// --- the account's own page ----------------------------------------------------------

type twoFactorView struct {
	On       bool
	Required bool
	Left     int
	// Enrolment: the new secret, its otpauth URI and QR code (a data: URL).
	Secret, URI string
	QR          template.URL
	// Codes are the recovery codes just made: shown once.
	Codes   []string
	Problem *formProblem
	Saved   string
}

// accountOnly lets a signed-in account (not an API token) through, even an
// admin who still has to enrol.
func (s *Server) accountOnly(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		p := principal(c)
		if p == nil {
			return errUnauthenticated
		}
		if p.TokenID != 0 {
			return survey.ErrForbidden
		}
		return next(c)
	}
}

func (s *Server) twoFactorView(c echo.Context) (*twoFactorView, error) {
	p := principal(c)
	v := &twoFactorView{On: p.User.TwoFactor(), Required: s.needsTwoFactor(p), Saved: c.QueryParam("saved")}
	if v.On {
		n, err := s.svc.Accounts.RecoveryCodesLeft(c.Request().Context(), p.User.ID)
		if err != nil {
			return nil, err
		}
		v.Left = n
		return v, nil
	}
	key, err := s.svc.Accounts.NewTOTPKey(&p.User)
	if err != nil {
		return nil, err
	}
	v.Secret, v.URI = key.Secret(), key.URL()
	img, err := key.Image(240, 240)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	// A PNG of our own making: safe as a data: URL (the CSP allows data: images).
	v.QR = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes()))
	return v, nil
}

func (s *Server) twoFactorPage(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "no-store") // it shows a secret
	v, err := s.twoFactorView(c)
	if err != nil {
		return err
	}
	return c.Render(http.StatusOK, "account_2fa.html", s.page(c, "Two-factor sign-in", v))
}

func (s *Server) twoFactorEnable(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	p := principal(c)
	codes, err := s.svc.Accounts.EnableTOTP(c.Request().Context(), p.User.ID, c.FormValue("secret"), c.FormValue("code"))
	if err != nil {
		prob, ok := asFormProblem(err)
		if !ok {
			return err
		}
		v, verr := s.twoFactorView(c)
		if verr != nil {
			return verr
		}
		v.Problem = prob
		return c.Render(prob.Status, "account_2fa.html", s.page(c, "Two-factor sign-in", v))
	}
	v := &twoFactorView{On: true, Left: len(codes), Codes: codes}
	return c.Render(http.StatusOK, "account_2fa.html", s.page(c, "Two-factor sign-in", v))
}

// twoFactorDisable turns it off with a current code, so a session left
// open on a shared computer cannot.
func (s *Server) twoFactorDisable(c echo.Context) error {
	p := principal(c)
	ctx := c.Request().Context()
	if err := s.svc.Accounts.CheckSecondFactor(ctx, p.User.ID, c.FormValue("code")); err != nil {
		if !errors.Is(err, survey.ErrSecondFactor) {
			return err
		}
		v, verr := s.twoFactorView(c)
		if verr != nil {
			return verr
		}
		v.Problem = &formProblem{Status: http.StatusUnprocessableEntity, Message: "Two-factor sign-in stays on.",
			Fields: map[string]string{"code": "the code is wrong or was already used"}}
		return c.Render(http.StatusUnprocessableEntity, "account_2fa.html", s.page(c, "Two-factor sign-in", v))
	}
	if s.deps.RequireAdmin2FA && p.IsAdmin() {
		return echo.NewHTTPError(http.StatusConflict, "Admins must keep two-factor sign-in on here.")
	}
	if err := s.svc.Accounts.DisableTOTP(ctx, p.User.ID); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/account/2fa?saved=off")
}

// adminTwoFactorReset turns another account's two-factor sign-in off, for
// someone who lost their phone and recovery codes.
func (s *Server) adminTwoFactorReset(c echo.Context) error {
	id, err := idParam(c, "user")
	if err != nil {
		return err
	}
	if err := s.svc.Accounts.DisableTOTP(c.Request().Context(), id); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/admin/leaders/"+c.Param("user")+"?saved=2fa")
}
