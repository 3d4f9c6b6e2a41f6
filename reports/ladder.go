package reports

import "github.com/pulse-survey/pulse/survey"

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
	p, okP := s[survey.DimPurpose]
	m, okM := s[survey.DimMastery]
	a, okA := s[survey.DimAutonomy]
	if !okP || !okM || !okA {
		return Reading{Key: "incomplete", Text: "Not every step was asked in this round, so there is no ladder reading."}
	}
	switch {
	case p.Mean < LadderWeak:
		return Reading{Key: "purpose-first", Text: "Purpose is low: start with the why, how this team's work matters and fits, before pushing for more mastery or autonomy."}
	case m.Mean >= LadderStrong && a.Mean <= m.Mean-LadderGap:
		return Reading{Key: "ready-for-autonomy", Text: "Mastery is strong and autonomy lags: this team may be ready for more autonomy."}
	case a.Mean >= m.Mean+LadderGap:
		return Reading{Key: "autonomy-outruns-mastery", Text: "Autonomy outruns mastery: check training and coaching, so that freedom rests on competence."}
	case m.Mean < LadderWeak:
		return Reading{Key: "build-mastery", Text: "Mastery is low: invest in training, coaching and room to learn from mistakes."}
	case p.Mean >= LadderStrong && m.Mean >= LadderStrong && a.Mean >= LadderStrong:
		return Reading{Key: "all-strong", Text: "Purpose, mastery and autonomy are all strong: keep doing what works."}
	}
	return Reading{Key: "balanced", Text: "The steps are in balance: no single step stands out."}
}
