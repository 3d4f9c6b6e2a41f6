package anonymity

import (
	"fmt"
	"testing"
)

// treeBuilder builds the teams of a hierarchy for PlanUnits, with direct
// head counts; team 1 is the root.
type treeBuilder struct {
	teams []Team
}

func newTreeBuilder(rootPeople int) *treeBuilder {
	return &treeBuilder{teams: []Team{{ID: 1, Direct: rootPeople}}}
}

// add creates team id under parent with people active direct members.
func (b *treeBuilder) add(id, parent uint, people int) *treeBuilder {
	b.teams = append(b.teams, Team{ID: id, Parent: parent, Direct: people})
	return b
}

// archive marks team id archived.
func (b *treeBuilder) archive(id uint) *treeBuilder {
	for i := range b.teams {
		if b.teams[i].ID == id {
			b.teams[i].Archived = true
		}
	}
	return b
}

func (b *treeBuilder) direct() map[uint]int {
	out := map[uint]int{}
	for _, t := range b.teams {
		out[t.ID] = t.Direct
	}
	return out
}

func TestPlanUnits(t *testing.T) {
	const k = 5
	cases := []struct {
		name string
		tree *treeBuilder
		// want maps every planned team to its unit; teams missing here must
		// have no plan at all (archived).
		want map[uint]uint
		// units are the teams that get a key (a unit with invitees).
		units []uint
	}{
		{
			name:  "team of 6 is its own unit",
			tree:  newTreeBuilder(5).add(2, 1, 6),
			want:  map[uint]uint{1: 1, 2: 2},
			units: []uint{1, 2},
		},
		{
			name:  "team of exactly k is its own unit",
			tree:  newTreeBuilder(5).add(2, 1, 5),
			want:  map[uint]uint{1: 1, 2: 2},
			units: []uint{1, 2},
		},
		{
			name:  "team of 3 merges into its parent",
			tree:  newTreeBuilder(5).add(2, 1, 6).add(3, 2, 3),
			want:  map[uint]uint{1: 1, 2: 2, 3: 2},
			units: []uint{1, 2},
		},
		{
			name: "chain of small teams merges up until k",
			// root(5) > 2(1) > 3(2) > 4(1) > 5(2): 5 has 2, 4 gathers 3,
			// 3 gathers 5 and becomes the unit of 3, 4 and 5; 2 (1) joins the root.
			tree:  newTreeBuilder(5).add(2, 1, 1).add(3, 2, 2).add(4, 3, 1).add(5, 4, 2),
			want:  map[uint]uint{1: 1, 2: 1, 3: 3, 4: 3, 5: 3},
			units: []uint{1, 3},
		},
		{
			name:  "small siblings together reach k in their parent",
			tree:  newTreeBuilder(5).add(2, 1, 0).add(3, 2, 3).add(4, 2, 2),
			want:  map[uint]uint{1: 1, 2: 2, 3: 2, 4: 2},
			units: []uint{1, 2},
		},
		{
			name: "root with 2 people folds the smallest department into it",
			// departments 2 (10) and 3 (6): 3 is the smallest, root gets 8.
			tree:  newTreeBuilder(2).add(2, 1, 10).add(3, 1, 6),
			want:  map[uint]uint{1: 1, 2: 2, 3: 1},
			units: []uint{1, 2},
		},
		{
			name: "folding a department keeps its own sub-units",
			// department 3 (6) has team 4 (7), a unit of its own; folding 3
			// into the root moves only 3's direct six.
			tree:  newTreeBuilder(2).add(2, 1, 10).add(3, 1, 6).add(4, 3, 7),
			want:  map[uint]uint{1: 1, 2: 2, 3: 1, 4: 4},
			units: []uint{1, 2, 4},
		},
		{
			name: "root folds until it has k",
			// root 1, departments of 5 (id 2) and 5 (id 3) and 7: one fold of
			// a 5 (smaller id on ties) is enough.
			tree:  newTreeBuilder(1).add(2, 1, 5).add(3, 1, 5).add(4, 1, 7),
			want:  map[uint]uint{1: 1, 2: 1, 3: 3, 4: 4},
			units: []uint{1, 3, 4},
		},
		{
			name: "small teams under an empty root form the root unit",
			tree: newTreeBuilder(0).add(2, 1, 3).add(3, 1, 3),
			want: map[uint]uint{1: 1, 2: 1, 3: 1}, units: []uint{1},
		},
		{
			name: "archived teams are ignored",
			// 3 is archived (with a sub-team 4): neither gets a plan nor counts
			// toward the root, which keeps its own 5.
			tree:  newTreeBuilder(5).add(2, 1, 6).add(3, 1, 4).add(4, 3, 2).archive(3),
			want:  map[uint]uint{1: 1, 2: 2},
			units: []uint{1, 2},
		},
		{
			name: "archived small team does not lift its parent to k",
			// 2 has 3 people and an archived child of 4: 2 must still merge up.
			tree:  newTreeBuilder(5).add(2, 1, 3).add(3, 2, 4).archive(3),
			want:  map[uint]uint{1: 1, 2: 1},
			units: []uint{1},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			plan := PlanUnits(tc.tree.teams, k)
			direct := tc.tree.direct()
			if len(plan.Unit) != len(tc.want) {
				t.Errorf("planned %d teams, want %d", len(plan.Unit), len(tc.want))
			}
			for id, unit := range plan.Unit {
				want, ok := tc.want[id]
				if !ok {
					t.Errorf("team %d has a plan, want none (archived)", id)
					continue
				}
				if unit != want {
					t.Errorf("team %d: unit %d, want %d", id, unit, want)
				}
			}
			members := map[uint]int{}
			for id, unit := range plan.Unit {
				members[unit] += direct[id]
			}
			if fmt.Sprint(plan.Units) != fmt.Sprint(tc.units) {
				t.Errorf("units %v, want %v", plan.Units, tc.units)
			}
			// Whatever the shape, every unit with invitees has at least k.
			for u, n := range members {
				if n > 0 && n < k {
					t.Errorf("unit %d has %d invitees, fewer than k=%d", u, n, k)
				}
			}
		})
	}
}

// A company root usually has no people of its own, only departments. It
// needs no key then, and nothing is gained by folding a department into
// it: the department just loses its own unit (its ballots are counted as
// the root's, so no department report can ever be shown for it).
func TestPlanUnitsEmptyRootKeepsDepartments(t *testing.T) {
	b := newTreeBuilder(0).add(2, 1, 10).add(3, 1, 6)
	plan := PlanUnits(b.teams, 5)
	for id, want := range map[uint]uint{2: 2, 3: 3} {
		if got := plan.Unit[id]; got != want {
			t.Errorf("department %d: unit %d, want %d (the root has no invitees to protect)", id, got, want)
		}
	}
}
