package reports_test

import (
	"strings"
	"testing"
	"time"

	"github.com/pulse-survey/pulse/reports"
	"github.com/pulse-survey/pulse/survey"
)

// TestMovesAndLadderAgree: a team whose mastery falls significantly is
// listed among the moves of every report above it, and its own reading
// starts with the fall instead of saying that the steps are in balance.
func TestMovesAndLadderAgree(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "Acme")
	root := e.root()
	alpha := e.team(root, "Alpha")
	beta := e.team(root, "Beta")
	pa := e.staff(alpha, "A", 10)
	pb := e.staff(beta, "B", 10)
	// High scores with some spread; in the second round Beta's mastery and
	// autonomy answers drop (to a mean of 3.75): the level reading alone
	// would say that the steps are in balance.
	answer := func(i int, drop bool) answerFunc {
		return func(q survey.RoundQuestion) int {
			if drop && (q.Dimension == survey.DimMastery || q.Dimension == survey.DimAutonomy) {
				return []int{4, 4, 3, 4}[i%4]
			}
			return []int{4, 5, 4, 5}[i%4]
		}
	}
	runRound := func(drop bool) {
		t.Helper()
		round := e.launch()
		var bs []ballot
		for i, p := range pa {
			bs = append(bs, ballot{person: p, answer: answer(i, false)})
		}
		for i, p := range pb {
			bs = append(bs, ballot{person: p, answer: answer(i, drop)})
		}
		e.respond(round.ID, bs...)
		e.clock.Advance(7 * 24 * time.Hour)
		e.close(round.ID)
		e.clock.Advance(7 * 24 * time.Hour)
	}
	r := &reports.Reader{DB: e.db}
	all := func(uint) bool { return true }

	runRound(false)
	if moves, err := r.Moves(e.ctx, root, all); err != nil || len(moves) != 0 {
		t.Fatalf("one round: moves %+v, %v; want none", moves, err)
	}
	runRound(true)

	moves, err := r.Moves(e.ctx, root, all)
	if err != nil {
		t.Fatal(err)
	}
	var betaFall bool
	for _, m := range moves {
		if m.Unit.ID == alpha {
			t.Errorf("Alpha did not change, but is listed: %+v", m)
		}
		if m.Unit.ID == beta && m.Dimension == survey.DimMastery && m.Delta < -0.5 && m.Direction() == "down" {
			betaFall = true
		}
	}
	if !betaFall {
		t.Errorf("the organisation's moves %+v lack Beta's fall in mastery", moves)
	}
	// A leader who sees only Alpha does not learn about Beta.
	if moves, _ := r.Moves(e.ctx, root, func(id uint) bool { return id == alpha }); len(moves) != 0 {
		t.Errorf("moves outside the leader's scope: %+v", moves)
	}

	rep, err := r.Report(e.ctx, beta)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Ladder.Key != "significant-fall" || !strings.HasPrefix(rep.Ladder.Text, "Mastery fell significantly") ||
		strings.Contains(rep.Ladder.Text, "in balance") {
		t.Errorf("Beta's reading %+v does not lead with its significant fall in mastery", rep.Ladder)
	}
	if rep.CompareName != "Acme" || len(rep.CompareTrend) != 2 || !rep.CompareTrend[1].Published {
		t.Errorf("Beta's comparison line: %q, %+v; want the organisation's two rounds", rep.CompareName, rep.CompareTrend)
	}
	if rep, _ := r.Report(e.ctx, alpha); rep.Ladder.Key == "significant-fall" {
		t.Errorf("Alpha's reading %+v speaks of a fall", rep.Ladder)
	}
}

// TestGapReasons: a round without a result says why, truthfully.
func TestGapReasons(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "Acme")
	root := e.root()
	team := e.team(root, "Team")
	people := e.staff(team, "T", 6)
	r := &reports.Reader{DB: e.db}
	round := e.launch()
	var bs []ballot
	for _, p := range people[:3] {
		bs = append(bs, ballot{person: p, answer: constant(4)})
	}
	e.respond(round.ID, bs...)
	e.clock.Advance(7 * 24 * time.Hour)
	e.close(round.ID)
	rep, err := r.Report(e.ctx, team)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Latest != nil || rep.Trend[0].Reason != "fewer than 5 responses" {
		t.Errorf("three of six answered: latest %v, reason %q; want no result, fewer than 5 responses", rep.Latest, rep.Trend[0].Reason)
	}
	panels, err := reports.TrendPanels(rep.Trend, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range panels {
		if len(p.Gaps) != 1 || p.Gaps[0].Reason != "fewer than 5 responses" || p.AxisMin != 1 || p.AxisMax != 5 {
			t.Errorf("panel %s: gaps %+v, axis %v-%v", p.Label, p.Gaps, p.AxisMin, p.AxisMax)
		}
	}
}
