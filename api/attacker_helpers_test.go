package api_test

// Helpers of the differencing attacker (attacker_test.go): exact linear
// algebra over math/big.Rat, the simulated organisation's ground truth, and
// the extraction of every served number from the JSON, CSV and HTML reports.

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html"
	"math"
	"math/big"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/pulse-survey/pulse/survey"
)

// --- exact linear algebra ------------------------------------------------------

// atkVec is a vector of exact rationals.
type atkVec []*big.Rat

func atkZeros(n int) atkVec {
	v := make(atkVec, n)
	for i := range v {
		v[i] = new(big.Rat)
	}
	return v
}

func (v atkVec) isZero() bool {
	for _, x := range v {
		if x.Sign() != 0 {
			return false
		}
	}
	return true
}

// atkBasis is an echelon basis of a row space, built by insertion. Each
// basis row remembers the combination of input rows it came from, so a
// derivation can be shown as "+1 cell A -1 cell B".
type atkBasis struct {
	rows  []atkVec
	combo []atkVec
	piv   []int
}

// reduce subtracts basis rows from v until v has a zero in every pivot
// column; c, when not nil, follows along as the combination of input rows.
// Rows inserted later are zero in earlier pivots, so one pass in insertion
// order suffices.
func (b *atkBasis) reduce(v, c atkVec) {
	f, tmp := new(big.Rat), new(big.Rat)
	for i, r := range b.rows {
		p := b.piv[i]
		if v[p].Sign() == 0 {
			continue
		}
		f.Quo(v[p], r[p])
		for j := range v {
			if r[j].Sign() != 0 {
				v[j].Sub(v[j], tmp.Mul(f, r[j]))
			}
		}
		if c != nil {
			for j := range c {
				if b.combo[i][j].Sign() != 0 {
					c[j].Sub(c[j], tmp.Mul(f, b.combo[i][j]))
				}
			}
		}
	}
}

// add inserts an already reduced, non-zero v.
func (b *atkBasis) add(v, c atkVec) {
	for j, x := range v {
		if x.Sign() != 0 {
			b.rows, b.combo, b.piv = append(b.rows, v), append(b.combo, c), append(b.piv, j)
			return
		}
	}
}

// contains reports whether v lies in the row space.
func (b *atkBasis) contains(v atkVec) bool {
	w := atkZeros(len(v))
	for i := range v {
		w[i].Set(v[i])
	}
	b.reduce(w, nil)
	return w.isZero()
}

// atkRowBasis is the basis of the rows of a 0/1 matrix.
func atkRowBasis(m [][]int) *atkBasis {
	b := &atkBasis{}
	for _, row := range m {
		v := atkZeros(len(row))
		for j, x := range row {
			v[j].SetInt64(int64(x))
		}
		b.reduce(v, nil)
		if !v.isZero() {
			b.add(v, nil)
		}
	}
	return b
}

// atkSolve looks for a combination y of the rows of m (rows x cols, 0/1)
// such that y·m is zero outside the allowed columns and not zero inside.
// Rows that reduce to zero on the forbidden columns span the left null
// space of m restricted to them; if any combination qualifies, one of those
// basis combinations does (their images span all such combinations).
func atkSolve(m [][]int, allowed []bool) (y, w atkVec, ok bool) {
	var forbidden []int
	for j, a := range allowed {
		if !a {
			forbidden = append(forbidden, j)
		}
	}
	b := &atkBasis{}
	for i := range m {
		v := atkZeros(len(forbidden))
		for k, j := range forbidden {
			v[k].SetInt64(int64(m[i][j]))
		}
		c := atkZeros(len(m))
		c[i].SetInt64(1)
		b.reduce(v, c)
		if !v.isZero() {
			b.add(v, c)
			continue
		}
		w := atkZeros(len(allowed))
		for r := range m {
			if c[r].Sign() == 0 {
				continue
			}
			for j := range allowed {
				if m[r][j] != 0 {
					w[j].Add(w[j], new(big.Rat).Mul(c[r], big.NewRat(int64(m[r][j]), 1)))
				}
			}
		}
		if !w.isZero() {
			return c, w, true
		}
	}
	return nil, nil, false
}

// atkSmall is a derivable combination over fewer respondents than allowed.
type atkSmall struct {
	support []int  // respondent columns with a non-zero coefficient
	combo   atkVec // coefficients over the matrix rows
}

// atkSmallSupports finds every (minimal, deduplicated) non-zero vector of
// the row space of m, restricted to the columns cols, whose support has
// fewer than thr columns. Vectors of the row space are constant on "atoms"
// (columns equal in every row), so it suffices to try each set T of atoms of
// total weight below thr: the row space has a non-zero vector inside T iff
// some combination of rows vanishes outside T without vanishing inside.
// It returns the findings and how many atom sets it tried.
func atkSmallSupports(m [][]int, cols []int, thr int) ([]atkSmall, int) {
	if len(m) == 0 || thr <= 1 {
		return nil, 0
	}
	// Atoms over the chosen columns, skipping columns in no row.
	type atom struct {
		members []int
	}
	byKey := map[string]*atom{}
	var atoms []*atom
	for _, j := range cols {
		var sb strings.Builder
		inSome := false
		for i := range m {
			if m[i][j] != 0 {
				inSome = true
				sb.WriteByte('1')
			} else {
				sb.WriteByte('0')
			}
		}
		if !inSome {
			continue
		}
		a := byKey[sb.String()]
		if a == nil {
			a = &atom{}
			byKey[sb.String()] = a
			atoms = append(atoms, a)
		}
		a.members = append(a.members, j)
	}
	am := make([][]int, len(m))
	for i := range m {
		am[i] = make([]int, len(atoms))
		for a, at := range atoms {
			am[i][a] = m[i][at.members[0]]
		}
	}
	var small []int
	for a, at := range atoms {
		if len(at.members) < thr {
			small = append(small, a)
		}
	}
	seen := map[string]bool{}
	var out []atkSmall
	tried := 0
	var dfs func(start, weight int, set []int)
	dfs = func(start, weight int, set []int) {
		if len(set) > 0 {
			tried++
			allowed := make([]bool, len(atoms))
			for _, a := range set {
				allowed[a] = true
			}
			if y, w, ok := atkSolve(am, allowed); ok {
				// Show the derivation with a positive leading term.
				for _, x := range w {
					if x.Sign() < 0 {
						for _, c := range y {
							c.Neg(c)
						}
					}
					if x.Sign() != 0 {
						break
					}
				}
				var support []int
				var key []string
				for a := range atoms {
					if w[a].Sign() != 0 {
						support = append(support, atoms[a].members...)
						key = append(key, strconv.Itoa(a))
					}
				}
				sort.Ints(support)
				if k := strings.Join(key, ","); !seen[k] {
					seen[k] = true
					out = append(out, atkSmall{support: support, combo: y})
				}
			}
		}
		for i := start; i < len(small); i++ {
			a := small[i]
			if weight+len(atoms[a].members) < thr {
				dfs(i+1, weight+len(atoms[a].members), append(append([]int{}, set...), a))
			}
		}
	}
	dfs(0, 0, nil)
	return out, tried
}

// --- ground truth --------------------------------------------------------------

// atkCell is a served cell: the respondents of one round in one unit's
// subtree.
type atkCell struct {
	Round, Unit uint
}

// atkResp is one simulated respondent: the test knows who they are, the
// system does not.
type atkResp struct {
	Person  uint
	Unit    uint // token unit (from the invitation's survey view)
	Answers map[uint]int
	Comment string
}

// atkTruth is what the test knows about one closed round.
type atkTruth struct {
	ID     uint
	Label  string
	Qs     []survey.RoundQuestion
	Resp   []atkResp
	Parent map[uint]uint // unit -> parent unit; 0 for the root
	Name   map[uint]string
	Path   map[uint]string
	OwnInv map[uint]int
	Units  []uint // sorted
	Root   uint
	// TeamUnit is each team's token unit.
	TeamUnit map[uint]uint
}

// newAtkTruth builds the unit tree of a round from its team snapshot the way
// the release does (a unit's parent is the unit of its team's parent team).
func newAtkTruth(r survey.Round, qs []survey.RoundQuestion, teams []survey.RoundTeam, resp []atkResp) *atkTruth {
	t := &atkTruth{ID: r.ID, Label: r.ClosedAt.Format("2006-01-02"), Qs: qs, Resp: resp,
		Parent: map[uint]uint{}, Name: map[uint]string{}, Path: map[uint]string{}, OwnInv: map[uint]int{}, TeamUnit: map[uint]uint{}}
	byTeam := map[uint]survey.RoundTeam{}
	for _, x := range teams {
		byTeam[x.TeamID] = x
	}
	var path func(id uint) string
	path = func(id uint) string {
		x := byTeam[id]
		if x.ParentTeamID == nil {
			return ""
		}
		if p := path(*x.ParentTeamID); p != "" {
			return p + "/" + x.Name
		}
		return x.Name
	}
	for _, x := range teams {
		t.TeamUnit[x.TeamID] = x.UnitID
		t.OwnInv[x.UnitID] += x.Invited
		if x.TeamID != x.UnitID {
			continue
		}
		t.Units = append(t.Units, x.UnitID)
		t.Name[x.UnitID], t.Path[x.UnitID] = x.Name, path(x.TeamID)
		if x.ParentTeamID != nil {
			t.Parent[x.UnitID] = byTeam[*x.ParentTeamID].UnitID
		} else {
			t.Root = x.UnitID
		}
	}
	sort.Slice(t.Units, func(i, j int) bool { return t.Units[i] < t.Units[j] })
	return t
}

// within reports whether unit u is top or below it.
func (t *atkTruth) within(u, top uint) bool {
	for steps := 0; u != 0 && steps <= len(t.Units); steps++ {
		if u == top {
			return true
		}
		u = t.Parent[u]
	}
	return false
}

// members lists the indices of the respondents in unit u's subtree.
func (t *atkTruth) members(u uint) []int {
	var out []int
	for i, r := range t.Resp {
		if t.within(r.Unit, u) {
			out = append(out, i)
		}
	}
	return out
}

// own lists the indices of the respondents of token unit u itself.
func (t *atkTruth) own(u uint) []int {
	var out []int
	for i, r := range t.Resp {
		if r.Unit == u {
			out = append(out, i)
		}
	}
	return out
}

func (t *atkTruth) invited(u uint) int {
	n := 0
	for _, x := range t.Units {
		if t.within(x, u) {
			n += t.OwnInv[x]
		}
	}
	return n
}

func (t *atkTruth) hist(u, q uint) (h [5]int, n int) {
	for _, i := range t.members(u) {
		if a, ok := t.Resp[i].Answers[q]; ok {
			h[a-1]++
			n++
		}
	}
	return h, n
}

// dim returns the mean of a dimension's answers over the unit (equal to the
// mean of respondents' dimension scores when all answer every item), its
// respondents and its share of favourable answers.
func (t *atkTruth) dim(u uint, d string) (mean float64, n int, fav float64) {
	sum, cnt, good := 0, 0, 0
	for _, i := range t.members(u) {
		n++
		for _, q := range t.Qs {
			if q.Dimension != d {
				continue
			}
			a := t.Resp[i].Answers[q.QuestionID]
			sum += a
			cnt++
			if a >= 4 {
				good++
			}
		}
	}
	if cnt == 0 {
		return 0, n, 0
	}
	return float64(sum) / float64(cnt), n, float64(good) / float64(cnt)
}

func (t *atkTruth) hasDim(d string) bool {
	for _, q := range t.Qs {
		if q.Dimension == d {
			return true
		}
	}
	return false
}

// unitNamed finds a child unit of parent by name.
func (t *atkTruth) unitNamed(parent uint, name string) (uint, bool) {
	for _, u := range t.Units {
		if t.Parent[u] == parent && t.Name[u] == name {
			return u, true
		}
	}
	return 0, false
}

// label is how reports title a unit: its path, or its name for the root.
func (t *atkTruth) label(u uint) string {
	if t.Path[u] != "" {
		return t.Path[u]
	}
	return t.Name[u]
}

// --- what the attacker collected ------------------------------------------------

// atkSeen collects every served cell, checking each served number against
// the ground truth (so the equations the attacker writes down are the real
// ones).
type atkSeen struct {
	t        *testing.T
	k        int
	truth    map[uint]*atkTruth
	byLabel  map[string]uint
	cells    map[atkCell]map[string]bool
	comments map[atkCell]int // comment counts, over the unit's own respondents
	numbers  map[string]int  // extracted numbers by kind
	byRoute  map[string]int  // extracted numbers by route kind
	route    string          // route kind being extracted
	requests int
}

func newAtkSeen(t *testing.T, k int) *atkSeen {
	return &atkSeen{t: t, k: k, truth: map[uint]*atkTruth{}, byLabel: map[string]uint{}, cells: map[atkCell]map[string]bool{},
		comments: map[atkCell]int{}, numbers: map[string]int{}, byRoute: map[string]int{}}
}

func (s *atkSeen) addRound(tr *atkTruth) {
	s.truth[tr.ID] = tr
	s.byLabel[tr.Label] = tr.ID
}

func (s *atkSeen) cell(round, unit uint, src string) {
	c := atkCell{round, unit}
	if s.cells[c] == nil {
		s.cells[c] = map[string]bool{}
	}
	s.cells[c][src] = true
}

func (s *atkSeen) exact(kind, where string, got, want int) {
	s.t.Helper()
	s.numbers[kind]++
	s.byRoute[s.route]++
	if got != want {
		s.t.Errorf("%s: %s served %d, truth %d", where, kind, got, want)
	}
}

func (s *atkSeen) approx(kind, where string, got, want, tol float64) {
	s.t.Helper()
	s.numbers[kind]++
	s.byRoute[s.route]++
	if math.Abs(got-want) > tol+1e-9 {
		s.t.Errorf("%s: %s served %v, truth %v", where, kind, got, want)
	}
}

func (s *atkSeen) round(id uint, where string) *atkTruth {
	s.t.Helper()
	tr := s.truth[id]
	if tr == nil {
		s.t.Fatalf("%s: unknown round %d", where, id)
	}
	return tr
}

// --- JSON --------------------------------------------------------------------

type atkScoreJSON struct {
	N    int     `json:"n"`
	Mean float64 `json:"mean"`
	Lo   float64 `json:"ci95_low"`
	Hi   float64 `json:"ci95_high"`
	Fav  float64 `json:"favourable"`
}

type atkUnitJSON struct {
	ID   uint   `json:"id"`
	Name string `json:"name"`
	Path string `json:"path"`
}

type atkChildJSON struct {
	Unit       atkUnitJSON             `json:"unit"`
	Suppressed bool                    `json:"suppressed"`
	Scores     map[string]atkScoreJSON `json:"scores"`
}

type atkReportJSON struct {
	Unit     atkUnitJSON `json:"unit"`
	MinGroup int         `json:"min_group_size"`
	Trend    []struct {
		RoundID    uint                    `json:"round_id"`
		Closed     string                  `json:"closed"`
		Suppressed bool                    `json:"suppressed"`
		Scores     map[string]atkScoreJSON `json:"scores"`
	} `json:"trend"`
	Changes []struct {
		Dimension string  `json:"dimension"`
		Delta     float64 `json:"delta"`
		P         float64 `json:"p"`
	} `json:"changes"`
	Items []struct {
		QuestionID uint   `json:"question_id"`
		N          int    `json:"n"`
		Histogram  [5]int `json:"histogram"`
	} `json:"items"`
	Respondents *int                    `json:"respondents"`
	Invited     *int                    `json:"invited"`
	Children    []atkChildJSON          `json:"children"`
	Comments    []string                `json:"comments"`
	Parent      *atkChildJSON           `json:"parent"`
	Org         *atkChildJSON           `json:"organisation"`
	Latest      map[string]atkScoreJSON `json:"latest"`
}

// atkJSONPaths are the places a report's JSON may hold a number; any other
// number fails the test, so a new field cannot slip past the attacker.
var atkJSONPaths = atkKnownPaths()

func atkKnownPaths() map[string]bool {
	m := map[string]bool{
		"unit.id": true, "min_group_size": true, "respondents": true, "invited": true,
		"trend[].round_id": true, "changes[].delta": true, "changes[].p": true,
		"items[].question_id": true, "items[].n": true, "items[].histogram[]": true,
		"children[].unit.id": true, "parent.unit.id": true, "organisation.unit.id": true,
		"units[].id": true,
	}
	for _, pre := range []string{"trend[].scores.*", "children[].scores.*", "parent.scores.*", "organisation.scores.*", "latest.*"} {
		for _, f := range []string{"n", "mean", "ci95_low", "ci95_high", "favourable"} {
			m[pre+"."+f] = true
		}
	}
	return m
}

// atkNumberPaths lists the normalised paths of every number in a JSON value
// (array indices become [], dimension keys become *).
func atkNumberPaths(v any, path string, out map[string]int) {
	join := func(k string) string {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			key := k
			if strings.HasSuffix(path, "scores") || path == "latest" {
				key = "*"
			}
			atkNumberPaths(c, join(key), out)
		}
	case []any:
		for _, c := range x {
			atkNumberPaths(c, path+"[]", out)
		}
	case float64:
		out[path]++
	}
}

func (s *atkSeen) checkNumberPaths(where, body string) {
	s.t.Helper()
	var v any
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		s.t.Fatalf("%s: %v", where, err)
	}
	paths := map[string]int{}
	atkNumberPaths(v, "", paths)
	for p := range paths {
		if !atkJSONPaths[p] {
			s.t.Errorf("%s: serves a number at %q that the attacker does not model", where, p)
		}
	}
}

// scores checks a dimension-score map of cell (round, unit) and records it.
func (s *atkSeen) scores(round, unit uint, m map[string]atkScoreJSON, src string) {
	s.t.Helper()
	if len(m) == 0 {
		return
	}
	tr := s.round(round, src)
	where := fmt.Sprintf("%s: round %d unit %s", src, round, tr.label(unit))
	for d, sc := range m {
		mean, n, fav := tr.dim(unit, d)
		s.exact("n", where+" "+d, sc.N, n)
		s.approx("mean", where+" "+d, sc.Mean, mean, 0.0005)
		s.approx("favourable", where+" "+d, sc.Fav, fav, 0.0005)
		s.numbers["ci95"] += 2
	}
	s.cell(round, unit, src)
}

// reportJSON extracts every number of /api/v1/reports/units/:unit.
func (s *atkSeen) reportJSON(latest *atkTruth, unit uint, src, body string) *atkReportJSON {
	s.t.Helper()
	s.checkNumberPaths(src, body)
	var r atkReportJSON
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		s.t.Fatalf("%s: %v", src, err)
	}
	if r.Unit.ID != unit {
		s.t.Fatalf("%s: report of unit %d, asked for %d", src, r.Unit.ID, unit)
	}
	s.exact("k", src, r.MinGroup, s.k)
	for _, p := range r.Trend {
		if p.Suppressed && len(p.Scores) > 0 {
			s.t.Errorf("%s: suppressed round %d carries scores", src, p.RoundID)
		}
		s.scores(p.RoundID, unit, p.Scores, src+" trend")
	}
	s.scores(latest.ID, unit, r.Latest, src+" latest")
	for _, it := range r.Items {
		h, n := latest.hist(unit, it.QuestionID)
		where := fmt.Sprintf("%s: item %d of %s", src, it.QuestionID, latest.label(unit))
		s.exact("n", where, it.N, n)
		for v := range 5 {
			s.exact("histogram bin", where, it.Histogram[v], h[v])
		}
		s.cell(latest.ID, unit, src+" items")
	}
	if r.Respondents != nil {
		s.exact("respondents", src, *r.Respondents, len(latest.members(unit)))
		s.cell(latest.ID, unit, src+" respondents")
	}
	if r.Invited != nil {
		s.exact("invited", src, *r.Invited, latest.invited(unit))
	}
	for _, c := range r.Children {
		if c.Suppressed && len(c.Scores) > 0 {
			s.t.Errorf("%s: suppressed child %d carries scores", src, c.Unit.ID)
		}
		s.scores(latest.ID, c.Unit.ID, c.Scores, src+" children")
	}
	for _, c := range []*atkChildJSON{r.Parent, r.Org} {
		if c != nil {
			s.scores(latest.ID, c.Unit.ID, c.Scores, src+" parent/org")
		}
	}
	if len(r.Changes) > 0 {
		prev := s.previous(latest.ID)
		for _, c := range r.Changes {
			a, _, _ := prev.dim(unit, c.Dimension)
			b, _, _ := latest.dim(unit, c.Dimension)
			s.approx("change", src+" change "+c.Dimension, c.Delta, b-a, 0.0015)
			s.numbers["p"]++
			s.cell(prev.ID, unit, src+" change")
			s.cell(latest.ID, unit, src+" change")
		}
	}
	s.commentCount(latest, unit, r.Comments, src)
	return &r
}

// previous returns the round released before id.
func (s *atkSeen) previous(id uint) *atkTruth {
	s.t.Helper()
	var best *atkTruth
	for _, tr := range s.truth {
		if tr.ID < id && (best == nil || tr.ID > best.ID) {
			best = tr
		}
	}
	if best == nil {
		s.t.Fatalf("no round before %d", id)
	}
	return best
}

// commentCount checks the comments served for a unit: only its own
// respondents' comments, only with at least 2k own respondents. Their count
// is a served number over the unit's own respondents.
func (s *atkSeen) commentCount(latest *atkTruth, unit uint, got []string, src string) {
	s.t.Helper()
	own := latest.own(unit)
	var want []string
	for _, i := range own {
		if c := latest.Resp[i].Comment; c != "" {
			want = append(want, c)
		}
	}
	if len(got) == 0 {
		return
	}
	if len(own) < 2*s.k {
		s.t.Errorf("%s: %d comments served for a unit with %d own respondents", src, len(got), len(own))
	}
	g := append([]string{}, got...)
	sort.Strings(g)
	sort.Strings(want)
	if strings.Join(g, "|") != strings.Join(want, "|") {
		s.t.Errorf("%s: comments %q, truth %q", src, g, want)
	}
	s.numbers["comment count"]++
	s.comments[atkCell{latest.ID, unit}] = len(got)
}

// --- CSV ----------------------------------------------------------------------

func (s *atkSeen) reportCSV(latest *atkTruth, unit uint, src, body string) {
	s.t.Helper()
	r := csv.NewReader(strings.NewReader(body))
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		s.t.Fatalf("%s: %v", src, err)
	}
	want := "section,round_closed,dimension,question,n,mean,ci95_low,ci95_high,favourable,h1,h2,h3,h4,h5"
	if len(recs) == 0 || strings.Join(recs[0], ",") != want {
		s.t.Fatalf("%s: unexpected header %v", src, recs)
	}
	atoi := func(x string) int {
		n, err := strconv.Atoi(x)
		if err != nil {
			s.t.Fatalf("%s: %q is not a count", src, x)
		}
		return n
	}
	atof := func(x string) float64 {
		f, err := strconv.ParseFloat(x, 64)
		if err != nil {
			s.t.Fatalf("%s: %q is not a number", src, x)
		}
		return f
	}
	item := 0
	for _, rec := range recs[1:] {
		switch rec[0] {
		case "trend":
			id, ok := s.byLabel[rec[1]]
			if !ok {
				s.t.Fatalf("%s: trend row of unknown round %q", src, rec[1])
			}
			if len(rec) > 5 && rec[5] == "suppressed" {
				for i, x := range rec {
					if i != 0 && i != 1 && i != 5 && x != "" {
						s.t.Errorf("%s: suppressed trend row carries %q", src, x)
					}
				}
				continue
			}
			for _, x := range rec[min(9, len(rec)):] {
				if x != "" {
					s.t.Errorf("%s: trend row carries an unmodelled value %q", src, x)
				}
			}
			tr := s.truth[id]
			mean, n, fav := tr.dim(unit, rec[2])
			where := fmt.Sprintf("%s: %s %s %s", src, rec[1], tr.label(unit), rec[2])
			s.exact("n", where, atoi(rec[4]), n)
			s.approx("mean", where, atof(rec[5]), mean, 0.0005)
			s.approx("favourable", where, atof(rec[8]), fav, 0.0005)
			s.numbers["ci95"] += 2
			s.cell(id, unit, src+" trend")
		case "item":
			if item >= len(latest.Qs) {
				s.t.Fatalf("%s: more item rows than items", src)
			}
			q := latest.Qs[item]
			item++
			h, n := latest.hist(unit, q.QuestionID)
			where := fmt.Sprintf("%s: item %d of %s", src, q.QuestionID, latest.label(unit))
			s.exact("n", where, atoi(rec[4]), n)
			sum := 0
			for v := range 5 {
				s.exact("histogram bin", where, atoi(rec[9+v]), h[v])
				sum += (v + 1) * h[v]
			}
			if n > 0 {
				s.approx("mean", where, atof(rec[5]), float64(sum)/float64(n), 0.0005)
			}
			s.cell(latest.ID, unit, src+" items")
		default:
			s.t.Errorf("%s: unknown CSV section %q", src, rec[0])
		}
	}
}

// --- HTML ---------------------------------------------------------------------

var (
	atkSectionRE = regexp.MustCompile(`(?s)<section aria-labelledby="(h-[a-z]+)">(.*?)</section>`)
	atkRowRE     = regexp.MustCompile(`(?s)<tr><th scope="row">(.*?)</th>(.*?)</tr>`)
	atkTdRE      = regexp.MustCompile(`(?s)<td[^>]*>(.*?)</td>`)
	atkPartRE    = regexp.MustCompile(`Participation: (\d+) of (\d+) invited \((\d+)%\)`)
	atkItemRE    = regexp.MustCompile(`(?s)<li class="item">.*?Mean ([0-9.]+) from (\d+) answers:(.*?)</p>`)
	atkPctRE     = regexp.MustCompile(`(\d): ([0-9.]+)%`)
	atkChartRE   = regexp.MustCompile(`data-echarts-option="([^"]*)"`)
	atkDeltaRE   = regexp.MustCompile(`([+-][0-9]+\.[0-9]+) (significant|within noise)`)
)

func atkCells(row string) []string {
	var out []string
	for _, m := range atkTdRE.FindAllStringSubmatch(row, -1) {
		out = append(out, strings.TrimSpace(m[1]))
	}
	return out
}

// dimRow checks a row of per-dimension means (2 decimals, "–" for none).
func (s *atkSeen) dimRow(tr *atkTruth, unit uint, tds []string, src string) bool {
	s.t.Helper()
	if len(tds) == 1 && (strings.Contains(tds[0], "fewer than") || strings.Contains(tds[0], "not shown alone") ||
		strings.Contains(tds[0], "not surveyed")) {
		return false
	}
	dims := survey.Dimensions()
	if len(tds) != len(dims) {
		s.t.Fatalf("%s: %d cells, want %d: %q", src, len(tds), len(dims), tds)
	}
	shown := false
	for i, d := range dims {
		if tds[i] == "–" {
			continue
		}
		f, err := strconv.ParseFloat(tds[i], 64)
		if err != nil {
			s.t.Fatalf("%s: cell %q", src, tds[i])
		}
		mean, _, _ := tr.dim(unit, d)
		s.approx("mean", fmt.Sprintf("%s %s %s", src, tr.label(unit), d), f, mean, 0.005)
		shown = true
	}
	if shown {
		s.cell(tr.ID, unit, src)
	}
	return shown
}

// reportHTML extracts the numbers of /reports/:unit: participation, the
// score table, the trend table and chart, the groups below (table and
// heatmap), the items with their distributions, the comparison table and
// the comments.
func (s *atkSeen) reportHTML(latest *atkTruth, unit uint, src, body string) {
	s.t.Helper()
	sections := map[string]string{}
	for _, m := range atkSectionRE.FindAllStringSubmatch(body, -1) {
		sections[m[1]] = m[2]
	}
	label := map[string]string{}
	for _, d := range survey.Dimensions() {
		label[survey.DimensionLabel(d)] = d
	}
	sum := sections["h-summary"]
	if m := atkPartRE.FindStringSubmatch(sum); m != nil {
		x, _ := strconv.Atoi(m[1])
		y, _ := strconv.Atoi(m[2])
		s.exact("respondents", src+" participation", x, len(latest.members(unit)))
		s.exact("invited", src+" participation", y, latest.invited(unit))
		s.cell(latest.ID, unit, src+" participation")
	}
	for _, row := range atkRowRE.FindAllStringSubmatch(sum, -1) {
		d, ok := label[html.UnescapeString(row[1])]
		if !ok {
			s.t.Fatalf("%s: score row %q", src, row[1])
		}
		tds := atkCells(row[2])
		if len(tds) != 4 {
			s.t.Fatalf("%s: score row %q has %d cells, want 4", src, row[1], len(tds))
		}
		mean, _, fav := latest.dim(unit, d)
		f, err := strconv.ParseFloat(tds[0], 64)
		if err != nil {
			s.t.Fatalf("%s: mean %q", src, tds[0])
		}
		s.approx("mean", src+" "+d, f, mean, 0.005)
		s.numbers["ci95"] += 2
		p, err := strconv.ParseFloat(strings.TrimSuffix(tds[2], "%"), 64)
		if err != nil {
			s.t.Fatalf("%s: favourable %q", src, tds[2])
		}
		s.approx("favourable", src+" "+d, p, 100*fav, 0.5)
		if m := atkDeltaRE.FindStringSubmatch(tds[3]); m != nil {
			prev := s.previous(latest.ID)
			a, _, _ := prev.dim(unit, d)
			delta, _ := strconv.ParseFloat(m[1], 64)
			s.approx("change", src+" change "+d, delta, mean-a, 0.006)
			s.cell(prev.ID, unit, src+" change")
		}
		s.cell(latest.ID, unit, src+" scores")
	}
	// Trend table and chart.
	tr := sections["h-trend"]
	for _, row := range atkRowRE.FindAllStringSubmatch(tr, -1) {
		id, ok := s.byLabel[row[1]]
		if !ok {
			s.t.Fatalf("%s: trend row of unknown round %q", src, row[1])
		}
		s.dimRow(s.truth[id], unit, atkCells(row[2]), src+" trend table")
	}
	for _, m := range atkChartRE.FindAllStringSubmatch(body, -1) {
		s.chart(latest, unit, html.UnescapeString(m[1]), src)
	}
	// Groups below.
	for _, row := range atkRowRE.FindAllStringSubmatch(sections["h-heat"], -1) {
		name := html.UnescapeString(row[1])
		child, ok := latest.unitNamed(unit, name)
		if !ok {
			s.t.Fatalf("%s: heat row of unknown child %q", src, name)
		}
		s.dimRow(latest, child, atkCells(row[2]), src+" heat table")
	}
	// Items, in position order.
	items := atkItemRE.FindAllStringSubmatch(sections["h-items"], -1)
	if len(items) > 0 && len(items) != len(latest.Qs) {
		s.t.Fatalf("%s: %d items, round has %d", src, len(items), len(latest.Qs))
	}
	for i, m := range items {
		q := latest.Qs[i]
		h, n := latest.hist(unit, q.QuestionID)
		where := fmt.Sprintf("%s item %d", src, q.QuestionID)
		got, _ := strconv.Atoi(m[2])
		s.exact("n", where, got, n)
		total := 0
		for v := range 5 {
			total += (v + 1) * h[v]
		}
		mean, _ := strconv.ParseFloat(m[1], 64)
		s.approx("mean", where, mean, float64(total)/float64(n), 0.005)
		pcts := atkPctRE.FindAllStringSubmatch(m[3], -1)
		if len(pcts) != 5 {
			s.t.Fatalf("%s: distribution %q", where, m[3])
		}
		for v, p := range pcts {
			f, _ := strconv.ParseFloat(p[2], 64)
			// The percentage with n known pins the bin count exactly.
			s.approx("histogram %", where, f, math.Round(1000*float64(h[v])/float64(n))/10, 0)
		}
		s.cell(latest.ID, unit, src+" items")
	}
	// Comparison.
	for _, row := range atkRowRE.FindAllStringSubmatch(sections["h-compare"], -1) {
		name := html.UnescapeString(row[1])
		var u uint
		switch {
		case name == "This group":
			u = unit
		case name == "Whole organisation":
			u = latest.Root
		case latest.Parent[unit] != 0 && name == latest.label(latest.Parent[unit]):
			u = latest.Parent[unit]
		default:
			s.t.Fatalf("%s: comparison row %q", src, name)
		}
		s.dimRow(latest, u, atkCells(row[2]), src+" comparison")
	}
	// Comments.
	if n := strings.Count(sections["h-comments"], "<blockquote>"); n > 0 {
		var texts []string
		for _, m := range regexp.MustCompile(`<blockquote>(.*?)</blockquote>`).FindAllStringSubmatch(sections["h-comments"], -1) {
			texts = append(texts, html.UnescapeString(m[1]))
		}
		s.commentCount(latest, unit, texts, src)
	}
}

// chart extracts the trend chart (a mean per round and dimension) or the
// heatmap (a mean per child and dimension).
func (s *atkSeen) chart(latest *atkTruth, unit uint, option, src string) {
	s.t.Helper()
	var c struct {
		XAxis  json.RawMessage `json:"xAxis"`
		YAxis  json.RawMessage `json:"yAxis"`
		Series []struct {
			Name string            `json:"name"`
			Type string            `json:"type"`
			Data []json.RawMessage `json:"data"`
		} `json:"series"`
	}
	if err := json.Unmarshal([]byte(option), &c); err != nil {
		s.t.Fatalf("%s: chart option: %v", src, err)
	}
	axis := func(raw json.RawMessage) []string {
		var one struct {
			Data []string `json:"data"`
		}
		var many []struct {
			Data []string `json:"data"`
		}
		if json.Unmarshal(raw, &many) == nil && len(many) > 0 {
			return many[0].Data
		}
		if json.Unmarshal(raw, &one) == nil {
			return one.Data
		}
		return nil
	}
	value := func(raw json.RawMessage) any {
		var v struct {
			Value any `json:"value"`
		}
		if json.Unmarshal(raw, &v) == nil && v.Value != nil {
			return v.Value
		}
		var x any
		json.Unmarshal(raw, &x)
		return x
	}
	dimOf := map[string]string{}
	for _, d := range survey.Dimensions() {
		dimOf[survey.DimensionLabel(d)] = d
	}
	// A trend panel draws one dimension: its mean series is named by the
	// dimension; a series named otherwise (not a band) is the comparison
	// line of the unit's parent.
	panelDim := ""
	for _, se := range c.Series {
		if d, ok := dimOf[se.Name]; ok && se.Type == "line" {
			panelDim = d
		}
	}
	for _, se := range c.Series {
		switch se.Type {
		case "line":
			labels := axis(c.XAxis)
			d, isMean := dimOf[se.Name]
			band := strings.HasSuffix(se.Name, " 95% low") || strings.HasSuffix(se.Name, " 95% band")
			of := unit
			if !isMean && !band {
				// The comparison line: the parent's means.
				if latest.Parent[unit] == 0 || panelDim == "" {
					s.t.Fatalf("%s: trend chart series %q of unit %d has no parent to compare with", src, se.Name, unit)
				}
				of, d, isMean = latest.Parent[unit], panelDim, true
			}
			for i, raw := range se.Data {
				f, ok := value(raw).(float64)
				if !ok {
					continue
				}
				if i >= len(labels) {
					s.t.Fatalf("%s: trend chart point beyond its axis", src)
				}
				id, known := s.byLabel[labels[i]]
				if !known {
					s.t.Fatalf("%s: trend chart round %q", src, labels[i])
				}
				tr := s.truth[id]
				if isMean {
					mean, _, _ := tr.dim(of, d)
					s.approx("mean", src+" trend chart "+labels[i], f, mean, 0.005)
				} else {
					s.numbers["ci95"]++
				}
				s.cell(id, of, src+" trend chart")
			}
		case "heatmap":
			names := axis(c.YAxis)
			dims := survey.Dimensions()
			for _, raw := range se.Data {
				v, ok := value(raw).([]any)
				if !ok || len(v) != 3 {
					s.t.Fatalf("%s: heatmap point %s", src, raw)
				}
				x, y, f := int(v[0].(float64)), int(v[1].(float64)), v[2].(float64)
				child, ok := latest.unitNamed(unit, names[y])
				if !ok {
					s.t.Fatalf("%s: heatmap child %q", src, names[y])
				}
				mean, _, _ := latest.dim(child, dims[x])
				s.approx("mean", src+" heatmap "+names[y], f, mean, 0.005)
				s.cell(latest.ID, child, src+" heatmap")
			}
		default:
			s.t.Errorf("%s: chart series of type %q is not modelled", src, se.Type)
		}
	}
}
