package survey_test

import (
	"bytes"
	"crypto/hpke"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/pulse-survey/pulse/survey"
	"github.com/pulse-survey/pulse/survey/surveytest"
)

// TestSealInteropBrowserSeals runs the survey page's sealing code (frontend/static/js/seal.js
// with the committed HPKE bundle, in node) against a real round: what it seals, the server
// opens, validates and releases at close; altered, it is refused.
func TestSealInteropBrowserSeals(t *testing.T) {
	js := surveytest.NewJSClient(t)
	e := newRoundEnv(t)
	s := newSmallRound(e)
	rid := s.round.ID
	box := manifestKeys(t, s.manifest).Box
	if box == nil {
		t.Fatal("the manifest has no box key")
	}
	answers := e.answers(rid, func(pos int) int { return 1 + pos%5 })

	// The page's plaintext is byte for byte the server's format.
	one := map[uint]int{42: 4}
	for _, comment := range []string{"", "ça va, 👍 merci"} {
		jsPlain, err := js.EncodeBallot(one, comment)
		if err != nil {
			t.Fatal(err)
		}
		goPlain, err := survey.EncodeBallotPlain(one, comment)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(jsPlain, goPlain) {
			t.Errorf("comment %q: the page's plaintext differs from the server's format", comment)
		}
	}

	comments := []string{"browser-sealed comment one", "", strings.Repeat("ü", survey.MaxCommentRunes)}
	var lengths []int
	for i, comment := range comments {
		tok := e.token(s.byUnit[s.x][i])
		sealed, err := js.Seal(box, rid, tok.Message, answers, comment)
		if err != nil {
			t.Fatalf("seal in node: %v", err)
		}
		lengths = append(lengths, len(sealed))
		in := survey.BallotInput{KeyID: tok.KeyID, Message: tok.Message, Signature: tok.Signature, Sealed: sealed}
		if i == 0 {
			// Altered in transit, or presented with another token: refused, nothing written.
			before := e.boxState(rid)
			bad := in
			bad.Sealed = flipBit(sealed, len(sealed)-3)
			wantField(t, e.svc.Rounds.SubmitBallot(e.ctx, bad), "sealed")
			other := e.token(s.byUnit[s.x][5])
			bad = survey.BallotInput{KeyID: other.KeyID, Message: other.Message, Signature: other.Signature, Sealed: sealed}
			wantField(t, e.svc.Rounds.SubmitBallot(e.ctx, bad), "sealed")
			if e.boxState(rid) != before {
				t.Error("a refused sealed ballot was written")
			}
		}
		if err := e.svc.Rounds.SubmitBallot(e.ctx, in); err != nil {
			t.Fatalf("ballot %d sealed by the page: %v", i, err)
		}
	}
	if lengths[0] != survey.SealedBallotLen || lengths[1] != lengths[0] || lengths[2] != lengths[0] {
		t.Errorf("sealed lengths %v, want %d for every comment", lengths, survey.SealedBallotLen)
	}
	if err := e.svc.Rounds.Close(e.ctx, rid); err != nil {
		t.Fatal(err)
	}
	if n := e.countRound("ballots", rid); n != 3 {
		t.Errorf("%d ballots after close, want 3", n)
	}
	var texts []string
	e.db.Table("comments").Where("round_id = ?", rid).Order("text").Pluck("text", &texts)
	if len(texts) != 2 || texts[0] != comments[0] || texts[1] != comments[2] {
		t.Errorf("comments after close: %d, want the two non-empty ones", len(texts))
	}
}

// TestSealInteropGoSeals: a ballot sealed in Go (as survey.SealBallot, the demo's and tests'
// client, does) opens with the browser library too.
func TestSealInteropGoSeals(t *testing.T) {
	js := surveytest.NewJSClient(t)
	seed := make([]byte, 32)
	if _, err := rand.Read(seed); err != nil {
		t.Fatal(err)
	}
	sk, err := hpke.MLKEM768X25519().NewPrivateKey(seed)
	if err != nil {
		t.Fatal(err)
	}
	aad := []byte("prepared token message")
	answers := map[uint]int{7: 2}
	sealed, err := survey.SealBallot(sk.PublicKey().Bytes(), 9, aad, answers, "from Go")
	if err != nil {
		t.Fatal(err)
	}
	plain, err := js.OpenSealed(seed, 9, aad, sealed)
	if err != nil {
		t.Fatalf("open in node: %v", err)
	}
	want, _ := survey.EncodeBallotPlain(answers, "from Go")
	if !bytes.Equal(plain, want) {
		t.Error("node opened other bytes than Go sealed")
	}
	if _, err := js.OpenSealed(seed, 9, []byte("another token"), sealed); err == nil {
		t.Error("node opened a ballot with the wrong associated data")
	}
	if _, err := js.OpenSealed(seed, 10, aad, sealed); err == nil {
		t.Error("node opened a ballot for another round")
	}
}
