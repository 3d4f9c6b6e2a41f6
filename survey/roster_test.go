package survey_test

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulse-survey/pulse/survey"
	"github.com/pulse-survey/pulse/survey/surveytest"
)

// rows renders parsed rows compactly for comparisons.
func rowsString(rs []survey.RosterRow) string {
	var b strings.Builder
	for _, r := range rs {
		fmt.Fprintf(&b, "%d|%s|%s|%s|%v|%s\n", r.Line, r.Email, r.Name, r.Team, r.Leader, r.ManagerEmail)
	}
	return b.String()
}

func errorsString(r *survey.Roster) string {
	var parts []string
	for _, e := range r.Errors {
		parts = append(parts, e.String())
	}
	return strings.Join(parts, "\n")
}

func TestParseRosterFormats(t *testing.T) {
	t.Parallel()
	want := "2|ada@example.com|Ada Lovelace|Engineering/Platform|true|\n" +
		"3|bob@example.com|Smith, Bob; Jr.|Engineering|false|ada@example.com\n" +
		"4|cy@example.com|Cy \"The Sky\" Young|Sales/EMEA|false|\n"
	for _, tc := range []struct {
		name, in string
		delim    rune
	}{
		{"comma", "email,name,team,leader,manager_email\n" +
			"ada@example.com,Ada Lovelace,Engineering/Platform,yes,\n" +
			"bob@example.com,\"Smith, Bob; Jr.\",Engineering,0,ada@example.com\n" +
			"cy@example.com,\"Cy \"\"The Sky\"\" Young\",Sales/EMEA,,\n", ','},
		{"semicolon BOM CRLF", "\ufeffEmail;Name;Team;Leader;Manager_Email\r\n" +
			"ada@example.com;Ada Lovelace;Engineering/Platform;TRUE;\r\n" +
			"bob@example.com;\"Smith, Bob; Jr.\";Engineering;no;ada@example.com\r\n" +
			"cy@example.com;\"Cy \"\"The Sky\"\" Young\";Sales/EMEA;;\r\n", ';'},
		{"header case, spaces and order; values trimmed", " TEAM , Manager Email,EMAIL , name ,leader\n" +
			" Engineering / Platform ,, ADA@Example.com ,  Ada Lovelace ,1\n" +
			"Engineering, ada@example.com ,bob@example.com, \"Smith, Bob; Jr.\",false\n" +
			"Sales/EMEA,,cy@example.com,\"Cy \"\"The Sky\"\" Young\",\n", ','},
		{"blank lines and trailing separator lines", "email;name;team;leader;manager_email\n\n" +
			"ada@example.com;Ada Lovelace;Engineering/Platform;yes;\n" +
			"bob@example.com;\"Smith, Bob; Jr.\";Engineering;;ada@example.com\n" +
			"cy@example.com;\"Cy \"\"The Sky\"\" Young\";Sales/EMEA;;\n;;;;\n;;\n\n", ';'},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := survey.ParseRoster([]byte(tc.in))
			if !r.Valid() {
				t.Fatalf("errors:\n%s", errorsString(r))
			}
			got := rowsString(r.Rows())
			if tc.name == "blank lines and trailing separator lines" {
				// The blank second line shifts every row by one.
				got = strings.NewReplacer("3|", "2|", "4|", "3|", "5|", "4|").Replace(got)
			}
			if got != want {
				t.Errorf("rows:\n%s\nwant:\n%s", got, want)
			}
			if r.Delimiter != tc.delim {
				t.Errorf("delimiter %q, want %q", r.Delimiter, tc.delim)
			}
		})
	}

	t.Run("a quoted line break keeps later line numbers right", func(t *testing.T) {
		r := survey.ParseRoster([]byte("email,name,team\nann@example.com,\"Ann\nB\",Ops\nbob@example.com,Bob,Ops\n"))
		if r.ErrorCount != 1 || r.Errors[0].Line != 2 || len(r.Rows()) != 1 || r.Rows()[0].Line != 4 {
			t.Fatalf("rows %s errors %s", rowsString(r.Rows()), errorsString(r))
		}
	})
	t.Run("only required columns", func(t *testing.T) {
		r := survey.ParseRoster([]byte("name,team,email\nAnn,Ops,ann@example.com"))
		if !r.Valid() || rowsString(r.Rows()) != "2|ann@example.com|Ann|Ops|false|\n" {
			t.Fatalf("rows %s errors %s", rowsString(r.Rows()), errorsString(r))
		}
	})
}

func TestParseRosterErrors(t *testing.T) {
	t.Parallel()
	const h = "email,name,team\n"
	for _, tc := range []struct {
		name, in string
		want     []string // "line N: substring", one per expected error, in order
	}{
		{"bad email", h + "ann@example.com,Ann,Ops\nnot-an-email,Bob,Ops\nc@example,Cem,Ops\n",
			[]string{`line 3: "not-an-email" is not a valid email address`, `line 4: "c@example" is not a valid email address`}},
		{"empty email", h + ",Ann,Ops\n", []string{"line 2: the email is empty"}},
		{"duplicate email, case-insensitive", h + "ann@example.com,Ann,Ops\nbob@example.com,Bob,Ops\nANN@Example.COM,Ann B,Sales\n",
			[]string{"line 4: duplicate email ann@example.com (first on line 2)"}},
		{"empty team", h + "ann@example.com,Ann,\nbob@example.com,Bob,  \n",
			[]string{"line 2: the team is empty", "line 3: the team is empty"}},
		{"empty name", h + "ann@example.com,,Ops\n", []string{"line 2: the name is empty"}},
		{"name too long", h + "ann@example.com," + strings.Repeat("n", 201) + ",Ops\n", []string{"line 2: the name is longer than 200"}},
		{"control character in name", h + "ann@example.com,\"Ann\nB\",Ops\n", []string{"line 2: the name contains a control character"}},
		{"unknown column", "email,name,team,department\nann@example.com,Ann,Ops,R&D\n", []string{`line 1: unknown column "department"`}},
		{"duplicate column", "email,name,team,Email\n", []string{`line 1: the column "email" appears twice`}},
		{"missing column", "email,name\nann@example.com,Ann\n", []string{`line 1: the header has no "team" column`}},
		{"unnamed column", "email,name,team,\nann@example.com,Ann,Ops,\n", []string{"line 1: column 4 has no name"}},
		{"field count", h + "ann@example.com,Ann,Ops\nbob@example.com,Bob\ncem@example.com,Cem,Ops,extra\n",
			[]string{"line 3: expected 3 fields (email,name,team), found 2", "line 4: expected 3 fields (email,name,team), found 4"}},
		{"empty path level", h + "ann@example.com,Ann,Eng//Platform\nbob@example.com,Bob,/Eng\ncem@example.com,Cem,Eng/\n",
			[]string{`line 2: team path "Eng//Platform" has an empty level`, `line 3: team path "/Eng" has an empty level`, `line 4: team path "Eng/" has an empty level`}},
		{"path level too long", h + "ann@example.com,Ann,Eng/" + strings.Repeat("x", 201) + "\n", []string{"line 2: team path"}},
		{"path too deep", h + "ann@example.com,Ann," + strings.Repeat("a/", survey.MaxTeamDepth) + "a\n", []string{"has more than 20 levels"}},
		{"leader value", "email,name,team,leader\nann@example.com,Ann,Ops,maybe\n", []string{`line 2: leader "maybe": use true or false`}},
		{"manager email", "email,name,team,manager_email\nann@example.com,Ann,Ops,boss\n", []string{`line 2: manager email "boss" is not a valid`}},
		{"bare quote", h + "ann@example.com,Ann \"A\" B,Ops\nbob@example.com,Bob,Ops\n", []string{"line 2: a quote (\") inside a field"}},
		{"unterminated quote", h + "ann@example.com,Ann,Ops\nbob@example.com,\"Bob,Ops\ncem@example.com,Cem,Ops\n",
			[]string{"line 3: a quoted field starts here and is not closed properly (read up to line"}},
		{"invalid UTF-8", h + "ann@example.com,Ann \xe9,Ops\n", []string{"line 2: the line is not valid UTF-8"}},
		{"empty file", "", []string{"line 1: the file is empty"}},
		{"BOM only", "\ufeff \r\n", []string{"line 1: the file is empty"}},
		{"header only", "email;name;team\r\n", []string{"line 1: the file lists no people"}},
		{"several errors on one line and many lines", h + "x,,\nann@example.com,Ann,Ops\n,Bob,A//B\n",
			[]string{`line 2: "x" is not a valid email`, "line 2: the name is empty", "line 2: the team is empty",
				"line 4: the email is empty", `line 4: team path "A//B" has an empty level`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := survey.ParseRoster([]byte(tc.in))
			if r.Valid() {
				t.Fatalf("no errors; rows:\n%s", rowsString(r.Rows()))
			}
			if r.ErrorCount != len(tc.want) || len(r.Errors) != len(tc.want) {
				t.Fatalf("%d errors (count %d), want %d:\n%s", len(r.Errors), r.ErrorCount, len(tc.want), errorsString(r))
			}
			for i, w := range tc.want {
				if got := r.Errors[i].String(); !strings.Contains(got, w) {
					t.Errorf("error %d = %q, want it to contain %q", i, got, w)
				}
			}
		})
	}

	t.Run("errors after a bad line are still found", func(t *testing.T) {
		r := survey.ParseRoster([]byte(h + "ann@example.com,\"Ann\"x,Ops\nbad,Bob,Ops\n"))
		if r.ErrorCount != 2 || r.Errors[0].Line != 2 || r.Errors[1].Line != 3 {
			t.Fatalf("errors:\n%s", errorsString(r))
		}
	})
	t.Run("capped", func(t *testing.T) {
		var b strings.Builder
		b.WriteString(h)
		for i := 0; i < 500; i++ {
			b.WriteString("bad,Name,Ops\n")
		}
		r := survey.ParseRoster([]byte(b.String()))
		if r.ErrorCount != 500 || len(r.Errors) != survey.MaxRosterErrors {
			t.Fatalf("count %d, kept %d", r.ErrorCount, len(r.Errors))
		}
		if r.Errors[survey.MaxRosterErrors-1].Line != survey.MaxRosterErrors+1 {
			t.Fatalf("last kept error %v", r.Errors[survey.MaxRosterErrors-1])
		}
	})
}

// parseValid parses a roster that must have no errors.
func parseValid(t testing.TB, csv string) *survey.Roster {
	t.Helper()
	r := survey.ParseRoster([]byte(csv))
	if !r.Valid() {
		t.Fatalf("roster errors:\n%s", errorsString(r))
	}
	return r
}

// orgSnapshot is every person and team row, timestamps included.
type orgSnapshot struct {
	People []survey.Person
	Teams  []survey.Team
}

func (e *env) snapshot() orgSnapshot {
	e.t.Helper()
	var s orgSnapshot
	if err := e.db.Order("id").Find(&s.People).Error; err != nil {
		e.t.Fatal(err)
	}
	if err := e.db.Order("id").Find(&s.Teams).Error; err != nil {
		e.t.Fatal(err)
	}
	for i := range s.People {
		s.People[i].CreatedAt, s.People[i].UpdatedAt = s.People[i].CreatedAt.UTC(), s.People[i].UpdatedAt.UTC()
	}
	for i := range s.Teams {
		s.Teams[i].CreatedAt, s.Teams[i].UpdatedAt = s.Teams[i].CreatedAt.UTC(), s.Teams[i].UpdatedAt.UTC()
		if a := s.Teams[i].ArchivedAt; a != nil {
			u := a.UTC()
			s.Teams[i].ArchivedAt = &u
		}
	}
	return s
}

func wantSameSnapshot(t *testing.T, before, after orgSnapshot) {
	t.Helper()
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("the database changed:\nbefore %+v\nafter  %+v", before, after)
	}
}

// personView is a person as the roster sees them.
type personView struct {
	Name, Team string
	Active     bool
}

// peopleByEmail maps every person to name, team path and active flag.
func (e *env) peopleByEmail() map[string]personView {
	e.t.Helper()
	tr := e.tree()
	var ps []survey.Person
	if err := e.db.Find(&ps).Error; err != nil {
		e.t.Fatal(err)
	}
	out := map[string]personView{}
	for _, p := range ps {
		out[p.Email] = personView{Name: p.Name, Team: tr.ByID[p.TeamID].Path, Active: p.Active}
	}
	return out
}

// wantUniqueActivePaths fails when two active teams share a path.
func (e *env) wantUniqueActivePaths() {
	e.t.Helper()
	seen := map[string]uint{}
	for _, n := range e.tree().Order {
		if n.ArchivedAt != nil {
			continue
		}
		k := strings.ToLower(n.Path)
		if prev, ok := seen[k]; ok {
			e.t.Fatalf("teams %d and %d both have the path %q", prev, n.ID, n.Path)
		}
		seen[k] = n.ID
	}
}

func TestRosterPlanAndApply(t *testing.T) {
	t.Parallel()
	e := newOrgEnv(t)
	root := e.root()
	eng := e.team(root, "Engineering")
	platform := e.team(eng, "Platform")
	sales := e.team(root, "Sales")
	legacy := e.team(root, "Legacy")
	if err := e.svc.Org.ArchiveTeam(e.ctx, legacy); err != nil {
		t.Fatal(err)
	}
	e.person(platform, "ann@example.com", "Ann")        // unchanged
	e.person(platform, "bob@example.com", "Bob")        // renamed
	e.person(sales, "cem@example.com", "Cem")           // moved to an existing team
	e.person(sales, "dan@example.com", "Dan")           // moved to a new team
	e.person(sales, "eve@example.com", "Eve")           // missing: deactivated
	gone := e.person(sales, "fay@example.com", "Fay")   // inactive, in the file: reactivated
	e.person(sales, "gus@example.com", "Gus")           // moved, renamed and into a reused archived team
	old := e.person(platform, "hal@example.com", "Hal") // inactive and missing: untouched
	if _, err := e.svc.Org.UpdatePerson(e.ctx, gone.ID, survey.PersonInput{Email: gone.Email, Name: gone.Name, TeamID: sales, Active: false}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Org.UpdatePerson(e.ctx, old.ID, survey.PersonInput{Email: old.Email, Name: old.Name, TeamID: platform, Active: false}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Hour)

	file := "email;name;team;leader\n" +
		"ann@example.com;Ann;engineering/PLATFORM;yes\n" + // existing team, other case
		"bob@example.com;Robert;Engineering/Platform;\n" +
		"cem@example.com;Cem;Engineering;\n" +
		"dan@example.com;Dan;Engineering/Data/ML;\n" +
		"fay@example.com;Fay;Sales;\n" +
		"gus@example.com;Gustav;Legacy/Ops;\n" +
		"ivy@example.com;Ivy;Engineering/Data;true\n" +
		"jon@example.com;Jon;Sales;\n"
	r := parseValid(t, file)
	plan, err := e.svc.Org.PreviewRoster(e.ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprintf("new=%v renamed=%v moved=%v reactivated=%v deactivated=%v teams=%v unarchived=%v leaders=%v updated=%d unchanged=%d",
		plan.New, plan.Renamed, plan.Moved, plan.Reactivated, plan.Deactivated, plan.NewTeams, plan.Unarchived, plan.Leaders, plan.Updated, plan.Unchanged)
	want := "new=[{8 ivy@example.com Ivy Engineering/Data} {9 jon@example.com Jon Sales}] " +
		"renamed=[{3 bob@example.com Bob Robert} {7 gus@example.com Gus Gustav}] " +
		"moved=[{4 cem@example.com Cem Sales Engineering} {5 dan@example.com Dan Sales Engineering/Data/ML} {7 gus@example.com Gustav Sales Legacy/Ops}] " +
		"reactivated=[{6 fay@example.com Fay Sales}] " +
		"deactivated=[{0 eve@example.com Eve Sales}] " +
		"teams=[Engineering/Data Legacy/Ops Engineering/Data/ML] unarchived=[Legacy] " +
		"leaders=[{2 Engineering/Platform ann@example.com leader} {8 Engineering/Data ivy@example.com leader}] " +
		"updated=5 unchanged=1"
	if got != want {
		t.Fatalf("plan:\n%s\nwant:\n%s", got, want)
	}
	if plan.Changes() != 2+5+1+3+1 || plan.Digest == "" {
		t.Fatalf("changes %d digest %q", plan.Changes(), plan.Digest)
	}

	before := e.snapshot()
	applied, err := e.svc.Org.ApplyRoster(e.ctx, r, survey.RosterApplyOptions{ExpectDigest: plan.Digest})
	if err != nil {
		t.Fatal(err)
	}
	if applied.Digest != plan.Digest {
		t.Fatal("the applied plan differs from the preview")
	}
	people := e.peopleByEmail()
	wantPeople := map[string]personView{
		"ann@example.com": {"Ann", "Engineering/Platform", true},
		"bob@example.com": {"Robert", "Engineering/Platform", true},
		"cem@example.com": {"Cem", "Engineering", true},
		"dan@example.com": {"Dan", "Engineering/Data/ML", true},
		"eve@example.com": {"Eve", "Sales", false},
		"fay@example.com": {"Fay", "Sales", true},
		"gus@example.com": {"Gustav", "Legacy/Ops", true},
		"hal@example.com": {"Hal", "Engineering/Platform", false},
		"ivy@example.com": {"Ivy", "Engineering/Data", true},
		"jon@example.com": {"Jon", "Sales", true},
	}
	if !reflect.DeepEqual(people, wantPeople) {
		t.Fatalf("people after apply:\n%v\nwant:\n%v", people, wantPeople)
	}
	tr := e.tree()
	if tr.ByID[legacy].ArchivedAt != nil {
		t.Fatal("the archived Legacy team was not reused and unarchived")
	}
	if len(tr.ByID) != len(before.Teams)+3 {
		t.Fatalf("%d teams, want %d", len(tr.ByID), len(before.Teams)+3)
	}
	e.wantUniqueActivePaths()
	// Untouched rows keep their timestamps; touched ones get the clock's.
	after := e.snapshot()
	for i, p := range after.People[:len(before.People)] {
		changed := p.Email != "ann@example.com" && p.Email != "hal@example.com"
		if stamped := p.UpdatedAt.Equal(e.clock.Now()); stamped != changed {
			t.Errorf("%s: updated_at %v (before %v), changed=%v", p.Email, p.UpdatedAt, before.People[i].UpdatedAt, changed)
		}
	}

	// Idempotent: the same file again plans nothing and writes nothing.
	e.clock.Advance(time.Hour)
	again, err := e.svc.Org.PreviewRoster(e.ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if again.Changes() != 0 || again.Unchanged != 8 || len(again.Leaders) != 2 {
		t.Fatalf("re-import plan: %+v", again)
	}
	if _, err := e.svc.Org.ApplyRoster(e.ctx, r, survey.RosterApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	wantSameSnapshot(t, after, e.snapshot())
}

func TestRosterApplyRefusesErrors(t *testing.T) {
	t.Parallel()
	e := newOrgEnv(t)
	e.person(e.team(e.root(), "Ops"), "ann@example.com", "Ann")
	before := e.snapshot()
	r := survey.ParseRoster([]byte("email,name,team\nbob@example.com,Bob,Ops\nbad,Cem,Ops\n"))
	_, err := e.svc.Org.ApplyRoster(e.ctx, r, survey.RosterApplyOptions{})
	wantField(t, err, "file")
	if !strings.Contains(err.Error(), "line 3") {
		t.Errorf("error %q does not name line 3", err)
	}
	_, err = e.svc.Org.PreviewRoster(e.ctx, r)
	wantField(t, err, "file")
	wantSameSnapshot(t, before, e.snapshot())
}

func TestRosterNeedsOrg(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, err := e.svc.Org.ApplyRoster(e.ctx, parseValid(t, "email,name,team\na@example.com,A,Ops\n"), survey.RosterApplyOptions{})
	wantIs(t, err, survey.ErrConflict)
}

// TestRosterApplyIsAtomic makes the database reject one row late in the
// apply (after teams were created and other people written): nothing of
// the import may remain.
func TestRosterApplyIsAtomic(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, file string }{
		{"failing insert", "email,name,team\nann@example.com,Ann B,New/Team\nzed@example.com,Zed,Ops\nboom@example.com,Boom,Other/Team\n"},
		{"failing update", "email,name,team\nann@example.com,Boom,New/Team\nzed@example.com,Zed,Ops\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newOrgEnv(t)
			ops := e.team(e.root(), "Ops")
			e.person(ops, "ann@example.com", "Ann")
			e.person(ops, "old@example.com", "Old") // would be deactivated
			if e.db.Dialector.Name() == "postgres" {
				mustExec(t, e, "ALTER TABLE people ADD CONSTRAINT roster_boom CHECK (name <> 'Boom')")
			} else {
				mustExec(t, e, "CREATE TRIGGER roster_boom_i BEFORE INSERT ON people WHEN NEW.name = 'Boom' BEGIN SELECT RAISE(ABORT, 'boom'); END")
				mustExec(t, e, "CREATE TRIGGER roster_boom_u BEFORE UPDATE ON people WHEN NEW.name = 'Boom' BEGIN SELECT RAISE(ABORT, 'boom'); END")
			}
			e.clock.Advance(time.Hour)
			before := e.snapshot()
			r := parseValid(t, tc.file)
			plan, err := e.svc.Org.PreviewRoster(e.ctx, r)
			if err != nil {
				t.Fatal(err)
			}
			if len(plan.NewTeams) == 0 || len(plan.Deactivated) != 1 {
				t.Fatalf("the plan does not write teams and people before the failing row: %+v", plan)
			}
			if _, err := e.svc.Org.ApplyRoster(e.ctx, r, survey.RosterApplyOptions{}); err == nil {
				t.Fatal("apply succeeded despite the failing row")
			}
			wantSameSnapshot(t, before, e.snapshot())
		})
	}
}

func mustExec(t *testing.T, e *env, sql string) {
	t.Helper()
	if err := e.db.Exec(sql).Error; err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func TestRosterPlanChangedSincePreview(t *testing.T) {
	t.Parallel()
	e := newOrgEnv(t)
	ops := e.team(e.root(), "Ops")
	r := parseValid(t, "email,name,team\nann@example.com,Ann,Ops\n")
	plan, err := e.svc.Org.PreviewRoster(e.ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	e.person(ops, "new@example.com", "Hired meanwhile") // the apply would now deactivate them
	before := e.snapshot()
	_, err = e.svc.Org.ApplyRoster(e.ctx, r, survey.RosterApplyOptions{ExpectDigest: plan.Digest})
	wantIs(t, err, survey.ErrRosterPlanChanged)
	wantIs(t, err, survey.ErrConflict)
	wantSameSnapshot(t, before, e.snapshot())
}

// rosterFile builds a roster from "email|name|team" entries.
func rosterFile(entries ...string) string {
	var b strings.Builder
	b.WriteString("email,name,team\n")
	for _, en := range entries {
		b.WriteString(strings.ReplaceAll(en, "|", ",") + "\n")
	}
	return b.String()
}

// expectAfter is the people map after applying files in order to start.
func expectAfter(start map[string]personView, files ...*survey.Roster) map[string]personView {
	out := map[string]personView{}
	for k, v := range start {
		out[k] = v
	}
	for _, f := range files {
		in := map[string]bool{}
		for _, r := range f.Rows() {
			in[r.Email] = true
			out[r.Email] = personView{Name: r.Name, Team: r.Team, Active: true}
		}
		for k, v := range out {
			if !in[k] {
				v.Active = false
				out[k] = v
			}
		}
	}
	return out
}

// TestRosterConcurrentImports applies two different files at the same
// time: the result must be one applied after the other, never a mix.
func TestRosterConcurrentImports(t *testing.T) {
	t.Parallel()
	e := newOrgEnv(t)
	e.person(e.team(e.root(), "Start"), "x@example.com", "X")
	var a, b, reset []string
	for i := 0; i < 40; i++ {
		a = append(a, fmt.Sprintf("a%d@example.com|A %d|Alpha/T%d", i, i, i%4))
		b = append(b, fmt.Sprintf("b%d@example.com|B %d|Beta/T%d", i, i, i%4))
	}
	for i := 0; i < 30; i++ {
		a = append(a, fmt.Sprintf("s%d@example.com|Shared from A %d|Shared/A%d", i, i, i%3))
		b = append(b, fmt.Sprintf("s%d@example.com|Shared from B %d|Shared/B%d", i, i, i%3))
	}
	reset = []string{"r@example.com|R|Reset"}
	ra, rb, rr := parseValid(t, rosterFile(a...)), parseValid(t, rosterFile(b...)), parseValid(t, rosterFile(reset...))
	for round := 0; round < 6; round++ {
		if _, err := e.svc.Org.ApplyRoster(e.ctx, rr, survey.RosterApplyOptions{}); err != nil {
			t.Fatal(err)
		}
		start := e.peopleByEmail()
		var (
			wg    sync.WaitGroup
			go1   = make(chan struct{})
			errs  [2]error
			files = [2]*survey.Roster{ra, rb}
		)
		for i := range files {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				<-go1
				_, errs[i] = e.svc.Org.ApplyRoster(e.ctx, files[i], survey.RosterApplyOptions{})
			}(i)
		}
		close(go1)
		wg.Wait()
		if errs[0] != nil || errs[1] != nil {
			t.Fatalf("round %d: errors %v, %v", round, errs[0], errs[1])
		}
		got := e.peopleByEmail()
		ab, ba := expectAfter(start, ra, rb), expectAfter(start, rb, ra)
		if !reflect.DeepEqual(got, ab) && !reflect.DeepEqual(got, ba) {
			var diff []string
			for k, v := range got {
				if v != ab[k] || v != ba[k] {
					diff = append(diff, fmt.Sprintf("%s=%v (A then B: %v, B then A: %v)", k, v, ab[k], ba[k]))
				}
			}
			sort.Strings(diff)
			t.Fatalf("round %d: the imports interleaved:\n%s", round, strings.Join(diff, "\n"))
		}
		e.wantUniqueActivePaths()
	}
}

// generateRoster makes n people spread over teams leaf teams three levels
// deep (divisions / departments / teams).
func generateRoster(n, teams int, name func(i int) string) string {
	var b strings.Builder
	b.Grow(n * 64)
	b.WriteString("email,name,team\n")
	for i := 0; i < n; i++ {
		t := i % teams
		fmt.Fprintf(&b, "person%06d@example.com,%s,Division %d/Department %d/Team %d\n", i, name(i), t%10, t%250, t)
	}
	return b.String()
}

func TestRosterImport2000(t *testing.T) {
	t.Parallel()
	e := newOrgEnv(t)
	r := parseValid(t, generateRoster(2000, 100, func(i int) string { return fmt.Sprintf("Person %d", i) }))
	plan, err := e.svc.Org.ApplyRoster(e.ctx, r, survey.RosterApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.New) != 2000 || len(plan.NewTeams) != 10+100+100 {
		t.Fatalf("plan: %d new people, %d new teams", len(plan.New), len(plan.NewTeams))
	}
	people := e.peopleByEmail()
	if len(people) != 2000 {
		t.Fatalf("%d people", len(people))
	}
	rows := r.Rows()
	for _, row := range rows {
		if got := people[row.Email]; got != (personView{row.Name, row.Team, true}) {
			t.Fatalf("%s: %+v, want %s in %s", row.Email, got, row.Name, row.Team)
		}
	}
	e.wantUniqueActivePaths()

	// A second file: 300 renamed, 300 moved (some to new teams), 200 gone, 100 new.
	e.clock.Advance(time.Hour)
	var b strings.Builder
	b.WriteString("email,name,team\n")
	for i := 0; i < 2100; i++ {
		row := fmt.Sprintf("person%06d@example.com,Person %d,%s\n", i, i, rows[i%2000].Team)
		switch {
		case i < 300:
			row = fmt.Sprintf("person%06d@example.com,Renamed %d,%s\n", i, i, rows[i].Team)
		case i < 600:
			row = fmt.Sprintf("person%06d@example.com,Person %d,Moved/Team %d\n", i, i, i%7)
		case i >= 1800 && i < 2000:
			continue
		}
		b.WriteString(row)
	}
	r2 := parseValid(t, b.String())
	plan, err = e.svc.Org.ApplyRoster(e.ctx, r2, survey.RosterApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Renamed) != 300 || len(plan.Moved) != 300 || len(plan.Deactivated) != 200 || len(plan.New) != 100 ||
		plan.Updated != 600 || plan.Unchanged != 1200 || len(plan.NewTeams) != 8 {
		t.Fatalf("second plan: renamed %d moved %d deactivated %d new %d updated %d unchanged %d teams %d",
			len(plan.Renamed), len(plan.Moved), len(plan.Deactivated), len(plan.New), plan.Updated, plan.Unchanged, len(plan.NewTeams))
	}
	if got := expectAfter(people, r2); !reflect.DeepEqual(e.peopleByEmail(), got) {
		t.Fatal("people after the second import differ from the file")
	}
	if again, err := e.svc.Org.PreviewRoster(e.ctx, r2); err != nil || again.Changes() != 0 {
		t.Fatalf("re-import: %v %+v", err, again)
	}
}

// BenchmarkRosterImport100k imports 100,000 people in 5,000 teams (three
// levels: 10 divisions, 250 departments) into an empty organisation, then
// re-imports a changed file (10% renamed, 10% moved, 5% gone, 5% new) and
// the same file again. Run it on PostgreSQL:
//
//	PULSE_TEST_DATABASE_URL=postgres://... go test -run '^$' -bench RosterImport100k -benchtime 3x ./survey/
func BenchmarkRosterImport100k(b *testing.B) {
	if testing.Short() {
		b.Skip("100,000 rows: skipped with -short")
	}
	const n, teams = 100_000, 5_000
	first := []byte(generateRoster(n, teams, func(i int) string { return fmt.Sprintf("Person %d", i) }))
	var cb strings.Builder
	cb.WriteString("email,name,team\n")
	for i := 0; i < n+n/20; i++ {
		t, name := i%teams, fmt.Sprintf("Person %d", i)
		switch {
		case i%10 == 1:
			name = fmt.Sprintf("Renamed %d", i)
		case i%10 == 2:
			t = (t + 1) % teams
		case i%20 == 3 && i < n:
			continue
		}
		fmt.Fprintf(&cb, "person%06d@example.com,%s,Division %d/Department %d/Team %d\n", i, name, t%10, t%250, t)
	}
	second := []byte(cb.String())

	b.Run("parse", func(b *testing.B) {
		b.SetBytes(int64(len(first)))
		for b.Loop() {
			if r := survey.ParseRoster(first); !r.Valid() {
				b.Fatal(errorsString(r))
			}
		}
	})
	setup := func(b *testing.B) *survey.Services {
		db := surveytest.Open(b)
		svc := survey.New(db, survey.Options{})
		if _, err := svc.Org.Init(b.Context(), survey.SettingsInput{Name: "Bench", TimeZone: "UTC", MinGroupSize: 5}); err != nil {
			b.Fatal(err)
		}
		return svc
	}
	apply := func(b *testing.B, svc *survey.Services, data []byte) *survey.RosterPlan {
		r := survey.ParseRoster(data)
		plan, err := svc.Org.ApplyRoster(b.Context(), r, survey.RosterApplyOptions{})
		if err != nil {
			b.Fatal(err)
		}
		return plan
	}
	b.Run("initial", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			svc := setup(b)
			b.StartTimer()
			plan := apply(b, svc, first)
			if len(plan.New) != n {
				b.Fatalf("%d new", len(plan.New))
			}
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
	})
	b.Run("changed", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			svc := setup(b)
			apply(b, svc, first)
			b.StartTimer()
			plan := apply(b, svc, second)
			if plan.Updated != n/5 || len(plan.New) != n/20 || len(plan.Deactivated) != n/20 {
				b.Fatalf("updated %d new %d deactivated %d", plan.Updated, len(plan.New), len(plan.Deactivated))
			}
		}
	})
	b.Run("unchanged", func(b *testing.B) {
		svc := setup(b)
		apply(b, svc, first)
		b.ResetTimer()
		for b.Loop() {
			if plan := apply(b, svc, first); plan.Changes() != 0 {
				b.Fatalf("%d changes", plan.Changes())
			}
		}
	})
}
