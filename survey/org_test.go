package survey_test

import (
	"reflect"
	"sort"
	"testing"

	"github.com/pulse-survey/pulse/survey"
)

func TestOrgInit(t *testing.T) {
	e := newEnv(t)
	ok, err := e.svc.Org.Initialized(e.ctx)
	if err != nil || ok {
		t.Fatalf("Initialized on an empty database = %v, %v; want false", ok, err)
	}
	st, err := e.svc.Org.Init(e.ctx, survey.SettingsInput{Name: "  Acme  ", TimeZone: "Europe/Berlin", MinGroupSize: 5})
	if err != nil {
		t.Fatal(err)
	}
	if st.Name != "Acme" || st.TimeZone != "Europe/Berlin" || st.MinGroupSize != 5 {
		t.Fatalf("Init returned %+v", st)
	}
	if ok, err := e.svc.Org.Initialized(e.ctx); err != nil || !ok {
		t.Fatalf("Initialized after Init = %v, %v; want true", ok, err)
	}
	got, err := e.svc.Org.Settings(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "Acme" || got.TimeZone != "Europe/Berlin" || got.MinGroupSize != 5 {
		t.Fatalf("Settings = %+v", got)
	}
	tr := e.tree()
	if tr.Root == nil || tr.Root.Name != "Acme" || tr.Root.ParentID != nil || len(tr.Order) != 1 {
		t.Fatalf("after Init the tree should be just the root team Acme, got %+v", tr.Order)
	}

	_, err = e.svc.Org.Init(e.ctx, survey.SettingsInput{Name: "Other", TimeZone: "UTC", MinGroupSize: 5})
	wantIs(t, err, survey.ErrConflict)
	if tr := e.tree(); len(tr.Order) != 1 {
		t.Fatalf("a rejected second Init left %d teams, want 1", len(tr.Order))
	}
}

func TestOrgSettingsValidation(t *testing.T) {
	valid := survey.SettingsInput{Name: "Acme", TimeZone: "Europe/Berlin", MinGroupSize: 5}
	invalid := []struct {
		name  string
		edit  func(*survey.SettingsInput)
		field string
	}{
		{"k=2", func(in *survey.SettingsInput) { in.MinGroupSize = 2 }, "min_group_size"},
		{"k=0", func(in *survey.SettingsInput) { in.MinGroupSize = 0 }, "min_group_size"},
		{"k=101", func(in *survey.SettingsInput) { in.MinGroupSize = 101 }, "min_group_size"},
		{"unknown time zone", func(in *survey.SettingsInput) { in.TimeZone = "Mars/Olympus_Mons" }, "time_zone"},
		{"empty time zone", func(in *survey.SettingsInput) { in.TimeZone = "" }, "time_zone"},
		{"empty name", func(in *survey.SettingsInput) { in.Name = "" }, "name"},
		{"blank name", func(in *survey.SettingsInput) { in.Name = "   " }, "name"},
	}
	e := newEnv(t)

	// Init rejects each invalid input and creates nothing.
	for _, tc := range invalid {
		t.Run("init/"+tc.name, func(t *testing.T) {
			in := valid
			tc.edit(&in)
			_, err := e.svc.Org.Init(e.ctx, in)
			wantField(t, err, tc.field)
			if ok, _ := e.svc.Org.Initialized(e.ctx); ok {
				t.Fatal("a rejected Init created the organisation")
			}
		})
	}

	// k=3 is the floor and is accepted.
	in := valid
	in.MinGroupSize = 3
	if _, err := e.svc.Org.Init(e.ctx, in); err != nil {
		t.Fatalf("Init with k=3: %v", err)
	}

	for _, tc := range invalid {
		t.Run("update/"+tc.name, func(t *testing.T) {
			in := valid
			tc.edit(&in)
			_, err := e.svc.Org.UpdateSettings(e.ctx, in)
			wantField(t, err, tc.field)
		})
	}
	st, err := e.svc.Org.Settings(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.MinGroupSize != 3 || st.TimeZone != "Europe/Berlin" {
		t.Fatalf("rejected updates changed the settings: %+v", st)
	}

	st, err = e.svc.Org.UpdateSettings(e.ctx, survey.SettingsInput{Name: "Acme GmbH", TimeZone: "America/New_York", MinGroupSize: 7})
	if err != nil {
		t.Fatal(err)
	}
	st, err = e.svc.Org.Settings(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Name != "Acme GmbH" || st.TimeZone != "America/New_York" || st.MinGroupSize != 7 {
		t.Fatalf("after update Settings = %+v", st)
	}
}

// TestOrgSettingsRejectsLocalTimeZone: time.LoadLocation accepts "Local",
// which is the server's zone rather than an IANA name, so schedules would
// follow whatever TZ the host or container happens to have.
func TestOrgSettingsRejectsLocalTimeZone(t *testing.T) {
	e := newEnv(t)
	_, err := e.svc.Org.Init(e.ctx, survey.SettingsInput{Name: "Acme", TimeZone: "Local", MinGroupSize: 5})
	wantField(t, err, "time_zone")
}

func TestCreateTeam(t *testing.T) {
	e := newOrgEnv(t)
	root := e.root()
	eng := e.team(root, "Engineering")
	sales := e.team(root, "Sales")

	// The same name under different parents is fine.
	e.team(eng, "Platform")
	e.team(sales, "Platform")

	tm, err := e.svc.Org.CreateTeam(e.ctx, eng, "  Mobile  ")
	if err != nil {
		t.Fatal(err)
	}
	if tm.Name != "Mobile" || tm.ParentID == nil || *tm.ParentID != eng || tm.ID == 0 {
		t.Fatalf("CreateTeam returned %+v", tm)
	}

	tests := []struct {
		name     string
		parent   uint
		team     string
		conflict bool
		field    string
	}{
		{"duplicate sibling", root, "Engineering", true, ""},
		{"duplicate sibling other case", root, "ENGINEERING", true, ""},
		{"duplicate sibling padded", root, "  engineering ", true, ""},
		{"duplicate deeper sibling", eng, "platform", true, ""},
		{"slash in name", root, "Eng/Platform", false, "name"},
		{"empty name", root, "", false, "name"},
		{"blank name", root, "   ", false, "name"},
		{"unknown parent", 999999, "Ghost", false, "parent_id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.svc.Org.CreateTeam(e.ctx, tc.parent, tc.team)
			if tc.conflict {
				wantIs(t, err, survey.ErrConflict)
			} else {
				wantField(t, err, tc.field)
			}
		})
	}
	if n := len(e.tree().Order); n != 6 {
		t.Fatalf("tree has %d teams, want 6 (root, Engineering, Sales, 2x Platform, Mobile)", n)
	}
}

func TestRenameTeam(t *testing.T) {
	e := newOrgEnv(t)
	root := e.root()
	eng := e.team(root, "Engineering")
	e.team(root, "Sales")
	plat := e.team(eng, "Platform")

	if _, err := e.svc.Org.RenameTeam(e.ctx, plat, "Core Platform"); err != nil {
		t.Fatal(err)
	}
	if got := e.tree().ByID[plat].Path; got != "Engineering/Core Platform" {
		t.Fatalf("path after rename = %q", got)
	}
	// Changing only the case of its own name is not a clash with itself.
	if _, err := e.svc.Org.RenameTeam(e.ctx, eng, "ENGINEERING"); err != nil {
		t.Fatalf("rename to own name in other case: %v", err)
	}
	// The root carries the company name and may be renamed.
	if _, err := e.svc.Org.RenameTeam(e.ctx, root, "Acme Corp"); err != nil {
		t.Fatalf("rename root: %v", err)
	}
	if got := e.tree().Root.Name; got != "Acme Corp" {
		t.Fatalf("root name = %q", got)
	}

	_, err := e.svc.Org.RenameTeam(e.ctx, eng, "sales")
	wantIs(t, err, survey.ErrConflict)
	_, err = e.svc.Org.RenameTeam(e.ctx, eng, "R/D")
	wantField(t, err, "name")
	_, err = e.svc.Org.RenameTeam(e.ctx, 999999, "Ghost")
	wantIs(t, err, survey.ErrNotFound)
	if got := e.tree().ByID[eng].Name; got != "ENGINEERING" {
		t.Fatalf("rejected renames changed the name to %q", got)
	}
}

func TestMoveTeam(t *testing.T) {
	e := newOrgEnv(t)
	root := e.root()
	eng := e.team(root, "Engineering")
	sales := e.team(root, "Sales")
	plat := e.team(eng, "Platform")
	infra := e.team(plat, "Infra")
	storage := e.team(infra, "Storage") // three levels below Engineering
	e.team(sales, "Infra")              // name clash target for Engineering/Platform/Infra
	archived := e.team(root, "Old")
	if err := e.svc.Org.ArchiveTeam(e.ctx, archived); err != nil {
		t.Fatal(err)
	}

	t.Run("rejected", func(t *testing.T) {
		tests := []struct {
			name       string
			id, parent uint
			want       error
			field      string
		}{
			{"under itself", sales, sales, survey.ErrConflict, ""},
			{"under its child", eng, plat, survey.ErrConflict, ""},
			{"under its deep descendant", eng, storage, survey.ErrConflict, ""},
			{"root under a team", root, eng, survey.ErrConflict, ""},
			{"root under itself", root, root, survey.ErrConflict, ""},
			{"under an archived team", sales, archived, survey.ErrConflict, ""},
			{"next to a same-named sibling", infra, sales, survey.ErrConflict, ""},
			{"unknown team", 999999, root, survey.ErrNotFound, ""},
			{"unknown target", sales, 999999, nil, "parent_id"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				_, err := e.svc.Org.MoveTeam(e.ctx, tc.id, tc.parent)
				if tc.field != "" {
					wantField(t, err, tc.field)
				} else {
					wantIs(t, err, tc.want)
				}
			})
		}
		tr := e.tree()
		if *tr.ByID[eng].ParentID != root || *tr.ByID[plat].ParentID != eng || tr.ByID[root].ParentID != nil {
			t.Fatal("a rejected move changed the tree")
		}
	})

}

// TestMoveTeamReparents checks that a valid move is reflected in the tree:
// paths, ancestry and subtrees follow the team with its whole subtree.
func TestMoveTeamReparents(t *testing.T) {
	e := newOrgEnv(t)
	root := e.root()
	eng := e.team(root, "Engineering")
	sales := e.team(root, "Sales")
	plat := e.team(eng, "Platform")
	infra := e.team(plat, "Infra")

	moved, err := e.svc.Org.MoveTeam(e.ctx, plat, sales)
	if err != nil {
		t.Fatal(err)
	}
	if moved.ID != plat || moved.ParentID == nil || *moved.ParentID != sales {
		t.Fatalf("MoveTeam returned %+v", moved)
	}
	tr := e.tree()
	if p := tr.ByID[plat].ParentID; p == nil || *p != sales {
		t.Fatalf("Platform's parent = %v, want Sales (%d)", p, sales)
	}
	if got := tr.ByID[plat].Path; got != "Sales/Platform" {
		t.Fatalf("Platform path = %q", got)
	}
	if got := tr.ByID[infra].Path; got != "Sales/Platform/Infra" {
		t.Fatalf("Infra path = %q", got)
	}
	if tr.ByID[infra].Depth != 3 {
		t.Fatalf("Infra depth = %d, want 3", tr.ByID[infra].Depth)
	}
	if !tr.IsAncestor(sales, infra) || tr.IsAncestor(eng, infra) || tr.IsAncestor(eng, plat) {
		t.Fatal("ancestry does not follow the move")
	}
	if got := sorted(tr.Subtree(eng)); !reflect.DeepEqual(got, []uint{eng}) {
		t.Fatalf("Subtree(Engineering) = %v, want just itself", got)
	}
	if got := sorted(tr.Subtree(sales)); !reflect.DeepEqual(got, sorted([]uint{sales, plat, infra})) {
		t.Fatalf("Subtree(Sales) = %v", got)
	}
	// Moving it back works too, and the old parent is now free of cycles.
	if _, err := e.svc.Org.MoveTeam(e.ctx, plat, eng); err != nil {
		t.Fatalf("move back: %v", err)
	}
	if got := e.tree().ByID[infra].Path; got != "Engineering/Platform/Infra" {
		t.Fatalf("Infra path after moving back = %q", got)
	}
}

func TestArchiveTeam(t *testing.T) {
	e := newOrgEnv(t)
	root := e.root()
	eng := e.team(root, "Engineering")
	plat := e.team(eng, "Platform")
	empty := e.team(root, "Empty")
	staffed := e.team(root, "Staffed")
	ada := e.person(staffed, "ada@example.com", "Ada")

	t.Run("root", func(t *testing.T) {
		wantIs(t, e.svc.Org.ArchiveTeam(e.ctx, root), survey.ErrConflict)
	})
	t.Run("with active people", func(t *testing.T) {
		wantIs(t, e.svc.Org.ArchiveTeam(e.ctx, staffed), survey.ErrConflict)
	})
	t.Run("with active children", func(t *testing.T) {
		wantIs(t, e.svc.Org.ArchiveTeam(e.ctx, eng), survey.ErrConflict)
	})
	t.Run("unknown", func(t *testing.T) {
		wantIs(t, e.svc.Org.ArchiveTeam(e.ctx, 999999), survey.ErrNotFound)
	})
	tr := e.tree()
	for _, id := range []uint{root, eng, plat, staffed} {
		if tr.ByID[id].ArchivedAt != nil {
			t.Fatalf("team %d archived by a rejected call", id)
		}
	}

	t.Run("empty team", func(t *testing.T) {
		if err := e.svc.Org.ArchiveTeam(e.ctx, empty); err != nil {
			t.Fatal(err)
		}
		got := e.tree().ByID[empty].ArchivedAt
		if got == nil || !got.Equal(e.clock.Now()) {
			t.Fatalf("ArchivedAt = %v, want %v", got, e.clock.Now())
		}
		// Archiving again is a no-op.
		if err := e.svc.Org.ArchiveTeam(e.ctx, empty); err != nil {
			t.Fatalf("second archive: %v", err)
		}
	})
	t.Run("create under archived parent", func(t *testing.T) {
		_, err := e.svc.Org.CreateTeam(e.ctx, empty, "Child")
		wantIs(t, err, survey.ErrConflict)
	})
	t.Run("person into archived team", func(t *testing.T) {
		_, err := e.svc.Org.CreatePerson(e.ctx, survey.PersonInput{Email: "bob@example.com", Name: "Bob", TeamID: empty, Active: true})
		wantField(t, err, "team_id")
	})
	t.Run("name of an archived team is free again", func(t *testing.T) {
		e.team(root, "Empty")
	})
	t.Run("children first, then parent", func(t *testing.T) {
		if err := e.svc.Org.ArchiveTeam(e.ctx, plat); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.Org.ArchiveTeam(e.ctx, eng); err != nil {
			t.Fatalf("archive parent once its only child is archived: %v", err)
		}
	})
	t.Run("inactive people do not block", func(t *testing.T) {
		if _, err := e.svc.Org.UpdatePerson(e.ctx, ada.ID, survey.PersonInput{Email: ada.Email, Name: ada.Name, TeamID: staffed, Active: false}); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.Org.ArchiveTeam(e.ctx, staffed); err != nil {
			t.Fatalf("archive team whose people are all inactive: %v", err)
		}
	})
	// Archived teams stay in the tree (past rounds refer to them).
	if _, ok := e.tree().ByID[empty]; !ok {
		t.Fatal("archived team vanished from the tree")
	}
}

func TestTree(t *testing.T) {
	e := newOrgEnv(t)
	root := e.root()
	sales := e.team(root, "sales") // lower case: children sort case-insensitively
	eng := e.team(root, "Engineering")
	plat := e.team(eng, "Platform")
	infra := e.team(plat, "Infra")
	mobile := e.team(eng, "Mobile")

	e.person(eng, "eve@example.com", "Eve")
	e.person(plat, "pat@example.com", "Pat")
	e.person(plat, "pia@example.com", "Pia")
	gone := e.person(plat, "gus@example.com", "Gus")
	if _, err := e.svc.Org.UpdatePerson(e.ctx, gone.ID, survey.PersonInput{Email: gone.Email, Name: gone.Name, TeamID: plat, Active: false}); err != nil {
		t.Fatal(err)
	}
	off := e.person(infra, "ole@example.com", "Ole")
	if _, err := e.svc.Org.UpdatePerson(e.ctx, off.ID, survey.PersonInput{Email: off.Email, Name: off.Name, TeamID: infra, Active: false}); err != nil {
		t.Fatal(err)
	}

	tr := e.tree()
	if tr.Root == nil || tr.Root.ID != root || tr.Root.Path != "" || tr.Root.Depth != 0 {
		t.Fatalf("root = %+v", tr.Root)
	}
	paths := map[uint]string{
		eng:    "Engineering",
		plat:   "Engineering/Platform",
		infra:  "Engineering/Platform/Infra",
		mobile: "Engineering/Mobile",
		sales:  "sales",
	}
	for id, want := range paths {
		if got := tr.ByID[id].Path; got != want {
			t.Errorf("Path(%d) = %q, want %q", id, got, want)
		}
	}
	if tr.ByID[infra].Depth != 3 || tr.ByID[eng].Depth != 1 {
		t.Errorf("depths: infra %d, eng %d", tr.ByID[infra].Depth, tr.ByID[eng].Depth)
	}

	var order []string
	for _, n := range tr.Order {
		order = append(order, n.Path)
	}
	wantOrder := []string{"", "Engineering", "Engineering/Mobile", "Engineering/Platform", "Engineering/Platform/Infra", "sales"}
	if !reflect.DeepEqual(order, wantOrder) {
		t.Errorf("pre-order = %q, want %q", order, wantOrder)
	}

	people := map[uint]int{root: 0, eng: 1, plat: 2, infra: 0, mobile: 0, sales: 0}
	for id, want := range people {
		if got := tr.ByID[id].People; got != want {
			t.Errorf("People(%s) = %d, want %d (active, direct members only)", tr.ByID[id].Path, got, want)
		}
	}

	if got, want := sorted(tr.Subtree(eng)), sorted([]uint{eng, plat, infra, mobile}); !reflect.DeepEqual(got, want) {
		t.Errorf("Subtree(Engineering) = %v, want %v", got, want)
	}
	if got := tr.Subtree(infra); !reflect.DeepEqual(got, []uint{infra}) {
		t.Errorf("Subtree(leaf) = %v", got)
	}
	if got := len(tr.Subtree(root)); got != 6 {
		t.Errorf("Subtree(root) has %d teams, want 6", got)
	}
	if got := tr.Subtree(999999); got != nil {
		t.Errorf("Subtree(unknown) = %v, want nil", got)
	}

	ancestry := []struct {
		a, b uint
		want bool
	}{
		{root, infra, true},
		{eng, infra, true},
		{plat, infra, true},
		{infra, infra, true}, // a team counts as its own ancestor
		{infra, plat, false},
		{mobile, infra, false},
		{sales, plat, false},
		{plat, root, false},
		{999999, infra, false},
		{root, 999999, false},
	}
	for _, c := range ancestry {
		if got := tr.IsAncestor(c.a, c.b); got != c.want {
			t.Errorf("IsAncestor(%d, %d) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

func TestPeople(t *testing.T) {
	e := newOrgEnv(t)
	root := e.root()
	eng := e.team(root, "Engineering")
	sales := e.team(root, "Sales")
	archived := e.team(root, "Old")
	if err := e.svc.Org.ArchiveTeam(e.ctx, archived); err != nil {
		t.Fatal(err)
	}

	ada, err := e.svc.Org.CreatePerson(e.ctx, survey.PersonInput{Email: "  Ada.Lovelace@Example.COM ", Name: " Ada ", TeamID: eng, Active: true})
	if err != nil {
		t.Fatal(err)
	}
	if ada.ID == 0 || ada.Email != "ada.lovelace@example.com" || ada.Name != "Ada" || ada.TeamID != eng || !ada.Active {
		t.Fatalf("CreatePerson returned %+v", ada)
	}
	bob := e.person(sales, "bob@example.com", "Bob")
	e.person(eng, "cyd@example.com", "Cyd")

	t.Run("invalid", func(t *testing.T) {
		tests := []struct {
			name  string
			in    survey.PersonInput
			field string
		}{
			{"no at sign", survey.PersonInput{Email: "not-an-email", Name: "X", TeamID: eng}, "email"},
			{"no dot in domain", survey.PersonInput{Email: "x@localhost", Name: "X", TeamID: eng}, "email"},
			{"display name form", survey.PersonInput{Email: "X <x@example.com>", Name: "X", TeamID: eng}, "email"},
			{"empty email", survey.PersonInput{Email: "", Name: "X", TeamID: eng}, "email"},
			{"empty name", survey.PersonInput{Email: "x@example.com", Name: "  ", TeamID: eng}, "name"},
			{"unknown team", survey.PersonInput{Email: "x@example.com", Name: "X", TeamID: 999999}, "team_id"},
			{"archived team", survey.PersonInput{Email: "x@example.com", Name: "X", TeamID: archived}, "team_id"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				_, err := e.svc.Org.CreatePerson(e.ctx, tc.in)
				wantField(t, err, tc.field)
			})
		}
	})

	t.Run("duplicate email", func(t *testing.T) {
		for _, email := range []string{"ada.lovelace@example.com", "ADA.LOVELACE@example.com", " Ada.Lovelace@EXAMPLE.com"} {
			_, err := e.svc.Org.CreatePerson(e.ctx, survey.PersonInput{Email: email, Name: "Ada 2", TeamID: sales, Active: true})
			wantIs(t, err, survey.ErrConflict)
		}
	})

	t.Run("update", func(t *testing.T) {
		p, err := e.svc.Org.UpdatePerson(e.ctx, bob.ID, survey.PersonInput{Email: "Robert@Example.com", Name: "Robert", TeamID: eng, Active: false})
		if err != nil {
			t.Fatal(err)
		}
		if p.ID != bob.ID || p.Email != "robert@example.com" || p.Name != "Robert" || p.TeamID != eng || p.Active {
			t.Fatalf("UpdatePerson returned %+v", p)
		}
		_, err = e.svc.Org.UpdatePerson(e.ctx, bob.ID, survey.PersonInput{Email: "CYD@example.com", Name: "Robert", TeamID: eng})
		wantIs(t, err, survey.ErrConflict)
		_, err = e.svc.Org.UpdatePerson(e.ctx, bob.ID, survey.PersonInput{Email: "robert@example.com", Name: "Robert", TeamID: 999999})
		wantField(t, err, "team_id")
		_, err = e.svc.Org.UpdatePerson(e.ctx, 999999, survey.PersonInput{Email: "z@example.com", Name: "Z", TeamID: eng})
		wantIs(t, err, survey.ErrNotFound)
	})

	t.Run("filtering", func(t *testing.T) {
		tests := []struct {
			name       string
			teams      []uint
			activeOnly bool
			want       []string
		}{
			{"everyone", nil, false, []string{"Ada", "Cyd", "Robert"}},
			{"active", nil, true, []string{"Ada", "Cyd"}},
			{"one team", []uint{eng}, false, []string{"Ada", "Cyd", "Robert"}},
			{"one team active", []uint{eng}, true, []string{"Ada", "Cyd"}},
			{"team without people", []uint{sales}, false, nil},
			{"two teams", []uint{sales, eng}, true, []string{"Ada", "Cyd"}},
			{"empty team list", []uint{}, false, nil},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				ps, err := e.svc.Org.People(e.ctx, tc.teams, tc.activeOnly)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, p := range ps {
					got = append(got, p.Name)
				}
				if !reflect.DeepEqual(got, tc.want) {
					t.Fatalf("People = %q, want %q", got, tc.want)
				}
			})
		}
	})
}

func sorted(ids []uint) []uint {
	out := append([]uint(nil), ids...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
