package survey

import (
	"context"
	"sort"

	"github.com/pulse-survey/pulse/anonymity"
)

// UnitParticipation is how many invitees of one token unit obtained a
// token. A token says someone took part, never what they answered.
type UnitParticipation struct {
	UnitID       uint
	Name         string // the unit's team as it stood at launch
	Path         string // names from below the root, joined with "/"; empty for the root
	Invited      int
	TokensIssued int
}

// Participation is a round's participation as an admin may see it
// (docs/ANONYMITY.md section 4): totals, and counts per token unit only for
// units with at least k invitees.
type Participation struct {
	RoundID      uint
	MinGroupSize int
	Invited      int
	TokensIssued int
	// Units are the units shown, in path order.
	Units []UnitParticipation
	// HiddenUnits counts the units with invitees that are not shown.
	HiddenUnits int
}

// Participation returns the participation of each given round, keyed by
// round id; unknown ids are left out.
//
// A unit is shown only when it has at least k invitees (k of the round).
// The total is shown too, so the hidden units together are derivable as
// total minus the shown units: when they hold between 1 and k-1 invitees,
// the smallest shown units are hidden as well until they hold at least k
// (or nothing is shown): anonymity.VisibleParts, the reports' residual rule
// over the one-level tree of the total and its units.
func (s *RoundService) Participation(ctx context.Context, roundIDs ...uint) (map[uint]*Participation, error) {
	out := map[uint]*Participation{}
	if len(roundIDs) == 0 {
		return out, nil
	}
	db := s.db.WithContext(ctx)
	var rounds []Round
	if err := db.Select("id", "min_group_size").Where("id IN ?", roundIDs).Find(&rounds).Error; err != nil {
		return nil, dbErr("participation rounds", err)
	}
	if len(rounds) == 0 {
		return out, nil
	}
	ids := make([]uint, len(rounds))
	for i, r := range rounds {
		ids[i] = r.ID
		out[r.ID] = &Participation{RoundID: r.ID, MinGroupSize: r.MinGroupSize}
	}
	var counts []struct {
		RoundID uint
		UnitID  uint
		Invited int
		Issued  int
	}
	if err := db.Model(&Invitation{}).
		Select("round_id, unit_id, COUNT(*) AS invited, SUM(CASE WHEN token_issued THEN 1 ELSE 0 END) AS issued").
		Where("round_id IN ?", ids).Group("round_id, unit_id").Scan(&counts).Error; err != nil {
		return nil, dbErr("participation counts", err)
	}
	var teams []RoundTeam
	if err := db.Select("round_id", "team_id", "parent_team_id", "name").Where("round_id IN ?", ids).
		Find(&teams).Error; err != nil {
		return nil, dbErr("participation teams", err)
	}
	snap := map[uint]map[uint]RoundTeam{}
	for _, t := range teams {
		if snap[t.RoundID] == nil {
			snap[t.RoundID] = map[uint]RoundTeam{}
		}
		snap[t.RoundID][t.TeamID] = t
	}
	all := map[uint][]UnitParticipation{}
	for _, c := range counts {
		p := out[c.RoundID]
		p.Invited += c.Invited
		p.TokensIssued += c.Issued
		name, path := snapshotPath(snap[c.RoundID], c.UnitID)
		all[c.RoundID] = append(all[c.RoundID], UnitParticipation{UnitID: c.UnitID, Name: name, Path: path,
			Invited: c.Invited, TokensIssued: c.Issued})
	}
	for id, units := range all {
		p := out[id]
		p.Units = visibleUnits(units, p.MinGroupSize)
		p.HiddenUnits = len(units) - len(p.Units)
	}
	return out, nil
}

// visibleUnits keeps the units anonymity.VisibleParts shows, in path order.
func visibleUnits(units []UnitParticipation, k int) []UnitParticipation {
	parts := make([]anonymity.Part, len(units))
	for i, u := range units {
		parts[i] = anonymity.Part{ID: u.UnitID, N: u.Invited}
	}
	visible := anonymity.VisibleParts(parts, k)
	var shown []UnitParticipation
	for _, u := range units {
		if visible[u.UnitID] {
			shown = append(shown, u)
		}
	}
	sort.Slice(shown, func(i, j int) bool {
		if shown[i].Path != shown[j].Path {
			return shown[i].Path < shown[j].Path
		}
		return shown[i].UnitID < shown[j].UnitID
	})
	if len(shown) == 0 {
		return nil
	}
	return shown
}

// snapshotPath names a team from its round's snapshot: its name and its
// path below the root.
func snapshotPath(teams map[uint]RoundTeam, id uint) (string, string) {
	t, ok := teams[id]
	if !ok {
		return "", ""
	}
	path := ""
	seen := map[uint]bool{}
	for cur := t; cur.ParentTeamID != nil && !seen[cur.TeamID]; {
		seen[cur.TeamID] = true
		if path == "" {
			path = cur.Name
		} else {
			path = cur.Name + "/" + path
		}
		parent, ok := teams[*cur.ParentTeamID]
		if !ok {
			break
		}
		cur = parent
	}
	return t.Name, path
}
