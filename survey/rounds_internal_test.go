package survey

import (
	"fmt"
	"testing"
)

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
	rotOf := map[string]int{}
	for _, q := range qs {
		if q.Core {
			core++
		} else {
			rot++
			rotOf[q.Dimension]++
		}
	}
	const perRound = 8
	// The 4 rotating slots go one to each dimension, so a full cycle takes
	// as many rounds as the dimension with the most rotating items has.
	rounds := 0
	for _, n := range rotOf {
		rounds = max(rounds, n)
	}
	seen := map[uint]bool{}
	for n := 1; n <= rounds; n++ {
		dims, all := map[string]int{}, map[string]int{}
		for _, q := range pickQuestions(qs, perRound, n) {
			all[q.Dimension]++
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
			if all[d] != perRound/4 {
				t.Errorf("round %d asks %d items of %s, want its share of %d", n, all[d], d, perRound/4)
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
