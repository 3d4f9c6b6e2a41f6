package api_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pulse-survey/pulse/survey"
)

// admProgram syncs the bank and creates a program over all of it: every two
// weeks, 8 items per round, k = 5.
func admProgram(h *harness, name string) *survey.Program {
	h.t.Helper()
	if err := h.svc.Programs.SyncBuiltinQuestions(h.ctx); err != nil {
		h.t.Fatal(err)
	}
	qs, err := h.svc.Programs.Questions(h.ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	ids := make([]uint, len(qs))
	for i, q := range qs {
		ids[i] = q.ID
	}
	p, err := h.svc.Programs.CreateProgram(h.ctx, survey.ProgramInput{Name: name, Cadence: survey.CadenceWeeks, IntervalWeeks: 2,
		Weekday: time.Monday, TimeOfDay: "09:00", OpenDays: 5, ItemsPerRound: 8, MinGroupSize: 5, QuestionIDs: ids})
	if err != nil {
		h.t.Fatal(err)
	}
	return p
}

// admBank returns the bank by key.
func admBank(h *harness) map[string]survey.Question {
	h.t.Helper()
	if err := h.svc.Programs.SyncBuiltinQuestions(h.ctx); err != nil {
		h.t.Fatal(err)
	}
	qs, err := h.svc.Programs.Questions(h.ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	out := map[string]survey.Question{}
	for _, q := range qs {
		out[q.Key] = q
	}
	return out
}

// programForm is a valid program form over the given questions.
func programForm(name string, k int, qs ...survey.Question) url.Values {
	f := url.Values{"name": {name}, "cadence": {"every_n_weeks"}, "interval_weeks": {"2"}, "weekday": {"2"},
		"time_of_day": {"10:30"}, "open_days": {"4"}, "items_per_round": {"6"}, "min_group_size": {fmt.Sprint(k)}, "active": {"1"}}
	for _, q := range qs {
		f.Add("question_ids", fmt.Sprint(q.ID))
	}
	return f
}

var savedProgramRE = regexp.MustCompile(`^/admin/programs/(\d+)\?saved=1$`)

func savedProgram(t *testing.T, r *response) uint {
	t.Helper()
	m := savedProgramRE.FindStringSubmatch(r.Header.Get("Location"))
	if r.StatusCode != http.StatusSeeOther || m == nil {
		t.Fatalf("save: status %d, Location %q; body:\n%.2000s", r.StatusCode, r.Header.Get("Location"), r.Body)
	}
	var id uint
	fmt.Sscan(m[1], &id)
	return id
}

func programQuestionIDs(t *testing.T, h *harness, id uint) []uint {
	t.Helper()
	_, qs, err := h.svc.Programs.Program(h.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]uint, len(qs))
	for i, q := range qs {
		ids[i] = q.ID
	}
	return ids
}

func TestAdminProgramsWeb(t *testing.T) {
	t.Parallel()
	h := newRepHarness(t)
	h.initOrg("Acme")
	bank := admBank(h)
	h.admin("admin@example.com")
	c := admSignedIn(h, "admin@example.com", "/admin/programs")
	wantContains(t, c.get("/admin/programs").Body, "No programs yet.")

	// The new-program form offers every built-in item, grouped, and
	// starts with the balanced default selection.
	r := c.get("/admin/programs/new")
	wantStatus(t, r, http.StatusOK)
	if n := strings.Count(r.Body, `name="question_ids"`); n != len(bank) {
		t.Errorf("%d question checkboxes, want %d", n, len(bank))
	}
	qs, _ := h.svc.Programs.Questions(h.ctx)
	if n, want := regexp.MustCompile(`name="question_ids" value="\d+" checked`).FindAllStringIndex(r.Body, -1), survey.DefaultSelection(qs); len(n) != len(want) {
		t.Errorf("%d questions preselected, want the %d of the default selection", len(n), len(want))
	}
	wantContains(t, r.Body, "<legend>Purpose</legend>", "<legend>Shared mission</legend>", `<span class="badge">core</span>`,
		`id="min_group_size" name="min_group_size" type="number" min="3" max="100" value="5"`)

	// Create: purpose items and mastery without its core item (a warning).
	sel := []survey.Question{bank["purpose.mission.1"], bank["purpose.fit.1"], bank["mastery.training.1"], bank["mastery.coaching.1"]}
	id := savedProgram(t, c.submit("/admin/programs/new", "/admin/programs", programForm("Team pulse", 5, sel...)))
	p, qs, err := h.svc.Programs.Program(h.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "Team pulse" || p.Cadence != survey.CadenceWeeks || p.IntervalWeeks != 2 || p.Weekday != 2 || p.TimeOfDay != "10:30" ||
		p.OpenDays != 4 || p.ItemsPerRound != 6 || p.MinGroupSize != 5 || !p.Active || len(qs) != 4 {
		t.Fatalf("created %+v with %d questions", p, len(qs))
	}
	r = c.get(fmt.Sprintf("/admin/programs/%d?saved=1", id))
	wantContains(t, r.Body, "Program saved.", "Mastery has no core item", "Only 4 items are selected",
		fmt.Sprintf(`href="/admin/programs/%d/preview"`, id))

	// Validation errors come back on the form with what was typed.
	bad := programForm("Bad", 2)
	bad.Set("time_of_day", "25:00")
	r = c.submit("/admin/programs/new", "/admin/programs", bad)
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantContains(t, r.Body, layoutMarker, "Nothing was saved", `id="err-k"`, `id="err-questions"`, `id="err-time"`, `value="Bad"`)
	bad = programForm("Bad", 5, sel...)
	bad.Set("items_per_round", "many")
	r = c.submit("/admin/programs/new", "/admin/programs", bad)
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantContains(t, r.Body, `id="err-items"`)
	bad = programForm("Bad", 5)
	bad.Add("question_ids", "999999")
	wantStatus(t, c.submit("/admin/programs/new", "/admin/programs", bad), http.StatusUnprocessableEntity)
	if ps, _ := h.svc.Programs.Programs(h.ctx); len(ps) != 1 {
		t.Fatalf("%d programs after refused forms", len(ps))
	}

	// Edit: rename, pause, drop one item and add another. The items kept
	// keep their order; the new one comes last.
	edit := programForm("Team pulse (paused)", 6, bank["engagement.engagement.1"], sel[3], sel[0], sel[2])
	edit.Del("active")
	edit.Set("cadence", "monthly")
	if got := savedProgram(t, c.submit(fmt.Sprintf("/admin/programs/%d", id), fmt.Sprintf("/admin/programs/%d", id), edit)); got != id {
		t.Fatalf("saved program %d, want %d", got, id)
	}
	p, _, _ = h.svc.Programs.Program(h.ctx, id)
	if p.Name != "Team pulse (paused)" || p.Active || p.Cadence != survey.CadenceMonthly || p.MinGroupSize != 6 {
		t.Fatalf("edited %+v", p)
	}
	want := []uint{sel[0].ID, sel[2].ID, sel[3].ID, bank["engagement.engagement.1"].ID}
	if got := programQuestionIDs(t, h, id); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("selection %v, want %v", got, want)
	}
	r = c.get("/admin/programs")
	wantContains(t, r.Body, "Team pulse (paused)", "paused</span>", "every month")
	wantNotContains(t, r.Body, "/launch")
	wantStatus(t, c.get("/admin/programs/999999"), http.StatusNotFound)
	wantStatus(t, c.submit("/admin/programs", "/admin/programs/999999", programForm("X", 5, sel...)), http.StatusNotFound)
}

func TestAdminProgramKCannotBeLoweredAfterLaunch(t *testing.T) {
	t.Parallel()
	h := newRepHarness(t)
	o := buildOrg(h)
	admStaff(h, o.platform, "plat", 6)
	bank := admBank(h)
	h.admin("admin@example.com")
	c := admSignedIn(h, "admin@example.com", "/admin/programs/new")
	sel := []survey.Question{bank["purpose.mission.1"], bank["mastery.growth.1"], bank["autonomy.method.1"], bank["purpose.fit.1"]}
	id := savedProgram(t, c.submit("/admin/programs/new", "/admin/programs", programForm("Pulse", 5, sel...)))
	page := fmt.Sprintf("/admin/programs/%d", id)

	// Before a launch k may go down (not below 3) and up again.
	savedProgram(t, c.submit(page, page, programForm("Pulse", 3, sel...)))
	savedProgram(t, c.submit(page, page, programForm("Pulse", 5, sel...)))
	wantContains(t, c.get(page).Body, "once a round has launched, k can no longer be lowered")

	wantRedirect(t, c.submit("/admin/programs", fmt.Sprintf("/admin/programs/%d/launch", id), url.Values{}), "/admin/rounds")
	r := c.get(page)
	wantContains(t, r.Body, `min="5"`, "can be raised but not lowered below 5")

	r = c.submit(page, page, programForm("Pulse", 4, sel...))
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantContains(t, r.Body, `id="err-k"`, "already launched with a minimum group size of 5")
	if p, _, _ := h.svc.Programs.Program(h.ctx, id); p.MinGroupSize != 5 {
		t.Fatalf("k lowered to %d", p.MinGroupSize)
	}

	api := fmt.Sprintf("/api/v1/admin/programs/%d", id)
	e := wantAPIError(t, c.sendJSON("PATCH", api, map[string]any{"min_group_size": 4}), http.StatusUnprocessableEntity, "invalid")
	if !strings.Contains(e.Error.Fields["min_group_size"], "not lowered") {
		t.Errorf("fields %v", e.Error.Fields)
	}
	r = c.sendJSON("PATCH", api, map[string]any{"min_group_size": 6})
	wantStatus(t, r, http.StatusOK)
	var got struct {
		MinGroupSize int `json:"min_group_size"`
		Floor        int `json:"min_group_size_floor"`
	}
	decodeJSON(t, r, &got)
	if got.MinGroupSize != 6 || got.Floor != 6 {
		t.Fatalf("after raising: %+v", got)
	}
	wantAPIError(t, c.sendJSON("PATCH", api, map[string]any{"min_group_size": 5}), http.StatusUnprocessableEntity, "invalid")
	wantAPIError(t, c.sendJSON("PATCH", api, map[string]any{"min_group_size": 2}), http.StatusUnprocessableEntity, "invalid")
}

type admProgramJSON struct {
	ID            uint     `json:"id"`
	Name          string   `json:"name"`
	Cadence       string   `json:"cadence"`
	IntervalWeeks int      `json:"interval_weeks"`
	Weekday       int      `json:"weekday"`
	TimeOfDay     string   `json:"time_of_day"`
	OpenDays      int      `json:"open_days"`
	ItemsPerRound int      `json:"items_per_round"`
	MinGroupSize  int      `json:"min_group_size"`
	Active        bool     `json:"active"`
	QuestionIDs   []uint   `json:"question_ids"`
	Warnings      []string `json:"warnings"`
}

func TestAdminProgramsAPI(t *testing.T) {
	t.Parallel()
	h := newRepHarness(t)
	h.initOrg("Acme")
	bank := admBank(h)
	h.admin("admin@example.com")
	c := admSignedIn(h, "admin@example.com", "/admin")
	core := []uint{bank["purpose.mission.1"].ID, bank["mastery.growth.1"].ID, bank["autonomy.method.1"].ID, bank["engagement.engagement.1"].ID}

	e := wantAPIError(t, c.sendJSON("POST", "/api/v1/admin/programs", map[string]any{"name": "Pulse"}), http.StatusUnprocessableEntity, "invalid")
	for _, f := range []string{"cadence", "time_of_day", "open_days", "items_per_round", "weekday", "question_ids"} {
		if e.Error.Fields[f] == "" {
			t.Errorf("missing %s not reported: %v", f, e.Error.Fields)
		}
	}
	full := map[string]any{"name": "Pulse", "cadence": "weekly", "weekday": 1, "time_of_day": "09:00", "open_days": 5,
		"items_per_round": 4, "question_ids": core}
	// A new program starts paused unless asked otherwise.
	create := map[string]any{"active": true}
	for k, v := range full {
		create[k] = v
	}
	r := c.sendJSON("POST", "/api/v1/admin/programs", create)
	wantStatus(t, r, http.StatusCreated)
	var p admProgramJSON
	decodeJSON(t, r, &p)
	if p.Name != "Pulse" || p.MinGroupSize != 5 || !p.Active || len(p.QuestionIDs) != 4 || len(p.Warnings) != 0 || p.IntervalWeeks != 1 {
		t.Fatalf("created %+v", p)
	}
	path := fmt.Sprintf("/api/v1/admin/programs/%d", p.ID)

	r = c.sendJSON("PATCH", path, map[string]any{"name": "Weekly pulse", "active": false})
	wantStatus(t, r, http.StatusOK)
	decodeJSON(t, r, &p)
	if p.Name != "Weekly pulse" || p.Active || len(p.QuestionIDs) != 4 || p.OpenDays != 5 {
		t.Fatalf("patched %+v", p)
	}
	wantAPIError(t, c.sendJSON("PUT", path, map[string]any{"name": "Only a name"}), http.StatusUnprocessableEntity, "invalid")
	full["question_ids"] = []uint{core[0], bank["purpose.fit.1"].ID}
	full["cadence"], full["interval_weeks"] = "every_n_weeks", 3
	r = c.sendJSON("PUT", path, full)
	wantStatus(t, r, http.StatusOK)
	decodeJSON(t, r, &p)
	// PUT replaces every field sent; active was left out, so it stays paused.
	if p.Name != "Pulse" || p.IntervalWeeks != 3 || p.Active || len(p.QuestionIDs) != 2 || len(p.Warnings) != 1 {
		t.Fatalf("put %+v", p)
	}
	e = wantAPIError(t, c.sendJSON("PATCH", path, map[string]any{"question_ids": []uint{999999}, "open_days": 40}),
		http.StatusUnprocessableEntity, "invalid")
	if e.Error.Fields["question_ids"] == "" || e.Error.Fields["open_days"] == "" {
		t.Errorf("fields %v", e.Error.Fields)
	}
	wantAPIError(t, c.sendJSON("PATCH", path, `{"name": "x", "colour": "red"}`), http.StatusBadRequest, "")

	var list struct{ Programs []admProgramJSON }
	decodeJSON(t, c.get("/api/v1/admin/programs"), &list)
	if len(list.Programs) != 1 || list.Programs[0].ID != p.ID {
		t.Fatalf("list %+v", list)
	}
	decodeJSON(t, c.get(path), &p)
	if p.Name != "Pulse" {
		t.Fatalf("get %+v", p)
	}
	wantAPIError(t, c.get("/api/v1/admin/programs/999999"), http.StatusNotFound, "not_found")
	wantAPIError(t, c.sendJSON("PATCH", "/api/v1/admin/programs/999999", map[string]any{"name": "x"}), http.StatusNotFound, "not_found")

	var preview struct {
		RoundNumber int `json:"round_number"`
		Questions   []struct{ ID uint }
	}
	decodeJSON(t, c.get(path+"/preview"), &preview)
	if preview.RoundNumber != 1 || len(preview.Questions) != 2 {
		t.Fatalf("preview %+v", preview)
	}
}

func TestAdminCustomQuestion(t *testing.T) {
	t.Parallel()
	h := newRepHarness(t)
	h.initOrg("Acme")
	prog := admProgram(h, "Pulse")
	before := programQuestionIDs(t, h, prog.ID)
	h.admin("admin@example.com")
	page := fmt.Sprintf("/admin/programs/%d", prog.ID)
	c := admSignedIn(h, "admin@example.com", page)

	r := c.submit(page, "/admin/questions", url.Values{"program_id": {fmt.Sprint(prog.ID)}, "facet": {"autonomy/ideas"},
		"text": {"I can test an idea for a week without asking."}})
	m := regexp.MustCompile(fmt.Sprintf(`^/admin/programs/%d\?added=(\d+)#q-\d+$`, prog.ID)).FindStringSubmatch(r.Header.Get("Location"))
	if r.StatusCode != http.StatusSeeOther || m == nil {
		t.Fatalf("add: %d %q\n%.2000s", r.StatusCode, r.Header.Get("Location"), r.Body)
	}
	ids := programQuestionIDs(t, h, prog.ID)
	if len(ids) != len(before)+1 || fmt.Sprint(ids[len(ids)-1]) != m[1] {
		t.Fatalf("the custom item is not last in the program: %v", ids)
	}
	r = c.get(strings.Split(r.Header.Get("Location"), "#")[0])
	if !regexp.MustCompile(`(?s)id="q-` + m[1] + `"><input type="checkbox" name="question_ids" value="` + m[1] + `" checked>\s*<span>I can test an idea for a week without asking\. <span class="badge badge-muted">custom</span> <span class="badge">just added</span>`).MatchString(r.Body) {
		t.Error("the program page does not show the new item, checked, marked custom")
	}
	bank := admBank(h)
	if q := bank["custom.1"]; q.Text != "I can test an idea for a week without asking." || q.Dimension != survey.DimAutonomy ||
		q.Facet != survey.FacetIdeas || q.BuiltIn || q.Core {
		t.Fatalf("stored %+v", q)
	}

	for name, tc := range map[string]struct {
		form   url.Values
		status int
		want   string
	}{
		"facet of another dimension": {url.Values{"facet": {"purpose/ideas"}, "text": {"Fine text."}}, http.StatusUnprocessableEntity, `id="err-facet"`},
		"dimension mismatch":         {url.Values{"dimension": {"mastery"}, "facet": {"purpose/fit"}, "text": {"Fine text."}}, http.StatusUnprocessableEntity, `id="err-facet"`},
		"too long":                   {url.Values{"facet": {"purpose/fit"}, "text": {strings.Repeat("x", 301)}}, http.StatusUnprocessableEntity, `id="err-text"`},
		"empty":                      {url.Values{"facet": {"purpose/fit"}, "text": {"  "}}, http.StatusUnprocessableEntity, `id="err-text"`},
		"duplicate":                  {url.Values{"facet": {"purpose/fit"}, "text": {"i can test an idea for a week without asking."}}, http.StatusConflict, "already has this statement"},
	} {
		t.Run(name, func(t *testing.T) {
			tc.form.Set("program_id", fmt.Sprint(prog.ID))
			r := c.submit(page, "/admin/questions", tc.form)
			wantStatus(t, r, tc.status)
			wantContains(t, r.Body, layoutMarker, tc.want, `<h2 id="h-custom">`)
		})
	}

	// From the new-program page the item joins the bank and is preselected.
	r = c.submit("/admin/programs/new", "/admin/questions", url.Values{"facet": {"engagement/intent_to_stay"}, "text": {"I would join again."}})
	m = regexp.MustCompile(`^/admin/programs/new\?added=(\d+)#q-\d+$`).FindStringSubmatch(r.Header.Get("Location"))
	if m == nil {
		t.Fatalf("add from new: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	wantContains(t, c.get("/admin/programs/new?added="+m[1]).Body, `value="`+m[1]+`" checked`)

	// The API.
	r = c.sendJSON("POST", "/api/v1/admin/questions", map[string]any{"dimension": "mastery", "facet": "coaching", "text": "My lead coaches me."})
	wantStatus(t, r, http.StatusCreated)
	var q struct {
		Key     string `json:"key"`
		BuiltIn bool   `json:"built_in"`
		Core    bool   `json:"core"`
	}
	decodeJSON(t, r, &q)
	if q.Key != "custom.3" || q.BuiltIn || q.Core {
		t.Fatalf("API question %+v", q)
	}
	e := wantAPIError(t, c.sendJSON("POST", "/api/v1/admin/questions", map[string]any{"dimension": "mastery", "facet": "ideas", "text": "x"}),
		http.StatusUnprocessableEntity, "invalid")
	if e.Error.Fields["facet"] == "" {
		t.Errorf("fields %v", e.Error.Fields)
	}
}

func TestAdminProgramPreview(t *testing.T) {
	t.Parallel()
	h := newRepHarness(t)
	root := h.initOrg("Acme")
	admStaff(h, root, "staff", 6)
	prog := admProgram(h, "Pulse")
	h.admin("admin@example.com")
	c := admSignedIn(h, "admin@example.com", "/admin")
	path := fmt.Sprintf("/admin/programs/%d/preview", prog.ID)

	check := func(round int) {
		t.Helper()
		number, qs, err := h.svc.Programs.PreviewQuestions(h.ctx, prog.ID)
		if err != nil || number != round {
			t.Fatalf("PreviewQuestions: %d, %v", number, err)
		}
		r := c.get(path)
		wantStatus(t, r, http.StatusOK)
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Fatalf("Content-Type %q", ct)
		}
		if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("CSP %q", csp)
		}
		// The employees' page: its heading, anonymity note and form...
		wantContains(t, r.Body, layoutMarker, `id="pulse-survey"`, "Your answers are anonymous.", "Send my answers",
			"Your pulse", fmt.Sprintf("round %d of “Pulse”", round))
		// ...with the banner, and nothing that could send.
		wantContains(t, r.Body, `id="preview-banner"`, "Preview: answers are not sent")
		wantNotContains(t, r.Body, "survey.js", "<script", "Sign out")
		if n := strings.Count(r.Body, `type="submit" disabled`); n != 1 {
			t.Errorf("%d disabled submit buttons, want 1", n)
		}
		form := regexp.MustCompile(`(?s)<form id="pulse-survey".*?</form>`).FindString(r.Body)
		if regexp.MustCompile(`type="submit"(?: [a-z-]+="[^"]*")*>`).MatchString(strings.ReplaceAll(form, `type="submit" disabled`, "")) {
			t.Error("an enabled submit button in the survey form")
		}
		// Exactly the items the round will ask, in its order.
		if n := strings.Count(r.Body, `<fieldset class="scale"`); n != len(qs) {
			t.Errorf("%d items shown, want %d", n, len(qs))
		}
		last := 0
		for _, q := range qs {
			i := strings.Index(r.Body, fmt.Sprintf(`data-question-id="%d"`, q.ID))
			if i < last {
				t.Fatalf("item %d missing or out of order", q.ID)
			}
			last = i
			wantContains(t, r.Body, q.Text)
		}
	}
	check(1)
	r, err := h.svc.Rounds.Launch(h.ctx, prog.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.svc.Rounds.Close(h.ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	check(2)
	wantStatus(t, c.get("/admin/programs/999999/preview"), http.StatusNotFound)
}

// --- rounds -----------------------------------------------------------------

// admUnitRow matches a per-unit participation row.
func admUnitRow(name string, invited, issued int) string {
	return fmt.Sprintf(`<tr><th scope="row">%s</th><td class="num">%d</td><td class="num">%d</td></tr>`, name, invited, issued)
}

type admRoundJSON struct {
	ID           uint   `json:"id"`
	Status       string `json:"status"`
	Number       int    `json:"number"`
	Invited      int    `json:"invited"`
	TokensIssued int    `json:"tokens_issued"`
	HiddenUnits  int    `json:"hidden_units"`
	Units        []struct {
		UnitID       uint   `json:"unit_id"`
		Path         string `json:"path"`
		Invited      int    `json:"invited"`
		TokensIssued int    `json:"tokens_issued"`
	} `json:"units"`
}

func TestAdminRoundsOverview(t *testing.T) {
	t.Parallel()
	h := newRepHarness(t)
	o := buildOrg(h)
	admStaff(h, o.platform, "plat", 6)
	admStaff(h, o.apps, "apps", 5)
	admStaff(h, o.emea, "emea", 7)
	prog := admProgram(h, "Pulse")
	h.admin("admin@example.com")
	c := admSignedIn(h, "admin@example.com", "/admin/rounds")
	wantContains(t, c.get("/admin/rounds").Body, "No rounds yet.", fmt.Sprintf(`action="/admin/programs/%d/launch"`, prog.ID))

	wantRedirect(t, c.submit("/admin/rounds", fmt.Sprintf("/admin/programs/%d/launch", prog.ID), url.Values{}), "/admin/rounds")
	rs, err := h.svc.Rounds.Rounds(h.ctx)
	if err != nil || len(rs) != 1 {
		t.Fatalf("rounds %v %v", rs, err)
	}
	round := rs[0]
	links, err := h.svc.Rounds.Links(h.ctx, round.ID)
	if err != nil {
		t.Fatal(err)
	}
	issued := map[string]int{"plat": 3, "emea": 1}
	for _, l := range links {
		prefix := strings.Split(l.Email, "-")[0]
		if issued[prefix] > 0 {
			issued[prefix]--
			admToken(h, round.ID, l.Secret)
		}
	}

	r := c.get("/admin/rounds")
	wantStatus(t, r, http.StatusOK)
	// Opens at launch (09:00 UTC = 10:00 in Berlin), closes 5 days later.
	wantContains(t, r.Body, "Pulse #1", "open", "Mon 3 Mar 2031, 10:00", "Sat 8 Mar 2031, 10:00", "Europe/Berlin",
		`<td class="num">18</td><td class="num">4</td>`,
		admUnitRow("Engineering/Apps", 5, 0), admUnitRow("Engineering/Platform", 6, 3), admUnitRow("Sales/EMEA", 7, 1),
		fmt.Sprintf(`action="/admin/rounds/%d/close"`, round.ID))

	// A unit below k (forged: Launch never makes one) is not shown, nor is
	// the smallest other unit, which would give it away by subtraction.
	if err := h.db.Exec("UPDATE invitations SET unit_id = ? WHERE id IN (SELECT id FROM invitations WHERE round_id = ? AND team_id = ? ORDER BY id LIMIT 2)",
		o.sales, round.ID, o.emea).Error; err != nil {
		t.Fatal(err)
	}
	r = c.get("/admin/rounds")
	wantContains(t, r.Body, admUnitRow("Engineering/Platform", 6, 3), "2 units are not shown")
	wantNotContains(t, r.Body, `<th scope="row">Sales</th>`, `<th scope="row">Engineering/Apps</th>`)
	var list struct{ Rounds []admRoundJSON }
	decodeJSON(t, c.get("/api/v1/admin/rounds"), &list)
	got := list.Rounds[0]
	if got.Invited != 18 || got.TokensIssued != 4 || got.HiddenUnits != 2 || len(got.Units) != 2 {
		t.Fatalf("round %+v", got)
	}
	for _, u := range got.Units {
		if u.Invited < 5 || u.UnitID == o.sales || u.UnitID == o.apps {
			t.Errorf("unit %+v shown", u)
		}
	}

	// A second launch while one is open says why it cannot.
	r = c.submit("/admin/rounds", fmt.Sprintf("/admin/programs/%d/launch", prog.ID), url.Values{})
	wantStatus(t, r, http.StatusConflict)
	wantContains(t, r.Body, "A round of this program is still open: close it first")

	// While it is open, the rounds page explains instead of offering a launch.
	r = c.get("/admin/rounds")
	wantContains(t, r.Body, "is open (#1, closing")
	wantNotContains(t, r.Body, fmt.Sprintf(`action="/admin/programs/%d/launch"`, prog.ID))

	// Closing destroys keys: without the ticked confirmation nothing happens.
	r = c.submit("/admin/rounds", fmt.Sprintf("/admin/rounds/%d/close", round.ID), url.Values{})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantContains(t, r.Body, "Tick the confirmation")
	var still survey.Round
	if err := h.db.First(&still, round.ID).Error; err != nil || still.Status != survey.RoundOpen {
		t.Fatalf("after an unconfirmed close the round is %q (%v), want open", still.Status, err)
	}

	confirm := url.Values{"confirm": {"yes"}}
	wantRedirect(t, c.submit("/admin/rounds", fmt.Sprintf("/admin/rounds/%d/close", round.ID), confirm), "/admin/rounds")
	r = c.get("/admin/rounds")
	wantContains(t, r.Body, "<td>closed</td>")
	wantNotContains(t, r.Body, fmt.Sprintf(`action="/admin/rounds/%d/close"`, round.ID))
	wantStatus(t, c.submit("/admin/rounds", fmt.Sprintf("/admin/rounds/%d/close", round.ID), confirm), http.StatusConflict)
}

func TestAdminRoundsAPI(t *testing.T) {
	t.Parallel()
	h := newRepHarness(t)
	o := buildOrg(h)
	admStaff(h, o.platform, "plat", 6)
	prog := admProgram(h, "Pulse")
	h.admin("admin@example.com")
	c := admSignedIn(h, "admin@example.com", "/admin")

	r := c.sendJSON("POST", "/api/v1/admin/rounds", map[string]any{"program_id": prog.ID})
	wantStatus(t, r, http.StatusCreated)
	var round admRoundJSON
	decodeJSON(t, r, &round)
	if round.Status != "open" || round.Number != 1 || round.Invited != 6 || round.TokensIssued != 0 || len(round.Units) != 1 ||
		round.Units[0].Path != "Engineering/Platform" {
		t.Fatalf("launched %+v", round)
	}
	e := wantAPIError(t, c.sendJSON("POST", "/api/v1/admin/rounds", map[string]any{"program_id": prog.ID}), http.StatusConflict, "conflict")
	if !strings.Contains(e.Error.Message, "still open") {
		t.Errorf("message %q", e.Error.Message)
	}
	wantAPIError(t, c.sendJSON("POST", "/api/v1/admin/rounds", map[string]any{}), http.StatusUnprocessableEntity, "invalid")
	wantAPIError(t, c.sendJSON("POST", "/api/v1/admin/rounds", map[string]any{"program_id": 999999}), http.StatusNotFound, "not_found")

	decodeJSON(t, c.get(fmt.Sprintf("/api/v1/admin/rounds/%d", round.ID)), &round)
	if round.Status != "open" {
		t.Fatalf("get %+v", round)
	}
	r = c.sendJSON("POST", fmt.Sprintf("/api/v1/admin/rounds/%d/close", round.ID), nil)
	wantStatus(t, r, http.StatusOK)
	decodeJSON(t, r, &round)
	if round.Status != "closed" {
		t.Fatalf("closed %+v", round)
	}
	wantAPIError(t, c.sendJSON("POST", fmt.Sprintf("/api/v1/admin/rounds/%d/close", round.ID), nil), http.StatusConflict, "conflict")
	wantAPIError(t, c.get("/api/v1/admin/rounds/999999"), http.StatusNotFound, "not_found")
	var list struct{ Rounds []admRoundJSON }
	decodeJSON(t, c.get(fmt.Sprintf("/api/v1/admin/rounds?program_id=%d", prog.ID+1)), &list)
	if len(list.Rounds) != 0 {
		t.Fatalf("rounds of another program: %+v", list.Rounds)
	}
}

// A new program starts paused on both paths, with the organisation's k and
// the balanced default selection on the page.
func TestAdminNewProgramStartsPaused(t *testing.T) {
	t.Parallel()
	h := newRepHarness(t)
	h.initOrg("Acme")
	bank := admBank(h)
	h.admin("admin@example.com")
	c := admSignedIn(h, "admin@example.com", "/admin/programs/new")

	r := c.get("/admin/programs/new")
	wantContains(t, r.Body, `<input type="checkbox" name="active" value="1" aria-describedby="active-hint">`, "A new program starts paused")
	qs, _ := h.svc.Programs.Questions(h.ctx)
	for _, id := range survey.DefaultSelection(qs) {
		wantContains(t, r.Body, fmt.Sprintf(`name="question_ids" value="%d" checked`, id))
	}
	if n := strings.Count(r.Body, `" checked>`); n >= len(bank) {
		t.Errorf("%d of %d items preselected", n, len(bank))
	}

	var p admProgramJSON
	r = c.sendJSON("POST", "/api/v1/admin/programs", map[string]any{"name": "Pulse", "cadence": "weekly", "weekday": 1,
		"time_of_day": "09:00", "open_days": 5, "items_per_round": 8, "question_ids": survey.DefaultSelection(qs)})
	wantStatus(t, r, http.StatusCreated)
	decodeJSON(t, r, &p)
	if p.Active || p.MinGroupSize != 5 {
		t.Fatalf("created %+v: want paused with the organisation's k", p)
	}
	var preview struct {
		Questions []struct{ Dimension string }
	}
	decodeJSON(t, c.get(fmt.Sprintf("/api/v1/admin/programs/%d/preview", p.ID)), &preview)
	per := map[string]int{}
	for _, q := range preview.Questions {
		per[q.Dimension]++
	}
	for _, d := range survey.Dimensions() {
		if per[d] != 2 {
			t.Errorf("the first round asks %d items of %s, want 2 of 8 (%v)", per[d], d, per)
		}
	}
	// Paused: the rounds page offers no launch of it.
	wantNotContains(t, c.get("/admin/rounds").Body, fmt.Sprintf("/admin/programs/%d/launch", p.ID))
}

// Program names are unique ignoring case and spaces: a field error on the
// form (422, what was typed kept) and in JSON (422 on name), never a 500.
func TestAdminProgramNamesUnique(t *testing.T) {
	t.Parallel()
	h := newRepHarness(t)
	h.initOrg("Acme")
	bank := admBank(h)
	h.admin("admin@example.com")
	c := admSignedIn(h, "admin@example.com", "/admin/programs/new")
	sel := []survey.Question{bank["purpose.mission.1"], bank["mastery.growth.1"], bank["autonomy.method.1"]}
	first := savedProgram(t, c.submit("/admin/programs/new", "/admin/programs", programForm("Team pulse", 5, sel...)))

	r := c.submit("/admin/programs/new", "/admin/programs", programForm("  team PULSE ", 5, sel...))
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantContains(t, r.Body, layoutMarker, `id="err-name"`, "another program is already called", `value="  team PULSE "`)

	e := wantAPIError(t, c.sendJSON("POST", "/api/v1/admin/programs", map[string]any{"name": "TEAM PULSE", "cadence": "weekly",
		"weekday": 1, "time_of_day": "09:00", "open_days": 5, "items_per_round": 4, "question_ids": []uint{sel[0].ID}}),
		http.StatusUnprocessableEntity, "invalid")
	if !strings.Contains(e.Error.Fields["name"], "already called") {
		t.Errorf("fields %v", e.Error.Fields)
	}

	second := savedProgram(t, c.submit("/admin/programs/new", "/admin/programs", programForm("Other pulse", 5, sel...)))
	page := fmt.Sprintf("/admin/programs/%d", second)
	r = c.submit(page, page, programForm("Team Pulse", 5, sel...))
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantContains(t, r.Body, `id="err-name"`)
	e = wantAPIError(t, c.sendJSON("PATCH", "/api/v1/admin/programs/"+fmt.Sprint(second), map[string]any{"name": "team pulse"}),
		http.StatusUnprocessableEntity, "invalid")
	if e.Error.Fields["name"] == "" {
		t.Errorf("fields %v", e.Error.Fields)
	}
	// Its own name in another case is fine.
	page = fmt.Sprintf("/admin/programs/%d", first)
	savedProgram(t, c.submit(page, page, programForm("TEAM pulse", 5, sel...)))
	if ps, _ := h.svc.Programs.Programs(h.ctx); len(ps) != 2 || ps[0].Name != "TEAM pulse" || ps[1].Name != "Other pulse" {
		t.Fatalf("programs after refused names: %+v", ps)
	}
}

// A program that never launched a round can be deleted from its page and
// through the API, with an audit entry; one with a round cannot, with a
// message that says to pause it instead.
func TestAdminProgramDelete(t *testing.T) {
	t.Parallel()
	h := newRepHarness(t)
	o := buildOrg(h)
	admStaff(h, o.platform, "plat", 6)
	admin := h.admin("admin@example.com")
	launched := admProgram(h, "Launched")
	if _, err := h.svc.Rounds.Launch(h.ctx, launched.ID); err != nil {
		t.Fatal(err)
	}
	unused := admProgram(h, "Draft")
	other := admProgram(h, "Another draft")
	c := admSignedIn(h, "admin@example.com", "/admin/programs")

	// The page of a program with a round explains; a draft offers deletion.
	page := fmt.Sprintf("/admin/programs/%d", launched.ID)
	r := c.get(page)
	wantContains(t, r.Body, "cannot be deleted", "untick Active")
	wantNotContains(t, r.Body, page+"/delete")
	wantContains(t, c.get(fmt.Sprintf("/admin/programs/%d", unused.ID)).Body,
		fmt.Sprintf(`action="/admin/programs/%d/delete"`, unused.ID), "never launched a round")

	// Without the CSRF token nothing happens.
	wantStatus(t, c.post(fmt.Sprintf("/admin/programs/%d/delete", unused.ID), url.Values{}), http.StatusForbidden)

	before := h.auditCount()
	r = c.submit(page, page+"/delete", url.Values{})
	wantStatus(t, r, http.StatusConflict)
	wantContains(t, r.Body, layoutMarker, "cannot be deleted: pause it instead")
	wantAPIError(t, c.sendJSON("DELETE", "/api/v1/admin/programs/"+fmt.Sprint(launched.ID), nil), http.StatusConflict, "conflict")
	if _, _, err := h.svc.Programs.Program(h.ctx, launched.ID); err != nil {
		t.Fatalf("the launched program after refused deletes: %v", err)
	}

	wantRedirect(t, c.submit("/admin/programs", fmt.Sprintf("/admin/programs/%d/delete", unused.ID), url.Values{}), "/admin/programs?deleted=1")
	wantContains(t, c.get("/admin/programs?deleted=1").Body, "Program deleted.")
	r = c.sendJSON("DELETE", "/api/v1/admin/programs/"+fmt.Sprint(other.ID), nil)
	wantStatus(t, r, http.StatusNoContent)
	es := wantNewAudit(t, h, before, 2)
	wantAuditEntry(t, es[0], survey.AuditProgramDelete, fmt.Sprintf("program:%d", unused.ID), admin)
	wantAuditEntry(t, es[1], survey.AuditProgramDelete, fmt.Sprintf("program:%d", other.ID), admin)
	if !strings.Contains(es[0].Detail, `"Draft"`) {
		t.Errorf("audit detail %q does not name the program", es[0].Detail)
	}
	for _, id := range []uint{unused.ID, other.ID} {
		if _, _, err := h.svc.Programs.Program(h.ctx, id); !errors.Is(err, survey.ErrNotFound) {
			t.Errorf("program %d after delete: %v", id, err)
		}
	}
	wantAPIError(t, c.sendJSON("DELETE", "/api/v1/admin/programs/"+fmt.Sprint(other.ID), nil), http.StatusNotFound, "not_found")
	wantStatus(t, c.submit("/admin/programs", "/admin/programs/999999/delete", url.Values{}), http.StatusNotFound)
}

// checklistStep returns the state text ("Done" or "Not done") of the
// checklist step titled title.
func checklistStep(t *testing.T, body, title string) string {
	t.Helper()
	m := regexp.MustCompile(`<li><span class="badge[^"]*">([^<]+)</span>\s*<a href="[^"]*">` + regexp.QuoteMeta(title) + `</a>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no checklist step %q on the page", title)
	}
	return m[1]
}

// The admin home's first-round checklist reads each step's state from the
// database: people, leaders, a program, a launched round, shared links.
func TestAdminFirstRoundChecklist(t *testing.T) {
	t.Parallel()
	h := newRepHarness(t)
	o := buildOrg(h)
	h.admin("admin@example.com")
	c := admSignedIn(h, "admin@example.com", "/admin")
	steps := []string{"Import people", "Invite leaders", "Create a program", "Launch a round", "Share the links"}
	want := func(done int) {
		t.Helper()
		body := c.get("/admin").Body
		wantContains(t, body, `<h2 id="h-first-round">Your first round</h2>`, `<ol class="checklist">`)
		if done < len(steps) {
			wantContains(t, body, fmt.Sprintf("%d of %d steps still to do", len(steps)-done, len(steps)))
		} else {
			wantContains(t, body, "All 5 steps are done")
		}
		for i, s := range steps {
			state := "Not done"
			if i < done {
				state = "Done"
			}
			if got := checklistStep(t, body, s); got != state {
				t.Errorf("after %d steps, %q is %q, want %q", done, s, got, state)
			}
		}
	}
	want(0)
	admStaff(h, o.platform, "plat", 6)
	want(1)
	wantContains(t, c.get("/admin").Body, "6 active people.")
	r := c.submit("/admin/leaders", "/admin/leaders/invite", url.Values{"email": {"lead@example.com"}, "role": {"leader"},
		"team_ids": {fmt.Sprint(o.eng)}})
	if r.StatusCode >= 400 {
		t.Fatalf("invite: %d %s", r.StatusCode, r.Body)
	}
	want(2)
	p := admProgram(h, "Pulse")
	want(3)
	round, err := h.svc.Rounds.Launch(h.ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	want(4)
	wantContains(t, c.get("/admin").Body, fmt.Sprintf(`<a href="/admin/rounds/%d/delivery">Share the links</a>`, round.ID))
	wantStatus(t, c.get(fmt.Sprintf("/admin/rounds/%d/links.csv", round.ID)), http.StatusOK)
	want(5)
}
