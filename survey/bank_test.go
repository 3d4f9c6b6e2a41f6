package survey

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

var bankKeyPattern = regexp.MustCompile(`^([a-z]+)\.([a-z]+(?:_[a-z]+)*)\.([1-9][0-9]*)$`)

func TestBankKeysUniqueAndWellFormed(t *testing.T) {
	seen := map[string]bool{}
	for _, it := range BuiltinBank() {
		m := bankKeyPattern.FindStringSubmatch(it.Key)
		if m == nil {
			t.Errorf("key %q does not match dimension.facet.N", it.Key)
			continue
		}
		if m[1] != it.Dimension {
			t.Errorf("key %q: dimension part %q, item dimension %q", it.Key, m[1], it.Dimension)
		}
		if m[2] != it.Facet {
			t.Errorf("key %q: facet part %q, item facet %q", it.Key, m[2], it.Facet)
		}
		if seen[it.Key] {
			t.Errorf("duplicate key %q", it.Key)
		}
		seen[it.Key] = true
	}
}

func TestBankOneCorePerDimension(t *testing.T) {
	cores := map[string][]string{}
	for _, it := range BuiltinBank() {
		if it.Core {
			cores[it.Dimension] = append(cores[it.Dimension], it.Key)
		}
	}
	for _, d := range Dimensions() {
		if got := len(cores[d]); got != 1 {
			t.Errorf("dimension %q has %d core items %v, want exactly 1", d, got, cores[d])
		}
	}
	for d := range cores {
		if !ValidDimension(d) {
			t.Errorf("core item in unknown dimension %q", d)
		}
	}
}

func TestBankFacetCoverage(t *testing.T) {
	count := map[string]map[string]int{}
	perDim := map[string]int{}
	for _, it := range BuiltinBank() {
		if count[it.Dimension] == nil {
			count[it.Dimension] = map[string]int{}
		}
		count[it.Dimension][it.Facet]++
		perDim[it.Dimension]++
	}
	for _, d := range Dimensions() {
		if perDim[d] < 4 {
			t.Errorf("dimension %q has %d items, want >= 4", d, perDim[d])
		}
		facets := FacetsOf(d)
		if len(facets) == 0 {
			t.Errorf("dimension %q has no facets", d)
		}
		for _, f := range facets {
			if n := count[d][f]; n < 2 {
				t.Errorf("facet %s.%s has %d items, want >= 2", d, f, n)
			}
		}
	}
}

func TestBankItemsValid(t *testing.T) {
	for _, it := range BuiltinBank() {
		if !ValidDimension(it.Dimension) {
			t.Errorf("%s: invalid dimension %q", it.Key, it.Dimension)
		}
		if !ValidFacet(it.Dimension, it.Facet) {
			t.Errorf("%s: facet %q not valid for dimension %q", it.Key, it.Facet, it.Dimension)
		}
	}
}

func TestBankTexts(t *testing.T) {
	seen := map[string]string{}
	for _, it := range BuiltinBank() {
		txt := it.Text
		switch {
		case strings.TrimSpace(txt) == "":
			t.Errorf("%s: empty text", it.Key)
			continue
		case len([]rune(txt)) > 120:
			t.Errorf("%s: text is %d chars, want <= 120", it.Key, len([]rune(txt)))
		case strings.TrimRightFunc(txt, unicode.IsSpace) != txt:
			t.Errorf("%s: trailing whitespace in %q", it.Key, txt)
		case strings.TrimLeftFunc(txt, unicode.IsSpace) != txt:
			t.Errorf("%s: leading whitespace in %q", it.Key, txt)
		}
		norm := strings.ToLower(strings.TrimSpace(txt))
		if prev, dup := seen[norm]; dup {
			t.Errorf("%s: duplicate text of %s: %q", it.Key, prev, txt)
		}
		seen[norm] = it.Key
	}
}

func TestBankOrder(t *testing.T) {
	dimRank := map[string]int{}
	for i, d := range Dimensions() {
		dimRank[d] = i
	}
	rank := func(it BankItem) [3]int {
		fr := -1
		for i, f := range FacetsOf(it.Dimension) {
			if f == it.Facet {
				fr = i
			}
		}
		n, _ := strconv.Atoi(it.Key[strings.LastIndexByte(it.Key, '.')+1:])
		return [3]int{dimRank[it.Dimension], fr, n}
	}
	bank := BuiltinBank()
	for i := 1; i < len(bank); i++ {
		a, b := rank(bank[i-1]), rank(bank[i])
		if !(a[0] < b[0] || a[0] == b[0] && (a[1] < b[1] || a[1] == b[1] && a[2] < b[2])) {
			t.Errorf("bank out of order: %s before %s", bank[i-1].Key, bank[i].Key)
		}
	}
}

func TestBuiltinBankReturnsCopy(t *testing.T) {
	a := BuiltinBank()
	if len(a) == 0 {
		t.Fatal("BuiltinBank is empty")
	}
	orig := a[0]
	a[0].Text = "mutated"
	a[0].Core = !a[0].Core
	a[0].Key = "mutated.key.1"
	_ = append(a[:1], BankItem{Key: "x.y.1"})
	b := BuiltinBank()
	if b[0] != orig {
		t.Errorf("mutating BuiltinBank result changed the bank: got %+v, want %+v", b[0], orig)
	}
	if b[1].Key == "x.y.1" {
		t.Error("appending to BuiltinBank result changed the bank")
	}
}

func TestDimensionsAndLabels(t *testing.T) {
	want := []string{DimPurpose, DimMastery, DimAutonomy, DimEngagement}
	got := Dimensions()
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("Dimensions() = %v, want %v", got, want)
	}
	got[0] = "mutated"
	if Dimensions()[0] != DimPurpose {
		t.Error("mutating Dimensions() result changed the dimensions")
	}

	labels := []struct{ dim, label string }{
		{DimPurpose, "Purpose"},
		{DimMastery, "Mastery"},
		{DimAutonomy, "Autonomy"},
		{DimEngagement, "Engagement"},
	}
	for _, tc := range labels {
		if !ValidDimension(tc.dim) {
			t.Errorf("ValidDimension(%q) = false", tc.dim)
		}
		if l := DimensionLabel(tc.dim); l != tc.label {
			t.Errorf("DimensionLabel(%q) = %q, want %q", tc.dim, l, tc.label)
		}
		for _, f := range FacetsOf(tc.dim) {
			if l := FacetLabel(f); l == "" || l == f && f != FacetEngagement {
				t.Errorf("FacetLabel(%q) = %q, want a human label", f, l)
			}
		}
	}
	if ValidDimension("") || ValidDimension("wellbeing") || ValidDimension("Purpose") {
		t.Error("ValidDimension accepts an unknown dimension")
	}
	if FacetsOf("wellbeing") != nil {
		t.Error("FacetsOf(unknown) should be nil")
	}
}

func TestValidFacet(t *testing.T) {
	cases := []struct {
		dim, facet string
		want       bool
	}{
		{DimPurpose, FacetMission, true},
		{DimPurpose, FacetConnection, true},
		{DimMastery, FacetCoaching, true},
		{DimMastery, FacetDelegation, true},
		{DimAutonomy, FacetMicromanagement, true},
		{DimAutonomy, FacetLocation, true},
		{DimEngagement, FacetIntentToStay, true},
		{DimPurpose, FacetTraining, false},
		{DimMastery, FacetSchedule, false},
		{DimAutonomy, FacetEngagement, false},
		{DimEngagement, FacetMission, false},
		{"unknown", FacetMission, false},
		{DimPurpose, "", false},
	}
	for _, tc := range cases {
		if got := ValidFacet(tc.dim, tc.facet); got != tc.want {
			t.Errorf("ValidFacet(%q, %q) = %v, want %v", tc.dim, tc.facet, got, tc.want)
		}
	}
	// Every facet belongs to exactly one dimension.
	owner := map[string]string{}
	for _, d := range Dimensions() {
		for _, f := range FacetsOf(d) {
			if o, ok := owner[f]; ok {
				t.Errorf("facet %q in both %q and %q", f, o, d)
			}
			owner[f] = d
		}
	}
}
