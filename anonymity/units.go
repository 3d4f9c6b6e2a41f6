package anonymity

import "sort"

// Team is one team of the hierarchy at launch: its parent (0 for the
// root), how many invitees belong to it directly, and whether it is
// archived (an archived team and every team below it take no part).
type Team struct {
	ID       uint
	Parent   uint
	Direct   int
	Archived bool
}

// Plan assigns the teams of a launch to token units.
type Plan struct {
	// Unit maps every team of the live hierarchy to the team id of its
	// token unit. Archived teams and the teams below them are missing.
	Unit map[uint]uint
	// Units lists, in id order, the units that hold invitees: each gets a
	// signing key of its own.
	Units []uint
}

// unitPlan is the state of one team while planning.
type unitPlan struct {
	id      uint
	pending int  // invitees gathered here while merging upward
	isUnit  bool // a token unit of its own
	unitID  uint
}

// PlanUnits assigns every team of the live hierarchy its token unit: the
// team itself when at least k invitees gather there (its own plus those of
// small teams below it, merged upward), else the unit of its parent. The
// root always ends up a unit; if it has between 1 and k-1 invitees of its
// own, its smallest top-level units are folded into it until it has k.
// So every unit with invitees has at least k of them, unless the whole
// hierarchy has fewer. teams must hold one root (Parent 0); teams not
// reachable from it are left out.
func PlanUnits(teams []Team, k int) Plan {
	out := Plan{Unit: map[uint]uint{}}
	var root *Team
	byID := map[uint]*Team{}
	children := map[uint][]uint{}
	for i := range teams {
		t := &teams[i]
		byID[t.ID] = t
		if t.Parent == 0 {
			if root == nil {
				root = t
			}
			continue
		}
		children[t.Parent] = append(children[t.Parent], t.ID)
	}
	if root == nil {
		return out
	}
	for _, c := range children {
		sort.Slice(c, func(i, j int) bool { return c[i] < c[j] })
	}

	plans := map[uint]*unitPlan{}
	var post func(id uint) *unitPlan
	post = func(id uint) *unitPlan {
		p := &unitPlan{id: id, pending: byID[id].Direct}
		plans[id] = p
		for _, c := range children[id] {
			if byID[c].Archived {
				continue
			}
			if cp := post(c); !cp.isUnit {
				p.pending += cp.pending
			}
		}
		p.isUnit = p.pending >= k
		return p
	}
	rp := post(root.ID)
	if !rp.isUnit {
		// Fold the smallest top-level units into the root until it has k
		// (only when the root has invitees of its own to protect).
		for rp.pending > 0 && rp.pending < k {
			var top []*unitPlan
			var find func(id uint)
			find = func(id uint) {
				for _, c := range children[id] {
					if cp, ok := plans[c]; ok {
						if cp.isUnit {
							top = append(top, cp)
						} else {
							find(c)
						}
					}
				}
			}
			find(root.ID)
			if len(top) == 0 {
				break
			}
			sort.Slice(top, func(i, j int) bool {
				if top[i].pending != top[j].pending {
					return top[i].pending < top[j].pending
				}
				return top[i].id < top[j].id
			})
			top[0].isUnit = false
			rp.pending += top[0].pending
		}
		rp.isUnit = true
	}
	var pre func(id, unit uint)
	pre = func(id, unit uint) {
		p, ok := plans[id]
		if !ok {
			return
		}
		if p.isUnit {
			unit = id
		}
		p.unitID = unit
		out.Unit[id] = unit
		for _, c := range children[id] {
			pre(c, unit)
		}
	}
	pre(root.ID, root.ID)
	for id, p := range plans {
		if p.isUnit && p.pending > 0 {
			out.Units = append(out.Units, id)
		}
	}
	sort.Slice(out.Units, func(i, j int) bool { return out.Units[i] < out.Units[j] })
	return out
}
