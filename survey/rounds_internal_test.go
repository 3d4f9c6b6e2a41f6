package survey

import (
	"fmt"
	"testing"
	"time"
)

// treeBuilder builds an in-memory Tree for planUnits, with direct head counts.
type treeBuilder struct {
	tree   *Tree
	direct map[uint]int
}

func newTreeBuilder(rootPeople int) *treeBuilder {
	root := &TeamNode{Team: Team{ID: 1, Name: "Acme"}}
	b := &treeBuilder{tree: &Tree{Root: root, ByID: map[uint]*TeamNode{1: root}, Order: []*TeamNode{root}}, direct: map[uint]int{1: rootPeople}}
	return b
}

// add creates team id under parent with people active direct members.
func (b *treeBuilder) add(id, parent uint, people int) *treeBuilder {
	p := b.tree.ByID[parent]
	pid := parent
	n := &TeamNode{Team: Team{ID: id, ParentID: &pid, Name: fmt.Sprintf("team %d", id)}}
	p.Children = append(p.Children, n)
	b.tree.ByID[id] = n
	b.tree.Order = append(b.tree.Order, n)
	b.direct[id] = people
	return b
}

// archive marks team id archived.
func (b *treeBuilder) archive(id uint) *treeBuilder {
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	b.tree.ByID[id].ArchivedAt = &at
	return b
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
			plans := planUnits(tc.tree.tree, tc.tree.direct, k)
			if len(plans) != len(tc.want) {
				t.Errorf("planned %d teams, want %d", len(plans), len(tc.want))
			}
			for id, p := range plans {
				want, ok := tc.want[id]
				if !ok {
					t.Errorf("team %d has a plan, want none (archived)", id)
					continue
				}
				if p.unitID != want {
					t.Errorf("team %d: unit %d, want %d", id, p.unitID, want)
				}
			}
			var units []uint
			members := map[uint]int{}
			for id, p := range plans {
				members[p.unitID] += tc.tree.direct[id]
			}
			for _, n := range tc.tree.tree.Order {
				if p, ok := plans[n.ID]; ok && p.isUnit && p.pending > 0 {
					units = append(units, n.ID)
				}
			}
			if fmt.Sprint(units) != fmt.Sprint(tc.units) {
				t.Errorf("units %v, want %v", units, tc.units)
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
	plans := planUnits(b.tree, b.direct, 5)
	for id, want := range map[uint]uint{2: 2, 3: 3} {
		if got := plans[id].unitID; got != want {
			t.Errorf("department %d: unit %d, want %d (the root has no invitees to protect)", id, got, want)
		}
	}
}

func TestPickQuestions(t *testing.T) {
	// 4 core items spread among 10 rotating ones, as a program may order them.
	var qs []Question
	var rot []uint
	for i := uint(1); i <= 14; i++ {
		q := Question{ID: i, Dimension: Dimensions()[i%4]}
		if i%4 == 1 { // 1, 5, 9, 13
			q.Core = true
		} else {
			rot = append(rot, i)
		}
		qs = append(qs, q)
	}
	if len(rot) != 10 {
		t.Fatalf("fixture has %d rotating items", len(rot))
	}
	const perRound = 8
	m := perRound - 4
	rounds := (len(rot) + m - 1) / m
	seen := map[uint]bool{}
	for n := 1; n <= rounds; n++ {
		got := pickQuestions(qs, perRound, n)
		if len(got) != perRound {
			t.Fatalf("round %d: %d items, want %d", n, len(got), perRound)
		}
		dup := map[uint]bool{}
		cores := 0
		for _, q := range got {
			if dup[q.ID] {
				t.Errorf("round %d asks item %d twice", n, q.ID)
			}
			dup[q.ID] = true
			if q.Core {
				cores++
			} else {
				seen[q.ID] = true
			}
		}
		if cores != 4 {
			t.Errorf("round %d has %d core items, want all 4", n, cores)
		}
		for i, q := range got[:4] {
			if !q.Core {
				t.Errorf("round %d item %d is not core: core items come first", n, i)
			}
		}
	}
	for _, id := range rot {
		if !seen[id] {
			t.Errorf("rotating item %d never asked in %d rounds", id, rounds)
		}
	}
}

func TestPickQuestionsBuiltinBankCycles(t *testing.T) {
	var qs []Question
	for i, b := range BuiltinBank() {
		qs = append(qs, Question{ID: uint(i + 1), Key: b.Key, Dimension: b.Dimension, Core: b.Core})
	}
	var core, rot int
	for _, q := range qs {
		if q.Core {
			core++
		} else {
			rot++
		}
	}
	const perRound = 8
	m := perRound - core
	rounds := (rot + m - 1) / m
	seen := map[uint]bool{}
	for n := 1; n <= rounds; n++ {
		dims := map[string]int{}
		for _, q := range pickQuestions(qs, perRound, n) {
			if q.Core {
				dims[q.Dimension]++
			} else {
				seen[q.ID] = true
			}
		}
		for _, d := range Dimensions() {
			if dims[d] != 1 {
				t.Errorf("round %d has %d core items of %s, want 1", n, dims[d], d)
			}
		}
	}
	if len(seen) != rot {
		t.Errorf("%d rounds asked %d of %d rotating items", rounds, len(seen), rot)
	}
}

func TestPickQuestionsFewRotating(t *testing.T) {
	qs := []Question{{ID: 1, Core: true}, {ID: 2}, {ID: 3}}
	for n := 1; n <= 3; n++ {
		if got := pickQuestions(qs, 8, n); len(got) != 3 {
			t.Errorf("round %d: %d items, want all 3", n, len(got))
		}
	}
	if got := pickQuestions([]Question{{ID: 1, Core: true}}, 8, 2); len(got) != 1 {
		t.Errorf("core only: %d items, want 1", len(got))
	}
}

func TestParsePrepared(t *testing.T) {
	prefix := make([]byte, preparePrefixLen)
	for i := range prefix {
		prefix[i] = byte(i * 7)
	}
	nonce := make([]byte, 32)
	good := append(append([]byte{}, prefix...), TokenMessage(12, 34, nonce)...)
	r, u, ok := parsePrepared(good)
	if !ok || r != 12 || u != 34 {
		t.Fatalf("parsePrepared(valid) = %d, %d, %v", r, u, ok)
	}
	hex64 := fmt.Sprintf("%064x", 0)
	bad := map[string]string{
		"no prefix":       "pulse/v1|12|34|" + hex64,
		"other version":   string(prefix) + "pulse/v2|12|34|" + hex64,
		"round zero":      string(prefix) + "pulse/v1|0|34|" + hex64,
		"unit zero":       string(prefix) + "pulse/v1|12|0|" + hex64,
		"negative":        string(prefix) + "pulse/v1|-1|34|" + hex64,
		"short nonce":     string(prefix) + "pulse/v1|12|34|" + hex64[:62],
		"non-hex nonce":   string(prefix) + "pulse/v1|12|34|" + "zz" + hex64[2:],
		"extra field":     string(prefix) + "pulse/v1|12|34|" + hex64 + "|x",
		"too long":        string(prefix) + "pulse/v1|12|34|" + hex64 + string(make([]byte, 200)),
		"round too large": string(prefix) + "pulse/v1|4294967296|34|" + hex64,
	}
	for name, msg := range bad {
		if r, u, ok := parsePrepared([]byte(msg)); ok {
			t.Errorf("%s: parsed as round %d unit %d", name, r, u)
		}
	}
}
