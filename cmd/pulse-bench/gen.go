package main

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pulse-survey/pulse/survey"
)

// benchK is the minimum group size of the generated program.
const benchK = 5

// managers sit directly in every managing node (root, divisions,
// departments), so each of those is a token unit of its own.
const managers = 5

// node is a team of the generated organisation.
type node struct {
	id     int64
	parent int // index into org.nodes, -1 for the root
	name   string
	path   string // names below the root joined with "/", as releases store it
	direct int    // people directly in the team
	bias   float64
}

// genOrg is the generated organisation: root, divisions, departments of
// about 20 teams each, and teams of about 20 people.
type genOrg struct {
	nodes      []node // pre-order: parents before children
	leaderDept int    // index of the department the 20-team leader runs
	people     int
}

func buildOrg(sc Scale, rootID int64, seed uint64) *genOrg {
	r := rand.New(rand.NewPCG(seed, 1))
	nDept := max(1, int(math.Round(float64(sc.Teams)/21)))
	nDiv := max(1, (nDept+24)/25)
	nLeaf := max(nDept, sc.Teams-1-nDiv-nDept)
	leafPeople := sc.People - managers*(1+nDiv+nDept)
	if leafPeople < nLeaf*benchK {
		leafPeople = nLeaf * benchK
	}
	o := &genOrg{}
	id := rootID
	add := func(parent int, name string, direct int) int {
		path := name
		if parent < 0 {
			path = ""
		} else if pp := o.nodes[parent].path; pp != "" {
			path = pp + "/" + name
		}
		o.nodes = append(o.nodes, node{id: id, parent: parent, name: name, path: path, direct: direct, bias: r.NormFloat64() * 0.35})
		o.people += direct
		id++
		return len(o.nodes) - 1
	}
	add(-1, "Bench Corp", managers)
	leaf := 0
	for d := 0; d < nDiv; d++ {
		div := add(0, fmt.Sprintf("Division %02d", d+1), managers)
		for p := d; p < nDept; p += nDiv {
			dept := add(div, fmt.Sprintf("Department %03d", p+1), managers)
			if p == 0 {
				o.leaderDept = dept
			}
			// Departments get the leaves l with l % nDept == p.
			for l := p; l < nLeaf; l += nDept {
				n := leafPeople / nLeaf
				if l < leafPeople%nLeaf {
					n++
				}
				add(dept, fmt.Sprintf("Team %04d", l+1), n)
				leaf++
			}
		}
	}
	return o
}

// copyRows streams rows into a table with COPY.
func copyRows(ctx context.Context, pool *pgxpool.Pool, table string, cols []string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	_, err := pool.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromRows(rows))
	if err != nil {
		return fmt.Errorf("copy %s: %w", table, err)
	}
	return nil
}

// genInfo is what generation leaves for the measurements.
type genInfo struct {
	org       *genOrg
	programID uint
	rootID    uint
	deptID    uint
	rounds    int
	rows      int64
}

// generate sets up the organisation through the services (settings,
// question bank, program, accounts) and bulk-loads teams, people and the
// history with COPY.
func generate(ctx context.Context, svc *survey.Services, pool *pgxpool.Pool, sc Scale, now time.Time) (*genInfo, error) {
	if _, err := svc.Org.Init(ctx, survey.SettingsInput{Name: "Bench Corp", TimeZone: "UTC", MinGroupSize: benchK}); err != nil {
		return nil, err
	}
	tree, err := svc.Org.Tree(ctx)
	if err != nil {
		return nil, err
	}
	rootID := int64(tree.Root.ID)
	if err := svc.Programs.SyncBuiltinQuestions(ctx); err != nil {
		return nil, err
	}
	qs, err := svc.Programs.Questions(ctx)
	if err != nil {
		return nil, err
	}
	ids := make([]uint, len(qs))
	for i, q := range qs {
		ids[i] = q.ID
	}
	prog, err := svc.Programs.CreateProgram(ctx, survey.ProgramInput{Name: "Weekly pulse", Cadence: survey.CadenceWeekly,
		Weekday: time.Monday, TimeOfDay: "09:00", OpenDays: 5, ItemsPerRound: 10, MinGroupSize: benchK, QuestionIDs: ids})
	if err != nil {
		return nil, err
	}
	o := buildOrg(sc, rootID, 2026)
	info := &genInfo{org: o, programID: prog.ID, rootID: uint(rootID), deptID: uint(o.nodes[o.leaderDept].id), rounds: sc.Rounds}

	// Teams and people.
	var teamRows, peopleRows [][]any
	pid := int64(1)
	for i, n := range o.nodes {
		if i > 0 {
			teamRows = append(teamRows, []any{n.id, o.nodes[n.parent].id, n.name, now, now})
		}
		for j := 0; j < n.direct; j++ {
			peopleRows = append(peopleRows, []any{pid, fmt.Sprintf("p%07d@bench.example", pid), fmt.Sprintf("Person %07d", pid), n.id, true, now, now})
			pid++
		}
	}
	if err := copyRows(ctx, pool, "teams", []string{"id", "parent_id", "name", "created_at", "updated_at"}, teamRows); err != nil {
		return nil, err
	}
	if err := copyRows(ctx, pool, "people", []string{"id", "email", "name", "team_id", "active", "created_at", "updated_at"}, peopleRows); err != nil {
		return nil, err
	}
	info.rows += int64(len(teamRows) + len(peopleRows))

	// History rounds: ids are taken from the sequence so they follow any
	// existing rows; the measured round comes after them.
	var first int64
	if err := pool.QueryRow(ctx, "SELECT COALESCE(MAX(id), 0) + 1 FROM rounds").Scan(&first); err != nil {
		return nil, err
	}
	type roundPlan struct {
		id     int64
		number int
		closed time.Time
		qs     []survey.Question
	}
	plans := make([]roundPlan, sc.Rounds)
	var roundRows, rqRows, relRows [][]any
	for i := range plans {
		number := i + 1
		closed := now.Add(-time.Duration(sc.Rounds-i) * 7 * 24 * time.Hour)
		opens := closed.Add(-5 * 24 * time.Hour)
		p := roundPlan{id: first + int64(i), number: number, closed: closed, qs: pick(qs, 10, number)}
		plans[i] = p
		roundRows = append(roundRows, []any{p.id, int64(prog.ID), number, survey.RoundClosed, benchK, opens, closed, opens, closed, opens, closed})
		for pos, q := range p.qs {
			rqRows = append(rqRows, []any{p.id, int64(q.ID), pos, q.Dimension, q.Facet, q.Text, q.Core})
		}
	}
	if err := copyRows(ctx, pool, "rounds", []string{"id", "program_id", "number", "status", "min_group_size", "opens_at", "closes_at",
		"launched_at", "closed_at", "created_at", "updated_at"}, roundRows); err != nil {
		return nil, err
	}
	if err := copyRows(ctx, pool, "round_questions", []string{"round_id", "question_id", "position", "dimension", "facet", "text", "core"}, rqRows); err != nil {
		return nil, err
	}
	for _, q := range []string{
		"SELECT setval(pg_get_serial_sequence('teams', 'id'), (SELECT MAX(id) FROM teams))",
		"SELECT setval(pg_get_serial_sequence('people', 'id'), (SELECT MAX(id) FROM people))",
		"SELECT setval(pg_get_serial_sequence('rounds', 'id'), GREATEST((SELECT MAX(id) FROM rounds), 1))",
	} {
		if _, err := pool.Exec(ctx, q); err != nil {
			return nil, err
		}
	}
	info.rows += int64(len(roundRows) + len(rqRows))

	// Per round: snapshot, release and (for the newest rounds) ballots,
	// from answers simulated here so every aggregate is consistent.
	work := make(chan int)
	var (
		mu       sync.Mutex
		firstErr error
		rows     int64
		wg       sync.WaitGroup
	)
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				p := plans[i]
				withBallots := i >= len(plans)-sc.BallotRounds
				n, rel, err := genRound(ctx, pool, o, p.id, p.qs, uint64(i)+7, withBallots)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				rows += n
				if rel != nil {
					relRows = append(relRows, []any{p.id, benchK, rel[0], rel[1], p.closed})
				}
				mu.Unlock()
			}
		}()
	}
	for i := range plans {
		if ctx.Err() != nil {
			break
		}
		work <- i
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := copyRows(ctx, pool, "releases", []string{"round_id", "min_group_size", "respondents", "invited", "created_at"}, relRows); err != nil {
		return nil, err
	}
	info.rows += rows + int64(len(relRows))
	// Bulk-loaded tables are analysed (and the roster vacuumed, for its
	// visibility map) as autovacuum would do in the background.
	for _, q := range []string{"VACUUM ANALYZE people", "VACUUM ANALYZE teams", "ANALYZE"} {
		if _, err := pool.Exec(ctx, q); err != nil {
			return nil, err
		}
	}
	return info, nil
}

// pick mirrors the rounds' question rotation: core items, then rotating
// items starting where the previous round stopped.
func pick(qs []survey.Question, perRound, number int) []survey.Question {
	var core, rot []survey.Question
	for _, q := range qs {
		if q.Core {
			core = append(core, q)
		} else {
			rot = append(rot, q)
		}
	}
	out := append([]survey.Question{}, core...)
	m := min(perRound-len(core), len(rot))
	for i := 0; i < m; i++ {
		out = append(out, rot[((number-1)*m+i)%len(rot)])
	}
	return out
}

// itemStat is an item's statistics for one unit.
type itemStat struct {
	n, sum, sumSq int
	h             [5]int
}

// dimStat is a dimension's statistics for one unit.
type dimStat struct{ n, sum, sumSq, fav, answers int }

// genRound writes one history round: round_teams, release_units,
// release_items, release_dimensions, and optionally ballots and answers.
// It returns the rows written and (respondents, invited) of the root.
func genRound(ctx context.Context, pool *pgxpool.Pool, o *genOrg, roundID int64, qs []survey.Question, seed uint64, withBallots bool) (int64, []int, error) {
	r := rand.New(rand.NewPCG(seed, uint64(roundID)))
	dims := survey.Dimensions()
	dimIdx := map[string]int{}
	for i, d := range dims {
		dimIdx[d] = i
	}
	items := make([]int, len(dims)) // items per dimension
	for _, q := range qs {
		items[dimIdx[q.Dimension]]++
	}
	nn := len(o.nodes)
	type unitAgg struct {
		own, resp, invited int
		it                 []itemStat
		dm                 []dimStat
	}
	agg := make([]unitAgg, nn)
	var ballotRows, answerRows [][]any
	roundShift := r.NormFloat64() * 0.1
	totals := make([]int, len(dims))
	favs := make([]int, len(dims))
	for i, n := range o.nodes {
		a := &agg[i]
		a.it = make([]itemStat, len(qs))
		a.dm = make([]dimStat, len(dims))
		a.invited = n.direct
		rate := 0.6 + 0.35*r.Float64()
		for j := 0; j < n.direct; j++ {
			if r.Float64() > rate {
				continue
			}
			a.own++
			var bid string
			if withBallots {
				bid = uuid.NewString()
				ballotRows = append(ballotRows, []any{bid, roundID, n.id})
			}
			for d := range totals {
				totals[d], favs[d] = 0, 0
			}
			for qi, q := range qs {
				v := int(math.Round(3.5 + n.bias + roundShift + r.NormFloat64()*0.9))
				v = min(5, max(1, v))
				s := &a.it[qi]
				s.n++
				s.sum += v
				s.sumSq += v * v
				s.h[v-1]++
				d := dimIdx[q.Dimension]
				totals[d] += v
				if v >= 4 {
					favs[d]++
				}
				if withBallots {
					answerRows = append(answerRows, []any{bid, int64(q.ID), v})
				}
			}
			for d := range dims {
				if items[d] == 0 {
					continue
				}
				ds := &a.dm[d]
				ds.n++
				ds.sum += totals[d]
				ds.sumSq += totals[d] * totals[d]
				ds.fav += favs[d]
				ds.answers += items[d]
			}
		}
		a.resp = a.own
	}
	// Subtree sums, children before parents.
	for i := nn - 1; i > 0; i-- {
		a, p := &agg[i], &agg[o.nodes[i].parent]
		p.resp += a.resp
		p.invited += a.invited
		for qi := range a.it {
			c, t := &a.it[qi], &p.it[qi]
			t.n, t.sum, t.sumSq = t.n+c.n, t.sum+c.sum, t.sumSq+c.sumSq
			for h := range t.h {
				t.h[h] += c.h[h]
			}
		}
		for d := range a.dm {
			c, t := &a.dm[d], &p.dm[d]
			t.n, t.sum, t.sumSq, t.fav, t.answers = t.n+c.n, t.sum+c.sum, t.sumSq+c.sumSq, t.fav+c.fav, t.answers+c.answers
		}
	}
	var rtRows, ruRows, riRows, rdRows [][]any
	for i, n := range o.nodes {
		a := &agg[i]
		var parent any
		if n.parent >= 0 {
			parent = o.nodes[n.parent].id
		}
		rtRows = append(rtRows, []any{roundID, n.id, parent, n.name, n.id, n.direct})
		published := a.resp >= benchK
		ruRows = append(ruRows, []any{roundID, n.id, parent, n.name, n.path, a.invited, a.resp, published,
			a.invited >= benchK, published && a.own >= 2*benchK, a.own, ""})
		if !published {
			continue
		}
		for qi, q := range qs {
			s := a.it[qi]
			riRows = append(riRows, []any{roundID, n.id, int64(q.ID), qi, q.Dimension, q.Facet, q.Text, s.n, s.sum, s.sumSq,
				s.h[0], s.h[1], s.h[2], s.h[3], s.h[4]})
		}
		for d, dim := range dims {
			if items[d] == 0 {
				continue
			}
			s := a.dm[d]
			rdRows = append(rdRows, []any{roundID, n.id, dim, items[d], s.n, s.sum, s.sumSq, s.fav, s.answers})
		}
	}
	steps := []struct {
		table string
		cols  []string
		rows  [][]any
	}{
		{"round_teams", []string{"round_id", "team_id", "parent_team_id", "name", "unit_id", "invited"}, rtRows},
		{"release_units", []string{"round_id", "unit_id", "parent_unit_id", "name", "path", "invited", "respondents", "published",
			"show_invited", "comments_shown", "own_respondents", "merged"}, ruRows},
		{"release_items", []string{"round_id", "unit_id", "question_id", "position", "dimension", "facet", "text", "n", "sum", "sum_sq",
			"h1", "h2", "h3", "h4", "h5"}, riRows},
		{"release_dimensions", []string{"round_id", "unit_id", "dimension", "items", "n", "sum", "sum_sq", "favorable", "answers"}, rdRows},
		{"ballots", []string{"id", "round_id", "unit_id"}, ballotRows},
		{"answers", []string{"ballot_id", "question_id", "value"}, answerRows},
	}
	var total int64
	for _, s := range steps {
		if err := copyRows(ctx, pool, s.table, s.cols, s.rows); err != nil {
			return total, nil, err
		}
		total += int64(len(s.rows))
	}
	return total, []int{agg[0].resp, agg[0].invited}, nil
}
