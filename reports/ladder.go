package reports

import (
	"math"

	"github.com/pulse-survey/pulse/survey"
)

// Thresholds of the ladder reading, on the 1-5 mean scale.
const (
	// LadderStrong is the mean from which a step counts as strong.
	LadderStrong = 3.8
	// LadderWeak is the mean below which a step counts as weak.
	LadderWeak = 3.3
	// LadderGap is how far autonomy and mastery must differ to matter.
	LadderGap = 0.4
)

// Reading is the plain-language "ladder" reading of a unit's latest scores:
// purpose first, then mastery, and autonomy earned on top of mastery.
type Reading struct {
	Key  string // stable identifier of the rule that fired
	Text string
}

// Ladder reads purpose, mastery and autonomy as steps. The first rule that
// matches wins:
//  1. purpose below LadderWeak: purpose first;
//  2. mastery strong and autonomy at least LadderGap below it: ready for autonomy;
//  3. autonomy at least LadderGap above mastery: check training and coaching;
//  4. mastery below LadderWeak: invest in mastery;
//  5. all three strong: keep going;
//  6. otherwise balanced.
func Ladder(s map[string]Score) Reading {
	ps, okP := s[survey.DimPurpose]
	ms, okM := s[survey.DimMastery]
	as, okA := s[survey.DimAutonomy]
	if !okP || !okM || !okA {
		return Reading{Key: "incomplete", Text: "Not every step was asked in this round, so there is no ladder reading."}
	}
	// Compare in whole hundredths, as the page shows the means, so that
	// floating-point error cannot move a boundary.
	h := func(x float64) int { return int(math.Round(x * 100)) }
	p, m, a := h(ps.Mean), h(ms.Mean), h(as.Mean)
	strong, weak, gap := h(LadderStrong), h(LadderWeak), h(LadderGap)
	switch {
	case p < weak:
		return Reading{Key: "purpose-first", Text: "Purpose is low: start with the why, how this team's work matters and fits, before pushing for more mastery or autonomy."}
	case m >= strong && a <= m-gap:
		return Reading{Key: "ready-for-autonomy", Text: "Mastery is strong and autonomy lags: this team may be ready for more autonomy."}
	case a >= m+gap:
		return Reading{Key: "autonomy-outruns-mastery", Text: "Autonomy outruns mastery: check training and coaching, so that freedom rests on competence."}
	case m < weak:
		return Reading{Key: "build-mastery", Text: "Mastery is low: invest in training, coaching and room to learn from mistakes."}
	case p >= strong && m >= strong && a >= strong:
		return Reading{Key: "all-strong", Text: "Purpose, mastery and autonomy are all strong: keep doing what works."}
	}
	return Reading{Key: "balanced", Text: "The steps are in balance: no single step stands out."}
}
