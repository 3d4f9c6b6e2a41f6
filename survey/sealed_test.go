package survey_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/pulse-survey/pulse/survey"
)

// boxKeyOf returns a round's box key row.
func (e *env) boxKeyOf(roundID uint) survey.RoundBoxKey {
	e.t.Helper()
	var bk survey.RoundBoxKey
	if err := e.db.Where("round_id = ?", roundID).First(&bk).Error; err != nil {
		e.t.Fatalf("box key of round %d: %v", roundID, err)
	}
	return bk
}

func TestLaunchPublishesBoxKey(t *testing.T) {
	e := newRoundEnv(t)
	s := newSmallRound(e)
	bk := e.boxKeyOf(s.round.ID)
	if len(bk.PublicKey) != survey.BoxPublicKeyLen || len(bk.PrivateKey) == 0 {
		t.Fatalf("box key: public %d bytes, private %d bytes", len(bk.PublicKey), len(bk.PrivateKey))
	}
	// The private key is stored sealed: not the 32-byte seed itself.
	if len(bk.PrivateKey) == 32 {
		t.Error("the box private key looks stored in clear")
	}
	m := manifestKeys(t, s.manifest)
	if m.Version != survey.ManifestVersion || m.Box == nil || m.MinGroupSize != 5 {
		t.Fatalf("manifest %+v", m)
	}
	pub, err := survey.DecodeB64(m.Box.PublicKey)
	if err != nil || !bytes.Equal(pub, bk.PublicKey) || m.Box.KEMID != survey.BoxKEMID {
		t.Errorf("manifest box key %+v does not match the stored one", m.Box)
	}
	// Units with their teams and invitee counts.
	units := map[uint]survey.ManifestKey{}
	for _, k := range m.Keys {
		units[k.Unit] = k
	}
	if u := units[s.root]; u.Invited != 5 || len(u.Teams) != 1 {
		t.Errorf("root unit %+v, want 5 invitees of one team", u)
	}
	if u := units[s.x]; u.Invited != 6 || len(u.Teams) != 1 || u.Teams[0] != "Team X" {
		t.Errorf("unit X %+v, want 6 invitees of Team X", u)
	}
}

func TestObtainTokenRefusesSmallUnit(t *testing.T) {
	e := newRoundEnv(t)
	s := newSmallRound(e)
	secret := s.byUnit[s.x][0]
	v := e.view(secret)
	issue := func(blinded []byte) ([]byte, error) {
		t.Fatal("a token was requested for a unit the manifest does not protect")
		return nil, nil
	}
	doctor := func(change func(m *survey.Manifest)) []byte {
		m := manifestKeys(t, s.manifest)
		change(&m)
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for name, m := range map[string][]byte{
		"unit below k": doctor(func(m *survey.Manifest) {
			for i := range m.Keys {
				m.Keys[i].Invited = 4
			}
		}),
		"unit missing": doctor(func(m *survey.Manifest) {
			var keep []survey.ManifestKey
			for _, k := range m.Keys {
				if k.Unit != s.x {
					keep = append(keep, k)
				}
			}
			m.Keys = keep
		}),
		"no minimum": doctor(func(m *survey.Manifest) { m.MinGroupSize = 0 }),
	} {
		if _, err := survey.ObtainToken(m, v.Round.ID, v.UnitID, v.KeyID, issue); err == nil {
			t.Errorf("%s: ObtainToken accepted the manifest", name)
		}
	}
}

func TestSealedSubmission(t *testing.T) {
	e := newRoundEnv(t)
	s := newSmallRound(e)
	rid := s.round.ID
	other := e.launch(e.program("Other").ID)
	otherBox := e.boxKeyOf(other.ID)
	threes := e.answers(rid, func(int) int { return 3 })
	submit := func(in survey.BallotInput) error { return e.svc.Rounds.SubmitBallot(e.ctx, in) }
	refused := func(t *testing.T, in survey.BallotInput) {
		t.Helper()
		before := e.boxState(rid)
		wantField(t, submit(in), "sealed")
		if got := e.boxState(rid); got != before {
			t.Errorf("a refused submission wrote: %+v -> %+v", before, got)
		}
	}
	seal := func(t *testing.T, box []byte, round uint, aad []byte) []byte {
		t.Helper()
		b, err := survey.SealBallot(box, round, aad, threes, "a sealed comment")
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	t.Run("only ciphertext is stored", func(t *testing.T) {
		tok := e.token(s.byUnit[s.x][0])
		in := ballot(tok, threes, "sealed-comment-marker")
		if len(in.Sealed) != survey.SealedBallotLen || in.Answers != nil || in.Comment != "" {
			t.Fatalf("the page's ballot is not sealed: %d bytes", len(in.Sealed))
		}
		if err := submit(in); err != nil {
			t.Fatal(err)
		}
		var box survey.BoxBallot
		if err := e.db.Where("round_id = ?", rid).First(&box).Error; err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(box.Payload, in.Sealed) || !bytes.Equal(box.Token, tok.Message) {
			t.Error("the box row is not the sealed ballot and its token")
		}
		if bytes.Contains(box.Payload, []byte("sealed-comment-marker")) {
			t.Error("the comment is readable in the box")
		}
	})

	t.Run("same length whatever the comment", func(t *testing.T) {
		tok := e.token(s.byUnit[s.x][1])
		a, b := ballot(tok, threes, ""), ballot(tok, threes, string(bytes.Repeat([]byte("€"), survey.MaxCommentRunes)))
		if len(a.Sealed) != len(b.Sealed) {
			t.Errorf("sealed lengths %d and %d differ", len(a.Sealed), len(b.Sealed))
		}
	})

	t.Run("refusals", func(t *testing.T) {
		tok := e.token(s.byUnit[s.x][2])
		good := ballot(tok, threes, "")
		with := func(sealed []byte) survey.BallotInput {
			in := good
			in.Sealed = sealed
			return in
		}
		flip := func(i int) []byte {
			c := bytes.Clone(good.Sealed)
			c[i] ^= 1
			return c
		}
		refused(t, with(flip(10)))                         // the encapsulated key
		refused(t, with(flip(len(good.Sealed)-1)))         // the AEAD tag
		refused(t, with(flip(len(good.Sealed)/2)))         // the body
		refused(t, with(good.Sealed[:len(good.Sealed)-1])) // wrong length
		refused(t, with(append(bytes.Clone(good.Sealed), 0)))
		refused(t, with(nil))
		// Sealed to the other round's box key, or for the other round's info.
		refused(t, with(seal(t, otherBox.PublicKey, other.ID, tok.Message)))
		refused(t, with(seal(t, tok.BoxKey, other.ID, tok.Message)))
		// Bound to another token's message (wrong associated data).
		tok2 := e.token(s.byUnit[s.x][3])
		refused(t, with(seal(t, tok.BoxKey, rid, tok2.Message)))
		// A clear ballot, alone or next to the sealed one.
		clear := good
		clear.Sealed, clear.Answers = nil, threes
		refused(t, clear)
		clear.Sealed = good.Sealed
		refused(t, clear)
		// Sealed ballots are validated: an answer out of range is a 422 on
		// the field, as for a clear ballot.
		bad := e.answers(rid, func(int) int { return 9 })
		in, err := tok.Ballot(bad, "")
		if err != nil {
			t.Fatal(err)
		}
		before := e.boxState(rid)
		var ve *survey.ValidationError
		if err := submit(in); !errors.As(err, &ve) {
			t.Errorf("out-of-range sealed answers: %v, want a validation error", err)
		}
		if e.boxState(rid) != before {
			t.Error("an invalid sealed ballot was written")
		}
		// The token was not spent by any of this.
		if err := submit(good); err != nil {
			t.Errorf("the good ballot after refusals: %v", err)
		}
	})
}

// TestCloseCountsInvalidBallots forces bad entries into the box, as a
// database writer could: close counts them as invalid, keeps the valid
// ones, and does not fail.
func TestCloseCountsInvalidBallots(t *testing.T) {
	e := newRoundEnv(t)
	s := newSmallRound(e)
	rid := s.round.ID
	fives := e.answers(rid, func(int) int { return 5 })
	for _, secret := range s.byUnit[s.x][:5] {
		if err := e.svc.Rounds.SubmitBallot(e.ctx, ballot(e.token(secret), fives, "")); err != nil {
			t.Fatal(err)
		}
	}
	tok := e.token(s.byUnit[s.root][0])
	outOfRange, err := survey.SealBallot(tok.BoxKey, rid, tok.Message, e.answers(rid, func(int) int { return 7 }), "")
	if err != nil {
		t.Fatal(err)
	}
	garbage := bytes.Repeat([]byte{0x42}, survey.SealedBallotLen)
	legacyJunk := []byte("not json")
	for _, row := range []struct {
		payload, token []byte
	}{{outOfRange, tok.Message}, {garbage, tok.Message}, {outOfRange[:100], tok.Message}, {legacyJunk, nil}} {
		if err := e.db.Exec("INSERT INTO ballot_box (id, round_id, unit_id, payload, token) VALUES (?, ?, ?, ?, ?)",
			uuid.NewString(), rid, s.root, row.payload, row.token).Error; err != nil {
			t.Fatal(err)
		}
	}
	if err := e.svc.Rounds.Close(e.ctx, rid); err != nil {
		t.Fatalf("close: %v", err)
	}
	r, err := e.svc.Rounds.Round(e.ctx, rid)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != survey.RoundClosed || r.InvalidBallots != 4 {
		t.Errorf("round %s with %d invalid ballots, want closed with 4", r.Status, r.InvalidBallots)
	}
	if n := e.countRound("ballots", rid); n != 5 {
		t.Errorf("%d ballots released, want the 5 valid ones", n)
	}
	if n := e.countRound("ballot_box", rid); n != 0 {
		t.Errorf("%d box rows left", n)
	}
	if bk := e.boxKeyOf(rid); bk.PrivateKey != nil || len(bk.PublicKey) == 0 {
		t.Error("the box private key survived close (or the public key was dropped)")
	}
	var kept int64
	e.db.Table("invitations").Where("round_id = ? AND (blinded_hash IS NOT NULL OR blind_signature IS NOT NULL)", rid).Count(&kept)
	if kept != 0 {
		t.Errorf("%d invitations keep their blinded message or signature after close", kept)
	}
	if n := e.countWhere("invitations", "round_id = ? AND token_issued = ?", rid, true); n != 6 {
		t.Errorf("%d invitations say a token was issued, want 6", n)
	}
}

// TestCloseRefusesUnreadableBoxKey: with another instance secret the box
// key cannot be decrypted; close must fail and keep everything rather than
// destroy the ballots.
func TestCloseRefusesUnreadableBoxKey(t *testing.T) {
	e := newRoundEnv(t)
	s := newSmallRound(e)
	rid := s.round.ID
	if err := e.svc.Rounds.SubmitBallot(e.ctx, ballot(e.token(s.byUnit[s.x][0]), e.answers(rid, func(int) int { return 2 }), "")); err != nil {
		t.Fatal(err)
	}
	if err := e.db.Exec("UPDATE round_box_keys SET private_key = ? WHERE round_id = ?", bytes.Repeat([]byte{1}, 60), rid).Error; err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Rounds.Close(e.ctx, rid); err == nil {
		t.Fatal("close succeeded without being able to open the box")
	}
	r, _ := e.svc.Rounds.Round(e.ctx, rid)
	if r.Status != survey.RoundOpen || e.countRound("ballot_box", rid) != 1 {
		t.Errorf("after a failed close: round %s, %d box rows; want open with 1", r.Status, e.countRound("ballot_box", rid))
	}
}

// TestCloseLegacyClearRound is the upgrade path: a round launched before
// sealed ballots has no box key and clear ballots in the box. It keeps
// taking clear ballots until it closes, and closes as before.
func TestCloseLegacyClearRound(t *testing.T) {
	e := newRoundEnv(t)
	s := newSmallRound(e)
	rid := s.round.ID
	// What the database of an upgraded instance holds for such a round.
	if err := e.db.Exec("DELETE FROM round_box_keys WHERE round_id = ?", rid).Error; err != nil {
		t.Fatal(err)
	}
	payload := func(v int, c string) []byte {
		a := map[string]int{}
		for q, x := range e.answers(rid, func(int) int { return v }) {
			a[uintStr(q)] = x
		}
		b, _ := json.Marshal(map[string]any{"a": a, "c": c})
		return b
	}
	for i := 0; i < 3; i++ {
		if err := e.db.Exec("INSERT INTO ballot_box (id, round_id, unit_id, payload) VALUES (?, ?, ?, ?)",
			uuid.NewString(), rid, s.x, payload(4, "")).Error; err != nil {
			t.Fatal(err)
		}
	}
	m := manifestKeys(t, e.manifestBytes(rid))
	if m.Box != nil {
		t.Fatal("the manifest of a round without box key offers one")
	}
	// New clear submissions to the old round still work; sealed ones are refused.
	for i, secret := range s.byUnit[s.x][:3] {
		tok := e.token(secret)
		if tok.BoxKey != nil {
			t.Fatal("token carries a box key")
		}
		in := ballot(tok, e.answers(rid, func(int) int { return 2 }), []string{"legacy comment", "", ""}[i])
		if in.Sealed != nil {
			t.Fatal("a ballot of a legacy round was sealed")
		}
		if err := e.svc.Rounds.SubmitBallot(e.ctx, in); err != nil {
			t.Fatalf("clear ballot of a legacy round: %v", err)
		}
	}
	if err := e.svc.Rounds.Close(e.ctx, rid); err != nil {
		t.Fatalf("close: %v", err)
	}
	r, _ := e.svc.Rounds.Round(e.ctx, rid)
	if r.Status != survey.RoundClosed || r.InvalidBallots != 0 {
		t.Errorf("round %s, %d invalid", r.Status, r.InvalidBallots)
	}
	if n := e.countRound("ballots", rid); n != 6 {
		t.Errorf("%d ballots, want 6", n)
	}
	if n := e.countRound("comments", rid); n != 1 {
		t.Errorf("%d comments, want 1", n)
	}
	if n := e.countWhere("answers", "value = 4"); n != int64(3*len(e.roundQuestions(rid))) {
		t.Errorf("%d answers of 4, want those of the 3 ballots already in the box", n)
	}
}

func uintStr(u uint) string {
	b, _ := json.Marshal(u)
	return string(b)
}

func (e *env) manifestBytes(roundID uint) []byte {
	b, _ := e.manifest(roundID)
	return b
}
