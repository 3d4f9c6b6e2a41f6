package anonymity

import "sort"

// Node is a unit of a round's snapshot tree with its respondent count: n
// counts every respondent in the unit and all units below it.
type Node struct {
	ID     uint
	Parent uint // 0 for the root
	N      int
}

// Suppress decides which units may be published so that no linear
// combination of published counts isolates fewer than k respondents
// (docs/ANONYMITY.md section 3, the residual rule). Decisions use counts
// only. Unit ids must not be 0. It returns the published unit ids.
func Suppress(nodes []Node, k int) map[uint]bool {
	children := map[uint][]uint{}
	n := map[uint]int{}
	var roots []uint
	for _, x := range nodes {
		n[x.ID] = x.N
		if x.Parent == 0 {
			roots = append(roots, x.ID)
		} else {
			children[x.Parent] = append(children[x.Parent], x.ID)
		}
	}
	for _, c := range children {
		sort.Slice(c, func(i, j int) bool { return c[i] < c[j] })
	}
	sort.Slice(roots, func(i, j int) bool { return roots[i] < roots[j] })

	pub := map[uint]bool{}
	// maximal returns the published strict descendants of u not below
	// another published descendant.
	var maximal func(u uint) []uint
	maximal = func(u uint) []uint {
		var out []uint
		for _, c := range children[u] {
			if pub[c] {
				out = append(out, c)
			} else {
				out = append(out, maximal(c)...)
			}
		}
		return out
	}
	residual := func(u uint) int {
		r := n[u]
		for _, d := range maximal(u) {
			r -= n[d]
		}
		return r
	}
	var visit func(u uint)
	visit = func(u uint) {
		for _, c := range children[u] {
			visit(c)
		}
		if n[u] < k {
			return
		}
		pub[u] = true
		for {
			ds := maximal(u)
			r := n[u]
			for _, d := range ds {
				r -= n[d]
			}
			if r == 0 || r >= k {
				return
			}
			// Hide the published descendant with the smallest residual of
			// at least k; failing that, the smallest one.
			best, bestRes := uint(0), -1
			for _, d := range ds {
				rd := residual(d)
				if rd < k {
					continue
				}
				if best == 0 || rd < bestRes || (rd == bestRes && (n[d] < n[best] || (n[d] == n[best] && d < best))) {
					best, bestRes = d, rd
				}
			}
			if best == 0 {
				for _, d := range ds {
					if best == 0 || n[d] < n[best] || (n[d] == n[best] && d < best) {
						best = d
					}
				}
			}
			delete(pub, best)
		}
	}
	for _, r := range roots {
		visit(r)
	}
	// A hidden unit whose respondents are exactly those of its published
	// descendants can be computed from them anyway: publish it, which adds
	// nothing derivable and keeps "no suppressed cell is derivable" true.
	var republish func(u uint)
	republish = func(u uint) {
		for _, c := range children[u] {
			republish(c)
		}
		if !pub[u] && n[u] >= k {
			if ds := maximal(u); len(ds) > 0 && residual(u) == 0 {
				pub[u] = true
			}
		}
	}
	for _, r := range roots {
		republish(r)
	}
	return pub
}

// Part is one of the disjoint parts of a total that is itself shown, with
// its count (participation: a token unit and its invitees).
type Part struct {
	ID uint
	N  int
}

// VisibleParts decides which parts may be shown beside their total: parts
// with at least k, minus the smallest of those (ties: lower id) for as long
// as the parts not shown hold between 1 and k-1 together, since the total
// minus the shown parts would reveal them (docs/ANONYMITY.md section 4).
// It is Suppress over the one-level tree of the total and its parts; ids
// must not be 0.
func VisibleParts(parts []Part, k int) map[uint]bool {
	var top uint
	total := 0
	for _, p := range parts {
		top = max(top, p.ID)
		total += p.N
	}
	root := top + 1
	nodes := make([]Node, 0, len(parts)+1)
	nodes = append(nodes, Node{ID: root, N: total})
	for _, p := range parts {
		nodes = append(nodes, Node{ID: p.ID, Parent: root, N: p.N})
	}
	shown := Suppress(nodes, k)
	delete(shown, root)
	return shown
}
