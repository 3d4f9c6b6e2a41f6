package reports

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/pulse-survey/pulse/survey"
)

// Reader answers report questions from releases only.
type Reader struct {
	DB *gorm.DB
}

// Alpha is the significance level of change flags.
const Alpha = 0.05

// RoundRef names a released round.
type RoundRef struct {
	ID       uint
	Number   int
	ClosedAt time.Time
	Label    string // date of close, e.g. "2026-03-02"
}

// Score is a dimension's result for one unit and round.
type Score struct {
	Dimension  string
	N          int
	Mean       float64 // 1-5
	Lo, Hi     float64 // 95% confidence interval of the mean
	Favourable float64 // share of answers 4 or 5
	moments    Moments
}

// Change compares a unit's score with its previous released round.
type Change struct {
	Dimension   string
	Delta       float64
	P           float64
	Significant bool
	Known       bool // false when either round was suppressed or too small
}

// Point is one round of a trend: suppressed rounds have Published false
// and a Reason that says truthfully why, without the size it protects.
type Point struct {
	Round     RoundRef
	Published bool
	Scores    map[string]Score
	Reason    string
}

// Reasons a trend point has no result.
const (
	GapNotSurveyed = "not surveyed"
	GapFew         = "fewer than %d responses" // with k
	GapResidual    = "not shown alone, so that a smaller group cannot be worked out"
)

// gapReason says why a unit has no result in a round: absent from that
// round's release, fewer than k respondents, or hidden by the residual rule.
func gapReason(u ReleaseUnit, inRelease bool, k int) string {
	switch {
	case !inRelease:
		return GapNotSurveyed
	case u.Respondents < k:
		return fmt.Sprintf(GapFew, k)
	}
	return GapResidual
}

// ItemResult is one item of the latest round with its distribution.
type ItemResult struct {
	QuestionID uint
	Dimension  string
	Facet      string
	Text       string
	N          int
	Mean       float64
	Hist       [5]int
	Pct        [5]float64 // distribution as percentages
}

// UnitRef is a unit of the latest release.
type UnitRef struct {
	ID        uint
	Path      string
	Name      string
	Depth     int
	Published bool
	ParentID  *uint
	Merged    string // smaller teams counted in this unit

	respondents int // for the reason of a gap; never shown
}

// Report is everything a leader sees for one unit.
type Report struct {
	Unit          UnitRef
	K             int
	Rounds        []RoundRef
	Trend         []Point
	Latest        *Point
	Changes       []Change
	Ladder        Reading
	Children      []ChildScores
	Items         []ItemResult
	Invited       int
	Respondents   int
	ShowInvited   bool
	Comments      []string
	CommentsShown bool
	Parent        *ChildScores
	Org           *ChildScores
	// CompareTrend is the trend of the group above (or of the whole
	// organisation), drawn as a comparison line; CompareName names it.
	CompareTrend []Point
	CompareName  string
}

// ChildScores is a unit's latest scores, for the heatmap and comparisons.
type ChildScores struct {
	Unit      UnitRef
	Published bool
	Scores    map[string]Score
	Reason    string // why an unpublished unit has no result
}

func (r *Reader) rounds(ctx context.Context) ([]RoundRef, error) {
	var rs []survey.Round
	err := r.DB.WithContext(ctx).Joins("JOIN releases ON releases.round_id = rounds.id").
		Order("rounds.closed_at, rounds.id").Find(&rs).Error
	if err != nil {
		return nil, err
	}
	out := make([]RoundRef, len(rs))
	for i, x := range rs {
		at := x.ClosesAt
		if x.ClosedAt != nil {
			at = *x.ClosedAt
		}
		out[i] = RoundRef{ID: x.ID, Number: x.Number, ClosedAt: at, Label: at.Format("2006-01-02")}
	}
	return out, nil
}

// Units lists the units of the latest release that can is true for, in
// tree order.
func (r *Reader) Units(ctx context.Context, can func(uint) bool) ([]UnitRef, error) {
	rounds, err := r.rounds(ctx)
	if err != nil {
		return nil, fmt.Errorf("reports: units: %w", err)
	}
	if len(rounds) == 0 {
		return nil, nil
	}
	units, err := r.releaseUnits(ctx, rounds[len(rounds)-1].ID)
	if err != nil {
		return nil, err
	}
	var out []UnitRef
	for _, u := range units {
		if can(u.ID) {
			out = append(out, u)
		}
	}
	return out, nil
}

func (r *Reader) releaseUnits(ctx context.Context, roundID uint) ([]UnitRef, error) {
	var rus []ReleaseUnit
	if err := r.DB.WithContext(ctx).Where("round_id = ?", roundID).Find(&rus).Error; err != nil {
		return nil, err
	}
	_, order := unitTreeFromRelease(rus)
	byID := map[uint]ReleaseUnit{}
	for _, u := range rus {
		byID[u.UnitID] = u
	}
	depth := map[uint]int{}
	out := make([]UnitRef, 0, len(order))
	for _, id := range order {
		u := byID[id]
		d := 0
		if u.ParentUnitID != nil {
			d = depth[*u.ParentUnitID] + 1
		}
		depth[id] = d
		out = append(out, UnitRef{ID: id, Path: u.Path, Name: u.Name, Depth: d, Published: u.Published, ParentID: u.ParentUnitID, Merged: u.Merged})
	}
	return out, nil
}

// unitTreeFromRelease orders release units as a tree walk: parents first,
// children by lower-cased name.
func unitTreeFromRelease(rus []ReleaseUnit) (map[uint]ReleaseUnit, []uint) {
	m := map[uint]ReleaseUnit{}
	children := map[uint][]uint{}
	var roots []uint
	for _, u := range rus {
		m[u.UnitID] = u
	}
	for _, u := range rus {
		if u.ParentUnitID == nil || m[*u.ParentUnitID].UnitID == 0 {
			roots = append(roots, u.UnitID)
		} else {
			children[*u.ParentUnitID] = append(children[*u.ParentUnitID], u.UnitID)
		}
	}
	byName := func(ids []uint) {
		sort.Slice(ids, func(i, j int) bool {
			a, b := strings.ToLower(m[ids[i]].Name), strings.ToLower(m[ids[j]].Name)
			if a != b {
				return a < b
			}
			return ids[i] < ids[j]
		})
	}
	byName(roots)
	ids := make([]uint, 0, len(rus))
	var walk func(id uint)
	walk = func(id uint) {
		ids = append(ids, id)
		cs := children[id]
		byName(cs)
		for _, c := range cs {
			walk(c)
		}
	}
	for _, r := range roots {
		walk(r)
	}
	return m, ids
}

func scoreOf(d ReleaseDimension) Score {
	m := d.Moments()
	lo, hi := CI95(m)
	return Score{Dimension: d.Dimension, N: d.N, Mean: m.Mean(), Lo: lo, Hi: hi,
		Favourable: FavourableShare(d.Favorable, d.Answers), moments: m}
}

// ErrUnitNotReleased means the unit is not in the latest release.
var ErrUnitNotReleased = errors.New("this group has no report")

// Report builds a unit's report over all released rounds.
func (r *Reader) Report(ctx context.Context, unitID uint) (*Report, error) {
	db := r.DB.WithContext(ctx)
	rounds, err := r.rounds(ctx)
	if err != nil {
		return nil, fmt.Errorf("reports: %w", err)
	}
	if len(rounds) == 0 {
		return nil, fmt.Errorf("reports: %w", survey.ErrNotFound)
	}
	latest := rounds[len(rounds)-1]
	// Only the units the report shows: the unit, its parent, its children
	// and the organisation's root, not the whole release.
	near, err := r.nearUnits(ctx, latest.ID, unitID)
	if err != nil {
		return nil, err
	}
	rep := &Report{Rounds: rounds}
	if near == nil {
		return nil, fmt.Errorf("reports: unit %d: %w", unitID, survey.ErrNotFound)
	}
	rep.Unit = near.unit
	var rel Release
	if err := db.First(&rel, latest.ID).Error; err != nil {
		return nil, err
	}
	rep.K = rel.MinGroupSize

	var rels []Release
	if err := db.Find(&rels).Error; err != nil {
		return nil, err
	}
	kOf := map[uint]int{}
	for _, x := range rels {
		kOf[x.RoundID] = x.MinGroupSize
	}
	var published map[uint]ReleaseUnit
	if rep.Trend, published, err = r.trend(ctx, unitID, rounds, kOf); err != nil {
		return nil, err
	}
	switch {
	case near.parent != nil:
		rep.CompareName = near.parent.Path
		if rep.CompareName == "" {
			rep.CompareName = near.parent.Name
		}
		rep.CompareTrend, _, err = r.trend(ctx, near.parent.ID, rounds, kOf)
	case near.org != nil:
		rep.CompareName = near.org.Name
		rep.CompareTrend, _, err = r.trend(ctx, near.org.ID, rounds, kOf)
	}
	if err != nil {
		return nil, err
	}
	last := rep.Trend[len(rep.Trend)-1]
	if last.Published {
		rep.Latest = &last
	}
	if len(rep.Trend) >= 2 {
		prev := rep.Trend[len(rep.Trend)-2]
		for _, dim := range survey.Dimensions() {
			c := Change{Dimension: dim}
			if last.Published && prev.Published {
				a, okA := prev.Scores[dim]
				b, okB := last.Scores[dim]
				if okA && okB {
					c = compare(dim, a, b)
				}
			}
			rep.Changes = append(rep.Changes, c)
		}
	}
	if rep.Latest != nil {
		rep.Ladder = ReadLadder(rep.Latest.Scores, rep.Changes)
	}

	lu := published[latest.ID]
	rep.Invited, rep.Respondents, rep.ShowInvited = lu.Invited, lu.Respondents, lu.ShowInvited && lu.Published
	rep.CommentsShown = lu.CommentsShown

	// Children, parent and whole organisation: latest round, one query.
	shown := []uint{unitID}
	for _, u := range near.children {
		shown = append(shown, u.ID)
	}
	if near.parent != nil {
		shown = append(shown, near.parent.ID)
	}
	if near.org != nil {
		shown = append(shown, near.org.ID)
	}
	var latestDims []ReleaseDimension
	if err := db.Where("round_id = ? AND unit_id IN ?", latest.ID, shown).Find(&latestDims).Error; err != nil {
		return nil, err
	}
	latestBy := map[uint]map[string]Score{}
	for _, d := range latestDims {
		if latestBy[d.UnitID] == nil {
			latestBy[d.UnitID] = map[string]Score{}
		}
		latestBy[d.UnitID][d.Dimension] = scoreOf(d)
	}
	scoresOf := func(u UnitRef) *ChildScores {
		cs := &ChildScores{Unit: u, Published: u.Published && latestBy[u.ID] != nil, Scores: latestBy[u.ID]}
		if !cs.Published {
			cs.Reason = gapReason(ReleaseUnit{Respondents: u.respondents}, true, rep.K)
		}
		return cs
	}
	for _, u := range near.children {
		rep.Children = append(rep.Children, *scoresOf(u))
	}
	if near.parent != nil {
		rep.Parent = scoresOf(*near.parent)
	}
	if near.org != nil {
		rep.Org = scoresOf(*near.org)
	}

	if rep.Latest != nil {
		var items []ReleaseItem
		if err := db.Where("round_id = ? AND unit_id = ?", latest.ID, unitID).Order("position").Find(&items).Error; err != nil {
			return nil, err
		}
		for _, it := range items {
			ir := ItemResult{QuestionID: it.QuestionID, Dimension: it.Dimension, Facet: it.Facet, Text: it.Text, N: it.N,
				Hist: [5]int{it.H1, it.H2, it.H3, it.H4, it.H5}}
			if it.N > 0 {
				ir.Mean = float64(it.Sum) / float64(it.N)
				for i, h := range ir.Hist {
					ir.Pct[i] = math.Round(1000*float64(h)/float64(it.N)) / 10
				}
			}
			rep.Items = append(rep.Items, ir)
		}
	}
	if rep.CommentsShown {
		var cs []ReleaseComment
		if err := db.Where("round_id = ? AND unit_id = ? AND status = ?", latest.ID, unitID, CommentReleased).
			Find(&cs).Error; err != nil {
			return nil, err
		}
		for _, c := range cs {
			rep.Comments = append(rep.Comments, c.Text)
		}
		// Shown shuffled, afresh for every view.
		rand.Shuffle(len(rep.Comments), func(i, j int) { rep.Comments[i], rep.Comments[j] = rep.Comments[j], rep.Comments[i] })
	}
	return rep, nil
}

// trend is one unit's result in every released round (two queries), with
// the unit's release rows by round.
func (r *Reader) trend(ctx context.Context, unitID uint, rounds []RoundRef, kOf map[uint]int) ([]Point, map[uint]ReleaseUnit, error) {
	db := r.DB.WithContext(ctx)
	var dims []ReleaseDimension
	if err := db.Where("unit_id = ?", unitID).Find(&dims).Error; err != nil {
		return nil, nil, err
	}
	var pubs []ReleaseUnit
	if err := db.Where("unit_id = ?", unitID).Find(&pubs).Error; err != nil {
		return nil, nil, err
	}
	units := map[uint]ReleaseUnit{}
	for _, p := range pubs {
		units[p.RoundID] = p
	}
	byRound := map[uint]map[string]Score{}
	for _, d := range dims {
		if byRound[d.RoundID] == nil {
			byRound[d.RoundID] = map[string]Score{}
		}
		byRound[d.RoundID][d.Dimension] = scoreOf(d)
	}
	out := make([]Point, 0, len(rounds))
	for _, rr := range rounds {
		u, in := units[rr.ID]
		p := Point{Round: rr, Published: u.Published && byRound[rr.ID] != nil, Scores: byRound[rr.ID]}
		if !p.Published {
			p.Reason = gapReason(u, in, kOf[rr.ID])
		}
		out = append(out, p)
	}
	return out, units, nil
}

// nearby is a unit of a release with the units its report shows.
type nearby struct {
	unit     UnitRef
	parent   *UnitRef
	children []UnitRef // in tree order (by lower-cased name)
	org      *UnitRef  // the root, unless the unit is the root
}

// nearUnits loads a unit of a release with its parent, children and the
// root: a few rows by index instead of the whole release. It returns nil
// when the unit is not in the release. Depths and order are those of
// releaseUnits' tree walk.
func (r *Reader) nearUnits(ctx context.Context, roundID, unitID uint) (*nearby, error) {
	db := r.DB.WithContext(ctx)
	var rus []ReleaseUnit
	if err := db.Where("round_id = ? AND (unit_id = ? OR parent_unit_id = ? OR parent_unit_id IS NULL)", roundID, unitID, unitID).
		Find(&rus).Error; err != nil {
		return nil, err
	}
	var self *ReleaseUnit
	for i := range rus {
		if rus[i].UnitID == unitID {
			self = &rus[i]
		}
	}
	if self == nil {
		return nil, nil
	}
	ref := func(u ReleaseUnit, depth int) UnitRef {
		return UnitRef{ID: u.UnitID, Path: u.Path, Name: u.Name, Depth: depth, Published: u.Published, ParentID: u.ParentUnitID,
			Merged: u.Merged, respondents: u.Respondents}
	}
	byID := map[uint]ReleaseUnit{}
	for _, u := range rus {
		byID[u.UnitID] = u
	}
	get := func(id uint) (ReleaseUnit, bool, error) {
		if u, ok := byID[id]; ok {
			return u, true, nil
		}
		var us []ReleaseUnit
		if err := db.Where("round_id = ? AND unit_id = ?", roundID, id).Limit(1).Find(&us).Error; err != nil || len(us) == 0 {
			return ReleaseUnit{}, false, err
		}
		byID[id] = us[0]
		return us[0], true, nil
	}
	// Depth: one per ancestor; a unit whose parent is missing from the
	// release counts as one below a root, as in releaseUnits.
	depth := 0
	var parent *ReleaseUnit
	for cur, hops := *self, 0; cur.ParentUnitID != nil && hops <= len(byID)+64; hops++ {
		depth++
		p, ok, err := get(*cur.ParentUnitID)
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		if hops == 0 {
			parent = &p
		}
		cur = p
	}
	out := &nearby{unit: ref(*self, depth)}
	if parent != nil {
		pr := ref(*parent, depth-1)
		out.parent = &pr
	}
	var children, roots []ReleaseUnit
	for _, u := range rus {
		switch {
		case u.ParentUnitID != nil && *u.ParentUnitID == unitID:
			children = append(children, u)
		case u.ParentUnitID == nil && u.UnitID != unitID:
			roots = append(roots, u)
		}
	}
	byName := func(us []ReleaseUnit) {
		sort.Slice(us, func(i, j int) bool {
			a, b := strings.ToLower(us[i].Name), strings.ToLower(us[j].Name)
			if a != b {
				return a < b
			}
			return us[i].UnitID < us[j].UnitID
		})
	}
	byName(children)
	for _, c := range children {
		out.children = append(out.children, ref(c, depth+1))
	}
	if len(roots) > 0 {
		byName(roots)
		o := ref(roots[len(roots)-1], 0)
		out.org = &o
	}
	return out, nil
}
