package anonymity

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
)

func TestVisibleParts(t *testing.T) {
	cases := []struct {
		name string
		n    []int // part i+1 has n[i]
		k    int
		want []uint
	}{
		{"all parts large", []int{10, 6, 5}, 5, []uint{1, 2, 3}},
		{"empty parts hide nothing", []int{10, 0, 6}, 5, []uint{1, 3}},
		{"one small part hides the smallest shown", []int{10, 6, 2}, 5, []uint{1}},
		{"small parts of k together hide nothing more", []int{10, 6, 3, 2}, 5, []uint{1, 2}},
		{"ties hide the lower id", []int{5, 5, 4}, 5, []uint{2}},
		{"hiding goes on until the rest reaches k", []int{5, 1, 5, 6}, 3, []uint{3, 4}},
		{"a total below k shows nothing", []int{2, 2}, 5, nil},
		{"one part alone is the total", []int{7}, 5, []uint{1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			parts := make([]Part, len(tc.n))
			for i, n := range tc.n {
				parts[i] = Part{ID: uint(i + 1), N: n}
			}
			if got := shownIDs(VisibleParts(parts, tc.k)); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("shown %v, want %v", got, tc.want)
			}
		})
	}
}

// VisibleParts is the rule participation applied on its own before it
// became Suppress over a one-level tree: show parts of at least k, then
// hide the smallest (ties: lower id) while the hidden rest is 1..k-1.
func TestVisiblePartsMatchesFlatRule(t *testing.T) {
	flat := func(parts []Part, k int) []uint {
		var shown []Part
		rest := 0
		for _, p := range parts {
			if p.N >= k {
				shown = append(shown, p)
			} else {
				rest += p.N
			}
		}
		sort.Slice(shown, func(i, j int) bool {
			if shown[i].N != shown[j].N {
				return shown[i].N < shown[j].N
			}
			return shown[i].ID < shown[j].ID
		})
		for rest > 0 && rest < k && len(shown) > 0 {
			rest += shown[0].N
			shown = shown[1:]
		}
		ids := []uint{}
		for _, p := range shown {
			ids = append(ids, p.ID)
		}
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
		return ids
	}
	r := rand.New(rand.NewPCG(5, 5))
	for i := 0; i < 3000; i++ {
		k := 3 + r.IntN(5)
		parts := make([]Part, 1+r.IntN(8))
		for j := range parts {
			parts[j] = Part{ID: uint(j + 1 + r.IntN(3)*10), N: r.IntN(2 * k)}
		}
		got := shownIDs(VisibleParts(parts, k))
		want := flat(parts, k)
		if fmt.Sprint(got) != fmt.Sprint(want) && !(len(got) == 0 && len(want) == 0) {
			t.Fatalf("parts %+v, k=%d: shown %v, the flat rule shows %v", parts, k, got, want)
		}
		hidden := 0
		for _, p := range parts {
			if !contains(got, p.ID) {
				hidden += p.N
			}
		}
		if hidden > 0 && hidden < k && len(got) > 0 {
			t.Fatalf("parts %+v, k=%d: the hidden parts hold %d together", parts, k, hidden)
		}
	}
}

func shownIDs(m map[uint]bool) []uint {
	var ids []uint
	for id, ok := range m {
		if ok {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

func contains(ids []uint, id uint) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}
