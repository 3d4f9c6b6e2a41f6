package reports

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/pulse-survey/pulse/anonymity"
	"github.com/pulse-survey/pulse/survey"
)

// Comment review states.
const (
	CommentReleased = "released"
	CommentHeld     = "held"
	CommentRedacted = "redacted"
)

// Release is the frozen result of one closed round.
type Release struct {
	RoundID      uint `gorm:"primaryKey;autoIncrement:false"`
	MinGroupSize int
	Respondents  int
	Invited      int
	CreatedAt    time.Time
}

// ReleaseUnit is one token unit of a release. Respondents and Invited count
// the unit and every unit below it. Unpublished units carry no results.
type ReleaseUnit struct {
	RoundID        uint `gorm:"primaryKey;autoIncrement:false"`
	UnitID         uint `gorm:"primaryKey;autoIncrement:false"`
	ParentUnitID   *uint
	Name           string
	Path           string
	Invited        int
	Respondents    int
	Published      bool
	ShowInvited    bool
	CommentsShown  bool
	OwnRespondents int
	// Merged names the smaller teams counted in this unit (they had fewer
	// than k invitees), separated by ", ".
	Merged string
}

// ReleaseItem holds the sufficient statistics and histogram of one item of
// a published unit.
type ReleaseItem struct {
	RoundID    uint `gorm:"primaryKey;autoIncrement:false"`
	UnitID     uint `gorm:"primaryKey;autoIncrement:false"`
	QuestionID uint `gorm:"primaryKey;autoIncrement:false"`
	Position   int
	Dimension  string
	Facet      string
	Text       string
	N          int
	Sum        int
	SumSq      int
	H1, H2, H3 int
	H4, H5     int
}

// ReleaseDimension holds, for a published unit, the statistics of
// respondents' dimension totals (the sum of their answers to the
// dimension's Items items) and the count of favourable answers (4 or 5).
type ReleaseDimension struct {
	RoundID   uint   `gorm:"primaryKey;autoIncrement:false"`
	UnitID    uint   `gorm:"primaryKey;autoIncrement:false"`
	Dimension string `gorm:"primaryKey"`
	Items     int
	N         int
	Sum       int
	SumSq     int
	Favorable int
	Answers   int
}

// Moments returns the statistics of respondents' dimension scores (1-5).
func (d ReleaseDimension) Moments() Moments {
	m := float64(d.Items)
	if m == 0 {
		return Moments{}
	}
	return Moments{N: d.N, Sum: float64(d.Sum) / m, SumSq: float64(d.SumSq) / (m * m)}
}

// ReleaseComment is a comment released with a unit whose own respondents
// number at least 2k. Held comments wait for an admin's review.
type ReleaseComment struct {
	ID string `gorm:"primaryKey"`
	RoundID,
	UnitID uint
	Text   string
	Status string
}

// Releaser computes releases. It is the survey.Releaser that closing a
// round runs (survey.RoundService.Close and Release call it).
type Releaser struct {
	// Suppress is the suppression rule; nil means the residual rule. Tests
	// swap in primary-only suppression as a positive control.
	Suppress func(nodes []anonymity.Node, k int) map[uint]bool
}

var _ survey.Releaser = (*Releaser)(nil)

// ReleaseRound computes (or recomputes) the frozen release of a closed
// round inside tx, the transaction survey opened for it. It is idempotent;
// comments already reviewed keep their review state.
func (r *Releaser) ReleaseRound(ctx context.Context, tx *gorm.DB, roundID uint) error {
	if err := r.release(tx.WithContext(ctx), roundID); err != nil {
		return fmt.Errorf("reports: release round %d: %w", roundID, err)
	}
	return nil
}

func (r *Releaser) release(tx *gorm.DB, roundID uint) error {
	suppress := r.Suppress
	if suppress == nil {
		suppress = anonymity.Suppress
	}
	var round survey.Round
	if err := tx.First(&round, roundID).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return fmt.Errorf("round %d: %w", roundID, survey.ErrNotFound)
		}
		return err
	}
	if round.Status != survey.RoundClosed {
		return fmt.Errorf("round %d is %s: results are released only after a round closes: %w", roundID, round.Status, survey.ErrConflict)
	}
	k := round.MinGroupSize
	var teams []survey.RoundTeam
	if err := tx.Where("round_id = ?", roundID).Order("team_id").Find(&teams).Error; err != nil {
		return err
	}
	units, order := unitTree(teams)
	// Own respondents per unit.
	var counts []struct {
		UnitID uint
		N      int
	}
	if err := tx.Model(&survey.Ballot{}).Select("unit_id, COUNT(*) AS n").Where("round_id = ?", roundID).
		Group("unit_id").Scan(&counts).Error; err != nil {
		return err
	}
	for _, c := range counts {
		if u := units[c.UnitID]; u != nil {
			u.OwnRespondents = c.N
		}
	}
	// Subtree sums, children before parents.
	for i := len(order) - 1; i >= 0; i-- {
		u := units[order[i]]
		u.Respondents += u.OwnRespondents
		if u.ParentUnitID != nil {
			p := units[*u.ParentUnitID]
			p.Respondents += u.Respondents
			p.Invited += u.Invited
		}
	}
	nodes := make([]anonymity.Node, 0, len(units))
	for _, id := range order {
		u := units[id]
		var parent uint
		if u.ParentUnitID != nil {
			parent = *u.ParentUnitID
		}
		nodes = append(nodes, anonymity.Node{ID: id, Parent: parent, N: u.Respondents})
	}
	pub := suppress(nodes, k)
	rel := Release{RoundID: roundID, MinGroupSize: k}
	for _, id := range order {
		u := units[id]
		u.RoundID = roundID
		u.Published = pub[id]
		u.ShowInvited = anonymity.ShowInvited(u.Invited, k)
		u.CommentsShown = anonymity.ShowComments(u.Published, u.OwnRespondents, k)
		if u.ParentUnitID == nil {
			rel.Respondents, rel.Invited = u.Respondents, u.Invited
		}
	}
	items, dims, err := aggregate(tx, roundID, units, order, pub)
	if err != nil {
		return err
	}
	for _, m := range []any{&ReleaseItem{}, &ReleaseDimension{}, &ReleaseUnit{}, &Release{}} {
		if err := tx.Where("round_id = ?", roundID).Delete(m).Error; err != nil {
			return err
		}
	}
	if err := tx.Create(&rel).Error; err != nil {
		return err
	}
	rus := make([]ReleaseUnit, 0, len(order))
	for _, id := range order {
		rus = append(rus, *units[id])
	}
	if err := tx.CreateInBatches(rus, 500).Error; err != nil {
		return err
	}
	if len(items) > 0 {
		if err := tx.CreateInBatches(items, 500).Error; err != nil {
			return err
		}
	}
	if len(dims) > 0 {
		if err := tx.CreateInBatches(dims, 500).Error; err != nil {
			return err
		}
	}
	return releaseComments(tx, roundID, units)
}

// unitTree builds the tree of token units from a round's team snapshot.
// The returned order lists parents before children.
func unitTree(teams []survey.RoundTeam) (map[uint]*ReleaseUnit, []uint) {
	byTeam := map[uint]survey.RoundTeam{}
	for _, t := range teams {
		byTeam[t.TeamID] = t
	}
	// path of a team: names below the root, joined with "/".
	var path func(id uint, depth int) string
	path = func(id uint, depth int) string {
		t := byTeam[id]
		if t.ParentTeamID == nil || depth > len(byTeam) {
			return ""
		}
		if p := path(*t.ParentTeamID, depth+1); p != "" {
			return p + "/" + t.Name
		}
		return t.Name
	}
	units := map[uint]*ReleaseUnit{}
	var merged = map[uint][]string{}
	for _, t := range teams {
		u := units[t.UnitID]
		if u == nil {
			u = &ReleaseUnit{UnitID: t.UnitID}
			units[t.UnitID] = u
		}
		u.Invited += t.Invited // own invitees; subtree sums come later
		if t.TeamID == t.UnitID {
			u.Name, u.Path = t.Name, path(t.TeamID, 0)
			if t.ParentTeamID != nil {
				if p, ok := byTeam[*t.ParentTeamID]; ok {
					pu := p.UnitID
					u.ParentUnitID = &pu
				}
			}
		} else if t.Invited > 0 {
			merged[t.UnitID] = append(merged[t.UnitID], path(t.TeamID, 0))
		}
	}
	for id, names := range merged {
		sort.Strings(names)
		units[id].Merged = strings.Join(names, ", ")
	}
	children := map[uint][]uint{}
	var roots []uint
	for id, u := range units {
		if u.ParentUnitID == nil {
			roots = append(roots, id)
		} else {
			children[*u.ParentUnitID] = append(children[*u.ParentUnitID], id)
		}
	}
	sort.Slice(roots, func(i, j int) bool { return roots[i] < roots[j] })
	var order []uint
	var walk func(id uint)
	walk = func(id uint) {
		order = append(order, id)
		cs := children[id]
		sort.Slice(cs, func(i, j int) bool { return strings.ToLower(units[cs[i]].Name) < strings.ToLower(units[cs[j]].Name) })
		for _, c := range cs {
			walk(c)
		}
	}
	for _, r := range roots {
		walk(r)
	}
	return units, order
}

// aggregate computes item and dimension statistics of published units over
// their whole subtree. Own aggregates come from SQL; subtrees are summed here.
func aggregate(tx *gorm.DB, roundID uint, units map[uint]*ReleaseUnit, order []uint, pub map[uint]bool) ([]ReleaseItem, []ReleaseDimension, error) {
	var qs []survey.RoundQuestion
	if err := tx.Where("round_id = ?", roundID).Order("position").Find(&qs).Error; err != nil {
		return nil, nil, err
	}
	var own []struct {
		UnitID, QuestionID uint
		N, Sum, SumSq      int
		H1, H2, H3, H4, H5 int
	}
	err := tx.Table("answers").
		Select("ballots.unit_id, answers.question_id, COUNT(*) AS n, SUM(answers.value) AS sum, "+
			"SUM(answers.value * answers.value) AS sum_sq, "+
			"SUM(CASE WHEN answers.value = 1 THEN 1 ELSE 0 END) AS h1, SUM(CASE WHEN answers.value = 2 THEN 1 ELSE 0 END) AS h2, "+
			"SUM(CASE WHEN answers.value = 3 THEN 1 ELSE 0 END) AS h3, SUM(CASE WHEN answers.value = 4 THEN 1 ELSE 0 END) AS h4, "+
			"SUM(CASE WHEN answers.value = 5 THEN 1 ELSE 0 END) AS h5").
		Joins("JOIN ballots ON ballots.id = answers.ballot_id").
		Where("ballots.round_id = ?", roundID).
		Group("ballots.unit_id, answers.question_id").Scan(&own).Error
	if err != nil {
		return nil, nil, err
	}
	// Dimension totals per ballot, summed per unit in SQL: one row per
	// (unit, dimension) comes back, not one per ballot.
	var perUnit []struct {
		UnitID    uint
		Dimension string
		N         int
		Sum       int
		SumSq     int
		Fav       int
		Items     int
	}
	err = tx.Raw("SELECT unit_id, dimension, COUNT(*) AS n, SUM(total) AS sum, SUM(total * total) AS sum_sq, "+
		"SUM(fav) AS fav, SUM(items) AS items FROM ("+
		"SELECT ballots.unit_id AS unit_id, round_questions.dimension AS dimension, SUM(answers.value) AS total, "+
		"SUM(CASE WHEN answers.value >= 4 THEN 1 ELSE 0 END) AS fav, COUNT(*) AS items "+
		"FROM answers JOIN ballots ON ballots.id = answers.ballot_id "+
		"JOIN round_questions ON round_questions.round_id = ballots.round_id AND round_questions.question_id = answers.question_id "+
		"WHERE ballots.round_id = ? GROUP BY ballots.id, ballots.unit_id, round_questions.dimension) per_ballot "+
		"GROUP BY unit_id, dimension", roundID).Scan(&perUnit).Error
	if err != nil {
		return nil, nil, err
	}
	type itemKey struct{ unit, q uint }
	type dimKey struct {
		unit uint
		dim  string
	}
	itemAgg := map[itemKey]*ReleaseItem{}
	dimAgg := map[dimKey]*ReleaseDimension{}
	for _, o := range own {
		itemAgg[itemKey{o.UnitID, o.QuestionID}] = &ReleaseItem{N: o.N, Sum: o.Sum, SumSq: o.SumSq, H1: o.H1, H2: o.H2, H3: o.H3, H4: o.H4, H5: o.H5}
	}
	items := map[string]int{}
	for _, q := range qs {
		items[q.Dimension]++
	}
	for _, b := range perUnit {
		key := dimKey{b.UnitID, b.Dimension}
		d := dimAgg[key]
		if d == nil {
			d = &ReleaseDimension{}
			dimAgg[key] = d
		}
		d.N += b.N
		d.Sum += b.Sum
		d.SumSq += b.SumSq
		d.Favorable += b.Fav
		d.Answers += b.Items
	}
	// Roll children into parents, deepest first.
	for i := len(order) - 1; i >= 0; i-- {
		u := units[order[i]]
		if u.ParentUnitID == nil {
			continue
		}
		p := *u.ParentUnitID
		for _, q := range qs {
			c := itemAgg[itemKey{u.UnitID, q.QuestionID}]
			if c == nil {
				continue
			}
			t := itemAgg[itemKey{p, q.QuestionID}]
			if t == nil {
				t = &ReleaseItem{}
				itemAgg[itemKey{p, q.QuestionID}] = t
			}
			t.N, t.Sum, t.SumSq = t.N+c.N, t.Sum+c.Sum, t.SumSq+c.SumSq
			t.H1, t.H2, t.H3, t.H4, t.H5 = t.H1+c.H1, t.H2+c.H2, t.H3+c.H3, t.H4+c.H4, t.H5+c.H5
		}
		for dim := range items {
			c := dimAgg[dimKey{u.UnitID, dim}]
			if c == nil {
				continue
			}
			t := dimAgg[dimKey{p, dim}]
			if t == nil {
				t = &ReleaseDimension{}
				dimAgg[dimKey{p, dim}] = t
			}
			t.N, t.Sum, t.SumSq, t.Favorable, t.Answers = t.N+c.N, t.Sum+c.Sum, t.SumSq+c.SumSq, t.Favorable+c.Favorable, t.Answers+c.Answers
		}
	}
	var outItems []ReleaseItem
	var outDims []ReleaseDimension
	for _, id := range order {
		if !pub[id] {
			continue
		}
		for _, q := range qs {
			it := itemAgg[itemKey{id, q.QuestionID}]
			if it == nil {
				continue
			}
			it.RoundID, it.UnitID, it.QuestionID = roundID, id, q.QuestionID
			it.Position, it.Dimension, it.Facet, it.Text = q.Position, q.Dimension, q.Facet, q.Text
			outItems = append(outItems, *it)
		}
		for _, dim := range survey.Dimensions() {
			d := dimAgg[dimKey{id, dim}]
			if d == nil {
				continue
			}
			d.RoundID, d.UnitID, d.Dimension, d.Items = roundID, id, dim, items[dim]
			outDims = append(outDims, *d)
		}
	}
	return outItems, outDims, nil
}

var (
	emailRe = regexp.MustCompile(`(?i)[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}`)
	phoneRe = regexp.MustCompile(`\+?\d[\d\s()./-]{6,}\d`)
)

// releaseComments copies the comments of units whose own respondents number
// at least 2k, shuffled, holding those that mention a person (roster name),
// an email address or a phone number for an admin's review. Comments of a
// round released before keep their review state.
func releaseComments(tx *gorm.DB, roundID uint, units map[uint]*ReleaseUnit) error {
	var existing int64
	if err := tx.Model(&ReleaseComment{}).Where("round_id = ?", roundID).Count(&existing).Error; err != nil {
		return err
	}
	if existing > 0 {
		// Drop comments of units that no longer qualify; keep the rest as reviewed.
		var hidden []uint
		for id, u := range units {
			if !u.CommentsShown {
				hidden = append(hidden, id)
			}
		}
		if len(hidden) == 0 {
			return nil
		}
		return tx.Where("round_id = ? AND unit_id IN ?", roundID, hidden).Delete(&ReleaseComment{}).Error
	}
	var shown []uint
	for id, u := range units {
		if u.CommentsShown {
			shown = append(shown, id)
		}
	}
	if len(shown) == 0 {
		return nil
	}
	var cs []survey.Comment
	if err := tx.Where("round_id = ? AND unit_id IN ?", roundID, shown).Find(&cs).Error; err != nil {
		return err
	}
	names, err := rosterNames(tx)
	if err != nil {
		return err
	}
	match := newNameMatcher(names)
	out := make([]ReleaseComment, 0, len(cs))
	for _, c := range cs {
		id, err := uuid.NewRandom()
		if err != nil {
			return err
		}
		status := CommentReleased
		if match.needsReview(c.Text) {
			status = CommentHeld
		}
		out = append(out, ReleaseComment{ID: id.String(), RoundID: roundID, UnitID: c.UnitID, Text: c.Text, Status: status})
	}
	// Random UUIDs as keys: reading in key order is a shuffle.
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	if len(out) == 0 {
		return nil
	}
	return tx.CreateInBatches(out, 500).Error
}

// rosterNames returns the lower-cased full names and surnames of everyone
// on the roster, for comment review.
func rosterNames(tx *gorm.DB) ([]string, error) {
	var people []survey.Person
	if err := tx.Select("name").Find(&people).Error; err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	add := func(s string) {
		s = strings.ToLower(strings.TrimSpace(s))
		if len([]rune(s)) >= 3 && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, p := range people {
		add(p.Name)
		if f := strings.Fields(p.Name); len(f) > 1 {
			add(f[len(f)-1])
		}
	}
	return out, nil
}

// NeedsReview reports whether a comment mentions an email address, a phone
// number or a roster name (whole words, any case).
func NeedsReview(text string, names []string) bool {
	if emailRe.MatchString(text) || phoneRe.MatchString(text) {
		return true
	}
	return mentionsName(" "+strings.ToLower(text)+" ", names)
}

// mentionsName reports whether lower (lower-cased, padded with a space on
// each side) contains one of names as whole words.
func mentionsName(lower string, names []string) bool {
	for _, n := range names {
		i := strings.Index(lower, n)
		for i >= 0 {
			before, after := lower[i-1], byte(' ')
			if i+len(n) < len(lower) {
				after = lower[i+len(n)]
			}
			if !isWordByte(before) && !isWordByte(after) {
				return true
			}
			j := strings.Index(lower[i+1:], n)
			if j < 0 {
				break
			}
			i += 1 + j
		}
	}
	return false
}

// nameMatcher answers NeedsReview for many comments against one roster.
// A name that starts and ends with a word byte can only match a span from
// the start of a word to the end of a word, so each such span of a comment
// is looked up in a set: the cost grows with the comment, not with the
// roster (a 100,000-person roster has some 200,000 names and surnames).
type nameMatcher struct {
	names  map[string]bool
	maxLen int
	odd    []string // names starting or ending with another byte: searched as before
}

func newNameMatcher(names []string) *nameMatcher {
	m := &nameMatcher{names: make(map[string]bool, len(names))}
	for _, n := range names {
		if n == "" {
			continue
		}
		if !isWordByte(n[0]) || !isWordByte(n[len(n)-1]) {
			m.odd = append(m.odd, n)
			continue
		}
		m.names[n] = true
		m.maxLen = max(m.maxLen, len(n))
	}
	return m
}

// needsReview is NeedsReview(text, names) for the matcher's names.
func (m *nameMatcher) needsReview(text string) bool {
	if emailRe.MatchString(text) || phoneRe.MatchString(text) {
		return true
	}
	lower := " " + strings.ToLower(text) + " "
	if mentionsName(lower, m.odd) {
		return true
	}
	var ends []int // exclusive ends of words
	for j := 1; j < len(lower); j++ {
		if isWordByte(lower[j-1]) && !isWordByte(lower[j]) {
			ends = append(ends, j)
		}
	}
	e0 := 0
	for i := 1; i < len(lower); i++ {
		if !isWordByte(lower[i]) || isWordByte(lower[i-1]) {
			continue
		}
		for e0 < len(ends) && ends[e0] <= i {
			e0++
		}
		for _, e := range ends[e0:] {
			if e-i > m.maxLen {
				break
			}
			if m.names[lower[i:e]] {
				return true
			}
		}
	}
	return false
}

func isWordByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b >= 0x80
}

// ErrNoRelease means a round has no release (it is open, or was never released).
var ErrNoRelease = errors.New("no release for this round")
