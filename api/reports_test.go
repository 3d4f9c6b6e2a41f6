package api_test

import (
	"crypto/rand"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html"
	"math"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/pulse-survey/pulse/api"
	"github.com/pulse-survey/pulse/reports"
	"github.com/pulse-survey/pulse/survey"
)

// --- report fixtures -----------------------------------------------------------

// newRepHarness is newHarness with a keyring (rounds can launch) and the
// releaser, as cmd/pulse builds the services.
func newRepHarness(t *testing.T) *harness {
	t.Helper()
	var svc *survey.Services
	h := newHarness(t, func(d *api.Deps) {
		master := make([]byte, 32)
		if _, err := rand.Read(master); err != nil {
			t.Fatal(err)
		}
		kr, err := survey.NewKeyring(master)
		if err != nil {
			t.Fatal(err)
		}
		svc = survey.New(d.DB, survey.Options{BcryptCost: bcrypt.MinCost, Now: d.Now, Keyring: kr, Releaser: &reports.Releaser{}})
		d.Services = svc
	})
	h.svc = svc
	return h
}

var repPersonSeq atomic.Int64

// repPeople adds people to team; names without a space get a number.
func repPeople(h *harness, team uint, names ...string) []uint {
	h.t.Helper()
	out := make([]uint, len(names))
	for i, n := range names {
		p, err := h.svc.Org.CreatePerson(h.ctx, survey.PersonInput{Email: fmt.Sprintf("p%d@acme.example", repPersonSeq.Add(1)),
			Name: n, TeamID: team, Active: true})
		if err != nil {
			h.t.Fatalf("create person %q: %v", n, err)
		}
		out[i] = p.ID
	}
	return out
}

func repStaff(h *harness, team uint, prefix string, n int) []uint {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("Person %s%d", prefix, i)
	}
	return repPeople(h, team, names...)
}

// repProgram syncs the bank, lets edit change it (e.g. question texts), and
// creates the program: k = 5, 8 items per round.
func repProgram(h *harness, edit func()) *survey.Program {
	h.t.Helper()
	if err := h.svc.Programs.SyncBuiltinQuestions(h.ctx); err != nil {
		h.t.Fatal(err)
	}
	if edit != nil {
		edit()
	}
	qs, err := h.svc.Programs.Questions(h.ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	ids := make([]uint, len(qs))
	for i, q := range qs {
		ids[i] = q.ID
	}
	p, err := h.svc.Programs.CreateProgram(h.ctx, survey.ProgramInput{Name: "Team pulse", Cadence: survey.CadenceWeeks,
		IntervalWeeks: 2, Weekday: time.Monday, TimeOfDay: "09:00", OpenDays: 5, ItemsPerRound: 8, MinGroupSize: 5,
		QuestionIDs: ids})
	if err != nil {
		h.t.Fatal(err)
	}
	return p
}

func repLaunch(h *harness, prog *survey.Program) *survey.Round {
	h.t.Helper()
	r, err := h.svc.Rounds.Launch(h.ctx, prog.ID)
	if err != nil {
		h.t.Fatalf("launch: %v", err)
	}
	return r
}

type repBallot struct {
	person  uint
	answer  func(q survey.RoundQuestion) int
	comment string
}

func repConst(v int) func(survey.RoundQuestion) int {
	return func(survey.RoundQuestion) int { return v }
}

func repAll(people []uint, f func(survey.RoundQuestion) int) []repBallot {
	out := make([]repBallot, len(people))
	for i, p := range people {
		out[i] = repBallot{person: p, answer: f}
	}
	return out
}

// repRespond does what each invitee's browser does: token, then ballot.
func repRespond(h *harness, roundID uint, bs ...repBallot) {
	h.t.Helper()
	links, err := h.svc.Rounds.Links(h.ctx, roundID)
	if err != nil {
		h.t.Fatal(err)
	}
	secrets := map[uint]string{}
	for _, l := range links {
		secrets[l.PersonID] = l.Secret
	}
	manifest, _, err := h.svc.Rounds.Manifest(h.ctx, roundID)
	if err != nil {
		h.t.Fatal(err)
	}
	for _, b := range bs {
		secret := secrets[b.person]
		v, err := h.svc.Rounds.SurveyBySecret(h.ctx, secret)
		if err != nil {
			h.t.Fatalf("survey of person %d: %v", b.person, err)
		}
		tok, err := survey.ObtainToken(manifest, roundID, v.UnitID, v.KeyID, func(blinded []byte) ([]byte, error) {
			return h.svc.Rounds.IssueToken(h.ctx, secret, blinded)
		})
		if err != nil {
			h.t.Fatal(err)
		}
		answers := map[uint]int{}
		for _, q := range v.Questions {
			answers[q.QuestionID] = b.answer(q)
		}
		in, err := tok.Ballot(answers, b.comment)
		if err != nil {
			h.t.Fatalf("seal: %v", err)
		}
		if err := h.svc.Rounds.SubmitBallot(h.ctx, in); err != nil {
			h.t.Fatalf("submit: %v", err)
		}
	}
}

func repClose(h *harness, roundID uint) {
	h.t.Helper()
	if err := h.svc.Rounds.Close(h.ctx, roundID); err != nil {
		h.t.Fatalf("close: %v", err)
	}
}

// --- JSON shapes ---------------------------------------------------------------

type repScore struct {
	N          int     `json:"n"`
	Mean       float64 `json:"mean"`
	Lo         float64 `json:"ci95_low"`
	Hi         float64 `json:"ci95_high"`
	Favourable float64 `json:"favourable"`
}

type repUnit struct {
	ID   uint   `json:"id"`
	Name string `json:"name"`
	Path string `json:"path"`
}

type repChild struct {
	Unit       repUnit             `json:"unit"`
	Suppressed bool                `json:"suppressed"`
	Scores     map[string]repScore `json:"scores"`
}

type repReport struct {
	Unit     repUnit `json:"unit"`
	MinGroup int     `json:"min_group_size"`
	Trend    []struct {
		RoundID    uint                `json:"round_id"`
		Closed     string              `json:"closed"`
		Suppressed bool                `json:"suppressed"`
		Scores     map[string]repScore `json:"scores"`
	} `json:"trend"`
	Items []struct {
		QuestionID uint   `json:"question_id"`
		Dimension  string `json:"dimension"`
		Text       string `json:"text"`
		N          int    `json:"n"`
		Histogram  [5]int `json:"histogram"`
	} `json:"items"`
	Respondents *int                `json:"respondents"`
	Invited     *int                `json:"invited"`
	Children    []repChild          `json:"children"`
	Comments    []string            `json:"comments"`
	Parent      *repChild           `json:"parent"`
	Org         *repChild           `json:"organisation"`
	Latest      map[string]repScore `json:"latest"`
}

func repDecode(t *testing.T, r *response, v any) {
	t.Helper()
	wantStatus(t, r, http.StatusOK)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q, want JSON", ct)
	}
	if err := json.Unmarshal([]byte(r.Body), v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

type repUnitsList struct {
	Units []struct {
		ID         uint   `json:"id"`
		Name       string `json:"name"`
		Path       string `json:"path"`
		Suppressed bool   `json:"suppressed"`
	} `json:"units"`
}

func repUnitNames(t *testing.T, r *response) []string {
	t.Helper()
	var l repUnitsList
	repDecode(t, r, &l)
	var out []string
	for _, u := range l.Units {
		out = append(out, u.Name)
	}
	sort.Strings(out)
	return out
}

// repCSV parses an export; rows may have different lengths.
func repCSV(t *testing.T, r *response) [][]string {
	t.Helper()
	wantStatus(t, r, http.StatusOK)
	rd := csv.NewReader(strings.NewReader(r.Body))
	rd.FieldsPerRecord = -1
	rows, err := rd.ReadAll()
	if err != nil {
		t.Fatalf("CSV: %v\n%s", err, r.Body)
	}
	return rows
}

var repCSVHeader = []string{"section", "round_closed", "dimension", "question", "n", "mean", "ci95_low", "ci95_high",
	"favourable", "h1", "h2", "h3", "h4", "h5"}

// --- the organisation of the report API tests -----------------------------------

// repOrg:
//
//	Acme (nobody directly)
//	├── Eng (5 + Tiny's 3)   leader eng@ sees Eng, Mobile, Platform
//	│   ├── Mobile (5)
//	│   ├── Platform (6)
//	│   └── Tiny (3, merged into Eng)
//	└── Sales (10)           comments: 10 own respondents = 2k
type repOrg struct {
	h                                 *harness
	root, eng, mobile, platform, tiny uint
	sales                             uint
	engPeople, mobPeople, platPeople  []uint
	salesPeople                       []uint
	prog                              *survey.Program
	admin, leader, anon               *client
}

const (
	repClean     = "The rota works well now."
	repHeldName  = "Ask Kowalski about the budget."
	repHeldEmail = "Write to boss@acme.example for details."
)

func newRepOrg(t *testing.T) *repOrg {
	h := newRepHarness(t)
	o := &repOrg{h: h}
	o.root = h.initOrg("Acme")
	o.eng = h.team(o.root, "Eng")
	o.sales = h.team(o.root, "Sales")
	o.platform = h.team(o.eng, "Platform")
	o.mobile = h.team(o.eng, "Mobile")
	o.tiny = h.team(o.eng, "Tiny")
	o.engPeople = repStaff(h, o.eng, "Eng", 5)
	repStaff(h, o.tiny, "Tiny", 3)
	o.platPeople = repStaff(h, o.platform, "Plat", 6)
	o.mobPeople = repStaff(h, o.mobile, "Mob", 5)
	o.salesPeople = append(repPeople(h, o.sales, "Maria Kowalski"), repStaff(h, o.sales, "Sales", 9)...)
	h.admin("admin@acme.example")
	h.leader("eng@acme.example", o.eng)
	o.prog = repProgram(h, nil)

	r := repLaunch(h, o.prog)
	bs := repAll(o.engPeople, repConst(4))
	bs = append(bs, repAll(o.platPeople, repConst(3))...)
	bs = append(bs, repAll(o.mobPeople, repConst(5))...)
	for j, p := range o.salesPeople {
		j := j
		b := repBallot{person: p, answer: func(q survey.RoundQuestion) int { return 1 + (j+q.Position)%5 }}
		switch j {
		case 0:
			b.comment = repClean
		case 1:
			b.comment = repHeldName
		case 2:
			b.comment = repHeldEmail
		}
		bs = append(bs, b)
	}
	repRespond(h, r.ID, bs...)
	h.clock.Advance(5 * 24 * time.Hour)
	repClose(h, r.ID)
	h.clock.Advance(9 * 24 * time.Hour)

	o.admin, o.leader, o.anon = h.client(), h.client(), h.client()
	o.admin.login("admin@acme.example")
	o.leader.login("eng@acme.example")
	return o
}

func repPaths(unit uint) map[string]string {
	return map[string]string{
		"page": fmt.Sprintf("/reports/%d", unit),
		"csv":  fmt.Sprintf("/reports/%d/export.csv", unit),
		"api":  fmt.Sprintf("/api/v1/reports/units/%d", unit),
	}
}

func TestReportsAuthorization(t *testing.T) {
	t.Parallel()
	o := newRepOrg(t)

	t.Run("anonymous", func(t *testing.T) {
		for _, unit := range []uint{o.root, o.eng} {
			p := repPaths(unit)
			for _, kind := range []string{"page", "csv"} {
				r := o.anon.get(p[kind])
				wantRedirect(t, r, "/login?next="+url.QueryEscape(p[kind]))
			}
			r := o.anon.get(p["api"])
			wantStatus(t, r, http.StatusUnauthorized)
			if e := decodeAPIError(t, r); e.Error.Code != "unauthenticated" {
				t.Errorf("code %q", e.Error.Code)
			}
		}
		r := o.anon.get("/api/v1/reports/units")
		wantStatus(t, r, http.StatusUnauthorized)
		decodeAPIError(t, r)
	})

	t.Run("leader outside scope gets 403", func(t *testing.T) {
		for _, unit := range []uint{o.root, o.sales} {
			p := repPaths(unit)
			for _, kind := range []string{"page", "csv"} {
				r := o.leader.get(p[kind])
				wantStatus(t, r, http.StatusForbidden)
				if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
					t.Errorf("%s: Content-Type %q, want an HTML error page", p[kind], ct)
				}
				wantContains(t, r.Body, layoutMarker)
				wantNotContains(t, r.Body, "Sales", repClean, "export.csv")
			}
			r := o.leader.get(p["api"])
			wantStatus(t, r, http.StatusForbidden)
			if e := decodeAPIError(t, r); e.Error.Code != "forbidden" {
				t.Errorf("%s: code %q", p["api"], e.Error.Code)
			}
			wantNotContains(t, r.Body, "Sales", "mean")
		}
	})

	t.Run("leader inside scope gets 200", func(t *testing.T) {
		for _, unit := range []uint{o.eng, o.platform, o.mobile} {
			p := repPaths(unit)
			r := o.leader.get(p["page"])
			wantStatus(t, r, http.StatusOK)
			wantContains(t, r.Body, "data-echarts-option")
			// The unit picker offers only units in scope.
			wantNotContains(t, r.Body, fmt.Sprintf(`<option value="%d"`, o.sales), fmt.Sprintf(`<option value="%d"`, o.root))
			r = o.leader.get(p["csv"])
			wantStatus(t, r, http.StatusOK)
			var rep repReport
			repDecode(t, o.leader.get(p["api"]), &rep)
			if rep.Unit.ID != unit || len(rep.Trend) != 1 || rep.Latest == nil {
				t.Errorf("report of %d: %+v", unit, rep)
			}
		}
	})

	t.Run("units list", func(t *testing.T) {
		got := repUnitNames(t, o.leader.get("/api/v1/reports/units"))
		if want := []string{"Eng", "Mobile", "Platform"}; !reflect.DeepEqual(got, want) {
			t.Errorf("leader's units %v, want %v", got, want)
		}
		got = repUnitNames(t, o.admin.get("/api/v1/reports/units"))
		if want := []string{"Acme", "Eng", "Mobile", "Platform", "Sales"}; !reflect.DeepEqual(got, want) {
			t.Errorf("admin's units %v, want %v", got, want)
		}
	})

	t.Run("admin sees every unit", func(t *testing.T) {
		for _, unit := range []uint{o.root, o.eng, o.platform, o.mobile, o.sales} {
			for _, path := range repPaths(unit) {
				wantStatus(t, o.admin.get(path), http.StatusOK)
			}
		}
	})

	t.Run("not a unit is 404", func(t *testing.T) {
		// Tiny is in the leader's scope but merged into Eng: no report of its own.
		for who, c := range map[string]*client{"leader": o.leader, "admin": o.admin} {
			for kind, path := range repPaths(o.tiny) {
				r := c.get(path)
				if r.StatusCode != http.StatusNotFound {
					t.Errorf("%s %s %s: status %d, want 404", who, kind, path, r.StatusCode)
				}
			}
		}
		for kind, path := range repPaths(999999) {
			if r := o.admin.get(path); r.StatusCode != http.StatusNotFound {
				t.Errorf("admin %s %s: status %d, want 404", kind, path, r.StatusCode)
			}
			// Outside the leader's scope: 403 or 404 both reveal nothing.
			if r := o.leader.get(path); r.StatusCode != http.StatusNotFound && r.StatusCode != http.StatusForbidden {
				t.Errorf("leader %s %s: status %d", kind, path, r.StatusCode)
			}
		}
		for _, path := range []string{"/reports/abc", "/reports/0", "/api/v1/reports/units/abc", "/reports/-1/export.csv"} {
			if r := o.admin.get(path); r.StatusCode != http.StatusNotFound {
				t.Errorf("admin %s: status %d, want 404", path, r.StatusCode)
			}
		}
	})

	t.Run("dashboard redirects to the first unit in scope", func(t *testing.T) {
		wantRedirect(t, o.leader.get("/dashboard"), fmt.Sprintf("/reports/%d", o.eng))
	})
}

func TestReportsOpenRoundIsNotReported(t *testing.T) {
	t.Parallel()
	o := newRepOrg(t)
	h := o.h
	path := fmt.Sprintf("/api/v1/reports/units/%d", o.eng)
	var before repReport
	repDecode(t, o.leader.get(path), &before)
	beforeCSV := o.leader.get(fmt.Sprintf("/reports/%d/export.csv", o.eng)).Body
	if len(before.Trend) != 1 {
		t.Fatalf("round 1: %d trend points", len(before.Trend))
	}

	// Round 2 is open with ballots in its box: nothing of it may show.
	r2 := repLaunch(h, o.prog)
	bs := repAll(o.engPeople, repConst(1))
	bs = append(bs, repAll(o.platPeople, repConst(1))...)
	bs = append(bs, repAll(o.mobPeople[:2], repConst(1))...)
	bs = append(bs, repAll(o.salesPeople, repConst(1))...)
	repRespond(h, r2.ID, bs...)

	var during repReport
	repDecode(t, o.leader.get(path), &during)
	if !reflect.DeepEqual(before, during) {
		t.Errorf("report changed while round 2 is open:\nbefore %+v\nduring %+v", before, during)
	}
	if got := o.leader.get(fmt.Sprintf("/reports/%d/export.csv", o.eng)).Body; got != beforeCSV {
		t.Errorf("CSV changed while round 2 is open:\n%s\n---\n%s", beforeCSV, got)
	}
	page := o.leader.get(fmt.Sprintf("/reports/%d", o.eng))
	wantStatus(t, page, http.StatusOK)
	wantContains(t, page.Body, "over 1 rounds")
	if err := h.svc.Rounds.Release(h.ctx, r2.ID); err == nil {
		t.Error("released an open round")
	}

	// (The clock stays: moving it would end the leader's session.)
	repClose(h, r2.ID)
	var after repReport
	repDecode(t, o.leader.get(path), &after)
	if len(after.Trend) != 2 || after.Trend[1].RoundID != r2.ID || after.Trend[1].Suppressed {
		t.Fatalf("after closing round 2: trend %+v", after.Trend)
	}
	if m := after.Latest[survey.DimPurpose].Mean; m != 1 {
		t.Errorf("latest purpose mean %v, want 1", m)
	}

	// Round 3 open again: still two points.
	r3 := repLaunch(h, o.prog)
	repRespond(h, r3.ID, repAll(o.engPeople, repConst(5))...)
	var open3 repReport
	repDecode(t, o.leader.get(path), &open3)
	if len(open3.Trend) != 2 {
		t.Errorf("round 3 open: %d trend points, want 2 (closed rounds)", len(open3.Trend))
	}

	// Mobile had two answers in round 2: suppressed there.
	var mob repReport
	repDecode(t, o.leader.get(fmt.Sprintf("/api/v1/reports/units/%d", o.mobile)), &mob)
	if len(mob.Trend) != 2 || mob.Trend[0].Suppressed || !mob.Trend[1].Suppressed || mob.Trend[1].Scores != nil {
		t.Errorf("Mobile trend %+v", mob.Trend)
	}
	if mob.Latest != nil || len(mob.Items) != 0 || mob.Respondents != nil || mob.Invited != nil {
		t.Errorf("suppressed Mobile shows numbers: %+v", mob)
	}
	rows := repCSV(t, o.leader.get(fmt.Sprintf("/reports/%d/export.csv", o.mobile)))
	var suppressed int
	for _, row := range rows[1:] {
		if row[0] == "trend" && row[1] == mob.Trend[1].Closed {
			if len(row) < 6 || row[5] != "suppressed" {
				t.Errorf("suppressed round row %q", row)
			}
			suppressed++
		}
		if row[0] == "item" {
			t.Errorf("items of a suppressed latest round: %q", row)
		}
	}
	if suppressed != 1 {
		t.Errorf("%d rows for the suppressed round, want 1", suppressed)
	}
}

func TestReportCSV(t *testing.T) {
	t.Parallel()
	o := newRepOrg(t)
	for _, unit := range []uint{o.sales, o.root} {
		r := o.admin.get(fmt.Sprintf("/reports/%d/export.csv", unit))
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
			t.Errorf("Content-Type %q, want text/csv", ct)
		}
		if cd := r.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment") {
			t.Errorf("Content-Disposition %q", cd)
		}
		rows := repCSV(t, r)
		if !reflect.DeepEqual(rows[0], repCSVHeader) {
			t.Fatalf("header %q", rows[0])
		}
		var rep repReport
		repDecode(t, o.admin.get(fmt.Sprintf("/api/v1/reports/units/%d", unit)), &rep)
		num := func(s string) float64 {
			f, err := strconv.ParseFloat(s, 64)
			if err != nil {
				t.Fatalf("number %q: %v", s, err)
			}
			return f
		}
		trendRows, itemRows := 0, 0
		for _, row := range rows[1:] {
			switch row[0] {
			case "trend":
				trendRows++
				if len(row) < 9 {
					t.Errorf("short trend row %q", row)
					continue
				}
				sc, ok := rep.Trend[0].Scores[row[2]]
				if !ok || row[1] != rep.Trend[0].Closed {
					t.Errorf("trend row %q not in JSON", row)
					continue
				}
				if int(num(row[4])) != sc.N || num(row[5]) != sc.Mean || num(row[6]) != sc.Lo || num(row[7]) != sc.Hi || num(row[8]) != sc.Favourable {
					t.Errorf("trend row %q, JSON %+v", row, sc)
				}
			case "item":
				itemRows++
				if len(row) != 14 {
					t.Errorf("item row %q", row)
					continue
				}
				found := false
				for _, it := range rep.Items {
					if it.Text != row[3] {
						continue
					}
					found = true
					var h [5]int
					sum := 0
					for i := range h {
						h[i] = int(num(row[9+i]))
						sum += (i + 1) * h[i]
					}
					if int(num(row[4])) != it.N || h != it.Histogram || row[2] != it.Dimension {
						t.Errorf("item row %q, JSON %+v", row, it)
					}
					if want := math.Round(1000*float64(sum)/float64(it.N)) / 1000; num(row[5]) != want {
						t.Errorf("item row %q: mean %s, want %v", row, row[5], want)
					}
				}
				if !found {
					t.Errorf("item row %q not in JSON", row)
				}
			default:
				t.Errorf("unknown row %q", row)
			}
		}
		if trendRows != len(rep.Latest) || itemRows != len(rep.Items) || itemRows != 8 {
			t.Errorf("%d trend rows, %d item rows; JSON %d dimensions, %d items", trendRows, itemRows, len(rep.Latest), len(rep.Items))
		}
	}
}

// TestReportCSVIsRectangular: every record of the export has as many
// fields as the header (RFC 4180 2.4); strict readers (encoding/csv's
// default, pandas with the C engine's error_bad_lines) reject ragged files.
func TestReportCSVIsRectangular(t *testing.T) {
	t.Parallel()
	o := newRepOrg(t)
	h := o.h
	r2 := repLaunch(h, o.prog)
	repRespond(h, r2.ID, repAll(o.mobPeople[:2], repConst(3))...) // Mobile suppressed in round 2
	repClose(h, r2.ID)
	r := o.admin.get(fmt.Sprintf("/reports/%d/export.csv", o.mobile))
	wantStatus(t, r, http.StatusOK)
	if _, err := csv.NewReader(strings.NewReader(r.Body)).ReadAll(); err != nil {
		t.Errorf("strict CSV reader: %v", err)
	}
	for _, row := range repCSV(t, r) {
		if len(row) != len(repCSVHeader) {
			t.Errorf("record with %d fields, header has %d: %q", len(row), len(repCSVHeader), row)
		}
	}
}

func TestReportCommentQueue(t *testing.T) {
	t.Parallel()
	o := newRepOrg(t)
	r := o.admin.get("/admin/comments")
	wantStatus(t, r, http.StatusOK)
	wantContains(t, r.Body, html.EscapeString(repHeldName), html.EscapeString(repHeldEmail))
	wantNotContains(t, r.Body, html.EscapeString(repClean))
	ids := map[string]string{}
	re := regexp.MustCompile(`(?s)<blockquote>(.*?)</blockquote>\s*<form method="post" action="/admin/comments/([^"]+)"`)
	for _, m := range re.FindAllStringSubmatch(r.Body, -1) {
		ids[html.UnescapeString(m[1])] = m[2]
	}
	if len(ids) != 2 || ids[repHeldName] == "" || ids[repHeldEmail] == "" {
		t.Fatalf("held comments on the page: %v", ids)
	}

	// Leaders cannot see or decide.
	wantStatus(t, o.leader.get("/admin/comments"), http.StatusForbidden)
	o.leader.get(fmt.Sprintf("/reports/%d", o.eng)) // a page with a CSRF token
	wantStatus(t, o.leader.submit("/dashboard", "/admin/comments/"+ids[repHeldName], url.Values{"action": {"release"}}), http.StatusForbidden)
	// Without the CSRF token nothing happens.
	wantStatus(t, o.admin.post("/admin/comments/"+ids[repHeldName], url.Values{"action": {"release"}}), http.StatusForbidden)
	// Bad action, unknown comment.
	if r := o.admin.submit("/admin/comments", "/admin/comments/"+ids[repHeldName], url.Values{"action": {"publish"}}); r.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("bad action: status %d, want 422", r.StatusCode)
	}
	if r := o.admin.submit("/admin/comments", "/admin/comments/nope", url.Values{"action": {"release"}}); r.StatusCode != http.StatusNotFound {
		t.Errorf("unknown comment: status %d, want 404", r.StatusCode)
	}
	var rep repReport
	repDecode(t, o.admin.get(fmt.Sprintf("/api/v1/reports/units/%d", o.sales)), &rep)
	if !reflect.DeepEqual(rep.Comments, []string{repClean}) {
		t.Fatalf("Sales comments before review: %q", rep.Comments)
	}

	o.admin.get("/admin/comments")
	wantRedirect(t, o.admin.submit("/admin/comments", "/admin/comments/"+ids[repHeldName], url.Values{"action": {"release"}}), "/admin/comments")
	o.admin.get("/admin/comments")
	wantRedirect(t, o.admin.submit("/admin/comments", "/admin/comments/"+ids[repHeldEmail], url.Values{"action": {"redact"}}), "/admin/comments")
	r = o.admin.get("/admin/comments")
	wantStatus(t, r, http.StatusOK)
	wantContains(t, r.Body, "No comments are waiting for review.")
	// Deciding twice is not possible.
	if r := o.admin.submit("/admin/comments", "/admin/comments/"+ids[repHeldEmail], url.Values{"action": {"release"}}); r.StatusCode != http.StatusNotFound {
		t.Errorf("release after redact: status %d, want 404", r.StatusCode)
	}

	repDecode(t, o.admin.get(fmt.Sprintf("/api/v1/reports/units/%d", o.sales)), &rep)
	sort.Strings(rep.Comments)
	want := []string{repHeldName, repClean}
	sort.Strings(want)
	if !reflect.DeepEqual(rep.Comments, want) {
		t.Errorf("Sales comments after review: %q, want %q", rep.Comments, want)
	}
	page := o.admin.get(fmt.Sprintf("/reports/%d", o.sales))
	wantContains(t, page.Body, html.EscapeString(repHeldName), html.EscapeString(repClean))
	wantNotContains(t, page.Body, "boss@acme.example")
	// Comments of units below 2k own respondents never show.
	var eng repReport
	repDecode(t, o.leader.get(fmt.Sprintf("/api/v1/reports/units/%d", o.eng)), &eng)
	if len(eng.Comments) != 0 {
		t.Errorf("Eng comments %q", eng.Comments)
	}
}

const (
	repXSSRoot   = `</script><img src=x onerror=alert(1)>`
	repXSSTeam   = `<img src=x onerror=alert(1)>`
	repXSSMerged = `<svg onload=alert(2)>`
	repXSSItem   = `<img src=x onerror=alert(3)>`
)

var repChartAttr = regexp.MustCompile(`data-echarts-option="([^"]*)"`)

// repStrings collects every string in a decoded JSON value.
func repStrings(v any, out map[string]bool) {
	switch x := v.(type) {
	case string:
		out[x] = true
	case []any:
		for _, e := range x {
			repStrings(e, out)
		}
	case map[string]any:
		for _, e := range x {
			repStrings(e, out)
		}
	}
}

func TestReportEscaping(t *testing.T) {
	t.Parallel()
	h := newRepHarness(t)
	root := h.initOrg(repXSSRoot)
	team := h.team(root, repXSSTeam)
	merged := h.team(team, repXSSMerged)
	other := h.team(root, "Other")
	teamPeople := repStaff(h, team, "X", 5)
	mergedPeople := repStaff(h, merged, "M", 2)
	otherPeople := repStaff(h, other, "O", 5)
	formulas := map[string]string{
		"purpose.mission.1":       `=HYPERLINK("http://evil.example","click")`,
		"mastery.growth.1":        repXSSItem,
		"autonomy.method.1":       `+SUM(1,2)`,
		"engagement.engagement.1": `@SUM(1,2)`,
		"purpose.mission.2":       `-2+3`,
	}
	// Custom questions do not exist yet: write the texts straight into the
	// bank, as a future question editor would.
	prog := repProgram(h, func() {
		for key, text := range formulas {
			if err := h.db.Model(&survey.Question{}).Where("key = ?", key).Update("text", text).Error; err != nil {
				t.Fatal(err)
			}
		}
	})
	r := repLaunch(h, prog)
	bs := repAll(teamPeople, repConst(4))
	bs = append(bs, repAll(mergedPeople, repConst(2))...)
	bs = append(bs, repAll(otherPeople, repConst(3))...)
	repRespond(h, r.ID, bs...)
	repClose(h, r.ID)
	h.admin("admin@acme.example")
	admin := h.client()
	admin.login("admin@acme.example")

	checkPage := func(t *testing.T, path string, wantInChart string) {
		t.Helper()
		r := admin.get(path)
		wantStatus(t, r, http.StatusOK)
		for _, raw := range []string{"<img", "<svg onload", "</script><img"} {
			if i := strings.Index(r.Body, raw); i >= 0 {
				t.Errorf("%s: raw %q in the page: ...%s...", path, raw, r.Body[max(0, i-80):min(len(r.Body), i+80)])
			}
		}
		attrs := repChartAttr.FindAllStringSubmatch(r.Body, -1)
		if len(attrs) == 0 {
			t.Fatalf("%s: no chart", path)
		}
		found := wantInChart == ""
		for _, a := range attrs {
			js := html.UnescapeString(a[1])
			var v any
			if err := json.Unmarshal([]byte(js), &v); err != nil {
				t.Errorf("%s: chart option is not JSON after unescaping: %v\n%s", path, err, js)
				continue
			}
			strs := map[string]bool{}
			repStrings(v, strs)
			if strs[wantInChart] {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no chart holds %q after unescaping", path, wantInChart)
		}
	}

	t.Run("root page", func(t *testing.T) {
		checkPage(t, fmt.Sprintf("/reports/%d", root), repXSSTeam) // the heatmap names the child
		r := admin.get(fmt.Sprintf("/reports/%d", root))
		wantContains(t, r.Body, html.EscapeString(repXSSRoot), html.EscapeString(repXSSTeam), html.EscapeString(repXSSItem))
	})
	t.Run("team page", func(t *testing.T) {
		checkPage(t, fmt.Sprintf("/reports/%d", team), "")
		r := admin.get(fmt.Sprintf("/reports/%d", team))
		// Title, heading, the merged team and the parent row.
		wantContains(t, r.Body, html.EscapeString(repXSSTeam), html.EscapeString(repXSSMerged), html.EscapeString(repXSSRoot))
	})
	t.Run("dashboard and admin", func(t *testing.T) {
		for _, path := range []string{"/admin", "/admin/comments", "/dashboard"} {
			r := admin.get(path)
			if strings.Contains(r.Body, "<img") || strings.Contains(r.Body, "<svg onload") {
				t.Errorf("%s: raw markup from a name", path)
			}
		}
	})
	t.Run("JSON", func(t *testing.T) {
		r := admin.get(fmt.Sprintf("/api/v1/reports/units/%d", root))
		wantNotContains(t, r.Body, "<img", "<svg")
		var rep repReport
		repDecode(t, r, &rep)
		if rep.Unit.Name != repXSSRoot {
			t.Errorf("unit name %q", rep.Unit.Name)
		}
		names := map[string]bool{}
		for _, c := range rep.Children {
			names[c.Unit.Name] = true
		}
		if !names[repXSSTeam] {
			t.Errorf("children %v", names)
		}
		texts := map[string]bool{}
		for _, it := range rep.Items {
			texts[it.Text] = true
		}
		if !texts[repXSSItem] {
			t.Errorf("item texts %v", texts)
		}
		r = admin.get("/api/v1/reports/units")
		wantNotContains(t, r.Body, "<img", "<svg")
		var l repUnitsList
		repDecode(t, r, &l)
		for _, u := range l.Units {
			names[u.Name] = true
		}
		if !names[repXSSRoot] {
			t.Errorf("unit list names %v", names)
		}
	})
	t.Run("CSV formulas", func(t *testing.T) {
		rows := repCSV(t, admin.get(fmt.Sprintf("/reports/%d/export.csv", root)))
		got := map[string]bool{}
		for _, row := range rows[1:] {
			if row[0] == "item" {
				got[row[3]] = true
			}
		}
		for _, text := range formulas {
			want := text
			if strings.ContainsAny(text[:1], "=+-@") {
				want = "'" + text
			}
			if !got[want] {
				t.Errorf("CSV lacks question cell %q; cells %v", want, got)
			}
		}
	})
}
