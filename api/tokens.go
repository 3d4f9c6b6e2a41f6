package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/pulse-survey/pulse/survey"
)

// API tokens are made and revoked by admins who signed in: a token cannot
// mint or revoke tokens, so a leaked one cannot outlive its revocation.

var errTokenManagesTokens = echo.NewHTTPError(http.StatusForbidden,
	"API tokens cannot list, create or revoke API tokens. Sign in as an admin to manage them.")

// tokenAdmin authorizes token management: an admin account, not a token.
func (s *Server) tokenAdmin(c echo.Context) (*survey.Principal, error) {
	p, err := s.authorize(c, survey.RoleAdmin)
	if err != nil {
		return nil, err
	}
	if p.TokenID != 0 {
		return nil, errTokenManagesTokens
	}
	return p, nil
}

func tokenAuditDetail(t *survey.APIToken) string {
	d := fmt.Sprintf("name %q, role %s", t.Name, t.Role)
	if len(t.TeamIDs) > 0 {
		ids := make([]string, len(t.TeamIDs))
		for i, id := range t.TeamIDs {
			ids[i] = strconv.FormatUint(uint64(id), 10)
		}
		d += ", teams " + strings.Join(ids, ",")
	}
	if t.ExpiresAt != nil {
		d += ", expires " + t.ExpiresAt.UTC().Format(time.RFC3339)
	}
	return d + ", " + t.Prefix + "…"
}

// --- pages ------------------------------------------------------------------------

type tokenForm struct {
	Name      string
	Role      string
	TeamIDs   map[uint]bool
	ExpiresOn string
}

type tokenRow struct {
	survey.APIToken
	Teams     []string
	CreatedBy string
	Status    string
}

type tokensView struct {
	Tokens  []tokenRow
	Teams   []*survey.TeamNode
	Form    tokenForm
	Errors  map[string]string
	Created *tokenRow
	Secret  string
	Revoked bool
}

func (s *Server) tokensView(c echo.Context) (tokensView, error) {
	ctx := c.Request().Context()
	v := tokensView{Form: tokenForm{Role: string(survey.RoleLeader), TeamIDs: map[uint]bool{}}}
	tree, err := s.svc.Org.Tree(ctx)
	if err != nil {
		return v, err
	}
	for _, n := range tree.Order {
		if n.ArchivedAt == nil {
			v.Teams = append(v.Teams, n)
		}
	}
	users, err := s.svc.Accounts.Users(ctx)
	if err != nil {
		return v, err
	}
	names := map[uint]string{}
	for _, u := range users {
		names[u.ID] = u.Name
	}
	ts, err := s.svc.APITokens().List(ctx)
	if err != nil {
		return v, err
	}
	now := s.now()
	for _, t := range ts {
		v.Tokens = append(v.Tokens, tokenRowOf(t, tree, names, now))
	}
	return v, nil
}

func tokenRowOf(t survey.APIToken, tree *survey.Tree, users map[uint]string, now time.Time) tokenRow {
	r := tokenRow{APIToken: t, Status: "active"}
	for _, id := range t.TeamIDs {
		name := fmt.Sprintf("team %d", id)
		if n, ok := tree.ByID[id]; ok {
			name = n.Name
			if n.Path != "" {
				name = n.Path
			}
		}
		r.Teams = append(r.Teams, name)
	}
	if t.CreatedByID != nil {
		r.CreatedBy = users[*t.CreatedByID]
	}
	switch {
	case t.RevokedAt != nil:
		r.Status = "revoked"
	case !t.Active(now):
		r.Status = "expired"
	}
	return r
}

func (s *Server) adminTokens(c echo.Context) error {
	if _, err := s.tokenAdmin(c); err != nil {
		return err
	}
	v, err := s.tokensView(c)
	if err != nil {
		return err
	}
	v.Revoked = c.QueryParam("revoked") == "1"
	return c.Render(http.StatusOK, "tokens.html", s.page(c, "API tokens", v))
}

// expiryFromDate reads an HTML date field: the token works through that
// whole day in the organisation's time zone. Its error is a field message.
func (s *Server) expiryFromDate(c echo.Context, day string) (*time.Time, error) {
	if day == "" {
		return nil, nil
	}
	loc := time.UTC
	if st, err := s.svc.Org.Settings(c.Request().Context()); err == nil {
		if l, err := time.LoadLocation(st.TimeZone); err == nil {
			loc = l
		}
	}
	d, err := time.ParseInLocation("2006-01-02", day, loc)
	if err != nil {
		return nil, errors.New("enter a date like 2031-12-31")
	}
	end := d.AddDate(0, 0, 1).UTC()
	return &end, nil
}

func (s *Server) adminTokenCreate(c echo.Context) error {
	p, err := s.tokenAdmin(c)
	if err != nil {
		return err
	}
	form, err := c.FormParams()
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "The form could not be read.")
	}
	f := tokenForm{Name: form.Get("name"), Role: form.Get("role"), ExpiresOn: strings.TrimSpace(form.Get("expires_on")),
		TeamIDs: map[uint]bool{}}
	in := survey.APITokenInput{Name: f.Name, Role: survey.Role(f.Role), CreatedBy: p.User.ID}
	fields := map[string]string{}
	for _, raw := range form["team_ids"] {
		id, err := strconv.ParseUint(raw, 10, 32)
		if err != nil || id == 0 {
			fields["team_ids"] = "choose teams from the list"
			continue
		}
		f.TeamIDs[uint(id)] = true
		// Teams ticked before switching the role to admin are ignored.
		if in.Role == survey.RoleLeader {
			in.TeamIDs = append(in.TeamIDs, uint(id))
		}
	}
	if in.ExpiresAt, err = s.expiryFromDate(c, f.ExpiresOn); err != nil {
		fields["expires_at"] = err.Error()
	}
	var tok *survey.APIToken
	var secret string
	if len(fields) > 0 {
		err = &survey.ValidationError{Fields: fields}
	} else {
		tok, secret, err = s.svc.APITokens().Create(c.Request().Context(), in)
	}
	var ve *survey.ValidationError
	if err != nil && !errors.As(err, &ve) {
		return err
	}
	v, err := s.tokensView(c)
	if err != nil {
		return err
	}
	if ve != nil {
		v.Form, v.Errors = f, ve.Fields
		return c.Render(http.StatusUnprocessableEntity, "tokens.html", s.page(c, "API tokens", v))
	}
	noteAudit(c, survey.AuditTokenCreate, fmt.Sprintf("token:%d", tok.ID), tokenAuditDetail(tok))
	for i := range v.Tokens {
		if v.Tokens[i].ID == tok.ID {
			v.Created = &v.Tokens[i]
		}
	}
	v.Secret = secret
	// The secret is in this page only: never cache it.
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.Render(http.StatusOK, "tokens.html", s.page(c, "API tokens", v))
}

func (s *Server) adminTokenRevoke(c echo.Context) error {
	if _, err := s.tokenAdmin(c); err != nil {
		return err
	}
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	tok, err := s.svc.APITokens().Revoke(c.Request().Context(), id)
	if err != nil {
		return err
	}
	noteAudit(c, survey.AuditTokenRevoke, fmt.Sprintf("token:%d", tok.ID), tokenAuditDetail(tok))
	return c.Redirect(http.StatusSeeOther, "/admin/tokens?revoked=1")
}

// --- JSON API -------------------------------------------------------------------

type tokenJSON struct {
	ID         uint        `json:"id"`
	Name       string      `json:"name"`
	Prefix     string      `json:"prefix"`
	Role       survey.Role `json:"role"`
	TeamIDs    []uint      `json:"team_ids"`
	CreatedBy  *uint       `json:"created_by"`
	CreatedAt  time.Time   `json:"created_at"`
	LastUsedAt *time.Time  `json:"last_used_at"`
	ExpiresAt  *time.Time  `json:"expires_at"`
	RevokedAt  *time.Time  `json:"revoked_at"`
	Active     bool        `json:"active"`
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func tokenJSONOf(t *survey.APIToken, now time.Time) tokenJSON {
	teams := t.TeamIDs
	if teams == nil {
		teams = []uint{}
	}
	return tokenJSON{ID: t.ID, Name: t.Name, Prefix: t.Prefix, Role: t.Role, TeamIDs: teams, CreatedBy: t.CreatedByID,
		CreatedAt: t.CreatedAt.UTC(), LastUsedAt: utcPtr(t.LastUsedAt), ExpiresAt: utcPtr(t.ExpiresAt),
		RevokedAt: utcPtr(t.RevokedAt), Active: t.Active(now)}
}

func (s *Server) apiTokens(c echo.Context) error {
	if _, err := s.tokenAdmin(c); err != nil {
		return err
	}
	ts, err := s.svc.APITokens().List(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]tokenJSON, 0, len(ts))
	for i := range ts {
		out = append(out, tokenJSONOf(&ts[i], s.now()))
	}
	return c.JSON(http.StatusOK, map[string]any{"tokens": out})
}

type tokenCreateRequest struct {
	Name    string `json:"name"`
	Role    string `json:"role"`
	TeamIDs []uint `json:"team_ids"`
	// ExpiresAt is an RFC 3339 time, or empty for a token that does not expire.
	ExpiresAt string `json:"expires_at"`
}

type tokenCreatedJSON struct {
	// Token is the secret, shown this once.
	Token    string    `json:"token"`
	APIToken tokenJSON `json:"api_token"`
}

func (s *Server) apiTokenCreate(c echo.Context) error {
	p, err := s.tokenAdmin(c)
	if err != nil {
		return err
	}
	var req tokenCreateRequest
	if err := decodeStrict(c, &req); err != nil {
		return err
	}
	in := survey.APITokenInput{Name: req.Name, Role: survey.Role(req.Role), TeamIDs: req.TeamIDs, CreatedBy: p.User.ID}
	if req.ExpiresAt != "" {
		t, err := time.Parse(time.RFC3339, req.ExpiresAt)
		if err != nil {
			return &survey.ValidationError{Fields: map[string]string{"expires_at": "use an RFC 3339 time like 2031-12-31T23:59:00Z"}}
		}
		in.ExpiresAt = &t
	}
	tok, secret, err := s.svc.APITokens().Create(c.Request().Context(), in)
	if err != nil {
		return err
	}
	noteAudit(c, survey.AuditTokenCreate, fmt.Sprintf("token:%d", tok.ID), tokenAuditDetail(tok))
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusCreated, tokenCreatedJSON{Token: secret, APIToken: tokenJSONOf(tok, s.now())})
}

func (s *Server) apiTokenRevoke(c echo.Context) error {
	if _, err := s.tokenAdmin(c); err != nil {
		return err
	}
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	tok, err := s.svc.APITokens().Revoke(c.Request().Context(), id)
	if err != nil {
		return err
	}
	noteAudit(c, survey.AuditTokenRevoke, fmt.Sprintf("token:%d", tok.ID), tokenAuditDetail(tok))
	return c.JSON(http.StatusOK, tokenJSONOf(tok, s.now()))
}
