package survey_test

import (
	"reflect"
	"testing"

	"github.com/pulse-survey/pulse/survey"
)

// participationOrg is Acme (5 direct) > {Apps (6), Data (7), Tiny (2)}:
// with k=5 the token units are Acme (its 5 and Tiny's 2), Apps and Data.
type participationOrg struct {
	root, apps, data, tiny uint
}

func newParticipationOrg(e *env) participationOrg {
	o := participationOrg{root: e.root()}
	o.apps = e.team(o.root, "Apps")
	o.data = e.team(o.root, "Data")
	o.tiny = e.team(o.root, "Tiny")
	e.people(o.root, "hq", 5)
	e.people(o.apps, "apps", 6)
	e.people(o.data, "data", 7)
	e.people(o.tiny, "tiny", 2)
	return o
}

// issue obtains tokens for the first n invitees of team in the round.
func (e *env) issue(roundID, team uint, n int) {
	e.t.Helper()
	for _, secret := range e.secrets(roundID) {
		if n == 0 {
			return
		}
		if e.invitation(secret).TeamID == team {
			e.token(secret)
			n--
		}
	}
	if n > 0 {
		e.t.Fatalf("team %d has too few invitees", team)
	}
}

type unitCount struct {
	Unit            uint
	Path            string
	Invited, Issued int
}

func unitCounts(p *survey.Participation) []unitCount {
	var out []unitCount
	for _, u := range p.Units {
		out = append(out, unitCount{u.UnitID, u.Path, u.Invited, u.TokensIssued})
	}
	return out
}

func TestParticipationPerUnit(t *testing.T) {
	e := newRoundEnv(t)
	o := newParticipationOrg(e)
	r := e.launch(e.program("Pulse").ID)
	e.issue(r.ID, o.apps, 4)
	e.issue(r.ID, o.tiny, 1)
	e.issue(r.ID, o.root, 2)

	parts, err := e.svc.Rounds.Participation(e.ctx, r.ID, 999999)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 1 {
		t.Fatalf("participation for %d rounds, want 1 (unknown ids are left out)", len(parts))
	}
	p := parts[r.ID]
	if p.Invited != 20 || p.TokensIssued != 7 || p.MinGroupSize != 5 || p.HiddenUnits != 0 {
		t.Fatalf("totals %+v", p)
	}
	want := []unitCount{
		{o.root, "", 7, 3}, // Acme's own 5 and Tiny's 2
		{o.apps, "Apps", 6, 4},
		{o.data, "Data", 7, 0},
	}
	if got := unitCounts(p); !reflect.DeepEqual(got, want) {
		t.Fatalf("units %+v\nwant  %+v", got, want)
	}
	if p.Units[0].Name != "Acme" {
		t.Errorf("root unit named %q", p.Units[0].Name)
	}

	// The round summary agrees on the totals.
	rs, err := e.svc.Rounds.Rounds(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rs[0].Invited != p.Invited || rs[0].TokensIssued != p.TokensIssued {
		t.Errorf("Rounds says %d/%d, Participation %d/%d", rs[0].TokensIssued, rs[0].Invited, p.TokensIssued, p.Invited)
	}

	none, err := e.svc.Rounds.Participation(e.ctx)
	if err != nil || len(none) != 0 {
		t.Fatalf("no ids: %v, %v", none, err)
	}
}

// TestParticipationHidesSmallUnits forges units below k in the invitations
// (Launch never makes one, but the rule must not depend on that) and checks
// that they are hidden, and that the smallest shown unit is hidden too when
// the hidden units together would be fewer than k (total minus the shown
// units would reveal them).
func TestParticipationHidesSmallUnits(t *testing.T) {
	e := newRoundEnv(t)
	o := newParticipationOrg(e)
	big := e.team(o.root, "Big")
	e.people(big, "big", 9)
	r := e.launch(e.program("Pulse").ID)
	e.issue(r.ID, o.data, 3)
	e.issue(r.ID, o.tiny, 2)
	// Units: Acme 7, Apps 6, Data 7, Big 9. Make Tiny its own unit of 2.
	if err := e.db.Exec("UPDATE invitations SET unit_id = ? WHERE round_id = ? AND team_id = ?", o.tiny, r.ID, o.tiny).Error; err != nil {
		t.Fatal(err)
	}
	parts, err := e.svc.Rounds.Participation(e.ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	p := parts[r.ID]
	// Tiny (2) is hidden; 2 < k, so the smallest shown unit, Acme (its own
	// 5), is hidden as well: together 7.
	want := []unitCount{{o.apps, "Apps", 6, 0}, {big, "Big", 9, 0}, {o.data, "Data", 7, 3}}
	if got := unitCounts(p); !reflect.DeepEqual(got, want) {
		t.Fatalf("units %+v\nwant  %+v", got, want)
	}
	if p.HiddenUnits != 2 || p.Invited != 29 || p.TokensIssued != 5 {
		t.Fatalf("hidden %d, totals %d/%d", p.HiddenUnits, p.TokensIssued, p.Invited)
	}
	shown := 0
	for _, u := range p.Units {
		if u.Invited < p.MinGroupSize {
			t.Errorf("unit %s shown with %d invitees", u.Path, u.Invited)
		}
		shown += u.Invited
	}
	if rest := p.Invited - shown; rest > 0 && rest < p.MinGroupSize {
		t.Errorf("the hidden units together have %d invitees: derivable from the total", rest)
	}

	// With every unit small nothing is shown, only the total.
	if err := e.db.Exec("UPDATE invitations SET unit_id = team_id + 1000 * (person_id % 7) WHERE round_id = ?", r.ID).Error; err != nil {
		t.Fatal(err)
	}
	parts, err = e.svc.Rounds.Participation(e.ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if p := parts[r.ID]; len(p.Units) != 0 || p.Invited != 29 || p.TokensIssued != 5 {
		t.Fatalf("all units small: %+v", p)
	}
}
