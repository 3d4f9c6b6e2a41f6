package api

import (
	"encoding/csv"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/pulse-survey/pulse/reports"
	"github.com/pulse-survey/pulse/survey"
)

func unitParam(c echo.Context) (uint, error) {
	id, err := strconv.ParseUint(c.Param("unit"), 10, 32)
	if err != nil || id == 0 {
		return 0, survey.ErrNotFound
	}
	return uint(id), nil
}

// scopedReport loads a unit's report after the one authorization check and
// records the view (format: page, json or csv); a view that cannot be
// recorded is not served.
func (s *Server) scopedReport(c echo.Context, format string) (*survey.Principal, *reports.Report, error) {
	id, err := unitParam(c)
	if err != nil {
		return nil, nil, err
	}
	p, err := s.authorize(c, survey.RoleLeader, id)
	if err != nil {
		return nil, nil, err
	}
	rep, err := s.reader.Report(c.Request().Context(), id)
	if err != nil {
		return nil, nil, err
	}
	if err := s.auditReport(c, p, rep.Unit.ID, format, unitLabel(rep)); err != nil {
		return nil, nil, err
	}
	return p, rep, nil
}

type dimRow struct {
	Dimension, Label string
	Score            *reports.Score
	Change           *reports.Change
}

type reportView struct {
	Report      *reports.Report
	Units       []reports.UnitRef
	Panels      []reports.Panel
	Moves       []moveRow
	MovesKnown  bool // there is a previous round to compare with
	HeatmapJSON string
	Dims        []dimRow
	Heat        []heatRow
	DimLabels   []string
	Participate string
	LatestGap   string // why the latest round has no result, when it has none
}

// moveRow is one significant change in the headline.
type moveRow struct {
	Unit, Dimension, Direction string
	Delta                      float64
	Self                       bool // the report's own unit
}

type heatRow struct {
	Name      string
	Published bool
	Cells     []string
	Reason    string
}

func fmtScore(s reports.Score) string {
	return strconv.FormatFloat(math.Round(s.Mean*100)/100, 'f', 2, 64)
}

func (s *Server) dashboard(c echo.Context) error {
	p, err := s.authorize(c, survey.RoleLeader)
	if err != nil {
		return err
	}
	units, err := s.reader.Units(c.Request().Context(), p.Can)
	if err != nil {
		return err
	}
	if len(units) > 0 {
		return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/reports/%d", units[0].ID))
	}
	tree, err := s.svc.Org.Tree(c.Request().Context())
	if err != nil {
		return err
	}
	return c.Render(http.StatusOK, "dashboard.html", s.page(c, "Your teams", dashboardView{Teams: scopedTeams(p, tree)}))
}

// reportPick serves the unit picker's form (it works without JavaScript).
func (s *Server) reportPick(c echo.Context) error {
	id, err := strconv.ParseUint(c.QueryParam("unit"), 10, 32)
	if err != nil || id == 0 {
		return c.Redirect(http.StatusSeeOther, "/dashboard")
	}
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/reports/%d", id))
}

func (s *Server) reportPage(c echo.Context) error {
	p, rep, err := s.scopedReport(c, "page")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	v := reportView{Report: rep}
	if v.Units, err = s.reader.Units(ctx, p.Can); err != nil {
		return err
	}
	if v.Panels, err = reports.TrendPanels(rep.Trend, rep.CompareTrend, rep.CompareName); err != nil {
		return err
	}
	moves, err := s.reader.Moves(ctx, rep.Unit.ID, p.Can)
	if err != nil {
		return err
	}
	v.MovesKnown = len(rep.Trend) >= 2
	if rep.Latest == nil {
		v.LatestGap = rep.Trend[len(rep.Trend)-1].Reason
	}
	for _, m := range moves {
		name := m.Unit.Path
		if name == "" {
			name = m.Unit.Name
		}
		v.Moves = append(v.Moves, moveRow{Unit: name, Dimension: survey.DimensionLabel(m.Dimension), Direction: m.Direction(),
			Delta: m.Delta, Self: m.Unit.ID == rep.Unit.ID})
	}
	var published []reports.ChildScores
	for _, ch := range rep.Children {
		published = append(published, ch)
	}
	if len(published) > 0 {
		if v.HeatmapJSON, err = reports.HeatmapChart(published); err != nil {
			return err
		}
	}
	for _, d := range survey.Dimensions() {
		row := dimRow{Dimension: d, Label: survey.DimensionLabel(d)}
		if rep.Latest != nil {
			if sc, ok := rep.Latest.Scores[d]; ok {
				row.Score = &sc
			}
		}
		for i := range rep.Changes {
			if rep.Changes[i].Dimension == d {
				row.Change = &rep.Changes[i]
			}
		}
		v.Dims = append(v.Dims, row)
		v.DimLabels = append(v.DimLabels, row.Label)
	}
	for _, ch := range rep.Children {
		hr := heatRow{Name: ch.Unit.Name, Published: ch.Published, Reason: ch.Reason}
		for _, d := range survey.Dimensions() {
			cell := "–"
			if sc, ok := ch.Scores[d]; ok && ch.Published {
				cell = fmtScore(sc)
			}
			hr.Cells = append(hr.Cells, cell)
		}
		v.Heat = append(v.Heat, hr)
	}
	if rep.ShowInvited && rep.Invited > 0 {
		v.Participate = fmt.Sprintf("%d of %d invited (%.0f%%)", rep.Respondents, rep.Invited, 100*float64(rep.Respondents)/float64(rep.Invited))
	}
	title := rep.Unit.Name
	if rep.Unit.Path != "" {
		title = rep.Unit.Path
	}
	return c.Render(http.StatusOK, "report.html", s.page(c, "Report: "+title, v))
}

// reportJSON is the API shape of a report: numbers from the release only.
type reportJSON struct {
	Unit        unitJSON          `json:"unit"`
	MinGroup    int               `json:"min_group_size"`
	Trend       []trendJSON       `json:"trend"`
	Changes     []changeJSON      `json:"changes"`
	Ladder      string            `json:"ladder,omitempty"`
	Items       []itemJSON        `json:"items"`
	Respondents *int              `json:"respondents"`
	Invited     *int              `json:"invited"`
	Children    []childJSON       `json:"children"`
	Comments    []string          `json:"comments"`
	Parent      *childJSON        `json:"parent,omitempty"`
	Org         *childJSON        `json:"organisation,omitempty"`
	Dimensions  map[string]scJSON `json:"latest"`
}

type unitJSON struct {
	ID   uint   `json:"id"`
	Name string `json:"name"`
	Path string `json:"path"`
}

type scJSON struct {
	N          int     `json:"n"`
	Mean       float64 `json:"mean"`
	Lo         float64 `json:"ci95_low"`
	Hi         float64 `json:"ci95_high"`
	Favourable float64 `json:"favourable"`
}

type trendJSON struct {
	RoundID    uint              `json:"round_id"`
	Closed     string            `json:"closed"`
	Suppressed bool              `json:"suppressed"`
	Scores     map[string]scJSON `json:"scores,omitempty"`
}

type changeJSON struct {
	Dimension   string  `json:"dimension"`
	Delta       float64 `json:"delta"`
	P           float64 `json:"p"`
	Significant bool    `json:"significant"`
}

type itemJSON struct {
	QuestionID uint   `json:"question_id"`
	Dimension  string `json:"dimension"`
	Facet      string `json:"facet"`
	Text       string `json:"text"`
	N          int    `json:"n"`
	Histogram  [5]int `json:"histogram"`
}

type childJSON struct {
	Unit       unitJSON          `json:"unit"`
	Suppressed bool              `json:"suppressed"`
	Scores     map[string]scJSON `json:"scores,omitempty"`
}

func scoresJSON(m map[string]reports.Score) map[string]scJSON {
	out := map[string]scJSON{}
	for d, s := range m {
		out[d] = scJSON{N: s.N, Mean: round3(s.Mean), Lo: round3(s.Lo), Hi: round3(s.Hi), Favourable: round3(s.Favourable)}
	}
	return out
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

func childOf(c *reports.ChildScores) *childJSON {
	if c == nil {
		return nil
	}
	out := &childJSON{Unit: unitJSON{ID: c.Unit.ID, Name: c.Unit.Name, Path: c.Unit.Path}, Suppressed: !c.Published}
	if c.Published {
		out.Scores = scoresJSON(c.Scores)
	}
	return out
}

func toJSON(rep *reports.Report) reportJSON {
	out := reportJSON{Unit: unitJSON{ID: rep.Unit.ID, Name: rep.Unit.Name, Path: rep.Unit.Path}, MinGroup: rep.K,
		Ladder: rep.Ladder.Text, Items: []itemJSON{}, Children: []childJSON{}, Comments: []string{}, Changes: []changeJSON{},
		Parent: childOf(rep.Parent), Org: childOf(rep.Org)}
	for _, p := range rep.Trend {
		t := trendJSON{RoundID: p.Round.ID, Closed: p.Round.Label, Suppressed: !p.Published}
		if p.Published {
			t.Scores = scoresJSON(p.Scores)
		}
		out.Trend = append(out.Trend, t)
	}
	for _, c := range rep.Changes {
		if c.Known {
			out.Changes = append(out.Changes, changeJSON{Dimension: c.Dimension, Delta: round3(c.Delta), P: round3(c.P), Significant: c.Significant})
		}
	}
	for _, it := range rep.Items {
		out.Items = append(out.Items, itemJSON{QuestionID: it.QuestionID, Dimension: it.Dimension, Facet: it.Facet, Text: it.Text, N: it.N, Histogram: it.Hist})
	}
	if rep.Latest != nil {
		out.Dimensions = scoresJSON(rep.Latest.Scores)
		r := rep.Respondents
		out.Respondents = &r
	}
	if rep.ShowInvited {
		i := rep.Invited
		out.Invited = &i
	}
	for i := range rep.Children {
		out.Children = append(out.Children, *childOf(&rep.Children[i]))
	}
	out.Comments = append(out.Comments, rep.Comments...)
	return out
}

func (s *Server) apiReport(c echo.Context) error {
	_, rep, err := s.scopedReport(c, "json")
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toJSON(rep))
}

func (s *Server) apiReportUnits(c echo.Context) error {
	p, err := s.authorize(c, survey.RoleLeader)
	if err != nil {
		return err
	}
	units, err := s.reader.Units(c.Request().Context(), p.Can)
	if err != nil {
		return err
	}
	out := []map[string]any{}
	for _, u := range units {
		out = append(out, map[string]any{"id": u.ID, "name": u.Name, "path": u.Path, "suppressed": !u.Published})
	}
	return c.JSON(http.StatusOK, map[string]any{"units": out})
}

// reportCSV exports the unit's trend and latest items: the same released
// numbers as the page.
func (s *Server) reportCSV(c echo.Context) error {
	_, rep, err := s.scopedReport(c, "csv")
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	h.Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="pulse-unit-%d.csv"`, rep.Unit.ID))
	c.Response().WriteHeader(http.StatusOK)
	header := []string{"section", "round_closed", "dimension", "question", "n", "mean", "ci95_low", "ci95_high", "favourable", "h1", "h2", "h3", "h4", "h5"}
	cw := csv.NewWriter(c.Response())
	cw.Write(header)
	// Every row has the header's width, so strict CSV readers accept it.
	write := func(row []string) {
		for len(row) < len(header) {
			row = append(row, "")
		}
		cw.Write(row)
	}
	f := func(x float64) string { return strconv.FormatFloat(round3(x), 'f', -1, 64) }
	for _, p := range rep.Trend {
		if !p.Published {
			write([]string{"trend", p.Round.Label, "", "", "", "suppressed"})
			continue
		}
		for _, d := range survey.Dimensions() {
			if sc, ok := p.Scores[d]; ok {
				write([]string{"trend", p.Round.Label, d, "", strconv.Itoa(sc.N), f(sc.Mean), f(sc.Lo), f(sc.Hi), f(sc.Favourable)})
			}
		}
	}
	last := ""
	if len(rep.Trend) > 0 {
		last = rep.Trend[len(rep.Trend)-1].Round.Label
	}
	for _, it := range rep.Items {
		row := []string{"item", last, it.Dimension, csvSafe(it.Text), strconv.Itoa(it.N), f(it.Mean), "", "", ""}
		for _, h := range it.Hist {
			row = append(row, strconv.Itoa(h))
		}
		write(row)
	}
	cw.Flush()
	return cw.Error()
}

// csvSafe keeps spreadsheet programs from running text as a formula.
func csvSafe(s string) string {
	if s != "" && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@') {
		return "'" + s
	}
	return s
}

type commentQueueView struct {
	Comments []reports.HeldComment
}

func (s *Server) adminComments(c echo.Context) error {
	if _, err := s.authorize(c, survey.RoleAdmin); err != nil {
		return err
	}
	cs, err := s.moderator.Held(c.Request().Context())
	if err != nil {
		return err
	}
	return c.Render(http.StatusOK, "comments.html", s.page(c, "Comments held for review", commentQueueView{Comments: cs}))
}

func (s *Server) adminCommentDecide(c echo.Context) error {
	if _, err := s.authorize(c, survey.RoleAdmin); err != nil {
		return err
	}
	action := c.FormValue("action")
	if action != "release" && action != "redact" {
		return &survey.ValidationError{Fields: map[string]string{"action": "choose release or redact"}}
	}
	err := s.moderator.Decide(c.Request().Context(), c.Param("id"), action == "release")
	if errors.Is(err, survey.ErrNotFound) {
		return err
	}
	if err != nil {
		return err
	}
	// The comment's text stays out of the audit log.
	noteAudit(c, "comment."+action, "comment:"+c.Param("id"), "")
	return c.Redirect(http.StatusSeeOther, "/admin/comments")
}
