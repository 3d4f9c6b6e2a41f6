package api

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/pulse-survey/pulse/frontend"
	"github.com/pulse-survey/pulse/survey"
)

// Pulse programs (questions, cadence, k), the survey preview and the rounds
// overview with participation, as pages and as JSON under /api/v1/admin.

// roundsPageSize bounds one page of the rounds overview.
const roundsPageSize = 20

var weekdays = []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday, time.Sunday}

// cadenceText describes a program's cadence in words.
func cadenceText(p survey.Program) string {
	day := time.Weekday(p.Weekday).String()
	switch p.Cadence {
	case survey.CadenceWeekly:
		return "every week on " + day
	case survey.CadenceWeeks:
		if p.IntervalWeeks == 1 {
			return "every week on " + day
		}
		return fmt.Sprintf("every %d weeks on %s", p.IntervalWeeks, day)
	case survey.CadenceMonthly:
		return "every month, on the first " + day
	}
	return p.Cadence
}

// orgLocation is the organisation's time zone (UTC when unset or unknown).
func (s *Server) orgLocation(c echo.Context) (*time.Location, string) {
	st, err := s.svc.Org.Settings(c.Request().Context())
	if err != nil {
		return time.UTC, "UTC"
	}
	loc, err := time.LoadLocation(st.TimeZone)
	if err != nil {
		return time.UTC, "UTC"
	}
	return loc, st.TimeZone
}

// --- programs: pages ----------------------------------------------------------

type programRow struct {
	survey.Program
	Cadence   string
	Questions int
}

type programsView struct {
	Programs []programRow
	Deleted  bool
}

func (s *Server) adminPrograms(c echo.Context) error {
	if _, err := s.authorize(c, survey.RoleAdmin); err != nil {
		return err
	}
	ctx := c.Request().Context()
	ps, err := s.svc.Programs.Programs(ctx)
	if err != nil {
		return err
	}
	v := programsView{Deleted: c.QueryParam("deleted") == "1"}
	for _, p := range ps {
		_, qs, err := s.svc.Programs.Program(ctx, p.ID)
		if err != nil {
			return err
		}
		v.Programs = append(v.Programs, programRow{Program: p, Cadence: cadenceText(p), Questions: len(qs)})
	}
	return c.Render(http.StatusOK, "programs.html", s.page(c, "Pulse programs", v))
}

// programForm is the program form as typed.
type programForm struct {
	Name          string
	Cadence       string
	IntervalWeeks int
	Weekday       int
	TimeOfDay     string
	OpenDays      int
	ItemsPerRound int
	MinGroupSize  int
	Active        bool
	Selected      map[uint]bool
	order         []uint
}

func (f programForm) input() survey.ProgramInput {
	return survey.ProgramInput{Name: f.Name, Cadence: f.Cadence, IntervalWeeks: f.IntervalWeeks, Weekday: time.Weekday(f.Weekday),
		TimeOfDay: f.TimeOfDay, OpenDays: f.OpenDays, ItemsPerRound: f.ItemsPerRound, MinGroupSize: f.MinGroupSize,
		QuestionIDs: f.order, Paused: !f.Active}
}

func programFormOf(p *survey.Program, qs []survey.Question) programForm {
	f := programForm{Name: p.Name, Cadence: p.Cadence, IntervalWeeks: p.IntervalWeeks, Weekday: p.Weekday, TimeOfDay: p.TimeOfDay,
		OpenDays: p.OpenDays, ItemsPerRound: p.ItemsPerRound, MinGroupSize: p.MinGroupSize, Active: p.Active, Selected: map[uint]bool{}}
	for _, q := range qs {
		f.Selected[q.ID] = true
		f.order = append(f.order, q.ID)
	}
	return f
}

// parseProgramForm reads the program form; fields that are not numbers are
// reported in fields. The selection keeps the program's current order for
// the items still selected and appends new ones in page order, so editing
// does not reshuffle the rotation.
func parseProgramForm(c echo.Context, current []survey.Question, fields map[string]string) programForm {
	f := programForm{
		Name:      c.FormValue("name"),
		Cadence:   c.FormValue("cadence"),
		TimeOfDay: strings.TrimSpace(c.FormValue("time_of_day")),
		Active:    checked(c, "active"),
		Selected:  map[uint]bool{},
	}
	if f.Cadence == survey.CadenceWeeks {
		f.IntervalWeeks = formInt(c, "interval_weeks", fields, "enter a number of weeks")
	} else if v := strings.TrimSpace(c.FormValue("interval_weeks")); v != "" {
		f.IntervalWeeks, _ = strconv.Atoi(v)
	}
	f.Weekday = formInt(c, "weekday", fields, "choose a weekday")
	f.OpenDays = formInt(c, "open_days", fields, "enter a number of days")
	f.ItemsPerRound = formInt(c, "items_per_round", fields, "enter a number of items")
	f.MinGroupSize = formInt(c, "min_group_size", fields, "enter a number (at least 3)")
	// Time inputs may send seconds; the program keeps HH:MM.
	if len(f.TimeOfDay) == 8 && strings.HasSuffix(f.TimeOfDay, ":00") {
		f.TimeOfDay = f.TimeOfDay[:5]
	}
	ids := formUints(c, "question_ids", fields, "choose questions from the bank")
	for _, id := range ids {
		f.Selected[id] = true
	}
	for _, q := range current {
		if f.Selected[q.ID] {
			f.order = append(f.order, q.ID)
		}
	}
	kept := map[uint]bool{}
	for _, id := range f.order {
		kept[id] = true
	}
	for _, id := range ids {
		if !kept[id] {
			f.order = append(f.order, id)
		}
	}
	return f
}

type questionView struct {
	survey.Question
	Checked bool
	Added   bool
}

type facetGroup struct {
	Facet     string
	Label     string
	Questions []questionView
}

type dimGroup struct {
	Dimension string
	Label     string
	Facets    []facetGroup
}

// groupQuestions arranges the bank by dimension and facet in model order;
// items of an unknown dimension or facet land in a last group so that none
// is dropped from the form.
func groupQuestions(bank []survey.Question, selected map[uint]bool, added uint) []dimGroup {
	byFacet := map[string][]questionView{}
	for _, q := range bank {
		key := q.Dimension + "/" + q.Facet
		if !survey.ValidFacet(q.Dimension, q.Facet) {
			key = "other"
		}
		byFacet[key] = append(byFacet[key], questionView{Question: q, Checked: selected[q.ID], Added: q.ID == added && added != 0})
	}
	var out []dimGroup
	for _, d := range survey.Dimensions() {
		g := dimGroup{Dimension: d, Label: survey.DimensionLabel(d)}
		for _, f := range survey.FacetsOf(d) {
			if qs := byFacet[d+"/"+f]; len(qs) > 0 {
				g.Facets = append(g.Facets, facetGroup{Facet: f, Label: survey.FacetLabel(f), Questions: qs})
			}
		}
		if len(g.Facets) > 0 {
			out = append(out, g)
		}
	}
	if qs := byFacet["other"]; len(qs) > 0 {
		out = append(out, dimGroup{Dimension: "other", Label: "Other", Facets: []facetGroup{{Facet: "other", Label: "Other", Questions: qs}}})
	}
	return out
}

type dimOption struct {
	Dimension string
	Label     string
	Facets    []facetOption
}

type facetOption struct {
	Facet string
	Label string
}

func dimensionOptions() []dimOption {
	var out []dimOption
	for _, d := range survey.Dimensions() {
		o := dimOption{Dimension: d, Label: survey.DimensionLabel(d)}
		for _, f := range survey.FacetsOf(d) {
			o.Facets = append(o.Facets, facetOption{Facet: f, Label: survey.FacetLabel(f)})
		}
		out = append(out, o)
	}
	return out
}

type customForm struct {
	Dimension string
	Facet     string
	Text      string
}

type programEditView struct {
	Program  *survey.Program // nil for a new program
	Form     programForm
	Groups   []dimGroup
	Problem  *formProblem
	Warnings []string
	// Floor is the lowest k the program may get; Launched says why.
	Floor    int
	Launched bool
	Saved    bool
	Weekdays []time.Weekday
	// The custom item form.
	Dimensions    []dimOption
	Custom        customForm
	CustomProblem *formProblem
	MaxText       int
}

// programEditView builds the form page of program id (0: a new program).
func (s *Server) programEditView(c echo.Context, id uint) (*programEditView, []survey.Question, error) {
	ctx := c.Request().Context()
	v := &programEditView{Floor: survey.MinMinGroupSize, Weekdays: weekdays, Dimensions: dimensionOptions(),
		MaxText: survey.MaxQuestionText}
	bank, err := s.svc.Programs.Questions(ctx)
	if err != nil {
		return nil, nil, err
	}
	var current []survey.Question
	if id != 0 {
		var p *survey.Program
		if p, current, err = s.svc.Programs.Program(ctx, id); err != nil {
			return nil, nil, err
		}
		v.Program, v.Form = p, programFormOf(p, current)
		if v.Floor, v.Launched, err = s.svc.Programs.MinGroupSizeFloor(ctx, id); err != nil {
			return nil, nil, err
		}
		v.Warnings = survey.ProgramWarnings(p.ItemsPerRound, current)
	} else {
		// The survey service owns a new program's defaults (paused, a
		// balanced selection): the JSON API starts from the same ones.
		in, err := s.svc.Programs.NewProgramDefaults(ctx)
		if err != nil {
			return nil, nil, err
		}
		v.Form = programForm{Cadence: in.Cadence, IntervalWeeks: in.IntervalWeeks, Weekday: int(in.Weekday), TimeOfDay: in.TimeOfDay,
			OpenDays: in.OpenDays, ItemsPerRound: in.ItemsPerRound, MinGroupSize: in.MinGroupSize, Active: !in.Paused,
			Selected: map[uint]bool{}}
		for _, id := range in.QuestionIDs {
			v.Form.Selected[id] = true
		}
	}
	var added uint
	if n, err := strconv.ParseUint(c.QueryParam("added"), 10, 32); err == nil {
		added = uint(n)
		if id == 0 {
			v.Form.Selected[added] = true
		}
	}
	v.Groups = groupQuestions(bank, v.Form.Selected, added)
	v.Custom.Dimension = survey.DimPurpose
	return v, current, nil
}

func (s *Server) renderProgramEdit(c echo.Context, status int, v *programEditView) error {
	title := "New pulse program"
	if v.Program != nil {
		title = "Program " + v.Program.Name
	}
	return c.Render(status, "program_edit.html", s.page(c, title, v))
}

func (s *Server) adminProgramNew(c echo.Context) error {
	if _, err := s.authorize(c, survey.RoleAdmin); err != nil {
		return err
	}
	v, _, err := s.programEditView(c, 0)
	if err != nil {
		return err
	}
	return s.renderProgramEdit(c, http.StatusOK, v)
}

func (s *Server) adminProgram(c echo.Context) error {
	if _, err := s.authorize(c, survey.RoleAdmin); err != nil {
		return err
	}
	id, err := idParam(c, "program")
	if err != nil {
		return err
	}
	v, _, err := s.programEditView(c, id)
	if err != nil {
		return err
	}
	v.Saved = c.QueryParam("saved") == "1"
	return s.renderProgramEdit(c, http.StatusOK, v)
}

// saveProgram creates (id 0) or updates a program from the form.
func (s *Server) saveProgram(c echo.Context, id uint) error {
	v, current, err := s.programEditView(c, id)
	if err != nil {
		return err
	}
	fields := map[string]string{}
	f := parseProgramForm(c, current, fields)
	ctx := c.Request().Context()
	var p *survey.Program
	err = &survey.ValidationError{Fields: fields}
	if len(fields) == 0 {
		if id == 0 {
			p, err = s.svc.Programs.CreateProgram(ctx, f.input())
		} else {
			p, err = s.svc.Programs.UpdateProgram(ctx, id, f.input())
		}
	}
	if err == nil {
		return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/admin/programs/%d?saved=1", p.ID))
	}
	prob, ok := asFormProblem(err)
	if !ok {
		return err
	}
	bank, qerr := s.svc.Programs.Questions(ctx)
	if qerr != nil {
		return qerr
	}
	v.Form, v.Problem = f, prob
	v.Groups = groupQuestions(bank, f.Selected, 0)
	return s.renderProgramEdit(c, prob.Status, v)
}

func (s *Server) adminProgramCreate(c echo.Context) error {
	if _, err := s.authorize(c, survey.RoleAdmin); err != nil {
		return err
	}
	return s.saveProgram(c, 0)
}

func (s *Server) adminProgramSave(c echo.Context) error {
	if _, err := s.authorize(c, survey.RoleAdmin); err != nil {
		return err
	}
	id, err := idParam(c, "program")
	if err != nil {
		return err
	}
	return s.saveProgram(c, id)
}

// deleteProgram deletes a program that never had a round and notes it for
// the audit log (the page and the JSON API share it).
func (s *Server) deleteProgram(c echo.Context, id uint) error {
	p, err := s.svc.Programs.DeleteProgram(c.Request().Context(), id)
	if err != nil {
		return err
	}
	noteAudit(c, survey.AuditProgramDelete, fmt.Sprintf("program:%d", id), fmt.Sprintf("deleted %q (it never had a round)", p.Name))
	return nil
}

// adminProgramDelete deletes a program from its page. A program with rounds
// is refused on the page itself, with pausing as the way out.
func (s *Server) adminProgramDelete(c echo.Context) error {
	if _, err := s.authorize(c, survey.RoleAdmin); err != nil {
		return err
	}
	id, err := idParam(c, "program")
	if err != nil {
		return err
	}
	err = s.deleteProgram(c, id)
	if err == nil {
		return c.Redirect(http.StatusSeeOther, "/admin/programs?deleted=1")
	}
	prob, ok := asFormProblem(err)
	if !ok {
		return err
	}
	v, _, verr := s.programEditView(c, id)
	if verr != nil {
		return verr
	}
	v.Problem = prob
	return s.renderProgramEdit(c, prob.Status, v)
}

// adminQuestionCreate adds a custom item to the bank and, from a program's
// page, to that program's selection.
func (s *Server) adminQuestionCreate(c echo.Context) error {
	if _, err := s.authorize(c, survey.RoleAdmin); err != nil {
		return err
	}
	fields := map[string]string{}
	programID := formUint(c, "program_id", fields, "the program does not exist")
	f := customForm{Dimension: c.FormValue("dimension"), Facet: c.FormValue("facet"), Text: c.FormValue("text")}
	// The facet select carries "dimension/facet" so one list serves all
	// dimensions without a script.
	if d, fc, ok := strings.Cut(f.Facet, "/"); ok {
		if f.Dimension == "" {
			f.Dimension = d
		}
		if d != f.Dimension {
			fields["facet"] = fmt.Sprintf("choose one of the facets of %s", survey.DimensionLabel(f.Dimension))
		}
		f.Facet = fc
	}
	var q *survey.Question
	err := error(&survey.ValidationError{Fields: fields})
	if len(fields) == 0 {
		q, err = s.svc.Programs.CreateQuestion(c.Request().Context(), survey.QuestionInput{Dimension: f.Dimension, Facet: f.Facet,
			Text: f.Text, ProgramID: programID})
	}
	if err == nil {
		if programID != 0 {
			return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/admin/programs/%d?added=%d#q-%d", programID, q.ID, q.ID))
		}
		return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/admin/programs/new?added=%d#q-%d", q.ID, q.ID))
	}
	prob, ok := asFormProblem(err)
	if !ok {
		return err
	}
	v, _, verr := s.programEditView(c, programID)
	if verr != nil {
		return verr
	}
	v.Custom, v.CustomProblem = f, prob
	return s.renderProgramEdit(c, prob.Status, v)
}

// --- preview --------------------------------------------------------------

// previewContent wraps the employees' survey page: the banner, then the
// page's own content, unchanged.
const previewContent = `{{define "content"}}<div class="alert alert-error" role="note" id="preview-banner">
<p><strong>Preview: answers are not sent.</strong> This is the survey page exactly as employees will see it in
round {{.Data.Number}} of “{{.Data.Program}}”. The button to send is switched off and no script runs here.</p>
<p><a href="/admin/programs/{{.Data.ProgramID}}">Back to the program</a></p>
</div>
{{template "pulse_survey_content" .}}{{end}}{{define "scripts"}}{{/* no script: nothing may send */}}{{""}}{{end}}`

type previewView struct {
	surveyPageView
	Number    int
	Program   string
	ProgramID uint
}

// previewTemplate is survey.html in the layout with its content block
// wrapped by the preview banner and its scripts block emptied: the survey's
// script (which obtains tokens and sends ballots) is never loaded. (A block
// whose body is empty would not replace the page's own, hence the {{""}}.)
func (s *Server) previewTemplate() (*template.Template, error) {
	t, err := template.New("layout.html").Funcs(s.templateFuncs()).ParseFS(frontend.Templates(), "layout.html", "survey.html")
	if err != nil {
		return nil, err
	}
	content := t.Lookup("content")
	if content == nil || content.Tree == nil {
		return nil, fmt.Errorf("survey.html defines no content block")
	}
	tree := content.Tree.Copy()
	tree.Name = "pulse_survey_content"
	if _, err := t.AddParseTree(tree.Name, tree); err != nil {
		return nil, err
	}
	return t.Parse(previewContent)
}

// submitButton matches the submit buttons of the survey form.
var submitButton = regexp.MustCompile(`<button([^>]*)type="submit"`)

// disableSubmit switches off every submit button inside the survey form.
func disableSubmit(page []byte) []byte {
	start := bytes.Index(page, []byte(`id="pulse-survey"`))
	if start < 0 {
		return page
	}
	end := bytes.Index(page[start:], []byte("</form>"))
	if end < 0 {
		return page
	}
	end += start
	form := submitButton.ReplaceAll(page[start:end], []byte(`<button${1}type="submit" disabled aria-disabled="true"`))
	out := append([]byte{}, page[:start]...)
	out = append(out, form...)
	return append(out, page[end:]...)
}

func (s *Server) adminProgramPreview(c echo.Context) error {
	if _, err := s.authorize(c, survey.RoleAdmin); err != nil {
		return err
	}
	id, err := idParam(c, "program")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	p, _, err := s.svc.Programs.Program(ctx, id)
	if err != nil {
		return err
	}
	number, qs, err := s.svc.Programs.PreviewQuestions(ctx, id)
	if err != nil {
		return err
	}
	st, err := s.svc.Org.Settings(ctx)
	if err != nil {
		return err
	}
	loc, _ := s.orgLocation(c)
	v := previewView{Number: number, Program: p.Name, ProgramID: p.ID, surveyPageView: surveyPageView{
		OrgName: st.Name, State: "open", Scale: scaleLabels, MaxComment: survey.MaxCommentRunes,
		ManifestHash: "(shown here when a round is open)",
		ClosesAt:     s.now().Add(time.Duration(p.OpenDays) * 24 * time.Hour).In(loc).Format("Monday 2 January"),
	}}
	for _, q := range qs {
		v.Questions = append(v.Questions, surveyQuestion{ID: q.ID, Text: q.Text, Dimension: q.Dimension})
	}
	t, err := s.previewTemplate()
	if err != nil {
		return err
	}
	data := s.page(c, "Preview: Your pulse", v)
	// Employees are not signed in: the page shows them no account menu.
	data.Principal = nil
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", data); err != nil {
		return err
	}
	return c.HTMLBlob(http.StatusOK, disableSubmit(buf.Bytes()))
}

// --- rounds: page -----------------------------------------------------------------

type roundRow struct {
	survey.RoundSummary
	Opens  string
	Closes string
	Part   *survey.Participation
}

type roundsView struct {
	Rounds   []roundRow
	Programs []survey.Program // active programs, for the launch buttons
	// OpenRound names, per program id, its open round ("#3, closes ..."):
	// such a program gets an explanation instead of a launch button.
	OpenRound map[uint]string
	TimeZone  string
	Page      int
	Pages     int
	Prev      string
	Next      string
}

// roundRows adds times in the organisation's zone and participation to
// rounds.
func (s *Server) roundRows(c echo.Context, rs []survey.RoundSummary) ([]roundRow, error) {
	ids := make([]uint, len(rs))
	for i, r := range rs {
		ids[i] = r.ID
	}
	parts, err := s.svc.Rounds.Participation(c.Request().Context(), ids...)
	if err != nil {
		return nil, err
	}
	loc, _ := s.orgLocation(c)
	const layout = "Mon 2 Jan 2006, 15:04"
	out := make([]roundRow, len(rs))
	for i, r := range rs {
		out[i] = roundRow{RoundSummary: r, Opens: r.OpensAt.In(loc).Format(layout), Closes: r.ClosesAt.In(loc).Format(layout), Part: parts[r.ID]}
		if out[i].Part == nil {
			out[i].Part = &survey.Participation{RoundID: r.ID, MinGroupSize: r.MinGroupSize}
		}
	}
	return out, nil
}

func (s *Server) adminRounds(c echo.Context) error {
	if _, err := s.authorize(c, survey.RoleAdmin); err != nil {
		return err
	}
	ctx := c.Request().Context()
	all, err := s.svc.Rounds.Rounds(ctx)
	if err != nil {
		return err
	}
	v := roundsView{Page: 1, Pages: max(1, (len(all)+roundsPageSize-1)/roundsPageSize)}
	_, v.TimeZone = s.orgLocation(c)
	if p, err := strconv.Atoi(c.QueryParam("page")); err == nil && p > 1 {
		v.Page = min(p, v.Pages)
	}
	from := (v.Page - 1) * roundsPageSize
	page := all[from:min(from+roundsPageSize, len(all))]
	if v.Rounds, err = s.roundRows(c, page); err != nil {
		return err
	}
	if v.Page > 1 {
		v.Prev = fmt.Sprintf("/admin/rounds?page=%d", v.Page-1)
	}
	if v.Page < v.Pages {
		v.Next = fmt.Sprintf("/admin/rounds?page=%d", v.Page+1)
	}
	ps, err := s.svc.Programs.Programs(ctx)
	if err != nil {
		return err
	}
	for _, p := range ps {
		if p.Active {
			v.Programs = append(v.Programs, p)
		}
	}
	loc, _ := s.orgLocation(c)
	v.OpenRound = map[uint]string{}
	for _, r := range all {
		if r.Status == survey.RoundOpen {
			v.OpenRound[r.ProgramID] = fmt.Sprintf("#%d, closing %s", r.Number, r.ClosesAt.In(loc).Format("2 Jan 2006 15:04"))
		}
	}
	return c.Render(http.StatusOK, "rounds.html", s.page(c, "Rounds", v))
}

// --- JSON API --------------------------------------------------------------------

type questionResponse struct {
	ID        uint   `json:"id"`
	Key       string `json:"key"`
	Dimension string `json:"dimension"`
	Facet     string `json:"facet"`
	Text      string `json:"text"`
	Core      bool   `json:"core"`
	BuiltIn   bool   `json:"built_in"`
}

func toQuestionResponse(q survey.Question) questionResponse {
	return questionResponse{ID: q.ID, Key: q.Key, Dimension: q.Dimension, Facet: q.Facet, Text: q.Text, Core: q.Core, BuiltIn: q.BuiltIn}
}

func (s *Server) apiAdminQuestions(c echo.Context) error {
	if _, err := s.authorize(c, survey.RoleAdmin); err != nil {
		return err
	}
	qs, err := s.svc.Programs.Questions(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]questionResponse, len(qs))
	for i, q := range qs {
		out[i] = toQuestionResponse(q)
	}
	return c.JSON(http.StatusOK, map[string]any{"questions": out})
}

type questionRequest struct {
	Dimension string `json:"dimension"`
	Facet     string `json:"facet"`
	Text      string `json:"text"`
	ProgramID uint   `json:"program_id"`
}

func (s *Server) apiAdminQuestionCreate(c echo.Context) error {
	if _, err := s.authorize(c, survey.RoleAdmin); err != nil {
		return err
	}
	var req questionRequest
	if err := decodeStrict(c, &req); err != nil {
		return err
	}
	q, err := s.svc.Programs.CreateQuestion(c.Request().Context(), survey.QuestionInput{Dimension: req.Dimension, Facet: req.Facet,
		Text: req.Text, ProgramID: req.ProgramID})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toQuestionResponse(*q))
}

type programResponse struct {
	ID              uint     `json:"id"`
	Name            string   `json:"name"`
	Cadence         string   `json:"cadence"`
	IntervalWeeks   int      `json:"interval_weeks"`
	Weekday         int      `json:"weekday"`
	TimeOfDay       string   `json:"time_of_day"`
	OpenDays        int      `json:"open_days"`
	ItemsPerRound   int      `json:"items_per_round"`
	MinGroupSize    int      `json:"min_group_size"`
	MinGroupSizeMin int      `json:"min_group_size_floor"`
	Active          bool     `json:"active"`
	QuestionIDs     []uint   `json:"question_ids"`
	Warnings        []string `json:"warnings"`
}

func (s *Server) programResponse(c echo.Context, id uint) (*programResponse, error) {
	ctx := c.Request().Context()
	p, qs, err := s.svc.Programs.Program(ctx, id)
	if err != nil {
		return nil, err
	}
	floor, _, err := s.svc.Programs.MinGroupSizeFloor(ctx, id)
	if err != nil {
		return nil, err
	}
	r := &programResponse{ID: p.ID, Name: p.Name, Cadence: p.Cadence, IntervalWeeks: p.IntervalWeeks, Weekday: p.Weekday,
		TimeOfDay: p.TimeOfDay, OpenDays: p.OpenDays, ItemsPerRound: p.ItemsPerRound, MinGroupSize: p.MinGroupSize,
		MinGroupSizeMin: floor, Active: p.Active, QuestionIDs: []uint{}, Warnings: survey.ProgramWarnings(p.ItemsPerRound, qs)}
	for _, q := range qs {
		r.QuestionIDs = append(r.QuestionIDs, q.ID)
	}
	if r.Warnings == nil {
		r.Warnings = []string{}
	}
	return r, nil
}

func (s *Server) apiAdminPrograms(c echo.Context) error {
	if _, err := s.authorize(c, survey.RoleAdmin); err != nil {
		return err
	}
	ps, err := s.svc.Programs.Programs(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]*programResponse, 0, len(ps))
	for _, p := range ps {
		r, err := s.programResponse(c, p.ID)
		if err != nil {
			return err
		}
		out = append(out, r)
	}
	return c.JSON(http.StatusOK, map[string]any{"programs": out})
}

func (s *Server) apiAdminProgram(c echo.Context) error {
	if _, err := s.authorize(c, survey.RoleAdmin); err != nil {
		return err
	}
	id, err := idParam(c, "program")
	if err != nil {
		return err
	}
	r, err := s.programResponse(c, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}

// programRequest is a program in JSON. POST and PUT need every field but
// min_group_size and active (POST: the organisation's k and false, as
// survey.NewProgramDefaults says; PUT: unchanged) and interval_weeks
// (needed for every_n_weeks only); PATCH changes only the fields sent.
type programRequest struct {
	Name          *string `json:"name"`
	Cadence       *string `json:"cadence"`
	IntervalWeeks *int    `json:"interval_weeks"`
	Weekday       *int    `json:"weekday"`
	TimeOfDay     *string `json:"time_of_day"`
	OpenDays      *int    `json:"open_days"`
	ItemsPerRound *int    `json:"items_per_round"`
	MinGroupSize  *int    `json:"min_group_size"`
	Active        *bool   `json:"active"`
	QuestionIDs   []uint  `json:"question_ids"`
}

// apply copies the fields sent onto in; with full, missing required fields
// are reported.
func (r programRequest) apply(in *survey.ProgramInput, full bool) error {
	missing := map[string]string{}
	const req = "required (send it, or use PATCH to change only some fields)"
	setS := func(dst *string, v *string, name string) {
		if v != nil {
			*dst = *v
		} else if full {
			missing[name] = req
		}
	}
	setI := func(dst *int, v *int, name string) {
		if v != nil {
			*dst = *v
		} else if full {
			missing[name] = req
		}
	}
	setS(&in.Name, r.Name, "name")
	setS(&in.Cadence, r.Cadence, "cadence")
	setS(&in.TimeOfDay, r.TimeOfDay, "time_of_day")
	setI(&in.OpenDays, r.OpenDays, "open_days")
	setI(&in.ItemsPerRound, r.ItemsPerRound, "items_per_round")
	if r.IntervalWeeks != nil {
		in.IntervalWeeks = *r.IntervalWeeks
	} else if full && r.Cadence != nil && *r.Cadence == survey.CadenceWeeks {
		missing["interval_weeks"] = req
	}
	if r.Weekday != nil {
		in.Weekday = time.Weekday(*r.Weekday)
	} else if full {
		missing["weekday"] = req
	}
	if r.MinGroupSize != nil {
		in.MinGroupSize = *r.MinGroupSize
	}
	if r.Active != nil {
		in.Paused = !*r.Active
	}
	if r.QuestionIDs != nil {
		in.QuestionIDs = r.QuestionIDs
	} else if full {
		missing["question_ids"] = req
	}
	if len(missing) > 0 {
		return &survey.ValidationError{Fields: missing}
	}
	return nil
}

func (s *Server) apiAdminProgramCreate(c echo.Context) error {
	if _, err := s.authorize(c, survey.RoleAdmin); err != nil {
		return err
	}
	var req programRequest
	if err := decodeStrict(c, &req); err != nil {
		return err
	}
	ctx := c.Request().Context()
	in, err := s.svc.Programs.NewProgramDefaults(ctx)
	if err != nil {
		return err
	}
	if err := req.apply(&in, true); err != nil {
		return err
	}
	p, err := s.svc.Programs.CreateProgram(ctx, in)
	if err != nil {
		return err
	}
	r, err := s.programResponse(c, p.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, r)
}

// apiAdminProgramUpdate serves PUT (every field) and PATCH (some fields).
func (s *Server) apiAdminProgramUpdate(c echo.Context) error {
	if _, err := s.authorize(c, survey.RoleAdmin); err != nil {
		return err
	}
	id, err := idParam(c, "program")
	if err != nil {
		return err
	}
	var req programRequest
	if err := decodeStrict(c, &req); err != nil {
		return err
	}
	ctx := c.Request().Context()
	p, qs, err := s.svc.Programs.Program(ctx, id)
	if err != nil {
		return err
	}
	in := programFormOf(p, qs).input()
	if err := req.apply(&in, c.Request().Method == http.MethodPut); err != nil {
		return err
	}
	if _, err := s.svc.Programs.UpdateProgram(ctx, id, in); err != nil {
		return err
	}
	r, err := s.programResponse(c, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}

// apiAdminProgramDelete deletes a program that never had a round (204);
// one with rounds is a 409 conflict: pause it instead.
func (s *Server) apiAdminProgramDelete(c echo.Context) error {
	if _, err := s.authorize(c, survey.RoleAdmin); err != nil {
		return err
	}
	id, err := idParam(c, "program")
	if err != nil {
		return err
	}
	if err := s.deleteProgram(c, id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// apiAdminProgramPreview lists the items the program's next round asks.
func (s *Server) apiAdminProgramPreview(c echo.Context) error {
	if _, err := s.authorize(c, survey.RoleAdmin); err != nil {
		return err
	}
	id, err := idParam(c, "program")
	if err != nil {
		return err
	}
	number, qs, err := s.svc.Programs.PreviewQuestions(c.Request().Context(), id)
	if err != nil {
		return err
	}
	out := make([]questionResponse, len(qs))
	for i, q := range qs {
		out[i] = toQuestionResponse(q)
	}
	return c.JSON(http.StatusOK, map[string]any{"round_number": number, "questions": out})
}

type unitResponse struct {
	UnitID       uint   `json:"unit_id"`
	Name         string `json:"name"`
	Path         string `json:"path"`
	Invited      int    `json:"invited"`
	TokensIssued int    `json:"tokens_issued"`
}

type roundResponse struct {
	ID           uint       `json:"id"`
	ProgramID    uint       `json:"program_id"`
	ProgramName  string     `json:"program_name"`
	Number       int        `json:"number"`
	Status       string     `json:"status"`
	MinGroupSize int        `json:"min_group_size"`
	OpensAt      time.Time  `json:"opens_at"`
	ClosesAt     time.Time  `json:"closes_at"`
	LaunchedAt   *time.Time `json:"launched_at"`
	ClosedAt     *time.Time `json:"closed_at"`
	Invited      int        `json:"invited"`
	TokensIssued int        `json:"tokens_issued"`
	// InvalidBallots counts ballots close could not open or validate.
	InvalidBallots int            `json:"invalid_ballots"`
	Units          []unitResponse `json:"units"`
	HiddenUnits    int            `json:"hidden_units"`
}

func toRoundResponse(r roundRow) roundResponse {
	out := roundResponse{ID: r.ID, ProgramID: r.ProgramID, ProgramName: r.ProgramName, Number: r.Number, Status: r.Status,
		MinGroupSize: r.MinGroupSize, OpensAt: r.OpensAt.UTC(), ClosesAt: r.ClosesAt.UTC(), LaunchedAt: r.LaunchedAt,
		ClosedAt: r.ClosedAt, Invited: r.Invited, TokensIssued: r.TokensIssued, InvalidBallots: r.InvalidBallots,
		Units: []unitResponse{}, HiddenUnits: r.Part.HiddenUnits}
	for _, u := range r.Part.Units {
		out.Units = append(out.Units, unitResponse{UnitID: u.UnitID, Name: u.Name, Path: u.Path, Invited: u.Invited, TokensIssued: u.TokensIssued})
	}
	return out
}

// apiAdminRounds lists rounds, newest first, with participation;
// ?program_id= narrows to one program.
func (s *Server) apiAdminRounds(c echo.Context) error {
	if _, err := s.authorize(c, survey.RoleAdmin); err != nil {
		return err
	}
	var program uint
	if v := c.QueryParam("program_id"); v != "" {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return &survey.ValidationError{Fields: map[string]string{"program_id": "use a program id"}}
		}
		program = uint(n)
	}
	all, err := s.svc.Rounds.Rounds(c.Request().Context())
	if err != nil {
		return err
	}
	var rs []survey.RoundSummary
	for _, r := range all {
		if program == 0 || r.ProgramID == program {
			rs = append(rs, r)
		}
	}
	rows, err := s.roundRows(c, rs)
	if err != nil {
		return err
	}
	out := make([]roundResponse, len(rows))
	for i, r := range rows {
		out[i] = toRoundResponse(r)
	}
	return c.JSON(http.StatusOK, map[string]any{"rounds": out})
}

// roundJSON answers with one round and its participation.
func (s *Server) roundJSON(c echo.Context, status int, id uint) error {
	all, err := s.svc.Rounds.Rounds(c.Request().Context())
	if err != nil {
		return err
	}
	for _, r := range all {
		if r.ID == id {
			rows, err := s.roundRows(c, []survey.RoundSummary{r})
			if err != nil {
				return err
			}
			return c.JSON(status, toRoundResponse(rows[0]))
		}
	}
	return fmt.Errorf("round %d: %w", id, survey.ErrNotFound)
}

func (s *Server) apiAdminRound(c echo.Context) error {
	if _, err := s.authorize(c, survey.RoleAdmin); err != nil {
		return err
	}
	id, err := idParam(c, "round")
	if err != nil {
		return err
	}
	return s.roundJSON(c, http.StatusOK, id)
}

type launchRequest struct {
	ProgramID uint `json:"program_id"`
}

// apiAdminLaunch opens a new round of a program now.
func (s *Server) apiAdminLaunch(c echo.Context) error {
	if _, err := s.authorize(c, survey.RoleAdmin); err != nil {
		return err
	}
	var req launchRequest
	if err := decodeStrict(c, &req); err != nil {
		return err
	}
	if req.ProgramID == 0 {
		return &survey.ValidationError{Fields: map[string]string{"program_id": "choose the program to launch"}}
	}
	r, err := s.svc.Rounds.Launch(c.Request().Context(), req.ProgramID)
	if err != nil {
		return err
	}
	return s.roundJSON(c, http.StatusCreated, r.ID)
}

// apiAdminClose closes an open round; its release follows.
func (s *Server) apiAdminClose(c echo.Context) error {
	if _, err := s.authorize(c, survey.RoleAdmin); err != nil {
		return err
	}
	id, err := idParam(c, "round")
	if err != nil {
		return err
	}
	if err := s.svc.Rounds.Close(c.Request().Context(), id); err != nil {
		return err
	}
	return s.roundJSON(c, http.StatusOK, id)
}
