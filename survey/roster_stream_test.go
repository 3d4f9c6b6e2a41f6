package survey_test

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/pulse-survey/pulse/survey"
)

// TestReadRosterFromReader reads rosters from a reader that hands out one
// byte at a time: the result is the one of the file in memory, problems
// included. A failing reader is an error, not a problem of the file.
func TestReadRosterFromReader(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		"\ufeffEmail;Name;Team;Leader\r\nada@example.com;Ada;Eng/Platform;yes\r\nbob@example.com;\"Smith; Bob\";Eng;\r\n",
		"\n \n\temail,name,team\nada@example.com,Ada,Ops\nADA@example.com,Ada again,Ops\nbad,Bob,\n",
		"email,name,team\nada@example.com,\"Ada\nLovelace\",Ops\n",
		" \n\n",
		"",
	} {
		want := survey.ParseRoster([]byte(in))
		got, err := survey.ReadRoster(iotest.OneByteReader(strings.NewReader(in)))
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if got.Delimiter != want.Delimiter || got.ErrorCount != want.ErrorCount || !reflect.DeepEqual(got.Errors, want.Errors) ||
			!reflect.DeepEqual(got.Rows(), want.Rows()) || got.Len() != len(want.Rows()) {
			t.Fatalf("%q: read %+v %v, parsed %+v %v", in, got, got.Rows(), want, want.Rows())
		}
	}

	broken := errors.New("disk on fire")
	for _, r := range []io.Reader{
		iotest.ErrReader(broken),
		io.MultiReader(strings.NewReader("email,name,team\nada@example.com,Ada,Ops\n"), iotest.ErrReader(broken)),
	} {
		if got, err := survey.ReadRoster(r); !errors.Is(err, broken) || got != nil {
			t.Fatalf("failing reader: %v, %+v", err, got)
		}
	}
}

// TestRosterDuplicatesAmongProblems: a duplicate email is reported on its
// line, before the other problems of that line, and among the first
// MaxRosterErrors problems in line order.
func TestRosterDuplicatesAmongProblems(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("email,name,team\n")
	for i := range 300 {
		switch i % 3 {
		case 0:
			fmt.Fprintf(&b, "p%d@example.com,P,Ops\n", i)
		case 1:
			fmt.Fprintf(&b, "p%d@example.com,,Ops\n", i-1) // duplicate and no name
		default:
			b.WriteString("bad,P,Ops\n")
		}
	}
	r := survey.ParseRoster([]byte(b.String()))
	if r.ErrorCount != 300 || len(r.Errors) != survey.MaxRosterErrors || r.Len() != 100 {
		t.Fatalf("%d problems, %d kept, %d rows", r.ErrorCount, len(r.Errors), r.Len())
	}
	want := []survey.RosterLineError{
		{Line: 3, Message: "duplicate email p0@example.com (first on line 2)"},
		{Line: 3, Message: "the name is empty"},
		{Line: 4, Message: `"bad" is not a valid email address`},
		{Line: 6, Message: "duplicate email p3@example.com (first on line 5)"},
	}
	if !reflect.DeepEqual(r.Errors[:4], want) {
		t.Fatalf("first problems %v", r.Errors[:4])
	}
	for i := 1; i < len(r.Errors); i++ {
		if r.Errors[i].Line < r.Errors[i-1].Line {
			t.Fatalf("problems out of line order: %v then %v", r.Errors[i-1], r.Errors[i])
		}
	}
}

// TestRosterPlanLimit: a plan with a limit lists the first entries of each
// kind, counts them all, and has the digest of the whole plan, so that an
// apply checks against what a page previewed.
func TestRosterPlanLimit(t *testing.T) {
	t.Parallel()
	e := newOrgEnv(t)
	ops := e.team(e.root(), "Ops")
	for i := range 12 {
		e.person(ops, fmt.Sprintf("old%02d@example.com", i), fmt.Sprintf("Old %d", i))
	}
	var b strings.Builder
	b.WriteString("email,name,team,leader\n")
	for i := range 6 {
		fmt.Fprintf(&b, "old%02d@example.com,Renamed %d,Ops/T%d,yes\n", i, i, i)
	}
	for i := range 7 {
		fmt.Fprintf(&b, "new%02d@example.com,New %d,Sales/T%d,\n", i, i, i)
	}
	r := parseValid(t, b.String())
	full, err := e.svc.Org.PreviewRoster(e.ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	short, err := e.svc.Org.PreviewRosterLimit(e.ctx, r, 3)
	if err != nil {
		t.Fatal(err)
	}
	wantTotals := survey.RosterTotals{New: 7, Renamed: 6, Moved: 6, Deactivated: 6, NewTeams: 6 + 1 + 7, Leaders: 6}
	if full.Totals != wantTotals || short.Totals != wantTotals {
		t.Fatalf("totals: full %+v, limited %+v, want %+v", full.Totals, short.Totals, wantTotals)
	}
	if short.Digest != full.Digest || short.Changes() != full.Changes() || full.Changes() != 7+6+6+14 {
		t.Fatalf("limited plan: digest %s vs %s, changes %d vs %d", short.Digest, full.Digest, short.Changes(), full.Changes())
	}
	for _, l := range []struct {
		name        string
		short, full any
		n           int
	}{
		{"new", short.New, full.New, 7}, {"renamed", short.Renamed, full.Renamed, 6}, {"moved", short.Moved, full.Moved, 6},
		{"deactivated", short.Deactivated, full.Deactivated, 6}, {"new teams", short.NewTeams, full.NewTeams, 14},
		{"leaders", short.Leaders, full.Leaders, 6},
	} {
		fv, sv := reflect.ValueOf(l.full), reflect.ValueOf(l.short)
		if fv.Len() != l.n || sv.Len() != 3 || !reflect.DeepEqual(sv.Interface(), fv.Slice(0, 3).Interface()) {
			t.Errorf("%s: %d listed of %d, want the first 3 of %d", l.name, sv.Len(), fv.Len(), l.n)
		}
	}
	applied, err := e.svc.Org.ApplyRoster(e.ctx, r, survey.RosterApplyOptions{ExpectDigest: short.Digest, Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if applied.Digest != full.Digest || len(applied.New) != 2 || applied.Totals != wantTotals {
		t.Fatalf("applied plan: %+v", applied)
	}
}

// TestRosterApplyKeepsNames: names and emails reach the database exactly as
// the file spells them, quotes, backslashes and non-ASCII letters included.
func TestRosterApplyKeepsNames(t *testing.T) {
	t.Parallel()
	e := newOrgEnv(t)
	names := []string{`Cy "The Sky" Young`, `Back\slash \n \u0041`, "Zoë Ørsted-Łukasz", "O'Brien; Jr.", "李小龍 🙂", "<b>&amp;</b>"}
	quote := func(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
	team := func(i int) string { return fmt.Sprintf(`Ünits/Tëam "%d"`, i%2) }
	file := func(names []string) string {
		var b strings.Builder
		b.WriteString("email,name,team\n")
		for i, n := range names {
			fmt.Fprintf(&b, "p%d@example.com,%s,%s\n", i, quote(n), quote(team(i)))
		}
		return b.String()
	}
	r := parseValid(t, file(names))
	if _, err := e.svc.Org.ApplyRoster(e.ctx, r, survey.RosterApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	got := e.peopleByEmail()
	for i, n := range names {
		want := personView{Name: n, Team: team(i), Active: true}
		if p := got[fmt.Sprintf("p%d@example.com", i)]; p != want {
			t.Errorf("person %d: %+v, want %+v", i, p, want)
		}
	}
	// Renaming goes the same way.
	names[0] += ` \"2\"`
	r = parseValid(t, file(names))
	plan, err := e.svc.Org.ApplyRoster(e.ctx, r, survey.RosterApplyOptions{})
	if err != nil || plan.Updated != 1 {
		t.Fatalf("rename: %v %+v", err, plan)
	}
	if p := e.peopleByEmail()["p0@example.com"]; p.Name != `Cy "The Sky" Young \"2\"` {
		t.Fatalf("renamed to %q", p.Name)
	}
}
