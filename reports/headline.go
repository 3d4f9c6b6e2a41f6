package reports

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/pulse-survey/pulse/survey"
)

// Move is a significant change of one unit's dimension between the two
// latest released rounds.
type Move struct {
	Unit      UnitRef
	Dimension string
	Delta     float64 // latest mean minus previous mean
	P         float64
}

// Direction is "up" or "down".
func (m Move) Direction() string {
	if m.Delta < 0 {
		return "down"
	}
	return "up"
}

// compare is the change of one dimension between two published scores.
func compare(dim string, prev, latest Score) Change {
	c := Change{Dimension: dim}
	if w, ok := WelchTest(prev.moments, latest.moments); ok {
		c.Known, c.Delta, c.P = true, latest.Mean-prev.Mean, w.P
		c.Significant = Significant(w, Alpha)
	}
	return c
}

// Moves lists the significant changes since the previous released round in
// the unit and every unit below it that can is true for, largest first.
// Both rounds must have published the unit: a move is never computed from
// a suppressed result.
func (r *Reader) Moves(ctx context.Context, unitID uint, can func(uint) bool) ([]Move, error) {
	rounds, err := r.rounds(ctx)
	if err != nil {
		return nil, fmt.Errorf("reports: moves: %w", err)
	}
	if len(rounds) < 2 {
		return nil, nil
	}
	prev, latest := rounds[len(rounds)-2].ID, rounds[len(rounds)-1].ID
	units, err := r.releaseUnits(ctx, latest)
	if err != nil {
		return nil, err
	}
	below := map[uint]bool{unitID: true}
	var scope []UnitRef
	var ids []uint
	for _, u := range units { // tree order: parents come first
		if u.ID != unitID && (u.ParentID == nil || !below[*u.ParentID]) {
			continue
		}
		below[u.ID] = true
		if u.Published && can(u.ID) {
			scope = append(scope, u)
			ids = append(ids, u.ID)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	db := r.DB.WithContext(ctx)
	var prevUnits []ReleaseUnit
	if err := db.Where("round_id = ? AND unit_id IN ? AND published = ?", prev, ids, true).Find(&prevUnits).Error; err != nil {
		return nil, err
	}
	wasPublished := map[uint]bool{}
	for _, u := range prevUnits {
		wasPublished[u.UnitID] = true
	}
	var dims []ReleaseDimension
	if err := db.Where("round_id IN ? AND unit_id IN ?", []uint{prev, latest}, ids).Find(&dims).Error; err != nil {
		return nil, err
	}
	type key struct {
		unit uint
		dim  string
	}
	before, after := map[key]Score{}, map[key]Score{}
	for _, d := range dims {
		k := key{d.UnitID, d.Dimension}
		if d.RoundID == prev {
			before[k] = scoreOf(d)
		} else {
			after[k] = scoreOf(d)
		}
	}
	var out []Move
	for _, u := range scope {
		if !wasPublished[u.ID] {
			continue
		}
		for _, dim := range survey.Dimensions() {
			a, okA := before[key{u.ID, dim}]
			b, okB := after[key{u.ID, dim}]
			if !okA || !okB {
				continue
			}
			if c := compare(dim, a, b); c.Significant {
				out = append(out, Move{Unit: u, Dimension: dim, Delta: c.Delta, P: c.P})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return math.Abs(out[i].Delta) > math.Abs(out[j].Delta) })
	return out, nil
}

// ReadLadder is the ladder reading of a unit's latest scores that agrees
// with its significant changes: a significant fall comes first and is never
// followed by "in balance" or "all strong"; a significant rise is added.
func ReadLadder(scores map[string]Score, changes []Change) Reading {
	base := Ladder(scores)
	var falls, rises []string
	for _, c := range changes {
		if !c.Known || !c.Significant {
			continue
		}
		s := fmt.Sprintf("%s %s significantly (%+.2f)", survey.DimensionLabel(c.Dimension), map[bool]string{true: "fell", false: "rose"}[c.Delta < 0], c.Delta)
		if c.Delta < 0 {
			falls = append(falls, s)
		} else {
			rises = append(rises, s)
		}
	}
	if len(falls) > 0 {
		text := joinSentences(falls) + " since the last round: ask the team what changed."
		if base.Key != "balanced" && base.Key != "all-strong" && base.Key != "incomplete" {
			text += " " + base.Text
		}
		if len(rises) > 0 {
			text += " " + joinSentences(rises) + "."
		}
		return Reading{Key: "significant-fall", Text: text}
	}
	if len(rises) > 0 {
		return Reading{Key: base.Key, Text: base.Text + " " + joinSentences(rises) + " since the last round."}
	}
	return base
}

// joinSentences joins clauses as "a", "a and b" or "a, b and c", with the
// first letter of the result kept as written.
func joinSentences(parts []string) string {
	switch len(parts) {
	case 0:
		return ""
	case 1:
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}
