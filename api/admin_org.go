package api

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/pulse-survey/pulse/survey"
)

// Org administration: teams, people and leader accounts, as pages (forms
// with CSRF fields) and as JSON under /api/v1/admin. Every route here is in
// an admin-only group; handlers still call authorize so that a route moved
// out of the group by mistake fails closed.

// peoplePageSize bounds one page of the people list (orgs can be large).
const peoplePageSize = 100

// formProblem is a service error shown on the form that caused it.
type formProblem struct {
	Status  int
	Message string
	Fields  map[string]string
}

// Field is the message for one field; templates call it on a nil problem.
func (p *formProblem) Field(name string) string {
	if p == nil {
		return ""
	}
	return p.Fields[name]
}

// asFormProblem turns a validation or conflict error into what a page shows
// next to its form; other errors are not the user's to fix and pass on to
// the error handler.
func asFormProblem(err error) (*formProblem, bool) {
	var ve *survey.ValidationError
	switch {
	case errors.As(err, &ve):
		return &formProblem{Status: http.StatusUnprocessableEntity, Message: "Nothing was saved: some fields need attention.", Fields: ve.Fields}, true
	case errors.Is(err, survey.ErrConflict):
		return &formProblem{Status: http.StatusConflict, Message: conflictMessage(err)}, true
	}
	return nil, false
}

// formUint reads an optional positive integer form field; a value that is
// not one is reported on the field.
func formUint(c echo.Context, name string, fields map[string]string, msg string) uint {
	v := strings.TrimSpace(c.FormValue(name))
	if v == "" {
		return 0
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil {
		fields[name] = msg
		return 0
	}
	return uint(n)
}

// formInt reads an integer form field; anything else is reported on it.
func formInt(c echo.Context, name string, fields map[string]string, msg string) int {
	n, err := strconv.Atoi(strings.TrimSpace(c.FormValue(name)))
	if err != nil {
		fields[name] = msg
		return 0
	}
	return n
}

// formUints reads a repeated form field of ids (checkboxes), each once, in
// the order sent.
func formUints(c echo.Context, name string, fields map[string]string, msg string) []uint {
	params, _ := c.FormParams()
	var out []uint
	seen := map[uint]bool{}
	for _, v := range params[name] {
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
		if err != nil || n == 0 {
			fields[name] = msg
			continue
		}
		if !seen[uint(n)] {
			seen[uint(n)] = true
			out = append(out, uint(n))
		}
	}
	return out
}

// uniq drops repeated ids, keeping the first of each.
func uniq(ids []uint) []uint {
	seen := map[uint]bool{}
	var out []uint
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

func checked(c echo.Context, name string) bool {
	switch c.FormValue(name) {
	case "1", "on", "true", "yes":
		return true
	}
	return false
}

// activeTeams lists the teams one can put people or sub-teams in.
func activeTeams(tree *survey.Tree) []*survey.TeamNode {
	var out []*survey.TeamNode
	for _, n := range tree.Order {
		if n.ArchivedAt == nil {
			out = append(out, n)
		}
	}
	return out
}

// teamLabel is a team's path, or its name for the root.
func teamLabel(n *survey.TeamNode) string {
	if n == nil {
		return ""
	}
	if n.Path == "" {
		return n.Name
	}
	return n.Path
}

// --- teams: pages -------------------------------------------------------------

type teamsView struct {
	Root    *survey.TeamNode
	Parents []*survey.TeamNode // where a new team can go
	Teams   int
	People  int
	Form    teamCreateForm
	Problem *formProblem
}

type teamCreateForm struct {
	ParentID uint
	Name     string
}

func (s *Server) teamsView(c echo.Context) (*teamsView, *survey.Tree, error) {
	tree, err := s.svc.Org.Tree(c.Request().Context())
	if err != nil {
		return nil, nil, err
	}
	v := &teamsView{Root: tree.Root, Parents: activeTeams(tree), Teams: len(tree.Order)}
	for _, n := range tree.Order {
		v.People += n.People
	}
	if tree.Root != nil {
		v.Form.ParentID = tree.Root.ID
	}
	return v, tree, nil
}

func (s *Server) adminTeams(c echo.Context) error {
	if _, err := s.authorize(c, survey.RoleAdmin); err != nil {
		return err
	}
	v, _, err := s.teamsView(c)
	if err != nil {
		return err
	}
	return c.Render(http.StatusOK, "teams.html", s.page(c, "Teams", v))
}

type teamView struct {
	Team      *survey.TeamNode
	Label     string
	Ancestors []*survey.TeamNode
	// MoveTargets are the possible new parents: active teams outside the
	// team's own subtree, its current parent excluded.
	MoveTargets []*survey.TeamNode
	IsRoot      bool
	Archived    bool
	Saved       string
	// Form values and the problem of the form that failed, if any.
	Failed  string // "rename", "move", "archive" or "create"
	Problem *formProblem
	Name    string
	MoveTo  uint
	SubName string
}

func (s *Server) teamView(c echo.Context, id uint) (*teamView, error) {
	tree, err := s.svc.Org.Tree(c.Request().Context())
	if err != nil {
		return nil, err
	}
	n, ok := tree.ByID[id]
	if !ok {
		return nil, fmt.Errorf("team %d: %w", id, survey.ErrNotFound)
	}
	v := &teamView{Team: n, Label: teamLabel(n), IsRoot: n.ParentID == nil, Archived: n.ArchivedAt != nil, Name: n.Name}
	for p := n; p.ParentID != nil; {
		parent, ok := tree.ByID[*p.ParentID]
		if !ok || len(v.Ancestors) > len(tree.Order) {
			break
		}
		v.Ancestors = append([]*survey.TeamNode{parent}, v.Ancestors...)
		p = parent
	}
	if !v.IsRoot {
		inSubtree := map[uint]bool{}
		for _, d := range tree.Subtree(id) {
			inSubtree[d] = true
		}
		for _, t := range activeTeams(tree) {
			if !inSubtree[t.ID] && t.ID != *n.ParentID {
				v.MoveTargets = append(v.MoveTargets, t)
			}
		}
	}
	return v, nil
}

func (s *Server) renderTeam(c echo.Context, status int, v *teamView) error {
	return c.Render(status, "team_edit.html", s.page(c, "Team "+v.Label, v))
}

func (s *Server) adminTeam(c echo.Context) error {
	if _, err := s.authorize(c, survey.RoleAdmin); err != nil {
		return err
	}
	id, err := idParam(c, "team")
	if err != nil {
		return err
	}
	v, err := s.teamView(c, id)
	if err != nil {
		return err
	}
	switch saved := c.QueryParam("saved"); saved {
	case "created", "renamed", "moved", "archived":
		v.Saved = saved
	}
	return s.renderTeam(c, http.StatusOK, v)
}

// teamFormFailed re-renders the team page with the problem of one of its
// forms, keeping what the user typed.
func (s *Server) teamFormFailed(c echo.Context, id uint, form string, err error, keep func(*teamView)) error {
	prob, ok := asFormProblem(err)
	if !ok {
		return err
	}
	v, verr := s.teamView(c, id)
	if verr != nil {
		return verr
	}
	v.Failed, v.Problem = form, prob
	if keep != nil {
		keep(v)
	}
	return s.renderTeam(c, prob.Status, v)
}

func (s *Server) adminTeamCreate(c echo.Context) error {
	if _, err := s.authorize(c, survey.RoleAdmin); err != nil {
		return err
	}
	fields := map[string]string{}
	f := teamCreateForm{ParentID: formUint(c, "parent_id", fields, "choose a parent team"), Name: c.FormValue("name")}
	var t *survey.Team
	err := error(&survey.ValidationError{Fields: fields})
	if len(fields) == 0 {
		t, err = s.svc.Org.CreateTeam(c.Request().Context(), f.ParentID, f.Name)
	}
	if err == nil {
		return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/admin/teams/%d?saved=created", t.ID))
	}
	if c.FormValue("from") == "team" && f.ParentID != 0 {
		return s.teamFormFailed(c, f.ParentID, "create", err, func(v *teamView) { v.SubName = f.Name })
	}
	prob, ok := asFormProblem(err)
	if !ok {
		return err
	}
	v, _, verr := s.teamsView(c)
	if verr != nil {
		return verr
	}
	v.Form, v.Problem = f, prob
	return c.Render(prob.Status, "teams.html", s.page(c, "Teams", v))
}

func (s *Server) adminTeamRename(c echo.Context) error {
	if _, err := s.authorize(c, survey.RoleAdmin); err != nil {
		return err
	}
	id, err := idParam(c, "team")
	if err != nil {
		return err
	}
	name := c.FormValue("name")
	if _, err := s.svc.Org.RenameTeam(c.Request().Context(), id, name); err != nil {
		return s.teamFormFailed(c, id, "rename", err, func(v *teamView) { v.Name = name })
	}
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/admin/teams/%d?saved=renamed", id))
}

func (s *Server) adminTeamMove(c echo.Context) error {
	if _, err := s.authorize(c, survey.RoleAdmin); err != nil {
		return err
	}
	id, err := idParam(c, "team")
	if err != nil {
		return err
	}
	fields := map[string]string{}
	parent := formUint(c, "parent_id", fields, "choose the new parent team")
	if parent == 0 {
		fields["parent_id"] = "choose the new parent team"
	}
	err = &survey.ValidationError{Fields: fields}
	if len(fields) == 0 {
		_, err = s.svc.Org.MoveTeam(c.Request().Context(), id, parent)
	}
	if err != nil {
		return s.teamFormFailed(c, id, "move", err, func(v *teamView) { v.MoveTo = parent })
	}
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/admin/teams/%d?saved=moved", id))
}

func (s *Server) adminTeamArchive(c echo.Context) error {
	if _, err := s.authorize(c, survey.RoleAdmin); err != nil {
		return err
	}
	id, err := idParam(c, "team")
	if err != nil {
		return err
	}
	if err := s.svc.Org.ArchiveTeam(c.Request().Context(), id); err != nil {
		return s.teamFormFailed(c, id, "archive", err, nil)
	}
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/admin/teams/%d?saved=archived", id))
}

// --- people: pages --------------------------------------------------------------

type personRow struct {
	survey.Person
	Team string
}

type peopleView struct {
	People []personRow
	Teams  []*survey.TeamNode
	TeamID uint
	Active string // "", "1" or "0"
	Total  int
	Page   int
	Pages  int
	First  int
	Last   int
	Prev   string
	Next   string
	Saved  string // the name of the person just saved
}

// peopleFilter is the people list's query: a team (with its sub-teams), the
// active flag and a page.
type peopleFilter struct {
	TeamID  uint
	Active  *bool
	Page    int
	PerPage int
}

// filterPeople loads the people a filter selects and returns one page
// (the last one when f.Page is past the end) and the number of matches.
// People are filtered in the database by team; the active flag and the page
// are applied here.
func (s *Server) filterPeople(c echo.Context, tree *survey.Tree, f *peopleFilter) ([]survey.Person, int, error) {
	var teams []uint
	if f.TeamID != 0 {
		if teams = tree.Subtree(f.TeamID); teams == nil {
			return nil, 0, &survey.ValidationError{Fields: map[string]string{"team_id": "choose an existing team"}}
		}
	}
	all, err := s.svc.Org.People(c.Request().Context(), teams, f.Active != nil && *f.Active)
	if err != nil {
		return nil, 0, err
	}
	if f.Active != nil && !*f.Active {
		kept := all[:0]
		for _, p := range all {
			if !p.Active {
				kept = append(kept, p)
			}
		}
		all = kept
	}
	pages := max(1, (len(all)+f.PerPage-1)/f.PerPage)
	f.Page = min(max(f.Page, 1), pages)
	from := (f.Page - 1) * f.PerPage
	to := min(from+f.PerPage, len(all))
	return all[from:to], len(all), nil
}

func (s *Server) adminPeople(c echo.Context) error {
	if _, err := s.authorize(c, survey.RoleAdmin); err != nil {
		return err
	}
	tree, err := s.svc.Org.Tree(c.Request().Context())
	if err != nil {
		return err
	}
	v := peopleView{Teams: tree.Order, Saved: c.QueryParam("saved")}
	f := peopleFilter{Page: 1, PerPage: peoplePageSize}
	if id, err := strconv.ParseUint(c.QueryParam("team"), 10, 32); err == nil && tree.ByID[uint(id)] != nil {
		f.TeamID, v.TeamID = uint(id), uint(id)
	}
	switch c.QueryParam("active") {
	case "1":
		t := true
		f.Active, v.Active = &t, "1"
	case "0":
		fl := false
		f.Active, v.Active = &fl, "0"
	}
	if p, err := strconv.Atoi(c.QueryParam("page")); err == nil && p > 1 {
		f.Page = p
	}
	people, total, err := s.filterPeople(c, tree, &f)
	if err != nil {
		return err
	}
	v.Total, v.Page, v.Pages = total, f.Page, max(1, (total+peoplePageSize-1)/peoplePageSize)
	for _, p := range people {
		v.People = append(v.People, personRow{Person: p, Team: teamLabel(tree.ByID[p.TeamID])})
	}
	if total > 0 {
		v.First, v.Last = (v.Page-1)*peoplePageSize+1, (v.Page-1)*peoplePageSize+len(people)
	}
	link := func(page int) string {
		q := url.Values{}
		if v.TeamID != 0 {
			q.Set("team", strconv.FormatUint(uint64(v.TeamID), 10))
		}
		if v.Active != "" {
			q.Set("active", v.Active)
		}
		q.Set("page", strconv.Itoa(page))
		return "/admin/people?" + q.Encode()
	}
	if v.Page > 1 {
		v.Prev = link(v.Page - 1)
	}
	if v.Page < v.Pages {
		v.Next = link(v.Page + 1)
	}
	return c.Render(http.StatusOK, "people.html", s.page(c, "People", v))
}

// findPerson looks a person up by id.
func (s *Server) findPerson(c echo.Context, id uint) (*survey.Person, error) {
	all, err := s.svc.Org.People(c.Request().Context(), nil, false)
	if err != nil {
		return nil, err
	}
	for i := range all {
		if all[i].ID == id {
			return &all[i], nil
		}
	}
	return nil, fmt.Errorf("person %d: %w", id, survey.ErrNotFound)
}

type personForm struct {
	Name   string
	Email  string
	TeamID uint
	Active bool
}

type personView struct {
	Person  *survey.Person
	Form    personForm
	Teams   []*survey.TeamNode
	Problem *formProblem
}

func (s *Server) personView(c echo.Context, id uint) (*personView, error) {
	p, err := s.findPerson(c, id)
	if err != nil {
		return nil, err
	}
	tree, err := s.svc.Org.Tree(c.Request().Context())
	if err != nil {
		return nil, err
	}
	v := &personView{Person: p, Form: personForm{Name: p.Name, Email: p.Email, TeamID: p.TeamID, Active: p.Active}}
	for _, n := range tree.Order {
		if n.ArchivedAt == nil || n.ID == p.TeamID {
			v.Teams = append(v.Teams, n)
		}
	}
	return v, nil
}

func (s *Server) adminPerson(c echo.Context) error {
	if _, err := s.authorize(c, survey.RoleAdmin); err != nil {
		return err
	}
	id, err := idParam(c, "person")
	if err != nil {
		return err
	}
	v, err := s.personView(c, id)
	if err != nil {
		return err
	}
	return c.Render(http.StatusOK, "person_edit.html", s.page(c, "Edit "+v.Person.Name, v))
}

func (s *Server) adminPersonSave(c echo.Context) error {
	if _, err := s.authorize(c, survey.RoleAdmin); err != nil {
		return err
	}
	id, err := idParam(c, "person")
	if err != nil {
		return err
	}
	fields := map[string]string{}
	f := personForm{Name: c.FormValue("name"), Email: c.FormValue("email"),
		TeamID: formUint(c, "team_id", fields, "choose an existing team"), Active: checked(c, "active")}
	var p *survey.Person
	err = &survey.ValidationError{Fields: fields}
	if len(fields) == 0 {
		p, err = s.svc.Org.UpdatePerson(c.Request().Context(), id, survey.PersonInput{Email: f.Email, Name: f.Name, TeamID: f.TeamID, Active: f.Active})
	}
	if err == nil {
		return c.Redirect(http.StatusSeeOther, "/admin/people?saved="+url.QueryEscape(p.Name))
	}
	prob, ok := asFormProblem(err)
	if !ok {
		return err
	}
	v, verr := s.personView(c, id)
	if verr != nil {
		return verr
	}
	v.Form, v.Problem = f, prob
	return c.Render(prob.Status, "person_edit.html", s.page(c, "Edit "+v.Person.Name, v))
}

// --- leaders: pages ------------------------------------------------------------------

type accountRow struct {
	User  survey.User
	Scope []string // team paths granted to a leader
}

type inviteForm struct {
	Email   string
	Role    survey.Role
	TeamIDs map[uint]bool
}

type leadersView struct {
	Accounts []accountRow
	Teams    []*survey.TeamNode
	Form     inviteForm
	Problem  *formProblem
	// Link is the one-time link just created: shown once, never stored.
	Link    string
	Invited inviteForm
	Expires string
	// Emailed says the link also went out by email.
	Emailed bool
	Pending []pendingRow
	Revoked bool
}

type pendingRow struct {
	survey.PendingInvite
	Scope []string
}

// accounts lists every account with its scope (team paths).
func (s *Server) accounts(c echo.Context, tree *survey.Tree) ([]accountRow, error) {
	ctx := c.Request().Context()
	users, err := s.svc.Accounts.Users(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]accountRow, 0, len(users))
	for i := range users {
		row := accountRow{User: users[i]}
		if users[i].Role != survey.RoleAdmin {
			p, err := s.svc.Accounts.Principal(ctx, &users[i])
			if err != nil {
				return nil, err
			}
			for _, id := range p.Roots {
				row.Scope = append(row.Scope, teamLabel(tree.ByID[id]))
			}
		}
		out = append(out, row)
	}
	return out, nil
}

func (s *Server) leadersView(c echo.Context) (*leadersView, error) {
	tree, err := s.svc.Org.Tree(c.Request().Context())
	if err != nil {
		return nil, err
	}
	v := &leadersView{Teams: activeTeams(tree), Form: inviteForm{Role: survey.RoleLeader}}
	if v.Accounts, err = s.accounts(c, tree); err != nil {
		return nil, err
	}
	pending, err := s.svc.Accounts.PendingInvites(c.Request().Context())
	if err != nil {
		return nil, err
	}
	for _, p := range pending {
		row := pendingRow{PendingInvite: p}
		for _, id := range p.TeamIDs {
			if n, ok := tree.ByID[id]; ok {
				row.Scope = append(row.Scope, teamLabel(n))
			}
		}
		v.Pending = append(v.Pending, row)
	}
	v.Revoked = c.QueryParam("revoked") == "1"
	return v, nil
}

func (s *Server) adminLeaders(c echo.Context) error {
	if _, err := s.authorize(c, survey.RoleAdmin); err != nil {
		return err
	}
	v, err := s.leadersView(c)
	if err != nil {
		return err
	}
	return c.Render(http.StatusOK, "leaders.html", s.page(c, "Leaders and admins", v))
}

// publicURL is the deployment's base URL, or the request's own origin when
// none is configured.
func (s *Server) publicURL(c echo.Context) string {
	if s.deps.BaseURL != "" {
		return strings.TrimRight(s.deps.BaseURL, "/")
	}
	return c.Scheme() + "://" + c.Request().Host
}

func (s *Server) adminLeaderInvite(c echo.Context) error {
	if _, err := s.authorize(c, survey.RoleAdmin); err != nil {
		return err
	}
	fields := map[string]string{}
	f := inviteForm{Email: c.FormValue("email"), Role: survey.Role(c.FormValue("role")), TeamIDs: map[uint]bool{}}
	ids := formUints(c, "team_ids", fields, "choose existing teams")
	for _, id := range ids {
		f.TeamIDs[id] = true
	}
	if f.Role == survey.RoleAdmin {
		ids = nil // admins see everything; a scope would only mislead
	}
	var token string
	err := error(&survey.ValidationError{Fields: fields})
	if len(fields) == 0 {
		token, err = s.svc.Accounts.CreateInvite(c.Request().Context(), survey.InviteInput{Email: f.Email, Role: f.Role, TeamIDs: ids})
	}
	v, verr := s.leadersView(c)
	if verr != nil {
		return verr
	}
	if err != nil {
		prob, ok := asFormProblem(err)
		if !ok {
			return err
		}
		v.Form, v.Problem = f, prob
		return c.Render(prob.Status, "leaders.html", s.page(c, "Leaders and admins", v))
	}
	// The link is shown on this response only: it must not be cached.
	c.Response().Header().Set("Cache-Control", "no-store")
	email, _ := survey.NormalizeEmail(f.Email)
	v.Link = s.inviteLink(c, token)
	v.Invited = inviteForm{Email: email, Role: f.Role}
	expires := s.now().Add(survey.InviteLinkTTL)
	v.Expires = fmtExpiry(expires)
	v.Emailed = s.mailInvite(c, &survey.PendingInvite{Email: email, Role: f.Role, ExpiresAt: expires}, v.Link)
	return c.Render(http.StatusCreated, "leaders.html", s.page(c, "Leaders and admins", v))
}

// --- JSON API -------------------------------------------------------------------

func toTeamResponse(n *survey.TeamNode) teamResponse {
	return teamResponse{ID: n.ID, ParentID: n.ParentID, Name: n.Name, Path: n.Path, People: n.People, Archived: n.ArchivedAt != nil}
}

// teamJSON answers with one team as it now stands in the tree.
func (s *Server) teamJSON(c echo.Context, status int, id uint) error {
	tree, err := s.svc.Org.Tree(c.Request().Context())
	if err != nil {
		return err
	}
	n, ok := tree.ByID[id]
	if !ok {
		return survey.ErrNotFound
	}
	return c.JSON(status, toTeamResponse(n))
}

// apiAdminTeams lists every team, archived ones included, in tree order.
func (s *Server) apiAdminTeams(c echo.Context) error {
	if _, err := s.authorize(c, survey.RoleAdmin); err != nil {
		return err
	}
	tree, err := s.svc.Org.Tree(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]teamResponse, 0, len(tree.Order))
	for _, n := range tree.Order {
		out = append(out, toTeamResponse(n))
	}
	return c.JSON(http.StatusOK, map[string]any{"teams": out})
}

type teamCreateRequest struct {
	ParentID uint   `json:"parent_id"`
	Name     string `json:"name"`
}

func (s *Server) apiAdminTeamCreate(c echo.Context) error {
	if _, err := s.authorize(c, survey.RoleAdmin); err != nil {
		return err
	}
	var req teamCreateRequest
	if err := decodeStrict(c, &req); err != nil {
		return err
	}
	if req.ParentID == 0 {
		return &survey.ValidationError{Fields: map[string]string{"parent_id": "choose a parent team"}}
	}
	t, err := s.svc.Org.CreateTeam(c.Request().Context(), req.ParentID, req.Name)
	if err != nil {
		return err
	}
	return s.teamJSON(c, http.StatusCreated, t.ID)
}

type teamPatchRequest struct {
	Name     *string `json:"name"`
	ParentID *uint   `json:"parent_id"`
}

// apiAdminTeamUpdate renames and/or moves a team, both or neither.
func (s *Server) apiAdminTeamUpdate(c echo.Context) error {
	if _, err := s.authorize(c, survey.RoleAdmin); err != nil {
		return err
	}
	id, err := idParam(c, "team")
	if err != nil {
		return err
	}
	var req teamPatchRequest
	if err := decodeStrict(c, &req); err != nil {
		return err
	}
	if req.Name == nil && req.ParentID == nil {
		return &survey.ValidationError{Fields: map[string]string{"name": "send a new name, a new parent_id or both"}}
	}
	err = s.svc.Tx(c.Request().Context(), func(tx *survey.Services) error {
		ctx := c.Request().Context()
		if req.Name != nil {
			if _, err := tx.Org.RenameTeam(ctx, id, *req.Name); err != nil {
				return err
			}
		}
		if req.ParentID != nil {
			if _, err := tx.Org.MoveTeam(ctx, id, *req.ParentID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return s.teamJSON(c, http.StatusOK, id)
}

func (s *Server) apiAdminTeamArchive(c echo.Context) error {
	if _, err := s.authorize(c, survey.RoleAdmin); err != nil {
		return err
	}
	id, err := idParam(c, "team")
	if err != nil {
		return err
	}
	if err := s.svc.Org.ArchiveTeam(c.Request().Context(), id); err != nil {
		return err
	}
	return s.teamJSON(c, http.StatusOK, id)
}

type personResponse struct {
	ID       uint   `json:"id"`
	Email    string `json:"email"`
	Name     string `json:"name"`
	TeamID   uint   `json:"team_id"`
	TeamPath string `json:"team_path"`
	Active   bool   `json:"active"`
}

func toPersonResponse(p survey.Person, tree *survey.Tree) personResponse {
	return personResponse{ID: p.ID, Email: p.Email, Name: p.Name, TeamID: p.TeamID, TeamPath: teamLabel(tree.ByID[p.TeamID]), Active: p.Active}
}

// apiAdminPeople lists people: ?team_id= (with sub-teams), ?active=true|false,
// ?page= (from 1) and ?per_page= (at most 1000, default 100).
func (s *Server) apiAdminPeople(c echo.Context) error {
	if _, err := s.authorize(c, survey.RoleAdmin); err != nil {
		return err
	}
	fields := map[string]string{}
	f := peopleFilter{Page: 1, PerPage: peoplePageSize}
	if v := c.QueryParam("team_id"); v != "" {
		id, err := strconv.ParseUint(v, 10, 32)
		if err != nil || id == 0 {
			fields["team_id"] = "use a team id"
		}
		f.TeamID = uint(id)
	}
	if v := c.QueryParam("active"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			fields["active"] = "use true or false"
		}
		f.Active = &b
	}
	if v := c.QueryParam("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			fields["page"] = "use a page number from 1"
		}
		f.Page = n
	}
	if v := c.QueryParam("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			fields["per_page"] = "use 1 to 1000"
		}
		f.PerPage = n
	}
	if len(fields) > 0 {
		return &survey.ValidationError{Fields: fields}
	}
	tree, err := s.svc.Org.Tree(c.Request().Context())
	if err != nil {
		return err
	}
	people, total, err := s.filterPeople(c, tree, &f)
	if err != nil {
		return err
	}
	out := make([]personResponse, 0, len(people))
	for _, p := range people {
		out = append(out, toPersonResponse(p, tree))
	}
	return c.JSON(http.StatusOK, map[string]any{"people": out, "total": total, "page": f.Page, "per_page": f.PerPage})
}

type personPatchRequest struct {
	Email  *string `json:"email"`
	Name   *string `json:"name"`
	TeamID *uint   `json:"team_id"`
	Active *bool   `json:"active"`
}

// apiAdminPersonUpdate changes the fields sent and keeps the others.
func (s *Server) apiAdminPersonUpdate(c echo.Context) error {
	if _, err := s.authorize(c, survey.RoleAdmin); err != nil {
		return err
	}
	id, err := idParam(c, "person")
	if err != nil {
		return err
	}
	var req personPatchRequest
	if err := decodeStrict(c, &req); err != nil {
		return err
	}
	p, err := s.findPerson(c, id)
	if err != nil {
		return err
	}
	in := survey.PersonInput{Email: p.Email, Name: p.Name, TeamID: p.TeamID, Active: p.Active}
	if req.Email != nil {
		in.Email = *req.Email
	}
	if req.Name != nil {
		in.Name = *req.Name
	}
	if req.TeamID != nil {
		in.TeamID = *req.TeamID
	}
	if req.Active != nil {
		in.Active = *req.Active
	}
	updated, err := s.svc.Org.UpdatePerson(c.Request().Context(), id, in)
	if err != nil {
		return err
	}
	tree, err := s.svc.Org.Tree(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toPersonResponse(*updated, tree))
}

type accountResponse struct {
	ID          uint        `json:"id"`
	Email       string      `json:"email"`
	Name        string      `json:"name"`
	Role        survey.Role `json:"role"`
	Active      bool        `json:"active"`
	Scope       []uint      `json:"scope"`
	LastLoginAt *time.Time  `json:"last_login_at"`
}

// apiAdminLeaders lists every account (leaders and admins) with its scope.
func (s *Server) apiAdminLeaders(c echo.Context) error {
	if _, err := s.authorize(c, survey.RoleAdmin); err != nil {
		return err
	}
	ctx := c.Request().Context()
	users, err := s.svc.Accounts.Users(ctx)
	if err != nil {
		return err
	}
	out := make([]accountResponse, 0, len(users))
	for i := range users {
		u := users[i]
		r := accountResponse{ID: u.ID, Email: u.Email, Name: u.Name, Role: u.Role, Active: u.Active, Scope: []uint{}, LastLoginAt: u.LastLoginAt}
		if u.Role != survey.RoleAdmin {
			p, err := s.svc.Accounts.Principal(ctx, &u)
			if err != nil {
				return err
			}
			r.Scope = append(r.Scope, p.Roots...)
		}
		out = append(out, r)
	}
	return c.JSON(http.StatusOK, map[string]any{"accounts": out})
}

type inviteRequest struct {
	Email   string      `json:"email"`
	Role    survey.Role `json:"role"`
	TeamIDs []uint      `json:"team_ids"`
}

type inviteResponse struct {
	Email     string      `json:"email"`
	Role      survey.Role `json:"role"`
	TeamIDs   []uint      `json:"team_ids"`
	Link      string      `json:"link"`
	ExpiresAt time.Time   `json:"expires_at"`
	// Emailed says the link also went out by email (email is on).
	Emailed bool `json:"emailed"`
}

// apiAdminInvite creates a one-time account link. The link is in this
// response only: nothing can show it again.
func (s *Server) apiAdminInvite(c echo.Context) error {
	if _, err := s.authorize(c, survey.RoleAdmin); err != nil {
		return err
	}
	var req inviteRequest
	if err := decodeStrict(c, &req); err != nil {
		return err
	}
	if req.Role == "" {
		req.Role = survey.RoleLeader
	}
	if req.Role == survey.RoleAdmin {
		req.TeamIDs = nil
	}
	req.TeamIDs = uniq(req.TeamIDs)
	token, err := s.svc.Accounts.CreateInvite(c.Request().Context(), survey.InviteInput{Email: req.Email, Role: req.Role, TeamIDs: req.TeamIDs})
	if err != nil {
		return err
	}
	email, _ := survey.NormalizeEmail(req.Email)
	if req.TeamIDs == nil {
		req.TeamIDs = []uint{}
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	link, expires := s.inviteLink(c, token), s.now().Add(survey.InviteLinkTTL).UTC()
	emailed := s.mailInvite(c, &survey.PendingInvite{Email: email, Role: req.Role, ExpiresAt: expires}, link)
	return c.JSON(http.StatusCreated, inviteResponse{Email: email, Role: req.Role, TeamIDs: req.TeamIDs,
		Link: link, ExpiresAt: expires, Emailed: emailed})
}
