package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/pulse-survey/pulse/survey"
)

type homeView struct {
	OrgName string
	// Demo history generation, while it runs.
	HistoryDone, HistoryTotal int
	HistoryRunning            bool
}

func (s *Server) home(c echo.Context) error {
	var v homeView
	if st, err := s.svc.Org.Settings(c.Request().Context()); err == nil {
		v.OrgName = st.Name
	} else if !errors.Is(err, survey.ErrNotFound) {
		return err
	}
	if p := s.deps.DemoProgress; p != nil && !p.Finished() {
		v.HistoryRunning, v.HistoryDone, v.HistoryTotal = true, p.Done(), p.Total()
	}
	return c.Render(http.StatusOK, "home.html", s.page(c, "Anonymous pulse surveys", v))
}

type anonymityView struct {
	MinGroupSize int
}

func (s *Server) anonymityPage(c echo.Context) error {
	v := anonymityView{MinGroupSize: survey.DefaultMinGroupSize}
	if st, err := s.svc.Org.Settings(c.Request().Context()); err == nil {
		v.MinGroupSize = st.MinGroupSize
	} else if !errors.Is(err, survey.ErrNotFound) {
		return err
	}
	return c.Render(http.StatusOK, "anonymity.html", s.page(c, "How Pulse keeps answers anonymous", v))
}

// scopedTeams is the part of the tree a principal may see, in tree order.
func scopedTeams(p *survey.Principal, tree *survey.Tree) []*survey.TeamNode {
	var out []*survey.TeamNode
	for _, n := range tree.Order {
		if p.Can(n.ID) && n.ArchivedAt == nil {
			out = append(out, n)
		}
	}
	return out
}

type dashboardView struct {
	Teams []*survey.TeamNode
}

type adminView struct {
	Settings  *survey.Settings
	Form      settingsForm
	Errors    map[string]string
	Saved     bool
	Teams     []*survey.TeamNode
	People    int
	Programs  []survey.Program
	Rounds    []survey.RoundSummary
	Users     []survey.User
	TimeZones []string
	Checklist *checklist
}

type settingsForm struct {
	Name         string `form:"name"`
	TimeZone     string `form:"time_zone"`
	MinGroupSize int    `form:"min_group_size"`
}

func (s *Server) adminView(c echo.Context) (adminView, error) {
	ctx := c.Request().Context()
	v := adminView{TimeZones: commonTimeZones}
	var err error
	if v.Settings, err = s.svc.Org.Settings(ctx); err != nil {
		return v, err
	}
	v.Form = settingsForm{Name: v.Settings.Name, TimeZone: v.Settings.TimeZone, MinGroupSize: v.Settings.MinGroupSize}
	tree, err := s.svc.Org.Tree(ctx)
	if err != nil {
		return v, err
	}
	v.Teams = tree.Order
	for _, n := range tree.Order {
		v.People += n.People
	}
	if v.Programs, err = s.svc.Programs.Programs(ctx); err != nil {
		return v, err
	}
	if v.Rounds, err = s.svc.Rounds.Rounds(ctx); err != nil {
		return v, err
	}
	if len(v.Rounds) > 12 {
		v.Rounds = v.Rounds[:12]
	}
	if v.Users, err = s.svc.Accounts.Users(ctx); err != nil {
		return v, err
	}
	if v.Checklist, err = s.firstRoundChecklist(ctx); err != nil {
		return v, err
	}
	return v, nil
}

func (s *Server) adminHome(c echo.Context) error {
	if _, err := s.authorize(c, survey.RoleAdmin); err != nil {
		return err
	}
	v, err := s.adminView(c)
	if err != nil {
		return err
	}
	v.Saved = c.QueryParam("saved") == "1"
	return c.Render(http.StatusOK, "admin.html", s.page(c, "Administration", v))
}

func (s *Server) adminSettings(c echo.Context) error {
	if _, err := s.authorize(c, survey.RoleAdmin); err != nil {
		return err
	}
	var f settingsForm
	if err := c.Bind(&f); err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "The form could not be read.")
	}
	saved, err := s.svc.Org.UpdateSettings(c.Request().Context(), survey.SettingsInput{Name: f.Name, TimeZone: f.TimeZone, MinGroupSize: f.MinGroupSize})
	var ve *survey.ValidationError
	if errors.As(err, &ve) {
		v, verr := s.adminView(c)
		if verr != nil {
			return verr
		}
		v.Form, v.Errors = f, ve.Fields
		return c.Render(http.StatusUnprocessableEntity, "admin.html", s.page(c, "Administration", v))
	}
	if err != nil {
		return err
	}
	noteAudit(c, survey.AuditSettingsUpdate, "settings", fmt.Sprintf("name %q, time zone %s, minimum group size %d",
		saved.Name, saved.TimeZone, saved.MinGroupSize))
	return c.Redirect(http.StatusSeeOther, "/admin?saved=1")
}

type meResponse struct {
	ID    uint        `json:"id"`
	Email string      `json:"email"`
	Name  string      `json:"name"`
	Role  survey.Role `json:"role"`
	// Scope lists the granted teams; empty with all=true for admins.
	All   bool   `json:"all"`
	Scope []uint `json:"scope"`
	// TokenID is set when the request came with an API token (ID is then 0).
	TokenID uint `json:"token_id,omitempty"`
}

func (s *Server) apiMe(c echo.Context) error {
	p, err := s.authorize(c, survey.RoleLeader)
	if err != nil {
		return err
	}
	scope := p.Roots
	if scope == nil {
		scope = []uint{}
	}
	return c.JSON(http.StatusOK, meResponse{ID: p.User.ID, Email: p.User.Email, Name: p.User.Name, Role: p.User.Role, All: p.All, Scope: scope,
		TokenID: p.TokenID})
}

type teamResponse struct {
	ID       uint   `json:"id"`
	ParentID *uint  `json:"parent_id"`
	Name     string `json:"name"`
	Path     string `json:"path"`
	People   int    `json:"people"`
	Archived bool   `json:"archived"`
}

// apiTeams lists the teams in the caller's scope.
func (s *Server) apiTeams(c echo.Context) error {
	p, err := s.authorize(c, survey.RoleLeader)
	if err != nil {
		return err
	}
	tree, err := s.svc.Org.Tree(c.Request().Context())
	if err != nil {
		return err
	}
	out := []teamResponse{}
	for _, n := range tree.Order {
		if !p.Can(n.ID) {
			continue
		}
		out = append(out, teamResponse{ID: n.ID, ParentID: n.ParentID, Name: n.Name, Path: n.Path, People: n.People, Archived: n.ArchivedAt != nil})
	}
	return c.JSON(http.StatusOK, map[string]any{"teams": out})
}

func idParam(c echo.Context, name string) (uint, error) {
	id, err := strconv.ParseUint(c.Param(name), 10, 32)
	if err != nil || id == 0 {
		return 0, survey.ErrNotFound
	}
	return uint(id), nil
}

// adminLaunch opens a new round of a program now.
func (s *Server) adminLaunch(c echo.Context) error {
	if _, err := s.authorize(c, survey.RoleAdmin); err != nil {
		return err
	}
	id, err := idParam(c, "program")
	if err != nil {
		return err
	}
	r, err := s.svc.Rounds.Launch(c.Request().Context(), id)
	if err != nil {
		return err
	}
	noteAudit(c, survey.AuditRoundLaunch, fmt.Sprintf("round:%d", r.ID), fmt.Sprintf("program:%d, round #%d", id, r.Number))
	return c.Redirect(http.StatusSeeOther, "/admin/rounds")
}

// adminClose closes an open round; its release follows.
func (s *Server) adminClose(c echo.Context) error {
	if _, err := s.authorize(c, survey.RoleAdmin); err != nil {
		return err
	}
	id, err := idParam(c, "round")
	if err != nil {
		return err
	}
	// Closing cannot be undone (answering ends, keys are destroyed): the
	// page's form asks for a ticked confirmation.
	if c.FormValue("confirm") != "yes" {
		return &survey.ValidationError{Fields: map[string]string{
			"confirm": "Tick the confirmation to close the round: answering ends for everyone and its keys are destroyed."}}
	}
	if err := s.svc.Rounds.Close(c.Request().Context(), id); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/admin/rounds")
}

func (s *Server) statisticsHelp(c echo.Context) error {
	return c.Render(http.StatusOK, "statistics.html", s.page(c, "How to read the reports", nil))
}
