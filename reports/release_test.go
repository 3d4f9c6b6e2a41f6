package reports_test

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/pulse-survey/pulse/anonymity"
	"github.com/pulse-survey/pulse/reports"
	"github.com/pulse-survey/pulse/survey"
)

// smallOrg is one closed round of a small organisation with known answers:
//
//	Acme (root, nobody directly)       0 invited
//	├── Eng (2 people)                  unit Eng = Eng + Tiny: 5 invited, 3 answer "3"
//	│   ├── Mobile (5)                  5 answer "5"
//	│   ├── Platform (6)                6 answer "4"
//	│   └── Tiny (3, merged into Eng)
//	├── Ops (5)                         2 answer "1"
//	└── Sales (10)                      10 answer 1 + (j + position) % 5
//
// With k = 5 the residual rule publishes Acme, Platform and Sales: Ops is
// below k; Eng (14) minus Platform (6) and Mobile (5) leaves 3, so Mobile
// (the smallest residual of at least k) is hidden; then Acme (26) minus
// Eng (14) and Sales (10) leaves Ops' 2, so Eng is hidden (residual 8 <
// Sales' 10).
type smallOrg struct {
	*env
	root, eng, tiny, mobile, platform, ops, sales uint
	round                                         *survey.Round
	qs                                            []survey.RoundQuestion
	// answers lists, per token unit, the answer functions of its respondents.
	answers map[uint][]answerFunc
}

// Comments of the small organisation: only Sales has 2k own respondents.
const (
	cleanComment1 = "The new rota works well for the whole group."
	cleanComment2 = "More coffee please."
	heldSurname   = "Ask Kowalski about the rota."
	heldFullName  = "maria kowalski runs great meetings"
	heldEmail     = "Write to helpdesk@acme.example if you disagree."
	heldPhone     = "Call me on +49 30 1234 5678."
	heldPossessiv = "Okafor's planning is unclear."
	engComment    = "Eng comment: never released (3 own respondents)."
	platComment   = "Platform comment: never released (6 own respondents)."
	opsComment    = "Ops comment: never released (2 respondents)."
)

func salesAnswer(j int) answerFunc {
	return func(q survey.RoundQuestion) int { return 1 + (j+q.Position)%5 }
}

func buildSmallOrg(t *testing.T) *smallOrg {
	t.Helper()
	o := &smallOrg{env: newEnv(t, "Acme"), answers: map[uint][]answerFunc{}}
	o.root = o.env.root()
	o.eng = o.team(o.root, "Eng")
	o.sales = o.team(o.root, "Sales")
	o.ops = o.team(o.root, "Ops")
	o.platform = o.team(o.eng, "Platform")
	o.mobile = o.team(o.eng, "Mobile")
	o.tiny = o.team(o.eng, "Tiny")
	engPeople := o.staff(o.eng, "Eng", 2)
	tinyPeople := o.staff(o.tiny, "Tiny", 3)
	platPeople := o.staff(o.platform, "Platform", 6)
	mobPeople := o.staff(o.mobile, "Mobile", 5)
	opsPeople := o.staff(o.ops, "Ops", 5)
	salesPeople := append([]uint{o.person(o.sales, "Maria Kowalski"), o.person(o.sales, "Tom Okafor")},
		o.staff(o.sales, "Sales", 8)...)

	o.round = o.launch()
	o.qs = o.questions(o.round.ID)

	var bs []ballot
	add := func(unit, person uint, f answerFunc, comment string) {
		bs = append(bs, ballot{person: person, answer: f, comment: comment})
		o.answers[unit] = append(o.answers[unit], f)
	}
	add(o.eng, engPeople[0], constant(3), engComment)
	add(o.eng, engPeople[1], constant(3), "")
	add(o.eng, tinyPeople[0], constant(3), "")
	for i, p := range platPeople {
		c := ""
		if i == 0 {
			c = platComment
		}
		add(o.platform, p, constant(4), c)
	}
	for _, p := range mobPeople {
		add(o.mobile, p, constant(5), "")
	}
	add(o.ops, opsPeople[0], constant(1), opsComment)
	add(o.ops, opsPeople[1], constant(1), "")
	salesComments := []string{cleanComment1, heldSurname, heldFullName, heldEmail, heldPhone, heldPossessiv, cleanComment2}
	for j, p := range salesPeople {
		c := ""
		if j < len(salesComments) {
			c = salesComments[j]
		}
		add(o.sales, p, salesAnswer(j), c)
	}
	o.respond(o.round.ID, bs...)
	o.close(o.round.ID)
	return o
}

// subtree returns the token units of the round at or below unit.
func (o *smallOrg) subtree(unit uint) []uint {
	switch unit {
	case o.root:
		return []uint{o.root, o.eng, o.mobile, o.platform, o.ops, o.sales}
	case o.eng:
		return []uint{o.eng, o.mobile, o.platform}
	}
	return []uint{unit}
}

// releaseUnits reads the round's release units by unit id.
func releaseUnits(t *testing.T, e *env, roundID uint) map[uint]reports.ReleaseUnit {
	t.Helper()
	var rus []reports.ReleaseUnit
	if err := e.db.Where("round_id = ?", roundID).Find(&rus).Error; err != nil {
		t.Fatal(err)
	}
	out := map[uint]reports.ReleaseUnit{}
	for _, u := range rus {
		out[u.UnitID] = u
	}
	return out
}

// releaseSnapshot is every row of a round's release, in a stable order.
type releaseSnapshot struct {
	Release  reports.Release
	Units    []reports.ReleaseUnit
	Items    []reports.ReleaseItem
	Dims     []reports.ReleaseDimension
	Comments []reports.ReleaseComment
}

func snapshot(t *testing.T, e *env, roundID uint) releaseSnapshot {
	t.Helper()
	var s releaseSnapshot
	if err := e.db.First(&s.Release, roundID).Error; err != nil {
		t.Fatalf("release of round %d: %v", roundID, err)
	}
	s.Release.CreatedAt = time.Time{} // recomputing may refresh it
	for _, q := range []struct {
		dst   any
		order string
	}{
		{&s.Units, "unit_id"}, {&s.Items, "unit_id, question_id"}, {&s.Dims, "unit_id, dimension"}, {&s.Comments, "id"},
	} {
		if err := e.db.Where("round_id = ?", roundID).Order(q.order).Find(q.dst).Error; err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// wantDims computes the dimension rows of respondents answering with fs.
func wantDims(qs []survey.RoundQuestion, fs []answerFunc) map[string]reports.ReleaseDimension {
	out := map[string]reports.ReleaseDimension{}
	for _, dim := range survey.Dimensions() {
		var dqs []survey.RoundQuestion
		for _, q := range qs {
			if q.Dimension == dim {
				dqs = append(dqs, q)
			}
		}
		if len(dqs) == 0 {
			continue
		}
		d := reports.ReleaseDimension{Dimension: dim, Items: len(dqs)}
		for _, f := range fs {
			total := 0
			for _, q := range dqs {
				v := f(q)
				total += v
				if v >= 4 {
					d.Favorable++
				}
				d.Answers++
			}
			d.N++
			d.Sum += total
			d.SumSq += total * total
		}
		out[dim] = d
	}
	return out
}

func TestReleaseSmallOrg(t *testing.T) {
	t.Parallel()
	o := buildSmallOrg(t)
	const k = 5
	units := releaseUnits(t, o.env, o.round.ID)

	t.Run("release row", func(t *testing.T) {
		var rel reports.Release
		if err := o.db.First(&rel, o.round.ID).Error; err != nil {
			t.Fatal(err)
		}
		if rel.MinGroupSize != k || rel.Respondents != 26 || rel.Invited != 31 {
			t.Errorf("release = %+v, want k 5, 26 respondents of 31 invited", rel)
		}
	})

	t.Run("unit tree", func(t *testing.T) {
		ptr := func(id uint) *uint { return &id }
		want := map[uint]struct {
			name, path       string
			parent           *uint
			merged           string
			invited, n, own  int
			published, cshow bool
		}{
			o.root:     {"Acme", "", nil, "", 31, 26, 0, true, false},
			o.eng:      {"Eng", "Eng", ptr(o.root), "Eng/Tiny", 16, 14, 3, false, false},
			o.platform: {"Platform", "Eng/Platform", ptr(o.eng), "", 6, 6, 6, true, false},
			o.mobile:   {"Mobile", "Eng/Mobile", ptr(o.eng), "", 5, 5, 5, false, false},
			o.ops:      {"Ops", "Ops", ptr(o.root), "", 5, 2, 2, false, false},
			o.sales:    {"Sales", "Sales", ptr(o.root), "", 10, 10, 10, true, true},
		}
		if len(units) != len(want) {
			t.Errorf("%d release units, want %d (Tiny is merged into Eng, not a unit)", len(units), len(want))
		}
		if _, ok := units[o.tiny]; ok {
			t.Error("Tiny (3 people) is a unit of its own")
		}
		for id, w := range want {
			u, ok := units[id]
			if !ok {
				t.Errorf("unit %s missing", w.name)
				continue
			}
			if u.Name != w.name || u.Path != w.path || u.Merged != w.merged {
				t.Errorf("unit %s: name %q path %q merged %q, want %q %q %q", w.name, u.Name, u.Path, u.Merged, w.name, w.path, w.merged)
			}
			if !reflect.DeepEqual(u.ParentUnitID, w.parent) {
				t.Errorf("unit %s: parent %v, want %v", w.name, deref(u.ParentUnitID), deref(w.parent))
			}
			if u.Invited != w.invited || u.Respondents != w.n || u.OwnRespondents != w.own {
				t.Errorf("unit %s: invited %d respondents %d own %d, want %d %d %d", w.name, u.Invited, u.Respondents,
					u.OwnRespondents, w.invited, w.n, w.own)
			}
			if u.Published != w.published {
				t.Errorf("unit %s: published %v, want %v", w.name, u.Published, w.published)
			}
			if u.ShowInvited != (u.Invited >= k) {
				t.Errorf("unit %s: ShowInvited %v with %d invited (k=%d)", w.name, u.ShowInvited, u.Invited, k)
			}
			if u.CommentsShown != w.cshow {
				t.Errorf("unit %s: CommentsShown %v, want %v", w.name, u.CommentsShown, w.cshow)
			}
		}
	})

	t.Run("published follows Suppress", func(t *testing.T) {
		var nodes []anonymity.Node
		for id, u := range units {
			var parent uint
			if u.ParentUnitID != nil {
				parent = *u.ParentUnitID
			}
			nodes = append(nodes, anonymity.Node{ID: id, Parent: parent, N: u.Respondents})
		}
		pub := anonymity.Suppress(nodes, k)
		for id, u := range units {
			if u.Published != pub[id] {
				t.Errorf("unit %s: published %v, Suppress says %v", u.Name, u.Published, pub[id])
			}
		}
	})

	t.Run("item statistics", func(t *testing.T) {
		var items []reports.ReleaseItem
		if err := o.db.Where("round_id = ?", o.round.ID).Find(&items).Error; err != nil {
			t.Fatal(err)
		}
		type stat struct{ N, Sum, SumSq, H1, H2, H3, H4, H5 int }
		// Every item of a unit has the same statistics by construction.
		want := map[uint]stat{
			// Eng 3x3, Platform 6x4, Mobile 5x5, Ops 2x1, Sales each value twice.
			o.root:     {26, 90, 360, 4, 2, 5, 8, 7},
			o.platform: {6, 24, 96, 0, 0, 0, 6, 0},
			o.sales:    {10, 30, 110, 2, 2, 2, 2, 2},
		}
		byUnit := map[uint][]reports.ReleaseItem{}
		for _, it := range items {
			byUnit[it.UnitID] = append(byUnit[it.UnitID], it)
		}
		for id := range byUnit {
			if _, ok := want[id]; !ok {
				t.Errorf("item rows for unpublished unit %s", units[id].Name)
			}
		}
		qByID := map[uint]survey.RoundQuestion{}
		for _, q := range o.qs {
			qByID[q.QuestionID] = q
		}
		for id, w := range want {
			got := byUnit[id]
			if len(got) != len(o.qs) {
				t.Errorf("unit %s: %d item rows, want %d", units[id].Name, len(got), len(o.qs))
			}
			for _, it := range got {
				s := stat{it.N, it.Sum, it.SumSq, it.H1, it.H2, it.H3, it.H4, it.H5}
				if s != w {
					t.Errorf("unit %s item %d: %+v, want %+v", units[id].Name, it.QuestionID, s, w)
				}
				q := qByID[it.QuestionID]
				if it.Position != q.Position || it.Dimension != q.Dimension || it.Facet != q.Facet || it.Text != q.Text {
					t.Errorf("unit %s item %d: position/dimension/facet/text %d %q %q %q, want %d %q %q %q", units[id].Name,
						it.QuestionID, it.Position, it.Dimension, it.Facet, it.Text, q.Position, q.Dimension, q.Facet, q.Text)
				}
			}
		}
	})

	t.Run("dimension statistics", func(t *testing.T) {
		var dims []reports.ReleaseDimension
		if err := o.db.Where("round_id = ?", o.round.ID).Find(&dims).Error; err != nil {
			t.Fatal(err)
		}
		got := map[uint]map[string]reports.ReleaseDimension{}
		for _, d := range dims {
			if got[d.UnitID] == nil {
				got[d.UnitID] = map[string]reports.ReleaseDimension{}
			}
			got[d.UnitID][d.Dimension] = d
		}
		for id := range got {
			if !units[id].Published {
				t.Errorf("dimension rows for unpublished unit %s", units[id].Name)
			}
		}
		for _, id := range []uint{o.root, o.platform, o.sales} {
			var fs []answerFunc
			for _, u := range o.subtree(id) {
				fs = append(fs, o.answers[u]...)
			}
			want := wantDims(o.qs, fs)
			if len(got[id]) != len(want) {
				t.Errorf("unit %s: %d dimension rows, want %d", units[id].Name, len(got[id]), len(want))
			}
			for dim, w := range want {
				g := got[id][dim]
				w.RoundID, w.UnitID = o.round.ID, id
				if g != w {
					t.Errorf("unit %s %s: %+v, want %+v", units[id].Name, dim, g, w)
				}
			}
		}
		// By hand for Platform: six people answering 4 to each of m items.
		for dim, g := range got[o.platform] {
			m := g.Items
			w := reports.ReleaseDimension{RoundID: o.round.ID, UnitID: o.platform, Dimension: dim, Items: m, N: 6,
				Sum: 6 * 4 * m, SumSq: 6 * 16 * m * m, Favorable: 6 * m, Answers: 6 * m}
			if g != w {
				t.Errorf("Platform %s: %+v, want %+v", dim, g, w)
			}
		}
		// By hand for the root: per item 90 = 3*3 + 6*4 + 5*5 + 2*1 + 30.
		for dim, g := range got[o.root] {
			m := g.Items
			if g.N != 26 || g.Sum != 90*m || g.Answers != 26*m || g.Favorable != 15*m {
				t.Errorf("root %s: %+v, want N 26, Sum %d, Favorable %d, Answers %d", dim, g, 90*m, 15*m, 26*m)
			}
		}
		// Items per dimension come from the round's questions.
		items := map[string]int{}
		for _, q := range o.qs {
			items[q.Dimension]++
		}
		for dim, g := range got[o.sales] {
			if g.Items != items[dim] {
				t.Errorf("Sales %s: Items %d, want %d", dim, g.Items, items[dim])
			}
		}
	})

	t.Run("comments", func(t *testing.T) {
		var cs []reports.ReleaseComment
		if err := o.db.Where("round_id = ?", o.round.ID).Find(&cs).Error; err != nil {
			t.Fatal(err)
		}
		want := map[string]string{
			cleanComment1: reports.CommentReleased, cleanComment2: reports.CommentReleased,
			heldSurname: reports.CommentHeld, heldFullName: reports.CommentHeld, heldEmail: reports.CommentHeld,
			heldPhone: reports.CommentHeld, heldPossessiv: reports.CommentHeld,
		}
		got := map[string]string{}
		for _, c := range cs {
			if c.UnitID != o.sales {
				t.Errorf("comment %q released for unit %s: only Sales has 2k own respondents", c.Text, units[c.UnitID].Name)
			}
			got[c.Text] = c.Status
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("released comments:\n got %v\nwant %v", got, want)
		}
	})

	t.Run("reader units", func(t *testing.T) {
		r := &reports.Reader{DB: o.db}
		all, err := r.Units(o.ctx, func(uint) bool { return true })
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, u := range all {
			got = append(got, fmt.Sprintf("%s/%d/%v", u.Name, u.Depth, u.Published))
		}
		want := []string{"Acme/0/true", "Eng/1/false", "Mobile/2/false", "Platform/2/true", "Ops/1/false", "Sales/1/true"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("all units %v, want %v", got, want)
		}
		scope := map[uint]bool{o.eng: true, o.tiny: true, o.mobile: true, o.platform: true}
		eng, err := r.Units(o.ctx, func(id uint) bool { return scope[id] })
		if err != nil {
			t.Fatal(err)
		}
		got = nil
		for _, u := range eng {
			got = append(got, u.Name)
		}
		if want := []string{"Eng", "Mobile", "Platform"}; !reflect.DeepEqual(got, want) {
			t.Errorf("units in Eng's scope %v, want %v", got, want)
		}
		none, err := r.Units(o.ctx, func(uint) bool { return false })
		if err != nil || len(none) != 0 {
			t.Errorf("units with no scope: %v, %v", none, err)
		}
	})

	t.Run("reader report", func(t *testing.T) {
		r := &reports.Reader{DB: o.db}
		sales, err := r.Report(o.ctx, o.sales)
		if err != nil {
			t.Fatal(err)
		}
		if sales.K != k || sales.Latest == nil || len(sales.Trend) != 1 || !sales.Trend[0].Published {
			t.Fatalf("Sales report: K %d, latest %v, trend %+v", sales.K, sales.Latest, sales.Trend)
		}
		for _, dim := range survey.Dimensions() {
			sc, ok := sales.Latest.Scores[dim]
			if !ok {
				t.Errorf("Sales: no %s score", dim)
				continue
			}
			if sc.N != 10 || math.Abs(sc.Mean-3) > 1e-12 {
				t.Errorf("Sales %s: n %d mean %v, want 10 and 3", dim, sc.N, sc.Mean)
			}
		}
		if len(sales.Items) != len(o.qs) {
			t.Errorf("Sales: %d items, want %d", len(sales.Items), len(o.qs))
		}
		for _, it := range sales.Items {
			if it.N != 10 || it.Hist != [5]int{2, 2, 2, 2, 2} || it.Mean != 3 || it.Pct != [5]float64{20, 20, 20, 20, 20} {
				t.Errorf("Sales item %d: %+v", it.QuestionID, it)
			}
		}
		if !sales.ShowInvited || sales.Invited != 10 || sales.Respondents != 10 {
			t.Errorf("Sales participation: show %v, %d of %d", sales.ShowInvited, sales.Respondents, sales.Invited)
		}
		gotC := append([]string(nil), sales.Comments...)
		sort.Strings(gotC)
		wantC := []string{cleanComment2, cleanComment1}
		sort.Strings(wantC)
		if !sales.CommentsShown || !reflect.DeepEqual(gotC, wantC) {
			t.Errorf("Sales comments (shown %v): %q, want %q", sales.CommentsShown, gotC, wantC)
		}
		if sales.Parent == nil || sales.Parent.Unit.ID != o.root || sales.Org == nil || sales.Org.Unit.ID != o.root {
			t.Errorf("Sales: parent %+v, org %+v, want the root", sales.Parent, sales.Org)
		}
		if len(sales.Children) != 0 {
			t.Errorf("Sales: children %+v", sales.Children)
		}

		eng, err := r.Report(o.ctx, o.eng)
		if err != nil {
			t.Fatal(err)
		}
		if eng.Latest != nil || len(eng.Items) != 0 || len(eng.Comments) != 0 || eng.CommentsShown || eng.ShowInvited {
			t.Errorf("hidden Eng report shows results: latest %v, %d items, comments %q, invited shown %v",
				eng.Latest, len(eng.Items), eng.Comments, eng.ShowInvited)
		}
		if len(eng.Trend) != 1 || eng.Trend[0].Published || len(eng.Trend[0].Scores) != 0 {
			t.Errorf("hidden Eng trend: %+v", eng.Trend)
		}
		children := map[string]bool{}
		for _, c := range eng.Children {
			children[c.Unit.Name] = c.Published
			if !c.Published && len(c.Scores) != 0 {
				t.Errorf("hidden child %s has scores", c.Unit.Name)
			}
		}
		if !reflect.DeepEqual(children, map[string]bool{"Mobile": false, "Platform": true}) {
			t.Errorf("Eng children: %v", children)
		}

		root, err := r.Report(o.ctx, o.root)
		if err != nil {
			t.Fatal(err)
		}
		if root.Parent != nil || root.Org != nil {
			t.Errorf("root report: parent %+v, org %+v, want none", root.Parent, root.Org)
		}
		if root.Latest == nil || root.Latest.Scores[survey.DimPurpose].N != 26 {
			t.Errorf("root latest %+v", root.Latest)
		}

		for _, id := range []uint{o.tiny, 999999} {
			if _, err := r.Report(o.ctx, id); !errors.Is(err, survey.ErrNotFound) {
				t.Errorf("report of non-unit %d: %v, want ErrNotFound", id, err)
			}
		}
	})

	// Last: this subtest edits the round's snapshot to construct a unit
	// with fewer than k invitees, which the pipeline never produces.
	t.Run("ShowInvited needs k invitees", func(t *testing.T) {
		if err := o.db.Model(&survey.RoundTeam{}).Where("round_id = ? AND team_id = ?", o.round.ID, o.ops).
			Update("invited", 3).Error; err != nil {
			t.Fatal(err)
		}
		if err := o.svc.Rounds.Release(o.ctx, o.round.ID); err != nil {
			t.Fatal(err)
		}
		u := releaseUnits(t, o.env, o.round.ID)
		if u[o.ops].Invited != 3 || u[o.ops].ShowInvited {
			t.Errorf("Ops with 3 invited: %+v", u[o.ops])
		}
		if u[o.root].Invited != 29 || !u[o.root].ShowInvited {
			t.Errorf("root: %+v", u[o.root])
		}
	})
}

func TestReleaseIdempotent(t *testing.T) {
	t.Parallel()
	o := buildSmallOrg(t)
	first := snapshot(t, o.env, o.round.ID)
	if err := o.svc.Rounds.Release(o.ctx, o.round.ID); err != nil {
		t.Fatal(err)
	}
	second := snapshot(t, o.env, o.round.ID)
	if !reflect.DeepEqual(first, second) {
		t.Fatalf("second release differs:\nfirst  %+v\nsecond %+v", first, second)
	}

	mod := &reports.Moderator{DB: o.db}
	held, err := mod.Held(o.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(held) != 5 {
		t.Fatalf("%d held comments, want 5: %+v", len(held), held)
	}
	byText := map[string]string{}
	for _, h := range held {
		byText[h.Text] = h.ID
		if h.UnitName != "Sales" || h.RoundID != o.round.ID {
			t.Errorf("held comment %+v", h)
		}
	}
	if err := mod.Decide(o.ctx, byText[heldSurname], true); err != nil {
		t.Fatal(err)
	}
	if err := mod.Decide(o.ctx, byText[heldEmail], false); err != nil {
		t.Fatal(err)
	}
	if err := mod.Decide(o.ctx, byText[heldEmail], true); !errors.Is(err, survey.ErrNotFound) {
		t.Errorf("deciding a redacted comment again: %v, want ErrNotFound", err)
	}
	decided := snapshot(t, o.env, o.round.ID)
	if err := o.svc.Rounds.Release(o.ctx, o.round.ID); err != nil {
		t.Fatal(err)
	}
	again := snapshot(t, o.env, o.round.ID)
	if !reflect.DeepEqual(decided, again) {
		t.Fatalf("re-release after review changed rows:\nbefore %+v\nafter  %+v", decided, again)
	}
	status := map[string]string{}
	for _, c := range again.Comments {
		status[c.Text] = c.Status
	}
	if status[heldSurname] != reports.CommentReleased || status[heldEmail] != reports.CommentRedacted {
		t.Errorf("after re-release: %q is %s, %q is %s", heldSurname, status[heldSurname], heldEmail, status[heldEmail])
	}
	rep, err := (&reports.Reader{DB: o.db}).Report(o.ctx, o.sales)
	if err != nil {
		t.Fatal(err)
	}
	got := append([]string(nil), rep.Comments...)
	sort.Strings(got)
	want := []string{cleanComment1, cleanComment2, heldSurname}
	sort.Strings(want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Sales comments after review: %q, want %q", got, want)
	}
}

func TestReleaseRefusesOpenRound(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "Acme")
	team := e.team(e.root(), "Team")
	people := e.staff(team, "T", 5)
	r := e.launch()
	e.respond(r.ID, everyone(people, constant(4))...)
	err := (&reports.Releaser{}).ReleaseRound(e.ctx, e.db, r.ID)
	if !errors.Is(err, survey.ErrConflict) {
		t.Fatalf("release of an open round: %v, want ErrConflict", err)
	}
	var n int64
	for _, m := range []any{&reports.Release{}, &reports.ReleaseUnit{}, &reports.ReleaseItem{}, &reports.ReleaseDimension{}} {
		if err := e.db.Model(m).Where("round_id = ?", r.ID).Count(&n).Error; err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%T: %d rows for an open round", m, n)
		}
	}
	if _, err := (&reports.Reader{DB: e.db}).Report(e.ctx, team); !errors.Is(err, survey.ErrNotFound) {
		t.Errorf("report with only an open round: %v, want ErrNotFound", err)
	}
}

// TestReleaseUnknownRound: the reports package translates "no such round"
// into the domain's sentinel, as survey does (STYLE.md, Errors).
func TestReleaseUnknownRound(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "Acme")
	err := (&reports.Releaser{}).ReleaseRound(e.ctx, e.db, 4242)
	if err == nil || !errors.Is(err, survey.ErrNotFound) {
		t.Fatalf("release of an unknown round: %v, want an error wrapping survey.ErrNotFound", err)
	}
}

// patterns of ten respondents: mean 2 and mean 4, each with some spread.
var (
	lowPattern  = []int{1, 2, 2, 2, 2, 2, 2, 2, 2, 3}
	highPattern = []int{3, 4, 4, 4, 4, 4, 4, 4, 4, 5}
)

// TestReportTrendAndChanges runs five rounds for one team of ten:
// low, low (identical: no significant change), only 3 answers (gap),
// low, high (significant change).
func TestReportTrendAndChanges(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "Acme")
	root := e.root()
	team := e.team(root, "Team")
	people := e.staff(team, "T", 10)
	r := &reports.Reader{DB: e.db}
	runRound := func(pattern []int) {
		t.Helper()
		round := e.launch()
		var bs []ballot
		for i, v := range pattern {
			bs = append(bs, ballot{person: people[i], answer: constant(v)})
		}
		e.respond(round.ID, bs...)
		e.clock.Advance(7 * 24 * time.Hour)
		e.close(round.ID)
		e.clock.Advance(7 * 24 * time.Hour)
	}
	report := func(unit uint) *reports.Report {
		t.Helper()
		rep, err := r.Report(e.ctx, unit)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	change := func(rep *reports.Report, dim string) reports.Change {
		for _, c := range rep.Changes {
			if c.Dimension == dim {
				return c
			}
		}
		t.Fatalf("no change for %s in %+v", dim, rep.Changes)
		return reports.Change{}
	}

	runRound(lowPattern)
	if rep := report(team); len(rep.Changes) != 0 {
		t.Errorf("one round: changes %+v", rep.Changes)
	}
	runRound(lowPattern)
	rep := report(team)
	for _, dim := range survey.Dimensions() {
		c := change(rep, dim)
		if !c.Known || c.Significant || math.Abs(c.Delta) > 1e-12 || c.P < 0.99 {
			t.Errorf("identical rounds, %s: %+v, want known, delta 0, p 1, not significant", dim, c)
		}
	}

	runRound(lowPattern[:3]) // three answers: the team and the root are hidden
	for _, unit := range []uint{team, root} {
		rep = report(unit)
		if len(rep.Trend) != 3 || rep.Latest != nil {
			t.Fatalf("unit %d after the gap: %d trend points, latest %v", unit, len(rep.Trend), rep.Latest)
		}
		if p := rep.Trend[2]; p.Published || len(p.Scores) != 0 {
			t.Errorf("unit %d: suppressed round is not a gap: %+v", unit, p)
		}
		for _, c := range rep.Changes {
			if c.Known || c.Significant {
				t.Errorf("unit %d: change against a suppressed round: %+v", unit, c)
			}
		}
	}

	runRound(lowPattern)
	runRound(highPattern)
	rep = report(team)
	if len(rep.Trend) != 5 {
		t.Fatalf("%d trend points, want 5", len(rep.Trend))
	}
	for i, want := range []bool{true, true, false, true, true} {
		if rep.Trend[i].Published != want {
			t.Errorf("trend point %d published %v, want %v", i, rep.Trend[i].Published, want)
		}
	}
	for i := 1; i < len(rep.Trend); i++ {
		if !rep.Trend[i].Round.ClosedAt.After(rep.Trend[i-1].Round.ClosedAt) {
			t.Errorf("trend not in closing order: %v", rep.Trend)
		}
	}
	for _, dim := range survey.Dimensions() {
		c := change(rep, dim)
		if !c.Known || !c.Significant || math.Abs(c.Delta-2) > 1e-9 || c.P >= reports.Alpha {
			t.Errorf("low then high, %s: %+v, want a significant change of +2", dim, c)
		}
		if s := rep.Latest.Scores[dim]; math.Abs(s.Mean-4) > 1e-9 || s.N != 10 {
			t.Errorf("latest %s: %+v", dim, s)
		}
	}
	// The trend charts draw suppressed rounds as gaps.
	panels, err := reports.TrendPanels(rep.Trend, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	js := ""
	for _, p := range panels {
		js += p.JSON
	}
	if want := `"-"`; !containsN(js, want, 4*3) {
		t.Errorf("trend chart: want at least %d gap values %s: %s", 4*3, want, js)
	}
}

func containsN(s, sub string, n int) bool {
	c := 0
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			c++
		}
	}
	return c >= n
}

// TestUnitsTreeOrder: Reader.Units promises tree order (children right
// after their parent). Sorting by path puts "Eng Ops" ("Eng" + ' ') and
// "Eng-Ops" between "Eng" and "Eng/Platform", since ' ' and '-' sort
// before '/'.
func TestUnitsTreeOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "Acme")
	root := e.root()
	eng := e.team(root, "Eng")
	plat := e.team(eng, "Platform")
	engOps := e.team(root, "Eng-Ops")
	e.staff(eng, "E", 5)
	e.staff(plat, "P", 5)
	e.staff(engOps, "O", 5)
	round := e.launch()
	e.close(round.ID)
	units, err := (&reports.Reader{DB: e.db}).Units(e.ctx, func(uint) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range units {
		got = append(got, fmt.Sprintf("%s@%d", u.Name, u.Depth))
	}
	want := []string{"Acme@0", "Eng@1", "Platform@2", "Eng-Ops@1"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("units %v, want tree order %v", got, want)
	}
}

func deref(p *uint) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestNeedsReview(t *testing.T) {
	t.Parallel()
	// As rosterNames builds them: lower-cased full names and surnames.
	names := []string{"maria kowalski", "kowalski", "tom okafor", "okafor", "jürgen müller", "müller", "sean o'neil", "o'neil"}
	for _, tc := range []struct {
		text string
		want bool
	}{
		{"Great quarter, thanks all.", false},
		{"", false},
		{"Kowalski", true},
		{"ask kowalski about it", true},
		{"Ask KOWALSKI about it", true},
		{"Maria Kowalski runs great meetings", true},
		{"(Kowalski) said so.", true},
		{"Kowalski's idea", true},
		{"talk to Okafor.", true},
		{"the kowalskis are loud", false},
		{"superokafor", false},
		{"Okafor2 is a server name", false},
		{"Herr Müller sagt", true},
		{"HERR MÜLLER SAGT", true},
		{"Müllers Idee", false},
		{"Sean O'Neil again", true},
		{"Maria alone is a first name", false},
		{"mail helpdesk@acme.example", true},
		{"Mail A.B@Example.ORG now", true},
		{"an @ sign alone", false},
		{"call +49 30 1234 5678", true},
		{"call 030 12345678", true},
		{"call (030) 123-4567", true},
		{"call 555-1234", true},
		{"call 030/1234567", true},
		{"room 101", false},
		{"3 of 5 agree", false},
	} {
		if got := reports.NeedsReview(tc.text, names); got != tc.want {
			t.Errorf("NeedsReview(%q) = %v, want %v", tc.text, got, tc.want)
		}
	}
}
