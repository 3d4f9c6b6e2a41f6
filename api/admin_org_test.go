package api_test

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/pulse-survey/pulse/survey"
)

// --- admin fixtures -----------------------------------------------------------

// admStaff adds n active people to team: prefix-i@acme.example.
func admStaff(h *harness, team uint, prefix string, n int) []survey.Person {
	h.t.Helper()
	out := make([]survey.Person, n)
	for i := range out {
		p, err := h.svc.Org.CreatePerson(h.ctx, survey.PersonInput{Email: fmt.Sprintf("%s-%d@acme.example", prefix, i),
			Name: fmt.Sprintf("%s %d", prefix, i), TeamID: team, Active: true})
		if err != nil {
			h.t.Fatalf("create person: %v", err)
		}
		out[i] = *p
	}
	return out
}

// admSignedIn returns a client signed in as email that has loaded page
// (so it holds a CSRF token).
func admSignedIn(h *harness, email, page string) *client {
	h.t.Helper()
	c := h.client()
	c.login(email)
	c.get(page)
	if c.csrf == "" {
		h.t.Fatalf("no CSRF token on %s", page)
	}
	return c
}

// sendJSON sends body as JSON with the client's CSRF token in the header,
// as the app's scripts do.
func (c *client) sendJSON(method, path string, body any) *response {
	c.h.t.Helper()
	var s string
	switch b := body.(type) {
	case string:
		s = b
	case nil:
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			c.h.t.Fatal(err)
		}
		s = string(raw)
	}
	req := c.newRequest(method, path, strings.NewReader(s))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", c.csrf)
	return c.do(req)
}

func decodeJSON(t *testing.T, r *response, v any) {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q; body %s", ct, r.Body)
	}
	if err := json.Unmarshal([]byte(r.Body), v); err != nil {
		t.Fatalf("body %q: %v", r.Body, err)
	}
}

func (h *harness) teamNode(id uint) *survey.TeamNode {
	h.t.Helper()
	tr, err := h.svc.Org.Tree(h.ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	n := tr.ByID[id]
	if n == nil {
		h.t.Fatalf("team %d does not exist", id)
	}
	return n
}

var createdTeamRE = regexp.MustCompile(`^/admin/teams/(\d+)\?saved=created$`)

// --- authorization of every new admin route -----------------------------------------

type admRoute struct {
	method, path string
	api          bool
}

func admRoutes(o orgTree, program, round, person uint) []admRoute {
	p := func(f string, a ...any) string { return fmt.Sprintf(f, a...) }
	return []admRoute{
		{"GET", "/admin/teams", false},
		{"POST", "/admin/teams", false},
		{"GET", p("/admin/teams/%d", o.eng), false},
		{"POST", p("/admin/teams/%d/rename", o.eng), false},
		{"POST", p("/admin/teams/%d/move", o.eng), false},
		{"POST", p("/admin/teams/%d/archive", o.apps), false},
		{"GET", "/admin/people", false},
		{"GET", p("/admin/people/%d", person), false},
		{"POST", p("/admin/people/%d", person), false},
		{"GET", "/admin/leaders", false},
		{"POST", "/admin/leaders/invite", false},
		{"GET", "/admin/programs", false},
		{"GET", "/admin/programs/new", false},
		{"POST", "/admin/programs", false},
		{"GET", p("/admin/programs/%d", program), false},
		{"POST", p("/admin/programs/%d", program), false},
		{"GET", p("/admin/programs/%d/preview", program), false},
		{"POST", p("/admin/programs/%d/delete", program), false},
		{"POST", "/admin/questions", false},
		{"GET", "/admin/rounds", false},
		{"POST", p("/admin/programs/%d/launch", program), false},
		{"POST", p("/admin/rounds/%d/close", round), false},

		{"GET", "/api/v1/admin/teams", true},
		{"POST", "/api/v1/admin/teams", true},
		{"PATCH", p("/api/v1/admin/teams/%d", o.eng), true},
		{"POST", p("/api/v1/admin/teams/%d/archive", o.apps), true},
		{"GET", "/api/v1/admin/people", true},
		{"PATCH", p("/api/v1/admin/people/%d", person), true},
		{"GET", "/api/v1/admin/leaders", true},
		{"POST", "/api/v1/admin/leaders/invites", true},
		{"GET", "/api/v1/admin/questions", true},
		{"POST", "/api/v1/admin/questions", true},
		{"GET", "/api/v1/admin/programs", true},
		{"POST", "/api/v1/admin/programs", true},
		{"GET", p("/api/v1/admin/programs/%d", program), true},
		{"PUT", p("/api/v1/admin/programs/%d", program), true},
		{"PATCH", p("/api/v1/admin/programs/%d", program), true},
		{"GET", p("/api/v1/admin/programs/%d/preview", program), true},
		{"DELETE", p("/api/v1/admin/programs/%d", program), true},
		{"GET", "/api/v1/admin/rounds", true},
		{"POST", "/api/v1/admin/rounds", true},
		{"GET", p("/api/v1/admin/rounds/%d", round), true},
		{"POST", p("/api/v1/admin/rounds/%d/close", round), true},
	}
}

// admBodies are well-formed requests, so only authorization can refuse them.
func admBody(o orgTree, program uint, r admRoute) (url.Values, map[string]any) {
	form := url.Values{"name": {"Changed"}, "parent_id": {fmt.Sprint(o.sales)}, "email": {"new@example.com"},
		"team_id": {fmt.Sprint(o.sales)}, "active": {"1"}, "role": {"leader"}, "team_ids": {fmt.Sprint(o.eng)},
		"cadence": {"weekly"}, "weekday": {"1"}, "time_of_day": {"09:00"}, "open_days": {"5"}, "items_per_round": {"8"},
		"min_group_size": {"3"}, "question_ids": {"1"}, "facet": {"purpose/fit"}, "text": {"A new statement."}}
	js := map[string]any{}
	switch {
	case strings.HasSuffix(r.path, "/teams") && r.method == "POST":
		js = map[string]any{"parent_id": o.sales, "name": "Changed"}
	case strings.Contains(r.path, "/teams/") && r.method == "PATCH":
		js = map[string]any{"name": "Changed"}
	case strings.Contains(r.path, "/people/"):
		js = map[string]any{"name": "Changed"}
	case strings.HasSuffix(r.path, "/invites"):
		js = map[string]any{"email": "new@example.com", "team_ids": []uint{o.eng}}
	case strings.HasSuffix(r.path, "/questions"):
		js = map[string]any{"dimension": "purpose", "facet": "fit", "text": "A new statement."}
	case strings.Contains(r.path, "/programs"):
		js = map[string]any{"name": "Changed", "cadence": "weekly", "weekday": 1, "time_of_day": "09:00", "open_days": 5,
			"items_per_round": 8, "min_group_size": 3, "question_ids": []uint{1}}
	case strings.HasSuffix(r.path, "/rounds"):
		js = map[string]any{"program_id": program}
	}
	return form, js
}

// TestAdminRoutesNeedAdmin: every page and API route added for org and
// program management refuses leaders (403) and sends anonymous visitors to
// the login page (pages) or answers 401 (API), and changes nothing.
func TestAdminRoutesNeedAdmin(t *testing.T) {
	t.Parallel()
	h := newRepHarness(t)
	o := buildOrg(h)
	staff := admStaff(h, o.platform, "plat", 6)
	prog := admProgram(h, "Pulse")
	round, err := h.svc.Rounds.Launch(h.ctx, prog.ID)
	if err != nil {
		t.Fatal(err)
	}
	h.leader("lead@example.com", o.root)
	leader := admSignedIn(h, "lead@example.com", "/dashboard")
	anon := h.client()
	anon.get("/login") // a valid CSRF token, so only the missing session can refuse

	snapshot := func() string {
		var b strings.Builder
		tr, _ := h.svc.Org.Tree(h.ctx)
		for _, n := range tr.Order {
			parent := uint(0)
			if n.ParentID != nil {
				parent = *n.ParentID
			}
			fmt.Fprintf(&b, "%d:%d:%s:%v;", n.ID, parent, n.Name, n.ArchivedAt != nil)
		}
		ps, _ := h.svc.Org.People(h.ctx, nil, false)
		for _, p := range ps {
			fmt.Fprintf(&b, "%s:%s:%d:%v;", p.Email, p.Name, p.TeamID, p.Active)
		}
		pr, qs, _ := h.svc.Programs.Program(h.ctx, prog.ID)
		fmt.Fprintf(&b, "%s:%d:%d:%v;", pr.Name, pr.MinGroupSize, len(qs), pr.Active)
		all, _ := h.svc.Programs.Questions(h.ctx)
		us, _ := h.svc.Accounts.Users(h.ctx)
		rs, _ := h.svc.Rounds.Rounds(h.ctx)
		fmt.Fprintf(&b, "%d questions, %d users, %d rounds, %s", len(all), len(us), len(rs), rs[0].Status)
		return b.String()
	}
	before := snapshot()

	for _, r := range admRoutes(o, prog.ID, round.ID, staff[0].ID) {
		t.Run(r.method+" "+r.path, func(t *testing.T) {
			form, js := admBody(o, prog.ID, r)
			send := func(c *client) *response {
				switch {
				case r.method == "GET":
					return c.get(r.path)
				case r.api:
					return c.sendJSON(r.method, r.path, js)
				default:
					f := url.Values{"_csrf": {c.csrf}}
					for k, v := range form {
						f[k] = v
					}
					return c.post(r.path, f)
				}
			}
			lr := send(leader)
			wantStatus(t, lr, http.StatusForbidden)
			ar := send(anon)
			switch {
			case r.api:
				wantAPIError(t, ar, http.StatusUnauthorized, "unauthenticated")
			case r.method == "GET":
				wantRedirect(t, ar, "/login?next="+url.QueryEscape(r.path))
			default:
				wantRedirect(t, ar, "/login")
			}
		})
	}
	if after := snapshot(); after != before {
		t.Fatalf("refused requests changed data:\nbefore %s\nafter  %s", before, after)
	}
}

// --- teams ------------------------------------------------------------------------

func TestAdminTeamsWeb(t *testing.T) {
	t.Parallel()
	h := newRepHarness(t)
	o := buildOrg(h)
	admStaff(h, o.apps, "apps", 2)
	h.admin("admin@example.com")
	c := admSignedIn(h, "admin@example.com", "/admin/teams")

	r := c.get("/admin/teams")
	wantStatus(t, r, http.StatusOK)
	// The tree is nested lists: Platform's item is inside Engineering's.
	wantContains(t, r.Body, `<ul class="tree">`, "Engineering", "Platform", "EMEA")
	if !regexp.MustCompile(`(?s)Engineering</a>.*?<ul>.*?Apps</a>.*?Platform</a>.*?</ul>`).MatchString(r.Body) {
		t.Error("sub-teams are not nested under their parent")
	}

	// Create from the tree page.
	r = c.submit("/admin/teams", "/admin/teams", url.Values{"from": {"tree"}, "parent_id": {fmt.Sprint(o.sales)}, "name": {"APAC"}})
	m := createdTeamRE.FindStringSubmatch(r.Header.Get("Location"))
	if r.StatusCode != http.StatusSeeOther || m == nil {
		t.Fatalf("create: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	var apac uint
	fmt.Sscan(m[1], &apac)
	if n := h.teamNode(apac); n.Name != "APAC" || *n.ParentID != o.sales {
		t.Fatalf("created %+v", n.Team)
	}
	wantContains(t, c.get(r.Header.Get("Location")).Body, "Team created.")

	// Errors re-render the page with the message and keep the input.
	r = c.submit("/admin/teams", "/admin/teams", url.Values{"from": {"tree"}, "parent_id": {fmt.Sprint(o.sales)}, "name": {"apac"}})
	wantStatus(t, r, http.StatusConflict)
	wantContains(t, r.Body, layoutMarker, `role="alert"`, "A team named &#34;apac&#34; already exists there", `value="apac"`)
	r = c.submit("/admin/teams", "/admin/teams", url.Values{"from": {"tree"}, "parent_id": {fmt.Sprint(o.sales)}, "name": {"A/B"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantContains(t, r.Body, `id="err-name"`, "cannot contain", `aria-invalid="true"`)
	r = c.submit("/admin/teams", "/admin/teams", url.Values{"from": {"tree"}, "parent_id": {"x"}, "name": {"Ok"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)

	// A sub-team from the team's own page; an error comes back there.
	r = c.submit("/admin/teams", "/admin/teams", url.Values{"from": {"team"}, "parent_id": {fmt.Sprint(o.platform)}, "name": {"SRE"}})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("sub-team: %d", r.StatusCode)
	}
	r = c.submit("/admin/teams", "/admin/teams", url.Values{"from": {"team"}, "parent_id": {fmt.Sprint(o.platform)}, "name": {"  "}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantContains(t, r.Body, `id="err-sub"`, "<h1>Platform")

	// The move list offers neither the team itself nor its descendants
	// nor its current parent.
	page := c.get(fmt.Sprintf("/admin/teams/%d", o.eng)).Body
	sel := regexp.MustCompile(`(?s)<select id="move-parent".*?</select>`).FindString(page)
	if sel == "" {
		t.Fatal("no move select on the team page")
	}
	for _, id := range []uint{o.eng, o.platform, o.apps, o.root} {
		if strings.Contains(sel, fmt.Sprintf(`value="%d"`, id)) {
			t.Errorf("move select offers team %d", id)
		}
	}
	for _, id := range []uint{o.sales, o.emea, apac} {
		if !strings.Contains(sel, fmt.Sprintf(`value="%d"`, id)) {
			t.Errorf("move select lacks team %d", id)
		}
	}

	// Rename.
	wantRedirect(t, c.submit("/admin/teams", fmt.Sprintf("/admin/teams/%d/rename", o.eng), url.Values{"name": {"R&D"}}),
		fmt.Sprintf("/admin/teams/%d?saved=renamed", o.eng))
	if n := h.teamNode(o.eng); n.Name != "R&D" {
		t.Fatalf("renamed to %q", n.Name)
	}
	r = c.submit("/admin/teams", fmt.Sprintf("/admin/teams/%d/rename", o.eng), url.Values{"name": {"Sales"}})
	wantStatus(t, r, http.StatusConflict)
	wantContains(t, r.Body, "already exists", `value="Sales"`)

	// Move, and a cycle (forged: the page does not offer it) is refused.
	wantRedirect(t, c.submit("/admin/teams", fmt.Sprintf("/admin/teams/%d/move", o.apps), url.Values{"parent_id": {fmt.Sprint(o.sales)}}),
		fmt.Sprintf("/admin/teams/%d?saved=moved", o.apps))
	if n := h.teamNode(o.apps); *n.ParentID != o.sales || n.Path != "Sales/Apps" {
		t.Fatalf("moved to %v (%s)", *n.ParentID, n.Path)
	}
	r = c.submit("/admin/teams", fmt.Sprintf("/admin/teams/%d/move", o.eng), url.Values{"parent_id": {fmt.Sprint(o.platform)}})
	wantStatus(t, r, http.StatusConflict)
	wantContains(t, r.Body, layoutMarker, "cannot be moved under itself or one of its own sub-teams")
	if n := h.teamNode(o.eng); *n.ParentID != o.root {
		t.Fatal("a cycle was created")
	}
	r = c.submit("/admin/teams", fmt.Sprintf("/admin/teams/%d/move", o.root), url.Values{"parent_id": {fmt.Sprint(o.sales)}})
	wantStatus(t, r, http.StatusConflict)
	wantContains(t, r.Body, "cannot be moved")
	r = c.submit("/admin/teams", fmt.Sprintf("/admin/teams/%d/move", o.apps), url.Values{"parent_id": {"999999"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantContains(t, r.Body, "does not exist")

	// Archive: refused with active people, then done.
	r = c.submit("/admin/teams", fmt.Sprintf("/admin/teams/%d/archive", o.apps), url.Values{})
	wantStatus(t, r, http.StatusConflict)
	wantContains(t, r.Body, "The team still has 2 active people")
	r = c.submit("/admin/teams", fmt.Sprintf("/admin/teams/%d/archive", o.sales), url.Values{})
	wantStatus(t, r, http.StatusConflict)
	wantContains(t, r.Body, "sub-teams first")
	wantRedirect(t, c.submit("/admin/teams", fmt.Sprintf("/admin/teams/%d/archive", o.emea), url.Values{}),
		fmt.Sprintf("/admin/teams/%d?saved=archived", o.emea))
	if h.teamNode(o.emea).ArchivedAt == nil {
		t.Fatal("EMEA not archived")
	}
	r = c.get(fmt.Sprintf("/admin/teams/%d?saved=archived", o.emea))
	wantContains(t, r.Body, "Team archived.", "archived</span>")
	wantNotContains(t, r.Body, "/archive\"", "Add a sub-team")

	// Unknown teams are 404 pages, not 500s.
	wantStatus(t, c.get("/admin/teams/999999"), http.StatusNotFound)
	wantStatus(t, c.submit("/admin/teams", "/admin/teams/999999/rename", url.Values{"name": {"X"}}), http.StatusNotFound)
	wantStatus(t, c.submit("/admin/teams", "/admin/teams/999999/archive", url.Values{}), http.StatusNotFound)
}

type admTeam struct {
	ID       uint   `json:"id"`
	ParentID *uint  `json:"parent_id"`
	Name     string `json:"name"`
	Path     string `json:"path"`
	People   int    `json:"people"`
	Archived bool   `json:"archived"`
}

func TestAdminTeamsAPI(t *testing.T) {
	t.Parallel()
	h := newRepHarness(t)
	o := buildOrg(h)
	admStaff(h, o.apps, "apps", 3)
	h.admin("admin@example.com")
	c := admSignedIn(h, "admin@example.com", "/admin")

	var list struct{ Teams []admTeam }
	decodeJSON(t, c.get("/api/v1/admin/teams"), &list)
	if len(list.Teams) != 6 || list.Teams[0].ID != o.root {
		t.Fatalf("teams %+v", list.Teams)
	}

	r := c.sendJSON("POST", "/api/v1/admin/teams", map[string]any{"parent_id": o.eng, "name": " Data "})
	wantStatus(t, r, http.StatusCreated)
	var data admTeam
	decodeJSON(t, r, &data)
	if data.Name != "Data" || data.Path != "Engineering/Data" || *data.ParentID != o.eng {
		t.Fatalf("created %+v", data)
	}
	wantAPIError(t, c.sendJSON("POST", "/api/v1/admin/teams", map[string]any{"parent_id": o.eng, "name": "data"}), http.StatusConflict, "conflict")
	e := wantAPIError(t, c.sendJSON("POST", "/api/v1/admin/teams", map[string]any{"parent_id": o.eng, "name": ""}), http.StatusUnprocessableEntity, "invalid")
	if e.Error.Fields["name"] == "" {
		t.Errorf("fields %v", e.Error.Fields)
	}
	wantAPIError(t, c.sendJSON("POST", "/api/v1/admin/teams", map[string]any{"name": "Orphan"}), http.StatusUnprocessableEntity, "invalid")
	wantAPIError(t, c.sendJSON("POST", "/api/v1/admin/teams", `{"parent_id": 1, "name": "X", "extra": 1}`), http.StatusBadRequest, "")
	wantAPIError(t, c.sendJSON("POST", "/api/v1/admin/teams", `{"parent_id": "one"}`), http.StatusBadRequest, "")

	// Rename, move, both at once.
	r = c.sendJSON("PATCH", fmt.Sprintf("/api/v1/admin/teams/%d", data.ID), map[string]any{"name": "Analytics"})
	wantStatus(t, r, http.StatusOK)
	r = c.sendJSON("PATCH", fmt.Sprintf("/api/v1/admin/teams/%d", data.ID), map[string]any{"parent_id": o.sales})
	wantStatus(t, r, http.StatusOK)
	decodeJSON(t, r, &data)
	if data.Path != "Sales/Analytics" {
		t.Fatalf("after move: %+v", data)
	}
	r = c.sendJSON("PATCH", fmt.Sprintf("/api/v1/admin/teams/%d", data.ID), map[string]any{"parent_id": o.platform, "name": "BI"})
	wantStatus(t, r, http.StatusOK)
	decodeJSON(t, r, &data)
	if data.Path != "Engineering/Platform/BI" {
		t.Fatalf("after rename and move: %+v", data)
	}

	// A cycle is refused, and so is the whole request: the rename in it is
	// not kept either.
	e = wantAPIError(t, c.sendJSON("PATCH", fmt.Sprintf("/api/v1/admin/teams/%d", o.eng), map[string]any{"name": "Eng", "parent_id": o.platform}),
		http.StatusConflict, "conflict")
	if !strings.Contains(e.Error.Message, "cannot be moved under itself") {
		t.Errorf("message %q", e.Error.Message)
	}
	if n := h.teamNode(o.eng); n.Name != "Engineering" || *n.ParentID != o.root {
		t.Fatalf("a refused PATCH changed the team: %+v", n.Team)
	}
	wantAPIError(t, c.sendJSON("PATCH", fmt.Sprintf("/api/v1/admin/teams/%d", o.eng), map[string]any{}), http.StatusUnprocessableEntity, "invalid")
	wantAPIError(t, c.sendJSON("PATCH", "/api/v1/admin/teams/999999", map[string]any{"name": "X"}), http.StatusNotFound, "not_found")

	// Archive.
	e = wantAPIError(t, c.sendJSON("POST", fmt.Sprintf("/api/v1/admin/teams/%d/archive", o.apps), nil), http.StatusConflict, "conflict")
	if e.Error.Message != "The team still has 3 active people: move or deactivate them first" {
		t.Errorf("message %q", e.Error.Message)
	}
	r = c.sendJSON("POST", fmt.Sprintf("/api/v1/admin/teams/%d/archive", data.ID), nil)
	wantStatus(t, r, http.StatusOK)
	decodeJSON(t, r, &data)
	if !data.Archived {
		t.Fatal("not archived")
	}

	// Without the CSRF header a cookie-authenticated change is refused.
	req := c.newRequest("POST", "/api/v1/admin/teams", strings.NewReader(`{"parent_id": 1, "name": "NoToken"}`))
	req.Header.Set("Content-Type", "application/json")
	wantStatus(t, c.do(req), http.StatusForbidden)
}

// --- people -----------------------------------------------------------------------

func TestAdminPeopleWeb(t *testing.T) {
	t.Parallel()
	h := newRepHarness(t)
	o := buildOrg(h)
	// 230 people in Platform (bulk insert keeps the test fast), 3 in Sales,
	// one of them inactive.
	ps := make([]survey.Person, 230)
	for i := range ps {
		ps[i] = survey.Person{Email: fmt.Sprintf("p%03d@acme.example", i), Name: fmt.Sprintf("Person %03d", i), TeamID: o.platform, Active: true}
	}
	if err := h.db.CreateInBatches(ps, 100).Error; err != nil {
		t.Fatal(err)
	}
	sales := admStaff(h, o.sales, "sales", 3)
	if _, err := h.svc.Org.UpdatePerson(h.ctx, sales[2].ID, survey.PersonInput{Email: sales[2].Email, Name: sales[2].Name,
		TeamID: o.sales, Active: false}); err != nil {
		t.Fatal(err)
	}
	h.admin("admin@example.com")
	c := admSignedIn(h, "admin@example.com", "/admin/people")
	rows := func(body string) int { return strings.Count(body, `<a href="/admin/people/`) }

	r := c.get("/admin/people")
	wantStatus(t, r, http.StatusOK)
	wantContains(t, r.Body, "People 1 to 100 of 233.", "Page 1 of 3", `href="/admin/people?page=2"`)
	if n := rows(r.Body); n != 100 {
		t.Fatalf("page 1 has %d rows, want 100", n)
	}
	r = c.get("/admin/people?page=3")
	wantContains(t, r.Body, "People 201 to 233 of 233.")
	if n := rows(r.Body); n != 33 {
		t.Fatalf("page 3 has %d rows", n)
	}
	wantContains(t, c.get("/admin/people?page=99").Body, "Page 3 of 3")

	// By team (with sub-teams), and by status.
	r = c.get(fmt.Sprintf("/admin/people?team=%d", o.eng))
	wantContains(t, r.Body, "of 230.", fmt.Sprintf(`href="/admin/people?page=2&amp;team=%d"`, o.eng))
	r = c.get(fmt.Sprintf("/admin/people?team=%d", o.sales))
	wantContains(t, r.Body, "People 1 to 3 of 3.", "sales 0", "sales 2", "inactive")
	r = c.get(fmt.Sprintf("/admin/people?team=%d&active=0", o.sales))
	wantContains(t, r.Body, "People 1 to 1 of 1.", "sales 2")
	r = c.get(fmt.Sprintf("/admin/people?team=%d&active=1", o.sales))
	wantContains(t, r.Body, "People 1 to 2 of 2.")
	wantNotContains(t, r.Body, "sales 2")
	wantContains(t, c.get(fmt.Sprintf("/admin/people?team=%d", o.emea)).Body, "Nobody matches.")

	// Edit: name, email, team, active.
	p := sales[0]
	edit := fmt.Sprintf("/admin/people/%d", p.ID)
	r = c.get(edit)
	wantStatus(t, r, http.StatusOK)
	wantContains(t, r.Body, `value="sales-0@acme.example"`, fmt.Sprintf(`<option value="%d" selected>Sales</option>`, o.sales))
	r = c.submit(edit, edit, url.Values{"name": {"Sam Sales"}, "email": {"SAM@acme.example"}, "team_id": {fmt.Sprint(o.emea)}})
	if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/admin/people?saved=") {
		t.Fatalf("save: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	got, err := h.svc.Org.People(h.ctx, []uint{o.emea}, false)
	if err != nil || len(got) != 1 || got[0].Name != "Sam Sales" || got[0].Email != "sam@acme.example" || got[0].Active {
		t.Fatalf("after edit: %+v %v", got, err)
	}
	wantContains(t, c.get(r.Header.Get("Location")).Body, "Saved Sam Sales.")

	// A duplicate email is a 409 with the message, and nothing changes.
	r = c.submit(edit, edit, url.Values{"name": {"Sam"}, "email": {"p007@acme.example"}, "team_id": {fmt.Sprint(o.emea)}, "active": {"1"}})
	wantStatus(t, r, http.StatusConflict)
	wantContains(t, r.Body, layoutMarker, "Someone with the email p007@acme.example already exists", `value="p007@acme.example"`)
	r = c.submit(edit, edit, url.Values{"name": {""}, "email": {"not an email"}, "team_id": {"abc"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantContains(t, r.Body, `id="err-team"`)
	r = c.submit(edit, edit, url.Values{"name": {""}, "email": {"not an email"}, "team_id": {fmt.Sprint(o.sales)}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantContains(t, r.Body, `id="err-name"`, `id="err-email"`)
	if got, _ := h.svc.Org.People(h.ctx, []uint{o.emea}, false); got[0].Name != "Sam Sales" {
		t.Fatal("a refused edit changed the person")
	}
	wantStatus(t, c.get("/admin/people/999999"), http.StatusNotFound)
}

type admPerson struct {
	ID       uint   `json:"id"`
	Email    string `json:"email"`
	Name     string `json:"name"`
	TeamID   uint   `json:"team_id"`
	TeamPath string `json:"team_path"`
	Active   bool   `json:"active"`
}

func TestAdminPeopleAPI(t *testing.T) {
	t.Parallel()
	h := newRepHarness(t)
	o := buildOrg(h)
	plat := admStaff(h, o.platform, "plat", 5)
	admStaff(h, o.sales, "sales", 2)
	h.admin("admin@example.com")
	c := admSignedIn(h, "admin@example.com", "/admin")

	var page struct {
		People  []admPerson
		Total   int
		Page    int
		PerPage int `json:"per_page"`
	}
	decodeJSON(t, c.get(fmt.Sprintf("/api/v1/admin/people?team_id=%d&per_page=2&page=2", o.eng)), &page)
	if page.Total != 5 || len(page.People) != 2 || page.Page != 2 || page.PerPage != 2 || page.People[0].TeamPath != "Engineering/Platform" {
		t.Fatalf("page %+v", page)
	}
	for _, q := range []string{"team_id=x", "active=maybe", "page=0", "per_page=5000"} {
		wantAPIError(t, c.get("/api/v1/admin/people?"+q), http.StatusUnprocessableEntity, "invalid")
	}
	wantAPIError(t, c.get("/api/v1/admin/people?team_id=999999"), http.StatusUnprocessableEntity, "invalid")

	// PATCH changes the fields sent only.
	path := fmt.Sprintf("/api/v1/admin/people/%d", plat[0].ID)
	r := c.sendJSON("PATCH", path, map[string]any{"active": false, "team_id": o.apps})
	wantStatus(t, r, http.StatusOK)
	var p admPerson
	decodeJSON(t, r, &p)
	if p.Active || p.TeamID != o.apps || p.Name != plat[0].Name || p.Email != plat[0].Email {
		t.Fatalf("patched %+v", p)
	}
	decodeJSON(t, c.get("/api/v1/admin/people?active=false"), &page)
	if page.Total != 1 || page.People[0].ID != plat[0].ID {
		t.Fatalf("inactive: %+v", page)
	}

	e := wantAPIError(t, c.sendJSON("PATCH", path, map[string]any{"email": plat[1].Email}), http.StatusConflict, "conflict")
	if e.Error.Message != "Someone with the email "+plat[1].Email+" already exists" {
		t.Errorf("message %q", e.Error.Message)
	}
	e = wantAPIError(t, c.sendJSON("PATCH", path, map[string]any{"email": "nope", "team_id": 999999}), http.StatusUnprocessableEntity, "invalid")
	if e.Error.Fields["email"] == "" || e.Error.Fields["team_id"] == "" {
		t.Errorf("fields %v", e.Error.Fields)
	}
	wantAPIError(t, c.sendJSON("PATCH", "/api/v1/admin/people/999999", map[string]any{"name": "X"}), http.StatusNotFound, "not_found")
}

// --- leaders ----------------------------------------------------------------------

var inviteLinkRE = regexp.MustCompile(`<code class="secret-link" id="invite-link">([^<]+)</code>`)

// admRespond has n invitees of each team answer the round (all 4s).
func admRespond(h *harness, roundID uint, perTeam map[uint]int) {
	h.t.Helper()
	links, err := h.svc.Rounds.Links(h.ctx, roundID)
	if err != nil {
		h.t.Fatal(err)
	}
	left := map[uint]int{}
	for k, v := range perTeam {
		left[k] = v
	}
	ps, err := h.svc.Org.People(h.ctx, nil, false)
	if err != nil {
		h.t.Fatal(err)
	}
	teamOf := map[uint]uint{}
	for _, p := range ps {
		teamOf[p.ID] = p.TeamID
	}
	for _, l := range links {
		v, err := h.svc.Rounds.SurveyBySecret(h.ctx, l.Secret)
		if err != nil {
			h.t.Fatal(err)
		}
		team := teamOf[l.PersonID]
		if left[team] == 0 {
			continue
		}
		left[team]--
		tok := admToken(h, roundID, l.Secret)
		answers := map[uint]int{}
		for _, q := range v.Questions {
			answers[q.QuestionID] = 4
		}
		in, err := tok.Ballot(answers, "")
		if err != nil {
			h.t.Fatal(err)
		}
		if err := h.svc.Rounds.SubmitBallot(h.ctx, in); err != nil {
			h.t.Fatal(err)
		}
	}
}

// admToken obtains an invitee's token as the survey page does.
func admToken(h *harness, roundID uint, secret string) *survey.Token {
	h.t.Helper()
	v, err := h.svc.Rounds.SurveyBySecret(h.ctx, secret)
	if err != nil {
		h.t.Fatal(err)
	}
	m, _, err := h.svc.Rounds.Manifest(h.ctx, roundID)
	if err != nil {
		h.t.Fatal(err)
	}
	tok, err := survey.ObtainToken(m, roundID, v.UnitID, v.KeyID, func(blinded []byte) ([]byte, error) {
		return h.svc.Rounds.IssueToken(h.ctx, secret, blinded)
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return tok
}

func TestAdminLeaderInvite(t *testing.T) {
	t.Parallel()
	h := newRepHarness(t)
	o := buildOrg(h)
	admStaff(h, o.platform, "plat", 6)
	admStaff(h, o.emea, "emea", 6)
	h.admin("admin@example.com")
	prog := admProgram(h, "Pulse")
	round, err := h.svc.Rounds.Launch(h.ctx, prog.ID)
	if err != nil {
		t.Fatal(err)
	}
	admRespond(h, round.ID, map[uint]int{o.platform: 6, o.emea: 6})
	if err := h.svc.Rounds.Close(h.ctx, round.ID); err != nil {
		t.Fatal(err)
	}

	c := admSignedIn(h, "admin@example.com", "/admin/leaders")
	r := c.submit("/admin/leaders", "/admin/leaders/invite", url.Values{"email": {" Lead@Example.com "}, "role": {"leader"},
		"team_ids": {fmt.Sprint(o.eng)}})
	wantStatus(t, r, http.StatusCreated)
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q: the page with the link must not be stored", cc)
	}
	m := inviteLinkRE.FindStringSubmatch(r.Body)
	if m == nil {
		t.Fatalf("no link on the page:\n%s", r.Body)
	}
	link := html.UnescapeString(m[1])
	if !strings.HasPrefix(link, baseURL+"/setup/") {
		t.Fatalf("link %q", link)
	}
	wantContains(t, r.Body, "lead@example.com", "shows it only this once")
	// Shown once: the page does not show it again.
	wantNotContains(t, c.get("/admin/leaders").Body, link, strings.TrimPrefix(link, baseURL))

	// The invitee accepts and sees exactly the teams granted.
	lead := h.client()
	setup := strings.TrimPrefix(link, baseURL)
	r = lead.get(setup)
	wantStatus(t, r, http.StatusOK)
	wantContains(t, r.Body, "lead@example.com")
	wantRedirect(t, lead.submit(setup, setup, url.Values{"name": {"Lee"}, "password": {password}}), "/dashboard")
	got := strings.Join(teamNames(t, lead.get("/api/v1/org/teams")), ",")
	if got != "Apps,Engineering,Platform" {
		t.Fatalf("leader's teams %q", got)
	}
	var units struct {
		Units []struct {
			ID   uint
			Name string
		}
	}
	decodeJSON(t, lead.get("/api/v1/reports/units"), &units)
	if len(units.Units) == 0 {
		t.Fatal("the leader sees no report unit")
	}
	for _, u := range units.Units {
		if u.ID != o.eng && u.ID != o.platform && u.ID != o.apps {
			t.Errorf("leader sees unit %d %q outside the scope", u.ID, u.Name)
		}
	}
	wantStatus(t, lead.get(fmt.Sprintf("/api/v1/reports/units/%d", o.platform)), http.StatusOK)
	wantStatus(t, lead.get(fmt.Sprintf("/api/v1/reports/units/%d", o.emea)), http.StatusForbidden)
	wantStatus(t, lead.get(fmt.Sprintf("/reports/%d", o.root)), http.StatusForbidden)
	wantStatus(t, lead.get("/admin"), http.StatusForbidden)
	// The link works once.
	wantStatus(t, h.client().get(setup), http.StatusGone)

	// The accounts list shows the new leader and the scope.
	r = c.get("/admin/leaders")
	wantContains(t, r.Body, "Lee", "lead@example.com", "Engineering and below")

	// An admin invites another admin (no team needed).
	r = c.submit("/admin/leaders", "/admin/leaders/invite", url.Values{"email": {"hr@example.com"}, "role": {"admin"}})
	wantStatus(t, r, http.StatusCreated)
	setup = strings.TrimPrefix(html.UnescapeString(inviteLinkRE.FindStringSubmatch(r.Body)[1]), baseURL)
	hr := h.client()
	hr.get(setup)
	wantRedirect(t, hr.submit(setup, setup, url.Values{"name": {"Hana"}, "password": {password}}), "/admin")
	wantStatus(t, hr.get("/admin/teams"), http.StatusOK)

	// Refusals keep the input and say why.
	r = c.submit("/admin/leaders", "/admin/leaders/invite", url.Values{"email": {"x@example.com"}, "role": {"leader"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantContains(t, r.Body, "choose at least one team", `value="x@example.com"`)
	wantNotContains(t, r.Body, "invite-link")
	r = c.submit("/admin/leaders", "/admin/leaders/invite", url.Values{"email": {"not-an-email"}, "role": {"leader"}, "team_ids": {fmt.Sprint(o.eng)}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantContains(t, r.Body, `id="err-email"`, fmt.Sprintf(`value="%d" checked`, o.eng))
	r = c.submit("/admin/leaders", "/admin/leaders/invite", url.Values{"email": {"lead@example.com"}, "role": {"leader"}, "team_ids": {fmt.Sprint(o.eng)}})
	wantStatus(t, r, http.StatusConflict)
	wantContains(t, r.Body, "An account with this email already exists")
	r = c.submit("/admin/leaders", "/admin/leaders/invite", url.Values{"email": {"y@example.com"}, "role": {"leader"}, "team_ids": {"999999"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)

	// The API returns the link once, too.
	r = c.sendJSON("POST", "/api/v1/admin/leaders/invites", map[string]any{"email": "api@example.com", "team_ids": []uint{o.sales, o.sales}})
	wantStatus(t, r, http.StatusCreated)
	var inv struct {
		Email   string
		Role    string
		TeamIDs []uint `json:"team_ids"`
		Link    string
	}
	decodeJSON(t, r, &inv)
	if inv.Email != "api@example.com" || inv.Role != "leader" || len(inv.TeamIDs) != 1 || !strings.HasPrefix(inv.Link, baseURL+"/setup/") {
		t.Fatalf("invite %+v", inv)
	}
	apiLead := h.client()
	setup = strings.TrimPrefix(inv.Link, baseURL)
	apiLead.get(setup)
	wantRedirect(t, apiLead.submit(setup, setup, url.Values{"name": {"Api"}, "password": {password}}), "/dashboard")
	if got := strings.Join(teamNames(t, apiLead.get("/api/v1/org/teams")), ","); got != "EMEA,Sales" {
		t.Fatalf("API-invited leader's teams %q", got)
	}
	wantAPIError(t, c.sendJSON("POST", "/api/v1/admin/leaders/invites", map[string]any{"email": "z@example.com", "role": "owner"}),
		http.StatusUnprocessableEntity, "invalid")

	var accounts struct {
		Accounts []struct {
			Email string
			Role  string
			Scope []uint
		}
	}
	decodeJSON(t, c.get("/api/v1/admin/leaders"), &accounts)
	scopes := map[string]string{}
	for _, a := range accounts.Accounts {
		scopes[a.Email] = fmt.Sprint(a.Role, a.Scope)
	}
	if scopes["lead@example.com"] != fmt.Sprint("leader", []uint{o.eng}) || scopes["hr@example.com"] != "admin[]" {
		t.Fatalf("accounts %v", scopes)
	}
	wantNotContains(t, c.get("/api/v1/admin/leaders").Body, "password", "$2a$")
}

// --- escaping ---------------------------------------------------------------------

const admXSS = `<script>alert("x")</script>`

func TestAdminPagesEscapeNames(t *testing.T) {
	t.Parallel()
	h := newRepHarness(t)
	root := h.initOrg(admXSS)
	team := h.team(root, `<script>alert(1)`)
	ps := admStaff(h, team, "p", 6)
	if _, err := h.svc.Org.UpdatePerson(h.ctx, ps[0].ID, survey.PersonInput{Email: ps[0].Email, Name: admXSS, TeamID: team, Active: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.Accounts.CreateUser(h.ctx, survey.UserInput{Email: "lead@example.com", Name: admXSS, Role: survey.RoleLeader,
		Password: password, TeamIDs: []uint{team}}); err != nil {
		t.Fatal(err)
	}
	prog := admProgram(h, admXSS)
	q, err := h.svc.Programs.CreateQuestion(h.ctx, survey.QuestionInput{Dimension: survey.DimPurpose, Facet: survey.FacetFit,
		Text: admXSS, ProgramID: prog.ID})
	if err != nil {
		t.Fatal(err)
	}
	_, qs, err := h.svc.Programs.Program(h.ctx, prog.ID)
	if err != nil {
		t.Fatal(err)
	}
	// The custom item and two others: a round asks all three.
	in := survey.ProgramInput{Name: prog.Name, Cadence: prog.Cadence, IntervalWeeks: prog.IntervalWeeks, Weekday: 1, TimeOfDay: "09:00",
		OpenDays: 5, ItemsPerRound: 5, MinGroupSize: 5, QuestionIDs: []uint{q.ID, qs[0].ID, qs[1].ID}}
	if _, err := h.svc.Programs.UpdateProgram(h.ctx, prog.ID, in); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.Rounds.Launch(h.ctx, prog.ID); err != nil {
		t.Fatal(err)
	}
	h.admin("admin@example.com")
	c := admSignedIn(h, "admin@example.com", "/admin")
	for _, path := range []string{"/admin", "/admin/teams", fmt.Sprintf("/admin/teams/%d", team), "/admin/people",
		fmt.Sprintf("/admin/people/%d", ps[0].ID), "/admin/leaders", "/admin/programs", fmt.Sprintf("/admin/programs/%d", prog.ID),
		fmt.Sprintf("/admin/programs/%d/preview", prog.ID), "/admin/rounds"} {
		t.Run(path, func(t *testing.T) {
			r := c.get(path)
			wantStatus(t, r, http.StatusOK)
			wantNotContains(t, r.Body, "<script>alert")
			wantContains(t, r.Body, "&lt;script&gt;alert")
		})
	}
	for _, path := range []string{"/api/v1/admin/teams", "/api/v1/admin/people", "/api/v1/admin/leaders", "/api/v1/admin/programs",
		"/api/v1/admin/questions", "/api/v1/admin/rounds"} {
		r := c.get(path)
		wantStatus(t, r, http.StatusOK)
		wantNotContains(t, r.Body, "<script>")
	}
}
