package api_test

// The differencing attacker of docs/ANONYMITY.md section 3 ("What proves
// it"). A simulated organisation answers rounds through the real token
// pipeline; the test keeps each simulated person's answers (the system does
// not). After each close it crawls every report endpoint (HTML, JSON, CSV)
// as the admin and as a leader of every team, checks every served number
// against the truth, and turns every served cell into a linear equation
// over respondents. With exact rational arithmetic it then asserts that no
// respondent's answer, no suppressed cell and no combination over fewer than
// k respondents is derivable, also for coalitions of up to k-2 insiders.
// A positive control with primary suppression only must leak.
//
// Why one matrix suffices. Every served statistic of a cell (a count n, a
// histogram bin, a sum behind a mean, a sum of squares behind an interval,
// a dimension total, a favourable count) is the sum, over the cell's
// respondents, of a per-respondent feature: the indicator "answered v to
// item q", the value, its square, and so on. For any one feature the
// equations are M·x = b where the row of a cell is the indicator vector of
// its respondents; M is the same for every feature. A combination c of
// respondents' features is derivable iff c lies in the row space of M, so
// one elimination over M answers the question for every (item, value)
// indicator and every other feature at once. Rounded numbers (means,
// shares, intervals) are treated as exact: that only makes the attacker
// stronger. Rounds are separate unknowns (ballots of different rounds
// cannot be linked), so the system is block diagonal and each round is
// checked on its own. The attacker is also told who responded (the
// honest worst case: in reality it only knows who was invited).

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/pulse-survey/pulse/anonymity"
	"github.com/pulse-survey/pulse/api"
	"github.com/pulse-survey/pulse/reports"
	"github.com/pulse-survey/pulse/survey"
)

// atkK is the minimum group size of the simulated program.
const atkK = 5

// atkPlan is one team of the simulated organisation.
type atkPlan struct {
	name    string
	parent  int // index of the parent team in the plan; -1 for the root
	people  int
	respond int // how many answer each round; -1: each with probability 0.8
}

// atkOrgPlan is the organisation: the classic differencing shapes of
// docs/ANONYMITY.md section 3 (in respondents) plus a random part. Small teams (fewer than
// k invitees) are merged into the unit above them at launch.
func atkOrgPlan(rng *rand.Rand) []atkPlan {
	p := []atkPlan{
		// Department of 7 = East (6) + West (1): West has 1 invitee and is
		// merged into Sales, whose 4 direct members do not answer.
		{name: "Sales", parent: -1, people: 4, respond: 0},
		{name: "East", parent: 0, people: 6, respond: 6},
		{name: "West", parent: 0, people: 1, respond: 1},
		// X = A(3) + B(6): Field (merged into Ops) and Depot.
		{name: "Ops", parent: -1, people: 2, respond: 0},
		{name: "Field", parent: 3, people: 3, respond: 3},
		{name: "Depot", parent: 3, people: 6, respond: 6},
		// X = A(3) + B(6) + 4 direct: Platform may be shown.
		{name: "Eng", parent: -1, people: 4, respond: 4},
		{name: "QA", parent: 6, people: 3, respond: 3},
		{name: "Platform", parent: 6, people: 6, respond: 6},
		// At least 2k own respondents, so comments are shown.
		{name: "Support", parent: -1, people: 11, respond: 10},
	}
	for d := range 1 + rng.IntN(2) {
		di := len(p)
		p = append(p, atkPlan{name: fmt.Sprintf("R%d", d+1), parent: -1, people: rng.IntN(5), respond: -1})
		for tt := range 1 + rng.IntN(2) {
			ti := len(p)
			p = append(p, atkPlan{name: fmt.Sprintf("R%dT%d", d+1, tt+1), parent: di, people: 1 + rng.IntN(12), respond: -1})
			if rng.IntN(2) == 0 {
				p = append(p, atkPlan{name: fmt.Sprintf("R%dT%dS", d+1, tt+1), parent: ti, people: 1 + rng.IntN(8), respond: -1})
			}
		}
	}
	return p
}

var atkPhrases = []string{
	"more focus time would help", "meetings run long", "great onboarding this month",
	"clearer priorities please", "the new tooling is slow", "thanks for the flexible hours",
}

type atkAccount struct {
	email, label string
	admin        bool
}

// atkScenario is one simulated organisation over one database.
type atkScenario struct {
	t        *testing.T
	h        *harness
	rng      *rand.Rand
	plan     []atkPlan
	team     []uint // team id per plan entry
	root     uint
	rootPpl  int
	people   map[uint]int // person id -> plan index, -1 for the root team
	accounts []atkAccount
	program  uint
	seen     *atkSeen
	// published is the admin's unit list per round: unit -> published.
	published map[uint]map[uint]bool
}

// atkPrimaryOnly publishes every unit with at least k respondents: primary
// suppression alone, the positive control's broken rule.
func atkPrimaryOnly(nodes []anonymity.Node, k int) map[uint]bool {
	pub := map[uint]bool{}
	for _, n := range nodes {
		if n.N >= k {
			pub[n.ID] = true
		}
	}
	return pub
}

// atkRun builds the organisation of seed, runs rounds rounds through the
// real pipeline with suppress as the release's rule (nil: the product's),
// and crawls the reports after each close.
func atkRun(t *testing.T, seed uint64, suppress func([]anonymity.Node, int) map[uint]bool, rounds int) *atkScenario {
	t.Helper()
	master := make([]byte, 32)
	for i := range master {
		master[i] = byte(seed) + byte(i)
	}
	kr, err := survey.NewKeyring(master)
	if err != nil {
		t.Fatal(err)
	}
	var svc *survey.Services
	h := newHarness(t, func(d *api.Deps) {
		svc = survey.New(d.DB, survey.Options{BcryptCost: bcrypt.MinCost, Now: d.Now, Keyring: kr,
			Releaser: &reports.Releaser{Suppress: suppress}})
		d.Services = svc
	})
	h.svc = svc

	sc := &atkScenario{t: t, h: h, rng: rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)), people: map[uint]int{},
		seen: newAtkSeen(t, atkK), published: map[uint]map[uint]bool{}}
	sc.root = h.initOrg("Acme")
	sc.plan = atkOrgPlan(sc.rng)
	// The root has at least k invitees of its own, so launch never folds a
	// fixture department into it (it folds the smallest top-level unit
	// when the root has between 1 and k-1).
	sc.rootPpl = atkK + sc.rng.IntN(3)
	for _, p := range sc.plan {
		parent := sc.root
		if p.parent >= 0 {
			parent = sc.team[p.parent]
		}
		sc.team = append(sc.team, h.team(parent, p.name))
	}
	addPeople := func(idx int, team uint, name string, n int) {
		for i := range n {
			email := fmt.Sprintf("%s-%d@acme.example", strings.ToLower(name), i)
			pr, err := h.svc.Org.CreatePerson(h.ctx, survey.PersonInput{Email: email, Name: fmt.Sprintf("Employee %s %d", name, i), TeamID: team, Active: true})
			if err != nil {
				t.Fatalf("create person %s: %v", email, err)
			}
			sc.people[pr.ID] = idx
		}
	}
	addPeople(-1, sc.root, "Acme", sc.rootPpl)
	for i, p := range sc.plan {
		addPeople(i, sc.team[i], p.name, p.people)
	}
	h.admin("admin@acme.example")
	sc.accounts = append(sc.accounts, atkAccount{email: "admin@acme.example", label: "admin", admin: true})
	for i, p := range sc.plan {
		email := fmt.Sprintf("lead-%s@acme.example", strings.ToLower(p.name))
		h.leader(email, sc.team[i])
		sc.accounts = append(sc.accounts, atkAccount{email: email, label: "leader(" + p.name + ")"})
	}

	if err := h.svc.Programs.SyncBuiltinQuestions(h.ctx); err != nil {
		t.Fatal(err)
	}
	qs, err := h.svc.Programs.Questions(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []uint
	for _, q := range qs {
		ids = append(ids, q.ID)
	}
	prog, err := h.svc.Programs.CreateProgram(h.ctx, survey.ProgramInput{Name: "Pulse", Cadence: survey.CadenceWeeks,
		IntervalWeeks: 2, Weekday: time.Monday, TimeOfDay: "09:00", OpenDays: 5, ItemsPerRound: 8, MinGroupSize: atkK, QuestionIDs: ids})
	if err != nil {
		t.Fatal(err)
	}
	sc.program = prog.ID
	for r := range rounds {
		if r > 0 {
			h.clock.Advance(14 * 24 * time.Hour)
		}
		sc.runRound()
	}
	return sc
}

// responders picks who answers this round.
func (sc *atkScenario) responders() map[uint]bool {
	byPlan := map[int][]uint{}
	for id, idx := range sc.people {
		byPlan[idx] = append(byPlan[idx], id)
	}
	out := map[uint]bool{}
	for idx := -1; idx < len(sc.plan); idx++ {
		ids := byPlan[idx]
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
		want := -1
		if idx >= 0 {
			want = sc.plan[idx].respond
		}
		if want < 0 {
			for _, id := range ids {
				if sc.rng.Float64() < 0.8 {
					out[id] = true
				}
			}
			continue
		}
		for _, i := range sc.rng.Perm(len(ids))[:want] {
			out[ids[i]] = true
		}
	}
	return out
}

// runRound launches a round, lets the chosen people answer through the
// token pipeline, closes it (which releases) and crawls the reports.
func (sc *atkScenario) runRound() {
	t, h := sc.t, sc.h
	round, err := h.svc.Rounds.Launch(h.ctx, sc.program)
	if err != nil {
		t.Fatalf("launch: %v", err)
	}
	links, err := h.svc.Rounds.Links(h.ctx, round.ID)
	if err != nil {
		t.Fatal(err)
	}
	who := sc.responders()
	var resp []atkResp
	for _, i := range sc.rng.Perm(len(links)) {
		l := links[i]
		if !who[l.PersonID] {
			continue
		}
		v, err := h.svc.Rounds.SurveyBySecret(h.ctx, l.Secret)
		if err != nil {
			t.Fatalf("survey view: %v", err)
		}
		m, hash, err := h.svc.Rounds.Manifest(h.ctx, v.Round.ID)
		if err != nil || hash != v.ManifestHash {
			t.Fatalf("manifest: %v (hash %s, view says %s)", err, hash, v.ManifestHash)
		}
		tok, err := survey.ObtainToken(m, v.Round.ID, v.UnitID, v.KeyID, func(blinded []byte) ([]byte, error) {
			return h.svc.Rounds.IssueToken(h.ctx, l.Secret, blinded)
		})
		if err != nil {
			t.Fatalf("obtain token: %v", err)
		}
		answers := map[uint]int{}
		for _, q := range v.Questions {
			answers[q.QuestionID] = 1 + sc.rng.IntN(5)
		}
		comment := ""
		if sc.rng.IntN(2) == 0 {
			comment = atkPhrases[sc.rng.IntN(len(atkPhrases))]
		}
		in, err := tok.Ballot(answers, comment)
		if err != nil {
			t.Fatalf("seal: %v", err)
		}
		if err := h.svc.Rounds.SubmitBallot(h.ctx, in); err != nil {
			t.Fatalf("submit: %v", err)
		}
		resp = append(resp, atkResp{Person: l.PersonID, Unit: v.UnitID, Answers: answers, Comment: comment})
	}
	// While the round is open, reports serve the previous release only
	// (live numbers would leak by differencing): crawl as the admin and
	// check every number against the previous round's truth.
	if prev := sc.latest(); prev != nil {
		sc.crawl(prev, sc.accounts[:1])
	} else {
		sc.checkNoReports()
	}
	if err := h.svc.Rounds.Close(h.ctx, round.ID); err != nil {
		t.Fatalf("close: %v", err)
	}
	closed, err := h.svc.Rounds.Round(h.ctx, round.ID)
	if err != nil {
		t.Fatal(err)
	}
	var qs []survey.RoundQuestion
	if err := h.db.Where("round_id = ?", round.ID).Order("position").Find(&qs).Error; err != nil {
		t.Fatal(err)
	}
	var teams []survey.RoundTeam
	if err := h.db.Where("round_id = ?", round.ID).Find(&teams).Error; err != nil {
		t.Fatal(err)
	}
	tr := newAtkTruth(*closed, qs, teams, resp)
	sc.checkShapes(tr)
	sc.seen.addRound(tr)
	sc.crawl(tr, sc.accounts)
}

// latest returns the last closed round's truth, or nil.
func (sc *atkScenario) latest() *atkTruth {
	var best *atkTruth
	for _, tr := range sc.seen.truth {
		if best == nil || tr.ID > best.ID {
			best = tr
		}
	}
	return best
}

// checkNoReports asserts that nothing is reported before a first release.
func (sc *atkScenario) checkNoReports() {
	c := sc.h.client()
	c.login(sc.accounts[0].email)
	r := c.get("/api/v1/reports/units")
	wantStatus(sc.t, r, http.StatusOK)
	if strings.TrimSpace(r.Body) != `{"units":[]}` {
		sc.t.Errorf("units listed before any release: %s", r.Body)
	}
	for _, p := range []string{"/api/v1/reports/units/%d", "/reports/%d", "/reports/%d/export.csv"} {
		path := fmt.Sprintf(p, sc.root)
		if r := c.get(path); r.StatusCode != http.StatusNotFound {
			sc.t.Errorf("GET %s before any release: status %d, want 404", path, r.StatusCode)
		}
	}
}

// checkShapes makes sure the fixture departments became the token units
// the doc's cases need (else the positive control could pass by luck).
func (sc *atkScenario) checkShapes(tr *atkTruth) {
	idx := map[string]int{}
	for i, p := range sc.plan {
		idx[p.name] = i
	}
	unit := func(name string) uint { return tr.TeamUnit[sc.team[idx[name]]] }
	team := func(name string) uint { return sc.team[idx[name]] }
	for _, c := range []struct{ team, unit string }{
		{"Sales", "Sales"}, {"East", "East"}, {"West", "Sales"},
		{"Ops", "Ops"}, {"Field", "Ops"}, {"Depot", "Depot"},
		{"Eng", "Eng"}, {"QA", "Eng"}, {"Platform", "Platform"}, {"Support", "Support"},
	} {
		if unit(c.team) != team(c.unit) {
			sc.t.Fatalf("round %d: team %s is in unit %d, want %s's unit", tr.ID, c.team, unit(c.team), c.unit)
		}
	}
}

// crawl fetches every report route as each account and extracts every
// served number; latest is the round the reports must show.
func (sc *atkScenario) crawl(latest *atkTruth, accounts []atkAccount) {
	t, h := sc.t, sc.h
	for i, acc := range accounts {
		c := h.client()
		c.remote = fmt.Sprintf("198.51.100.%d:%d", 1+i%250, 40000+i)
		c.login(acc.email)
		list := c.get("/api/v1/reports/units")
		wantStatus(t, list, http.StatusOK)
		sc.seen.requests++
		sc.seen.checkNumberPaths(acc.label+" /api/v1/reports/units", list.Body)
		var units struct {
			Units []struct {
				ID         uint `json:"id"`
				Suppressed bool `json:"suppressed"`
			} `json:"units"`
		}
		if err := json.Unmarshal([]byte(list.Body), &units); err != nil {
			t.Fatal(err)
		}
		visible := map[uint]bool{}
		for _, u := range units.Units {
			visible[u.ID] = true
			if acc.admin {
				if sc.published[latest.ID] == nil {
					sc.published[latest.ID] = map[uint]bool{}
				}
				sc.published[latest.ID][u.ID] = !u.Suppressed
			}
		}
		if acc.admin && len(visible) != len(latest.Units) {
			t.Fatalf("admin sees %d units, the release has %d", len(visible), len(latest.Units))
		}
		for _, u := range latest.Units {
			for _, kind := range []string{"json", "csv", "html"} {
				path := map[string]string{
					"json": fmt.Sprintf("/api/v1/reports/units/%d", u),
					"csv":  fmt.Sprintf("/reports/%d/export.csv", u),
					"html": fmt.Sprintf("/reports/%d", u),
				}[kind]
				res := c.get(path)
				sc.seen.requests++
				sc.seen.route = kind
				if !visible[u] {
					if res.StatusCode != http.StatusForbidden {
						t.Errorf("%s GET %s: status %d for a unit out of scope, want 403", acc.label, path, res.StatusCode)
					}
					continue
				}
				wantStatus(t, res, http.StatusOK)
				src := acc.label + " " + path
				switch kind {
				case "json":
					sc.seen.reportJSON(latest, u, src, res.Body)
				case "csv":
					sc.seen.reportCSV(latest, u, src, res.Body)
				case "html":
					sc.seen.reportHTML(latest, u, src, res.Body)
				}
			}
		}
	}
}

// atkFinding is something the attacker derived that it must not.
type atkFinding struct {
	round   uint
	kind    string
	support int
	detail  string
}

func (f atkFinding) String() string {
	return fmt.Sprintf("round %d: %s over %d respondent(s): %s", f.round, f.kind, f.support, f.detail)
}

// analyse runs the attacker over everything collected, with coalitions
// random coalitions per round (and, when coalitions > 0, one per unit made
// of all but one of its own respondents, at most k-2).
func (sc *atkScenario) analyse(coalitions int) []atkFinding {
	t, s := sc.t, sc.seen
	k := atkK
	var out []atkFinding
	var rounds []uint
	for id := range s.truth {
		rounds = append(rounds, id)
	}
	sort.Slice(rounds, func(i, j int) bool { return rounds[i] < rounds[j] })
	for _, rid := range rounds {
		tr := s.truth[rid]
		n := len(tr.Resp)
		var cells []atkCell
		for c := range s.cells {
			if c.Round == rid {
				cells = append(cells, c)
			}
		}
		sort.Slice(cells, func(i, j int) bool { return cells[i].Unit < cells[j].Unit })
		served := map[uint]bool{}
		m := make([][]int, len(cells))
		var desc []string
		for i, c := range cells {
			served[c.Unit] = true
			m[i] = make([]int, n)
			mem := tr.members(c.Unit)
			for _, r := range mem {
				m[i][r] = 1
			}
			desc = append(desc, fmt.Sprintf("%s(%d)", tr.label(c.Unit), len(mem)))
			if len(mem) < k {
				out = append(out, atkFinding{rid, "cell below k served", len(mem), tr.label(c.Unit)})
			}
		}
		// describe a combination of cells and its support.
		explain := func(y atkVec, support []int) string {
			var terms []string
			for i, c := range y {
				if c != nil && c.Sign() != 0 {
					terms = append(terms, fmt.Sprintf("%s·%s", c.RatString(), tr.label(cells[i].Unit)))
				}
			}
			byUnit := map[string]int{}
			for _, r := range support {
				byUnit[tr.label(tr.Resp[r].Unit)+" (own)"]++
			}
			var parts []string
			for u, c := range byUnit {
				parts = append(parts, fmt.Sprintf("%s: %d", u, c))
			}
			sort.Strings(parts)
			return strings.Join(terms, " ") + " = {" + strings.Join(parts, ", ") + "}"
		}
		all := make([]int, n)
		for i := range all {
			all[i] = i
		}
		basis := atkRowBasis(m)
		// (a) single respondents.
		for r := range n {
			e := atkZeros(n)
			e[r].SetInt64(1)
			if basis.contains(e) {
				out = append(out, atkFinding{rid, "single respondent derivable", 1,
					fmt.Sprintf("respondent of unit %s", tr.label(tr.Resp[r].Unit))})
			}
		}
		// (a) suppressed cells.
		suppressed := 0
		for _, u := range tr.Units {
			mem := tr.members(u)
			if served[u] || len(mem) == 0 {
				continue
			}
			suppressed++
			v := atkZeros(n)
			for _, r := range mem {
				v[r].SetInt64(1)
			}
			if basis.contains(v) {
				out = append(out, atkFinding{rid, "suppressed cell derivable", len(mem), tr.label(u)})
			}
		}
		// (a) every combination over fewer than k respondents.
		small, tried := atkSmallSupports(m, all, k)
		for _, f := range small {
			out = append(out, atkFinding{rid, "combination below k derivable", len(f.support), explain(f.combo, f.support)})
		}
		// (b) coalitions of up to k-2 insiders: their columns are known and
		// drop out; nobody else may be isolated, and every derivable
		// combination must still cover at least k-c others.
		var cos [][]int
		for _, u := range tr.Units {
			own := tr.own(u)
			if coalitions > 0 && len(own) >= 2 {
				c := own[:min(len(own)-1, k-2)]
				cos = append(cos, append([]int{}, c...))
			}
		}
		for range coalitions {
			size := 1 + sc.rng.IntN(k-2)
			if size > n {
				size = n
			}
			cos = append(cos, sc.rng.Perm(n)[:size])
		}
		for _, co := range cos {
			in := map[int]bool{}
			for _, r := range co {
				in[r] = true
			}
			var rest []int
			for r := range n {
				if !in[r] {
					rest = append(rest, r)
				}
			}
			sub := make([][]int, len(m))
			for i := range m {
				sub[i] = make([]int, len(rest))
				for j, r := range rest {
					sub[i][j] = m[i][r]
				}
			}
			b := atkRowBasis(sub)
			for j, r := range rest {
				e := atkZeros(len(rest))
				e[j].SetInt64(1)
				if b.contains(e) {
					out = append(out, atkFinding{rid, fmt.Sprintf("coalition of %d isolates a respondent", len(co)), 1,
						fmt.Sprintf("respondent of unit %s", tr.label(tr.Resp[r].Unit))})
				}
			}
			found, _ := atkSmallSupports(m, rest, k-len(co))
			for _, f := range found {
				out = append(out, atkFinding{rid, fmt.Sprintf("coalition of %d derives a combination below k-%d", len(co), len(co)),
					len(f.support), explain(f.combo, f.support)})
			}
		}
		// Comment counts: a separate feature ("wrote a comment") whose
		// cells are units' own respondents.
		var cm [][]int
		for c := range s.comments {
			if c.Round != rid {
				continue
			}
			row := make([]int, n)
			for _, r := range tr.own(c.Unit) {
				row[r] = 1
			}
			cm = append(cm, row)
		}
		csmall, _ := atkSmallSupports(cm, all, k)
		for _, f := range csmall {
			out = append(out, atkFinding{rid, "comment count below k derivable", len(f.support), fmt.Sprint(f.support)})
		}
		t.Logf("round %d: %d respondents; %d served cells %v; rank %d; %d suppressed units checked; %d small atom sets tried; %d coalitions; %d comment cells",
			rid, n, len(cells), desc, len(basis.rows), suppressed, tried, len(cos), len(cm))
	}
	return out
}

func (sc *atkScenario) logCrawl() {
	var kinds []string
	total := 0
	for k, n := range sc.seen.numbers {
		kinds = append(kinds, fmt.Sprintf("%s=%d", k, n))
		total += n
	}
	sort.Strings(kinds)
	// Which parts of which routes served cells.
	parts := map[string]int{}
	for _, srcs := range sc.seen.cells {
		for src := range srcs {
			f := strings.Fields(src)
			route := "html"
			switch {
			case strings.HasPrefix(f[1], "/api/"):
				route = "json"
			case strings.HasSuffix(f[1], ".csv"):
				route = "csv"
			}
			parts[route+":"+strings.Join(f[2:], " ")]++
		}
	}
	var ps []string
	for k, n := range parts {
		ps = append(ps, fmt.Sprintf("%s=%d", k, n))
	}
	sort.Strings(ps)
	sc.t.Logf("cells served, by route part: %s", strings.Join(ps, " "))
	var routes []string
	for k, n := range sc.seen.byRoute {
		routes = append(routes, fmt.Sprintf("%s=%d", k, n))
	}
	sort.Strings(routes)
	sc.t.Logf("crawled %d requests as %d accounts; %d numbers checked against the truth (%s): %s",
		sc.seen.requests, len(sc.accounts), total, strings.Join(routes, " "), strings.Join(kinds, " "))
}

// TestAttackerCannotIsolateRespondents is the proof of docs/ANONYMITY.md
// section 3 against the product's suppression rule.
func TestAttackerCannotIsolateRespondents(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3, 4} {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			t.Parallel()
			sc := atkRun(t, seed, nil, 2)
			sc.logCrawl()
			// The doc's fixtures, decided by the residual rule.
			for rid, pub := range sc.published {
				tr := sc.seen.truth[rid]
				want := map[string]bool{"Sales": true, "East": false, "Ops": true, "Depot": false, "Eng": true, "Platform": true}
				for i, p := range sc.plan {
					if w, ok := want[p.name]; ok && pub[sc.team[i]] != w {
						t.Errorf("round %d: %s published=%v, want %v", rid, tr.label(sc.team[i]), pub[sc.team[i]], w)
					}
				}
			}
			for _, f := range sc.analyse(25) {
				t.Errorf("leak: %s", f)
			}
		})
	}
}

// TestAttackerPositiveControl runs the same attacker against primary
// suppression only: it must find a leak, or the attacker is blind.
func TestAttackerPositiveControl(t *testing.T) {
	t.Parallel()
	sc := atkRun(t, 1, atkPrimaryOnly, 2)
	sc.logCrawl()
	found := sc.analyse(0)
	if len(found) == 0 {
		t.Fatal("with primary suppression only the attacker derived nothing: it is blind")
	}
	kinds := map[string]int{}
	for _, f := range found {
		kinds[f.kind]++
	}
	for _, want := range []string{"single respondent derivable", "combination below k derivable"} {
		if kinds[want] == 0 {
			t.Errorf("positive control: no %q finding", want)
		}
	}
	// The doc's cases: Sales - East is West's one respondent; Ops - Depot
	// is Field's three.
	for _, want := range []string{"1·Sales -1·Sales/East = {Sales (own): 1}", "1·Ops -1·Ops/Depot = {Ops (own): 3}"} {
		ok := false
		for _, f := range found {
			ok = ok || f.detail == want
		}
		if !ok {
			t.Errorf("positive control: the attacker did not derive %s", want)
		}
	}
	for _, f := range found {
		t.Logf("expected leak: %s", f)
	}
}

// TestAttackerResidualRuleRandomTrees runs the same algebra straight on the
// suppression rule over many random unit trees (no database): every
// published unit's respondents are a served cell. It covers far more
// shapes than the end-to-end organisations above.
func TestAttackerResidualRuleRandomTrees(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	checked := 0
	for trial := range 5000 {
		k := 3 + rng.IntN(3)
		size := 2 + rng.IntN(12)
		parent := make([]int, size) // parent[0] = -1: the root
		own := make([]int, size)
		parent[0] = -1
		for i := 1; i < size; i++ {
			parent[i] = rng.IntN(i)
		}
		for i := range own {
			switch rng.IntN(4) {
			case 0:
				own[i] = 0
			case 1:
				own[i] = 1 + rng.IntN(k-1) // below k
			default:
				own[i] = rng.IntN(2*k + 2)
			}
		}
		// Respondent columns, unit by unit.
		var unitOf []int
		for u, n := range own {
			for range n {
				unitOf = append(unitOf, u)
			}
		}
		within := func(u, top int) bool {
			for ; u >= 0; u = parent[u] {
				if u == top {
					return true
				}
			}
			return false
		}
		subtree := func(u int) []int {
			var out []int
			for r, x := range unitOf {
				if within(x, u) {
					out = append(out, r)
				}
			}
			return out
		}
		nodes := make([]anonymity.Node, size)
		for u := range size {
			p := uint(0)
			if parent[u] >= 0 {
				p = uint(parent[u] + 1)
			}
			nodes[u] = anonymity.Node{ID: uint(u + 1), Parent: p, N: len(subtree(u))}
		}
		pub := anonymity.Suppress(nodes, k)
		var m [][]int
		for u := range size {
			if !pub[uint(u+1)] {
				continue
			}
			row := make([]int, len(unitOf))
			for _, r := range subtree(u) {
				row[r] = 1
			}
			m = append(m, row)
			if len(subtree(u)) < k {
				t.Errorf("trial %d: unit %d published with %d < k=%d respondents", trial, u+1, len(subtree(u)), k)
			}
		}
		if len(m) == 0 {
			continue
		}
		checked++
		all := make([]int, len(unitOf))
		for i := range all {
			all[i] = i
		}
		fail := func(what string) {
			t.Errorf("trial %d (k=%d): %s; tree parent=%v own=%v published=%v", trial, k, what, parent, own, pub)
		}
		if small, _ := atkSmallSupports(m, all, k); len(small) > 0 {
			fail(fmt.Sprintf("a combination over %d respondents is derivable (units %v)", len(small[0].support), atkUnitsOf(small[0].support, unitOf)))
		}
		b := atkRowBasis(m)
		for u := range size {
			mem := subtree(u)
			if pub[uint(u+1)] || len(mem) == 0 {
				continue
			}
			v := atkZeros(len(unitOf))
			for _, r := range mem {
				v[r].SetInt64(1)
			}
			if b.contains(v) {
				fail(fmt.Sprintf("suppressed unit %d (%d respondents) is derivable", u+1, len(mem)))
			}
		}
	}
	t.Logf("%d random trees with something published checked", checked)
}

// atkUnitsOf names the (1-based) units of respondents.
func atkUnitsOf(rs []int, unitOf []int) []int {
	var out []int
	for _, r := range rs {
		out = append(out, unitOf[r]+1)
	}
	return out
}
