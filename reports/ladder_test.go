package reports_test

import (
	"fmt"
	"testing"

	"github.com/pulse-survey/pulse/reports"
	"github.com/pulse-survey/pulse/survey"
)

// pma builds scores from purpose, mastery and autonomy means (engagement 4).
func pma(p, m, a float64) map[string]reports.Score {
	return map[string]reports.Score{
		survey.DimPurpose:    {Dimension: survey.DimPurpose, Mean: p},
		survey.DimMastery:    {Dimension: survey.DimMastery, Mean: m},
		survey.DimAutonomy:   {Dimension: survey.DimAutonomy, Mean: a},
		survey.DimEngagement: {Dimension: survey.DimEngagement, Mean: 4},
	}
}

func without(s map[string]reports.Score, dim string) map[string]reports.Score {
	delete(s, dim)
	return s
}

func TestLadder(t *testing.T) {
	t.Parallel()
	if reports.LadderStrong != 3.8 || reports.LadderWeak != 3.3 || reports.LadderGap != 0.4 {
		t.Fatalf("thresholds %v %v %v, want 3.8 3.3 0.4", reports.LadderStrong, reports.LadderWeak, reports.LadderGap)
	}
	for _, tc := range []struct {
		name   string
		scores map[string]reports.Score
		want   string
	}{
		// Incomplete: a step was not asked.
		{"nil map", nil, "incomplete"},
		{"empty map", map[string]reports.Score{}, "incomplete"},
		{"no purpose", without(pma(4, 4, 4), survey.DimPurpose), "incomplete"},
		{"no mastery", without(pma(4, 4, 4), survey.DimMastery), "incomplete"},
		{"no autonomy", without(pma(4, 4, 4), survey.DimAutonomy), "incomplete"},
		{"no engagement is complete", without(pma(4, 4, 4), survey.DimEngagement), "all-strong"},
		{"incomplete wins over low purpose", without(pma(1, 4, 4), survey.DimAutonomy), "incomplete"},

		// 1. Purpose below 3.3 comes first, whatever else holds.
		{"purpose 3.29", pma(3.29, 3.5, 3.5), "purpose-first"},
		{"purpose 1 with ready-for-autonomy shape", pma(1, 5, 1), "purpose-first"},
		{"purpose 3.2 with autonomy outrunning", pma(3.2, 3, 4), "purpose-first"},
		{"purpose 3.2 with low mastery", pma(3.2, 2, 2), "purpose-first"},
		{"purpose exactly 3.3 is not weak", pma(3.3, 3.5, 3.5), "balanced"},

		// 2. Mastery at least 3.8 and autonomy at least 0.4 below it.
		{"mastery 3.8, autonomy 3.4 (both boundaries)", pma(4, 3.8, 3.4), "ready-for-autonomy"},
		{"mastery 3.79, autonomy 3.0", pma(4, 3.79, 3.0), "balanced"},
		{"mastery 3.8, autonomy 3.41", pma(4, 3.8, 3.41), "balanced"},
		{"mastery 4.5, autonomy 4.1 beats all-strong", pma(4.5, 4.5, 4.1), "ready-for-autonomy"},
		{"mastery 5, autonomy 1", pma(4, 5, 1), "ready-for-autonomy"},
		// Gaps of exactly 0.4 between means a team of ten can have
		// (41/10 and 37/10): float subtraction must not move the boundary.
		{"mastery 4.1, autonomy 3.7 (gap exactly 0.4)", pma(4, 41.0/10, 37.0/10), "ready-for-autonomy"},
		{"mastery 4.6, autonomy 4.2 (gap exactly 0.4)", pma(4, 46.0/10, 42.0/10), "ready-for-autonomy"},
		{"mastery 4.8, autonomy 4.4 (gap exactly 0.4)", pma(4, 48.0/10, 44.0/10), "ready-for-autonomy"},

		// 3. Autonomy at least 0.4 above mastery.
		{"mastery 3.0, autonomy 3.4 (gap exactly 0.4)", pma(4, 3.0, 3.4), "autonomy-outruns-mastery"},
		{"mastery 3.0, autonomy 3.39", pma(4, 3.0, 3.39), "build-mastery"},
		{"mastery 3.5, autonomy 3.89", pma(4, 3.5, 3.89), "balanced"},
		{"outrunning wins over low mastery", pma(4, 2.5, 3.0), "autonomy-outruns-mastery"},
		{"mastery 3.7, autonomy 4.1 (gap exactly 0.4)", pma(4, 37.0/10, 41.0/10), "autonomy-outruns-mastery"},
		{"mastery 4.2, autonomy 4.6 (gap exactly 0.4)", pma(4, 42.0/10, 46.0/10), "autonomy-outruns-mastery"},
		{"mastery 4.4, autonomy 4.8 (gap exactly 0.4)", pma(4, 44.0/10, 48.0/10), "autonomy-outruns-mastery"},

		// 4. Mastery below 3.3.
		{"mastery 3.29", pma(4, 3.29, 3.5), "build-mastery"},
		{"mastery exactly 3.3", pma(4, 3.3, 3.5), "balanced"},
		{"mastery 2, autonomy 2", pma(4, 2, 2), "build-mastery"},

		// 5. All three at least 3.8.
		{"all exactly 3.8", pma(3.8, 3.8, 3.8), "all-strong"},
		{"all 5", pma(5, 5, 5), "all-strong"},
		{"purpose 3.79", pma(3.79, 3.8, 3.8), "balanced"},
		{"autonomy 3.79", pma(3.8, 3.8, 3.79), "balanced"},
		{"mastery 3.79", pma(3.8, 3.79, 3.8), "balanced"},
		{"engagement does not count", map[string]reports.Score{
			survey.DimPurpose: {Mean: 4}, survey.DimMastery: {Mean: 4}, survey.DimAutonomy: {Mean: 4}, survey.DimEngagement: {Mean: 1},
		}, "all-strong"},

		// 6. Otherwise balanced.
		{"middling", pma(3.5, 3.5, 3.5), "balanced"},
		{"mastery 3.8, autonomy 3.5", pma(3.5, 3.8, 3.5), "balanced"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := reports.Ladder(tc.scores)
			if got.Key != tc.want {
				t.Errorf("Ladder(%s) = %q, want %q", describe(tc.scores), got.Key, tc.want)
			}
			if got.Text == "" {
				t.Errorf("Ladder(%s): empty text", describe(tc.scores))
			}
		})
	}
}

// TestLadderTexts: each rule has its own text.
func TestLadderTexts(t *testing.T) {
	t.Parallel()
	texts := map[string]string{}
	for _, s := range []map[string]reports.Score{nil, pma(2, 4, 4), pma(4, 4.5, 3), pma(4, 3, 4), pma(4, 3, 3.2), pma(4, 4, 4), pma(3.5, 3.5, 3.5)} {
		r := reports.Ladder(s)
		if prev, ok := texts[r.Key]; ok && prev != r.Text {
			t.Errorf("key %s has two texts", r.Key)
		}
		texts[r.Key] = r.Text
	}
	if len(texts) != 7 {
		t.Errorf("%d distinct readings, want 7: %v", len(texts), texts)
	}
	seen := map[string]string{}
	for k, v := range texts {
		if o, dup := seen[v]; dup {
			t.Errorf("keys %s and %s share a text", o, k)
		}
		seen[v] = k
	}
}

func describe(s map[string]reports.Score) string {
	out := ""
	for _, d := range survey.Dimensions() {
		if sc, ok := s[d]; ok {
			out += fmt.Sprintf("%s=%v ", d[:1], sc.Mean)
		}
	}
	return out
}
