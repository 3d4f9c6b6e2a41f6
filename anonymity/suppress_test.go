package anonymity

import (
	"fmt"
	"maps"
	"math/big"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
)

// supUnit is a fixture unit: its id, its parent (0 for a root) and the
// number of respondents attached to it directly.
type supUnit struct {
	id, parent uint
	direct     int
}

// supTree turns fixture units into Nodes, computing N bottom-up as the sum
// of the direct counts of the unit and every unit below it.
func supTree(units ...supUnit) []Node {
	parent := map[uint]uint{}
	for _, u := range units {
		parent[u.id] = u.parent
	}
	n := map[uint]int{}
	for _, u := range units {
		for id := u.id; id != 0; id = parent[id] {
			n[id] += u.direct
		}
	}
	nodes := make([]Node, len(units))
	for i, u := range units {
		nodes[i] = Node{ID: u.id, Parent: u.parent, N: n[u.id]}
	}
	return nodes
}

// supChildren indexes nodes by parent.
func supChildren(nodes []Node) map[uint][]uint {
	ch := map[uint][]uint{}
	for _, x := range nodes {
		ch[x.Parent] = append(ch[x.Parent], x.ID)
	}
	return ch
}

// supNodeN indexes N by id.
func supNodeN(nodes []Node) map[uint]int {
	n := map[uint]int{}
	for _, x := range nodes {
		n[x.ID] = x.N
	}
	return n
}

// residualOK checks the residual rule on a published set: every published
// unit u has n[u] >= k, and n[u] minus the sum of n over u's maximal
// published strict descendants (published, with no published unit between
// them and u) is 0 or at least k. It is written independently of Suppress.
// why explains the first violation.
func residualOK(nodes []Node, pub map[uint]bool, k int) (ok bool, why string) {
	ch := supChildren(nodes)
	n := supNodeN(nodes)
	for id := range pub {
		if _, known := n[id]; !known {
			return false, fmt.Sprintf("published id %d is not a node", id)
		}
	}
	var maximal func(u uint, out []uint) []uint
	maximal = func(u uint, out []uint) []uint {
		for _, c := range ch[u] {
			if pub[c] {
				out = append(out, c)
			} else {
				out = maximal(c, out)
			}
		}
		return out
	}
	ids := slices.Sorted(maps.Keys(pub))
	for _, u := range ids {
		if !pub[u] {
			continue
		}
		if n[u] < k {
			return false, fmt.Sprintf("unit %d published with n=%d < k=%d", u, n[u], k)
		}
		r := n[u]
		ds := maximal(u, nil)
		for _, d := range ds {
			r -= n[d]
		}
		if r != 0 && r < k {
			return false, fmt.Sprintf("unit %d (n=%d) published with maximal published descendants %v: residual %d", u, n[u], ds, r)
		}
	}
	return true, ""
}

// supLeak is the result of the exact linear-algebra check.
type supLeak struct {
	// Leak describes a linear combination of published cells covering
	// between 1 and k-1 respondents ("" when there is none).
	Leak string
	// Explicit is the first leak found by the direct membership tests
	// (one small atom, or a hidden unit with 0 < n < k, in the row space);
	// these are special cases of Leak.
	Explicit string
	// DerivableHidden lists hidden units with n >= k whose count is
	// nevertheless a linear combination of published cells. That is not
	// a leak under the criterion (they cover at least k respondents).
	DerivableHidden []uint
}

// supRow is a vector over atoms, with exact rational entries.
type supRow []*big.Rat

func supZero(m int) supRow {
	v := make(supRow, m)
	for i := range v {
		v[i] = new(big.Rat)
	}
	return v
}

// supAxpy sets v = v - c*w.
func supAxpy(v supRow, c *big.Rat, w supRow) {
	t := new(big.Rat)
	for i := range v {
		if w[i].Sign() != 0 {
			v[i].Sub(v[i], t.Mul(c, w[i]))
		}
	}
}

// supRREF reduces rows to reduced row echelon form in place and returns
// the non-zero rows and their pivot columns.
func supRREF(rows []supRow, m int) ([]supRow, []int) {
	var pivots []int
	rank := 0
	for col := 0; col < m && rank < len(rows); col++ {
		p := -1
		for i := rank; i < len(rows); i++ {
			if rows[i][col].Sign() != 0 {
				p = i
				break
			}
		}
		if p < 0 {
			continue
		}
		rows[rank], rows[p] = rows[p], rows[rank]
		inv := new(big.Rat).Inv(rows[rank][col])
		for j := range rows[rank] {
			rows[rank][j].Mul(rows[rank][j], inv)
		}
		for i := range rows {
			if i != rank && rows[i][col].Sign() != 0 {
				supAxpy(rows[i], new(big.Rat).Set(rows[i][col]), rows[rank])
			}
		}
		pivots = append(pivots, col)
		rank++
	}
	return rows[:rank], pivots
}

// supInRowSpace reports whether v is a linear combination of the RREF rows.
func supInRowSpace(v supRow, rref []supRow, pivots []int) bool {
	w := supZero(len(v))
	for i := range v {
		w[i].Set(v[i])
	}
	for i, p := range pivots {
		if w[p].Sign() != 0 {
			supAxpy(w, new(big.Rat).Set(w[p]), rref[i])
		}
	}
	for _, x := range w {
		if x.Sign() != 0 {
			return false
		}
	}
	return true
}

// linearLeak decides exactly, with rational arithmetic, whether some linear
// combination of the published cells covers between 1 and k-1 respondents.
//
// Atoms are the direct respondents of one unit (size = its direct count;
// atoms of size 0 are dropped: they hold nobody). A published unit is the
// 0/1 vector of the atoms in its subtree; V is the row space of those
// vectors. A non-zero v in V supported on a set S of atoms exists iff the
// columns of a kernel basis H of V (V's orthogonal complement) indexed by
// S are linearly dependent. So a leak exists iff some set of atoms of total
// size at most k-1 has dependent H columns; the search enumerates sets of
// atoms of size < k within that budget, keeping an incremental echelon
// basis of their H columns, and stops at the first dependence.
//
// It knows nothing of trees or residuals, so it checks Suppress (and the
// residual criterion) from outside.
func linearLeak(nodes []Node, pub map[uint]bool, k int) supLeak {
	var res supLeak
	ch := supChildren(nodes)
	n := supNodeN(nodes)
	// Atoms: units with a positive direct count, in id order.
	ids := slices.Sorted(maps.Keys(n))
	col := map[uint]int{}
	var atomID []uint
	var size []int
	for _, id := range ids {
		d := n[id]
		for _, c := range ch[id] {
			d -= n[c]
		}
		if d < 0 {
			panic(fmt.Sprintf("unit %d has fewer respondents than its children", id))
		}
		if d > 0 {
			col[id] = len(atomID)
			atomID = append(atomID, id)
			size = append(size, d)
		}
	}
	m := len(atomID)
	one := big.NewRat(1, 1)
	indicator := func(u uint) supRow {
		v := supZero(m)
		var walk func(x uint)
		walk = func(x uint) {
			if j, ok := col[x]; ok {
				v[j].Set(one)
			}
			for _, c := range ch[x] {
				walk(c)
			}
		}
		walk(u)
		return v
	}
	var rows []supRow
	for _, id := range ids {
		if pub[id] {
			rows = append(rows, indicator(id))
		}
	}
	rref, pivots := supRREF(rows, m)

	// Direct membership tests: single small atoms and hidden units.
	for j := 0; j < m && res.Explicit == ""; j++ {
		if size[j] < k {
			e := supZero(m)
			e[j].Set(one)
			if supInRowSpace(e, rref, pivots) {
				res.Explicit = fmt.Sprintf("the %d direct respondent(s) of unit %d", size[j], atomID[j])
			}
		}
	}
	for _, id := range ids {
		if pub[id] || n[id] == 0 || !supInRowSpace(indicator(id), rref, pivots) {
			continue
		}
		if n[id] < k {
			if res.Explicit == "" {
				res.Explicit = fmt.Sprintf("hidden unit %d (n=%d)", id, n[id])
			}
		} else {
			res.DerivableHidden = append(res.DerivableHidden, id)
		}
	}

	// Kernel basis columns: free column f gives e_f; pivot column p_i
	// gives (-rref[i][f]) over the free columns f.
	isPivot := map[int]int{}
	for i, p := range pivots {
		isPivot[p] = i
	}
	var free []int
	freePos := map[int]int{}
	for j := 0; j < m; j++ {
		if _, ok := isPivot[j]; !ok {
			freePos[j] = len(free)
			free = append(free, j)
		}
	}
	hcol := func(j int) supRow {
		v := supZero(len(free))
		if i, ok := isPivot[j]; ok {
			for fi, f := range free {
				v[fi].Neg(rref[i][f])
			}
		} else {
			v[freePos[j]].Set(one)
		}
		return v
	}
	var small []int
	for j := 0; j < m; j++ {
		if size[j] < k {
			small = append(small, j)
		}
	}
	type echelon struct {
		v   supRow
		piv int
	}
	// reduce returns v reduced against the basis and its first non-zero
	// index, or -1 when v is in the span of the basis.
	reduce := func(v supRow, basis []echelon) (supRow, int) {
		for _, b := range basis {
			if v[b.piv].Sign() != 0 {
				supAxpy(v, new(big.Rat).Quo(v[b.piv], b.v[b.piv]), b.v)
			}
		}
		for i, x := range v {
			if x.Sign() != 0 {
				return v, i
			}
		}
		return v, -1
	}
	var found []int
	var dfs func(start, budget int, basis []echelon, chosen []int) bool
	dfs = func(start, budget int, basis []echelon, chosen []int) bool {
		for idx := start; idx < len(small); idx++ {
			j := small[idx]
			if size[j] > budget {
				continue
			}
			v, piv := reduce(hcol(j), basis)
			next := append(slices.Clip(chosen), j)
			if piv < 0 {
				found = next
				return true
			}
			if dfs(idx+1, budget-size[j], append(slices.Clip(basis), echelon{v, piv}), next) {
				return true
			}
		}
		return false
	}
	if dfs(0, k-1, nil, nil) {
		var parts []string
		total := 0
		for _, j := range found {
			parts = append(parts, fmt.Sprintf("unit %d: %d", atomID[j], size[j]))
			total += size[j]
		}
		res.Leak = fmt.Sprintf("a combination of published cells covers %d respondent(s) (direct respondents of %s)", total, strings.Join(parts, ", "))
	}
	return res
}

// naiveSuppress is primary suppression only: publish every unit with
// n >= k. It is the positive control: the checkers must catch it.
func naiveSuppress(nodes []Node, k int) map[uint]bool {
	pub := map[uint]bool{}
	for _, x := range nodes {
		if x.N >= k {
			pub[x.ID] = true
		}
	}
	return pub
}

// childOnlySuppress is a plausible but wrong secondary suppression: it
// applies the residual rule against published direct children only,
// forgetting published units below a hidden child. The second positive
// control: the random trees must catch it.
func childOnlySuppress(nodes []Node, k int) map[uint]bool {
	ch := supChildren(nodes)
	n := supNodeN(nodes)
	for _, c := range ch {
		slices.Sort(c)
	}
	pub := map[uint]bool{}
	var visit func(u uint)
	visit = func(u uint) {
		for _, c := range ch[u] {
			visit(c)
		}
		if n[u] < k {
			return
		}
		pub[u] = true
		for {
			r, best := n[u], uint(0)
			for _, c := range ch[u] {
				if pub[c] {
					r -= n[c]
					if best == 0 || n[c] < n[best] {
						best = c
					}
				}
			}
			if r == 0 || r >= k {
				return
			}
			delete(pub, best)
		}
	}
	for _, root := range ch[0] {
		visit(root)
	}
	return pub
}

// supCheck runs both checkers on a published set and cross-checks them:
// for a tree (a laminar family) the residual criterion is exact, so the two
// must agree whenever every published unit has n >= k.
func supCheck(t *testing.T, nodes []Node, pub map[uint]bool, k int) (ok bool, why string, leak supLeak) {
	t.Helper()
	ok, why = residualOK(nodes, pub, k)
	leak = linearLeak(nodes, pub, k)
	if leak.Explicit != "" && leak.Leak == "" {
		t.Errorf("checker inconsistency: membership test found %s, search found nothing\n%s", leak.Explicit, supDump(nodes, pub))
	}
	if ok == (leak.Leak != "") {
		t.Errorf("checker disagreement: residualOK=%v (%s), linear leak=%q\n%s", ok, why, leak.Leak, supDump(nodes, pub))
	}
	return ok, why, leak
}

// supDump prints a tree and a published set for failure messages.
func supDump(nodes []Node, pub map[uint]bool) string {
	s := slices.Clone(nodes)
	sort.Slice(s, func(i, j int) bool { return s[i].ID < s[j].ID })
	var b strings.Builder
	b.WriteString("[]Node{")
	for _, x := range s {
		fmt.Fprintf(&b, "{%d, %d, %d}, ", x.ID, x.Parent, x.N)
	}
	fmt.Fprintf(&b, "} published %v", slices.Sorted(maps.Keys(pub)))
	return b.String()
}

func TestSuppressFixtures(t *testing.T) {
	const k = 5
	tests := []struct {
		name  string
		nodes []Node
		// wantN checks the fixture itself (n per unit as in docs/ANONYMITY.md section 3).
		wantN      map[uint]int
		want       []uint // published ids
		mustHide   []uint
		naiveLeaks bool // primary suppression alone leaks here
		// derivableHidden are hidden units (n >= k) whose count is still
		// a combination of published ones.
		derivableHidden []uint
	}{
		{
			// Department of 7 = team A (6) + team B (1): the department
			// and A together would reveal B's one answer.
			name:       "department 7 = A 6 + B 1",
			nodes:      supTree(supUnit{1, 0, 0}, supUnit{2, 1, 6}, supUnit{3, 1, 1}),
			wantN:      map[uint]int{1: 7, 2: 6, 3: 1},
			want:       []uint{1},
			mustHide:   []uint{2, 3},
			naiveLeaks: true,
		},
		{
			// Team of 6 with 5 of them in a sub-team (the tree form of a
			// filter selecting 5 of 6): both together reveal the sixth.
			name:       "team 6 with sub-team 5",
			nodes:      supTree(supUnit{1, 0, 1}, supUnit{2, 1, 5}),
			wantN:      map[uint]int{1: 6, 2: 5},
			want:       []uint{1},
			mustHide:   []uint{2},
			naiveLeaks: true,
		},
		{
			// X = A(3) + B(6): A is hidden (3 < k), so X - B = A: B must
			// be hidden as well; X is published.
			name:       "X = A 3 + B 6",
			nodes:      supTree(supUnit{1, 0, 0}, supUnit{2, 1, 3}, supUnit{3, 1, 6}),
			wantN:      map[uint]int{1: 9, 2: 3, 3: 6},
			want:       []uint{1},
			mustHide:   []uint{2, 3},
			naiveLeaks: true,
		},
		{
			// X = A(3) + B(6) + 4 direct members: X - B covers 7 >= k, so
			// B may be shown; A stays hidden.
			name:     "X = A 3 + B 6 + 4 direct",
			nodes:    supTree(supUnit{1, 0, 4}, supUnit{2, 1, 3}, supUnit{3, 1, 6}),
			wantN:    map[uint]int{1: 13, 2: 3, 3: 6},
			want:     []uint{1, 3},
			mustHide: []uint{2},
		},
		{
			// The "hide the smallest one" branch: U = D(10) + 2 direct,
			// D = E(5) + F(5) with nobody direct, so D's residual is 0.
			// U's residual 2 forces D out; E and F surface; the tie
			// between them goes to the smaller id, E.
			name: "residual-0 child surfaces its children",
			nodes: supTree(supUnit{1, 0, 2}, supUnit{2, 1, 0},
				supUnit{3, 2, 5}, supUnit{4, 2, 5}),
			wantN:      map[uint]int{1: 12, 2: 10, 3: 5, 4: 5},
			want:       []uint{1, 4},
			mustHide:   []uint{2, 3},
			naiveLeaks: true,
		},
		{
			// Smallest residual >= k is hidden first: U = A(6) + B(5) + 3
			// direct; hiding B (residual 5) gives 8, enough.
			name: "hide the smallest residual",
			nodes: supTree(supUnit{1, 0, 3}, supUnit{2, 1, 6},
				supUnit{3, 1, 5}),
			wantN:      map[uint]int{1: 14, 2: 6, 3: 5},
			want:       []uint{1, 2},
			mustHide:   []uint{3},
			naiveLeaks: true,
		},
		{
			// A chain of identical cells is no leak (residual 0).
			name:  "chain of equal units",
			nodes: supTree(supUnit{1, 0, 0}, supUnit{2, 1, 0}, supUnit{3, 2, 5}),
			wantN: map[uint]int{1: 5, 2: 5, 3: 5},
			want:  []uint{1, 2, 3},
		},
		{
			// Two levels: B's residual problem is fixed inside B before
			// the root looks at it.
			name: "nested departments",
			nodes: supTree(supUnit{1, 0, 5}, supUnit{2, 1, 1},
				supUnit{3, 2, 6}, supUnit{4, 2, 2}, supUnit{5, 1, 7}),
			// 2: 1+6+2 = 9, residual 9-6 = 3: hide 3, publish 2 alone.
			wantN:      map[uint]int{1: 21, 2: 9, 3: 6, 4: 2, 5: 7},
			want:       []uint{1, 2, 5},
			mustHide:   []uint{3, 4},
			naiveLeaks: true,
		},
		{
			// U = D(10) + G(10) + 2 direct, D -> D1 -> a(5) + b(5) with
			// nobody direct in D or D1, G = g1(5) + g2(5). Every unit in
			// U's way has residual 0, so the rule hides D (smaller id of
			// the tie), then G (D1 ties with G, G has the smaller id),
			// then g1 (residual 5). No leak, but D stays hidden while its
			// count equals D1's, which is published: a "suppressed" cell
			// that is derivable (harmless: it covers 10 >= k people).
			name: "residual-0 chain: a hidden unit equal to a published one is published too",
			nodes: supTree(supUnit{1, 0, 2}, supUnit{2, 1, 0}, supUnit{3, 1, 0},
				supUnit{4, 2, 0}, supUnit{5, 4, 5}, supUnit{6, 4, 5},
				supUnit{7, 3, 5}, supUnit{8, 3, 5}),
			wantN:      map[uint]int{1: 22, 2: 10, 3: 10, 4: 10, 5: 5, 6: 5, 7: 5, 8: 5},
			want:       []uint{1, 2, 4, 5, 6, 8},
			mustHide:   []uint{3, 7},
			naiveLeaks: true,
		},
		{
			name:  "everyone below k",
			nodes: supTree(supUnit{1, 0, 1}, supUnit{2, 1, 2}),
			wantN: map[uint]int{1: 3, 2: 2},
			want:  nil,
		},
	}
	naiveCaught := 0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := supNodeN(tt.nodes)
			if !maps.Equal(n, tt.wantN) {
				t.Fatalf("fixture n = %v, want %v", n, tt.wantN)
			}
			pub := Suppress(tt.nodes, k)
			got := slices.Sorted(maps.Keys(pub))
			if !slices.Equal(got, tt.want) {
				t.Errorf("published %v, want %v", got, tt.want)
			}
			for _, id := range tt.mustHide {
				if pub[id] {
					t.Errorf("unit %d published, must be hidden", id)
				}
			}
			ok, why, leak := supCheck(t, tt.nodes, pub, k)
			if !ok || leak.Leak != "" {
				t.Errorf("Suppress leaks: %s %s\n%s", why, leak.Leak, supDump(tt.nodes, pub))
			}
			if !slices.Equal(leak.DerivableHidden, tt.derivableHidden) {
				t.Errorf("derivable hidden units %v, want %v", leak.DerivableHidden, tt.derivableHidden)
			}
			naive := naiveSuppress(tt.nodes, k)
			ok, _, leak = supCheck(t, tt.nodes, naive, k)
			if leaks := leak.Leak != ""; leaks != tt.naiveLeaks || ok == tt.naiveLeaks {
				t.Errorf("positive control: primary suppression leaks=%v (%s), want %v", leaks, leak.Leak, tt.naiveLeaks)
			}
			if leak.Leak != "" {
				naiveCaught++
				t.Logf("primary suppression leaks: %s", leak.Leak)
			}
		})
	}
	if naiveCaught == 0 {
		t.Error("positive control: primary suppression never caught leaking")
	}
}

// TestLinearLeakChecker pins the positive control on the first
// docs/ANONYMITY.md section 3 case: department and team A published make B's single
// answer a combination (department - A).
func TestLinearLeakChecker(t *testing.T) {
	nodes := supTree(supUnit{1, 0, 0}, supUnit{2, 1, 6}, supUnit{3, 1, 1})
	leak := linearLeak(nodes, map[uint]bool{1: true, 2: true}, 5)
	if leak.Leak == "" || leak.Explicit == "" {
		t.Fatalf("department - A not found: %+v", leak)
	}
	if !strings.Contains(leak.Leak, "covers 1 respondent") {
		t.Errorf("leak = %q, want it to cover 1 respondent", leak.Leak)
	}
	// A published cell that itself covers fewer than k respondents is a
	// leak even when no single atom is below k; disjoint cells of k are not.
	nodes = supTree(supUnit{1, 0, 0}, supUnit{2, 1, 2}, supUnit{3, 1, 2},
		supUnit{4, 0, 0}, supUnit{5, 4, 2}, supUnit{6, 4, 2})
	if l := linearLeak(nodes, map[uint]bool{1: true}, 5); l.Leak == "" {
		t.Errorf("a published unit of 4 must count as a leak at k=5")
	}
	if l := linearLeak(nodes, map[uint]bool{1: true, 4: true}, 4); l.Leak != "" {
		t.Errorf("two disjoint units of 4 at k=4: unexpected leak %s", l.Leak)
	}
}

// supRandomTree draws a tree (occasionally a forest) of 1..40 units with
// random shape and direct counts 0..15, skewed to small values, and returns
// its nodes in random order with ids that have gaps and random order.
func supRandomTree(r *rand.Rand) []Node {
	size := 1 + r.IntN(40)
	ids := r.Perm(size)
	shape := r.IntN(3)
	units := make([]supUnit, size)
	for i := range units {
		id := uint(3*ids[i] + 1 + r.IntN(3))
		var parent uint
		if i > 0 && r.IntN(20) != 0 {
			var p int
			switch shape {
			case 0: // any earlier unit: random depth
				p = r.IntN(i)
			case 1: // one of the last few: deep chains
				p = max(0, i-1-r.IntN(3))
			default: // mostly near the top: wide and shallow
				p = r.IntN(min(i, 3))
			}
			parent = units[p].id
		}
		var direct int
		switch x := r.IntN(20); {
		case x < 7:
			direct = 0
		case x < 14:
			direct = 1 + r.IntN(4)
		default:
			direct = r.IntN(16)
		}
		units[i] = supUnit{id, parent, direct}
	}
	nodes := supTree(units...)
	r.Shuffle(len(nodes), func(i, j int) { nodes[i], nodes[j] = nodes[j], nodes[i] })
	return nodes
}

func TestSuppressRandomTrees(t *testing.T) {
	const trees = 1000
	for _, k := range []int{3, 5, 7} {
		t.Run(fmt.Sprintf("k=%d", k), func(t *testing.T) {
			r := rand.New(rand.NewPCG(20240601, uint64(k)))
			naiveLeaks, childLeaks, derivable, failures := 0, 0, 0, 0
			for i := 0; i < trees; i++ {
				nodes := supRandomTree(r)
				pub := Suppress(nodes, k)
				ok, why, leak := supCheck(t, nodes, pub, k)
				if (!ok || leak.Leak != "") && failures < 5 {
					failures++
					t.Errorf("tree %d: Suppress leaks: %s; %s\n%s", i, why, leak.Leak, supDump(nodes, pub))
				}
				if len(leak.DerivableHidden) > 0 {
					derivable++
				}
				_, _, nleak := supCheck(t, nodes, naiveSuppress(nodes, k), k)
				if nleak.Leak != "" {
					naiveLeaks++
				}
				_, _, cleak := supCheck(t, nodes, childOnlySuppress(nodes, k), k)
				if cleak.Leak != "" {
					childLeaks++
				}
			}
			t.Logf("k=%d: leaks caught in %d/%d trees with primary suppression only, in %d with the children-only rule; Suppress left a hidden unit of n>=k derivable in %d",
				k, naiveLeaks, trees, childLeaks, derivable)
			if naiveLeaks < trees/5 {
				t.Errorf("positive control: primary suppression caught leaking in only %d/%d trees", naiveLeaks, trees)
			}
			if childLeaks == 0 {
				t.Errorf("positive control: the children-only rule never caught leaking")
			}
		})
	}
}

// TestSuppressDeterministic checks that the result depends on the tree, not
// on the order of the input slice.
func TestSuppressDeterministic(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	for i := 0; i < 300; i++ {
		nodes := supRandomTree(r)
		k := 3 + r.IntN(5)
		want := Suppress(nodes, k)
		for s := 0; s < 5; s++ {
			shuffled := slices.Clone(nodes)
			if s == 0 {
				slices.Reverse(shuffled)
			} else {
				r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
			}
			if got := Suppress(shuffled, k); !maps.Equal(got, want) {
				t.Fatalf("tree %d, k=%d: order changes the result: %v vs %v\n%s", i, k,
					slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)), supDump(nodes, want))
			}
		}
	}
}

// supLargeTree builds an org of size units: teams of 3..12 direct members
// under departments of up to 8 sub-units, as a large customer would have.
func supLargeTree(r *rand.Rand, size int) []Node {
	units := make([]supUnit, size)
	for i := range units {
		var parent uint
		if i > 0 {
			parent = uint(1 + (i-1)/(1+r.IntN(8)))
		}
		units[i] = supUnit{uint(i + 1), parent, r.IntN(13)}
	}
	return supTree(units...)
}

func BenchmarkSuppress(b *testing.B) {
	for _, size := range []int{1000, 10000} {
		nodes := supLargeTree(rand.New(rand.NewPCG(1, 2)), size)
		b.Run(fmt.Sprintf("units=%d", size), func(b *testing.B) {
			for b.Loop() {
				Suppress(nodes, 5)
			}
		})
	}
	// A deep chain where every level has one member: the worst case for
	// walking hidden units repeatedly.
	var chain []supUnit
	for i := 1; i <= 2000; i++ {
		chain = append(chain, supUnit{uint(i), uint(i - 1), 1})
	}
	nodes := supTree(chain...)
	b.Run("chain=2000", func(b *testing.B) {
		for b.Loop() {
			Suppress(nodes, 5)
		}
	})
}
