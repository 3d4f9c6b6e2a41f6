package api

// Account management by admins (deactivate, reactivate, a leader's teams,
// pending invitations, password reset links) and the public pages that
// request and use a password reset link. Rules live in survey's
// AccountService; these handlers decode, call it and render.

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/pulse-survey/pulse/survey"
)

var errTokenMakesResetLinks = echo.NewHTTPError(http.StatusForbidden,
	"API tokens cannot make password reset links: a link signs in as the account. Sign in as an admin to make one.")

func (s *Server) resetLink(c echo.Context, token string) string {
	return s.publicURL(c) + "/password/reset/" + token
}

func (s *Server) inviteLink(c echo.Context, token string) string {
	return s.publicURL(c) + "/setup/" + token
}

// mailInvite emails an invitation link when email is on. A failure is
// logged and reported as not emailed: the admin still has the link.
func (s *Server) mailInvite(c echo.Context, inv *survey.PendingInvite, link string) bool {
	if s.deps.Mailer == nil {
		return false
	}
	ctx := c.Request().Context()
	em, err := s.svc.Accounts.AccountLinkEmail(ctx, inv, link)
	if err == nil {
		err = s.deps.Mailer.Send(ctx, em)
	}
	if err != nil {
		s.logger(c).Warn("invitation email not sent", "invite", inv.ID, "err", err)
		return false
	}
	return true
}

func fmtExpiry(t time.Time) string { return t.UTC().Format("2 January 2006, 15:04 UTC") }

// --- admin pages ---------------------------------------------------------------------

type accountView struct {
	Account  accountRow
	Self     bool
	Teams    []*survey.TeamNode
	Selected map[uint]bool
	Problem  *formProblem
	Saved    string
	// Link is a reset link just made: shown once, never stored.
	Link    string
	Expires string
}

func (s *Server) accountView(c echo.Context, id uint) (*accountView, error) {
	ctx := c.Request().Context()
	u, err := s.svc.Accounts.User(ctx, id)
	if err != nil {
		return nil, err
	}
	tree, err := s.svc.Org.Tree(ctx)
	if err != nil {
		return nil, err
	}
	v := &accountView{Account: accountRow{User: *u}, Self: principal(c).User.ID == u.ID, Teams: activeTeams(tree),
		Selected: map[uint]bool{}}
	if u.Role != survey.RoleAdmin {
		p, err := s.svc.Accounts.Principal(ctx, u)
		if err != nil {
			return nil, err
		}
		for _, r := range p.Roots {
			v.Selected[r] = true
			v.Account.Scope = append(v.Account.Scope, teamLabel(tree.ByID[r]))
		}
	}
	return v, nil
}

func (s *Server) renderAccount(c echo.Context, status int, v *accountView) error {
	return c.Render(status, "account.html", s.page(c, v.Account.User.Name, v))
}

func (s *Server) adminAccount(c echo.Context) error {
	id, err := idParam(c, "user")
	if err != nil {
		return err
	}
	v, err := s.accountView(c, id)
	if err != nil {
		return err
	}
	switch saved := c.QueryParam("saved"); saved {
	case "teams", "deactivated", "reactivated", "2fa":
		v.Saved = saved
	}
	return s.renderAccount(c, http.StatusOK, v)
}

func (s *Server) adminAccountTeams(c echo.Context) error {
	id, err := idParam(c, "user")
	if err != nil {
		return err
	}
	fields := map[string]string{}
	ids := formUints(c, "team_ids", fields, "choose existing teams")
	err = error(&survey.ValidationError{Fields: fields})
	if len(fields) == 0 {
		err = s.svc.Accounts.SetLeaderTeams(c.Request().Context(), id, ids)
	}
	if err == nil {
		return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/admin/leaders/%d?saved=teams", id))
	}
	prob, ok := asFormProblem(err)
	if !ok {
		return err
	}
	v, verr := s.accountView(c, id)
	if verr != nil {
		return verr
	}
	v.Problem, v.Selected = prob, map[uint]bool{}
	for _, t := range ids {
		v.Selected[t] = true
	}
	return s.renderAccount(c, prob.Status, v)
}

func (s *Server) adminAccountActive(active bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := idParam(c, "user")
		if err != nil {
			return err
		}
		_, err = s.svc.Accounts.SetActive(c.Request().Context(), principal(c).User.ID, id, active)
		if err == nil {
			saved := "deactivated"
			if active {
				saved = "reactivated"
			}
			return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/admin/leaders/%d?saved=%s", id, saved))
		}
		prob, ok := asFormProblem(err)
		if !ok {
			return err
		}
		v, verr := s.accountView(c, id)
		if verr != nil {
			return verr
		}
		v.Problem = prob
		return s.renderAccount(c, prob.Status, v)
	}
}

// adminAccountReset makes a reset link for the admin to pass on; it is
// shown once.
func (s *Server) adminAccountReset(c echo.Context) error {
	if principal(c).TokenID != 0 {
		return errTokenMakesResetLinks
	}
	id, err := idParam(c, "user")
	if err != nil {
		return err
	}
	token, expires, err := s.svc.Accounts.CreatePasswordReset(c.Request().Context(), id, survey.AdminResetTTL)
	v, verr := s.accountView(c, id)
	if verr != nil {
		return verr
	}
	if err != nil {
		prob, ok := asFormProblem(err)
		if !ok {
			return err
		}
		v.Problem = prob
		return s.renderAccount(c, prob.Status, v)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	v.Link, v.Expires = s.resetLink(c, token), fmtExpiry(expires)
	return s.renderAccount(c, http.StatusCreated, v)
}

func (s *Server) adminInviteResend(c echo.Context) error {
	id, err := idParam(c, "invite")
	if err != nil {
		return err
	}
	token, inv, err := s.svc.Accounts.ResendInvite(c.Request().Context(), id)
	if err != nil {
		return err
	}
	v, err := s.leadersView(c)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	v.Link = s.inviteLink(c, token)
	v.Emailed = s.mailInvite(c, inv, v.Link)
	v.Invited = inviteForm{Email: inv.Email, Role: inv.Role}
	v.Expires = fmtExpiry(inv.ExpiresAt)
	return c.Render(http.StatusOK, "leaders.html", s.page(c, "Leaders and admins", v))
}

func (s *Server) adminInviteRevoke(c echo.Context) error {
	id, err := idParam(c, "invite")
	if err != nil {
		return err
	}
	if err := s.svc.Accounts.RevokeInvite(c.Request().Context(), id); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/admin/leaders?revoked=1")
}

// --- JSON API ----------------------------------------------------------------------

func (s *Server) accountJSON(c echo.Context, status int, id uint) error {
	ctx := c.Request().Context()
	u, err := s.svc.Accounts.User(ctx, id)
	if err != nil {
		return err
	}
	r := accountResponse{ID: u.ID, Email: u.Email, Name: u.Name, Role: u.Role, Active: u.Active, Scope: []uint{}, LastLoginAt: u.LastLoginAt}
	if u.Role != survey.RoleAdmin {
		p, err := s.svc.Accounts.Principal(ctx, u)
		if err != nil {
			return err
		}
		r.Scope = append(r.Scope, p.Roots...)
	}
	return c.JSON(status, r)
}

func (s *Server) apiAdminAccount(c echo.Context) error {
	id, err := idParam(c, "user")
	if err != nil {
		return err
	}
	return s.accountJSON(c, http.StatusOK, id)
}

type accountTeamsRequest struct {
	TeamIDs []uint `json:"team_ids"`
}

func (s *Server) apiAdminAccountTeams(c echo.Context) error {
	id, err := idParam(c, "user")
	if err != nil {
		return err
	}
	var req accountTeamsRequest
	if err := decodeStrict(c, &req); err != nil {
		return err
	}
	if err := s.svc.Accounts.SetLeaderTeams(c.Request().Context(), id, req.TeamIDs); err != nil {
		return err
	}
	return s.accountJSON(c, http.StatusOK, id)
}

func (s *Server) apiAdminAccountActive(active bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := idParam(c, "user")
		if err != nil {
			return err
		}
		if _, err := s.svc.Accounts.SetActive(c.Request().Context(), principal(c).User.ID, id, active); err != nil {
			return err
		}
		return s.accountJSON(c, http.StatusOK, id)
	}
}

type linkResponse struct {
	Link      string    `json:"link"`
	ExpiresAt time.Time `json:"expires_at"`
	Emailed   bool      `json:"emailed"`
}

func (s *Server) apiAdminAccountReset(c echo.Context) error {
	if principal(c).TokenID != 0 {
		return errTokenMakesResetLinks
	}
	id, err := idParam(c, "user")
	if err != nil {
		return err
	}
	token, expires, err := s.svc.Accounts.CreatePasswordReset(c.Request().Context(), id, survey.AdminResetTTL)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusCreated, linkResponse{Link: s.resetLink(c, token), ExpiresAt: expires.UTC()})
}

type pendingInviteResponse struct {
	ID        uint        `json:"id"`
	Email     string      `json:"email"`
	Role      survey.Role `json:"role"`
	TeamIDs   []uint      `json:"team_ids"`
	CreatedAt time.Time   `json:"created_at"`
	ExpiresAt time.Time   `json:"expires_at"`
	Expired   bool        `json:"expired"`
}

func (s *Server) apiAdminInvites(c echo.Context) error {
	invs, err := s.svc.Accounts.PendingInvites(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]pendingInviteResponse, 0, len(invs))
	for _, inv := range invs {
		out = append(out, pendingInviteResponse{ID: inv.ID, Email: inv.Email, Role: inv.Role, TeamIDs: inv.TeamIDs,
			CreatedAt: inv.CreatedAt, ExpiresAt: inv.ExpiresAt, Expired: inv.Expired})
	}
	return c.JSON(http.StatusOK, map[string]any{"invites": out})
}

func (s *Server) apiAdminInviteResend(c echo.Context) error {
	id, err := idParam(c, "invite")
	if err != nil {
		return err
	}
	token, inv, err := s.svc.Accounts.ResendInvite(c.Request().Context(), id)
	if err != nil {
		return err
	}
	link := s.inviteLink(c, token)
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, linkResponse{Link: link, ExpiresAt: inv.ExpiresAt.UTC(), Emailed: s.mailInvite(c, inv, link)})
}

func (s *Server) apiAdminInviteRevoke(c echo.Context) error {
	id, err := idParam(c, "invite")
	if err != nil {
		return err
	}
	if err := s.svc.Accounts.RevokeInvite(c.Request().Context(), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// --- public: forgotten password ------------------------------------------------------

type forgotView struct {
	SSOOnly bool
	EmailOn bool
	Email   string
	Sent    bool
	Error   string
}

func (s *Server) forgotForm(c echo.Context) error {
	return c.Render(http.StatusOK, "password_forgot.html", s.page(c, "Forgot your password?",
		forgotView{EmailOn: s.deps.Mailer != nil, SSOOnly: s.ssoOnly()}))
}

// forgot emails a reset link if the address has an active account. The
// answer is the same either way, and each request counts against the
// same kind of limits as a failed sign-in, so the form can neither tell
// who has an account nor flood anyone's mailbox.
func (s *Server) forgot(c echo.Context) error {
	email := c.FormValue("email")
	v := forgotView{EmailOn: s.deps.Mailer != nil, Email: email, SSOOnly: s.ssoOnly()}
	if !v.EmailOn || v.SSOOnly {
		return c.Render(http.StatusOK, "password_forgot.html", s.page(c, "Forgot your password?", v))
	}
	if !s.resetLimiter.allow(c.RealIP(), email) {
		v.Error = "Too many requests. Wait a few minutes, then try again."
		return c.Render(http.StatusTooManyRequests, "password_forgot.html", s.page(c, "Forgot your password?", v))
	}
	s.resetLimiter.fail(c.RealIP(), email)
	err := s.svc.Accounts.RequestPasswordReset(c.Request().Context(), s.deps.Mailer, email,
		func(token string) string { return s.resetLink(c, token) })
	if err != nil {
		s.logger(c).Warn("password reset email not sent", "err", err)
	}
	v.Sent = true
	return c.Render(http.StatusOK, "password_forgot.html", s.page(c, "Forgot your password?", v))
}

type resetView struct {
	Email  string
	Errors map[string]string
}

func (s *Server) resetForm(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	u, err := s.svc.Accounts.PasswordResetUser(c.Request().Context(), c.Param("token"))
	if err != nil {
		return err
	}
	return c.Render(http.StatusOK, "password_reset.html", s.page(c, "Choose a new password", resetView{Email: u.Email}))
}

func (s *Server) reset(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	ctx := c.Request().Context()
	token := c.Param("token")
	u, err := s.svc.Accounts.PasswordResetUser(ctx, token)
	if err != nil {
		return err
	}
	if c.FormValue("password") != c.FormValue("password_again") {
		return c.Render(http.StatusUnprocessableEntity, "password_reset.html", s.page(c, "Choose a new password",
			resetView{Email: u.Email, Errors: map[string]string{"password_again": "the two passwords differ"}}))
	}
	if _, err := s.svc.Accounts.ResetPassword(ctx, token, c.FormValue("password")); err != nil {
		var ve *survey.ValidationError
		if !errors.As(err, &ve) {
			return err
		}
		return c.Render(http.StatusUnprocessableEntity, "password_reset.html", s.page(c, "Choose a new password",
			resetView{Email: u.Email, Errors: ve.Fields}))
	}
	return c.Redirect(http.StatusSeeOther, "/login?reset=1")
}
