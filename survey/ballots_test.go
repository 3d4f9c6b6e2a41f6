package survey_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/pulse-survey/pulse/survey"
	"github.com/pulse-survey/pulse/survey/surveytest"
)

// boxState is what a refused submission must leave untouched.
type boxState struct{ box, spent int64 }

func (e *env) boxState(roundID uint) boxState {
	e.t.Helper()
	return boxState{e.countRound("ballot_box", roundID), e.countRound("spent_tokens", roundID)}
}

func TestSubmitBallot(t *testing.T) {
	e := newRoundEnv(t)
	s := newSmallRound(e)
	rid := s.round.ID
	// A second program's round, open at the same time, for "key of another round".
	other := e.launch(e.program("Other").ID)
	otherKeys := e.roundKeys(other.ID)

	rootSecrets, xSecrets := s.byUnit[s.root], s.byUnit[s.x]
	threes := e.answers(rid, func(int) int { return 3 })
	submit := func(in survey.BallotInput) error { return e.svc.Rounds.SubmitBallot(e.ctx, in) }

	t.Run("valid ballot goes to the box", func(t *testing.T) {
		tok := e.token(xSecrets[0])
		if err := submit(ballot(tok, threes, "  fine  ")); err != nil {
			t.Fatal(err)
		}
		if got := e.boxState(rid); got != (boxState{1, 1}) {
			t.Fatalf("box %d spent %d, want 1 and 1", got.box, got.spent)
		}
		var box survey.BoxBallot
		if err := e.db.Where("round_id = ?", rid).First(&box).Error; err != nil {
			t.Fatal(err)
		}
		if box.UnitID != s.x || len(box.ID) != 36 || box.ID[14] != '4' {
			t.Errorf("box row %s unit %d, want a UUIDv4 of unit %d", box.ID, box.UnitID, s.x)
		}
		var spent survey.SpentToken
		if err := e.db.Where("round_id = ?", rid).First(&spent).Error; err != nil {
			t.Fatal(err)
		}
		if spent.Nullifier != sha256Hex(string(tok.Message)) {
			t.Errorf("nullifier %s, want SHA-256 of the prepared message", spent.Nullifier)
		}
		if n := e.countRound("ballots", rid); n != 0 {
			t.Errorf("%d result ballots while the round is open, want 0", n)
		}
		// The spent token cannot be spent again.
		err := submit(ballot(tok, threes, ""))
		wantIs(t, err, survey.ErrTokenSpent)
		wantIs(t, err, survey.ErrConflict)
		if got := e.boxState(rid); got != (boxState{1, 1}) {
			t.Errorf("after a double spend: box %d spent %d, want 1 and 1", got.box, got.spent)
		}
	})

	t.Run("double spend concurrent", func(t *testing.T) {
		tok := e.token(xSecrets[1])
		before := e.boxState(rid)
		const n = 10
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs[i] = submit(ballot(tok, threes, ""))
			}()
		}
		close(start)
		wg.Wait()
		ok := 0
		for i, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, survey.ErrTokenSpent):
				t.Errorf("submission %d: %v, want ErrTokenSpent", i, err)
			}
		}
		if ok != 1 {
			t.Errorf("%d submissions accepted, want exactly 1", ok)
		}
		if got := e.boxState(rid); got != (boxState{before.box + 1, before.spent + 1}) {
			t.Errorf("box %d spent %d, want %d and %d", got.box, got.spent, before.box+1, before.spent+1)
		}
	})

	// Refusals below must leave the box and spent tokens as they are and
	// must not spend the token: refused is the token, it stays usable.
	refused := func(t *testing.T, in survey.BallotInput, field string) {
		t.Helper()
		before := e.boxState(rid)
		wantField(t, submit(in), field)
		if got := e.boxState(rid); got != before {
			t.Errorf("a refused submission wrote: box %d->%d spent %d->%d", before.box, got.box, before.spent, got.spent)
		}
	}

	t.Run("wrong key", func(t *testing.T) {
		tok := e.token(rootSecrets[0])
		in := ballot(tok, threes, "")
		in.KeyID = s.keys[s.x].KeyID // another unit's key
		refused(t, in, "message")
		in.KeyID = otherKeys[s.root].KeyID // same unit, another round
		refused(t, in, "message")
		in.KeyID = strings.Repeat("0", 64)
		refused(t, in, "key_id")
		in.KeyID = ""
		refused(t, in, "key_id")
		if err := submit(ballot(tok, threes, "")); err != nil {
			t.Errorf("the token after refused attempts: %v", err)
		}
	})

	t.Run("message naming another unit or round", func(t *testing.T) {
		// A root-unit invitee has the root's key sign a message that names
		// unit X (blinding hides it from the server).
		b := blindMessage(t, s.keys[s.root].PublicKey, survey.TokenMessage(rid, s.x, nonce(t)))
		sig, err := e.svc.Rounds.IssueToken(e.ctx, rootSecrets[1], b.blinded)
		if err != nil {
			t.Fatal(err)
		}
		tok := e.sealable(b.finalize(t, s.keys[s.root].KeyID, sig))
		refused(t, ballot(tok, threes, ""), "message")
		tok.KeyID = s.keys[s.x].KeyID
		refused(t, ballot(tok, threes, ""), "signature")

		// ...or a message naming the other round, signed with this round's key.
		b = blindMessage(t, s.keys[s.root].PublicKey, survey.TokenMessage(other.ID, s.root, nonce(t)))
		sig, err = e.svc.Rounds.IssueToken(e.ctx, rootSecrets[2], b.blinded)
		if err != nil {
			t.Fatal(err)
		}
		tok = e.sealable(b.finalize(t, s.keys[s.root].KeyID, sig))
		refused(t, ballot(tok, threes, ""), "message")
		tok.KeyID = otherKeys[s.root].KeyID
		refused(t, ballot(tok, threes, ""), "signature")
	})

	t.Run("tampered token", func(t *testing.T) {
		tok := e.token(xSecrets[2])
		flip := func(b []byte, i int, x byte) []byte {
			c := bytes.Clone(b)
			c[i] ^= x
			return c
		}
		in := ballot(tok, threes, "")
		in.Message = flip(tok.Message, 0, 1) // the random prefix
		refused(t, in, "signature")
		// Another hex digit at the end of the nonce: still a well-formed message.
		in.Message = bytes.Clone(tok.Message)
		if last := len(in.Message) - 1; in.Message[last] == '0' {
			in.Message[last] = '1'
		} else {
			in.Message[last] = '0'
		}
		refused(t, in, "signature")
		in.Message = tok.Message[:len(tok.Message)-1]
		refused(t, in, "message")
		in.Message = tok.Message
		in.Signature = flip(tok.Signature, 100, 0x80)
		refused(t, in, "signature")
		in.Signature = tok.Signature[:255]
		refused(t, in, "signature")
		in.Signature = nil
		refused(t, in, "signature")
		if err := submit(ballot(tok, threes, "")); err != nil {
			t.Errorf("the untampered token after refused attempts: %v", err)
		}
	})

	t.Run("invalid answers", func(t *testing.T) {
		tok := e.token(xSecrets[3])
		qs := e.roundQuestions(rid)
		first := qs[0].QuestionID
		field := "answers." + strconv.FormatUint(uint64(first), 10)
		with := func(change func(a map[uint]int)) survey.BallotInput {
			a := e.answers(rid, func(int) int { return 4 })
			change(a)
			return ballot(tok, a, "")
		}
		refused(t, with(func(a map[uint]int) { delete(a, first) }), field)
		refused(t, with(func(a map[uint]int) { a[first] = 0 }), field)
		refused(t, with(func(a map[uint]int) { a[first] = 6 }), field)
		refused(t, with(func(a map[uint]int) { a[first] = 255 }), field) // the largest a sealed answer carries
		refused(t, with(func(a map[uint]int) { a[999999] = 3 }), "answers.999999")
		refused(t, ballot(tok, nil, ""), field)
		// A bank question that this round does not ask.
		inRound := map[uint]bool{}
		for _, q := range qs {
			inRound[q.QuestionID] = true
		}
		bank, err := e.svc.Programs.Questions(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range bank {
			if !inRound[q.ID] {
				refused(t, with(func(a map[uint]int) { a[q.ID] = 3 }), "answers."+strconv.FormatUint(uint64(q.ID), 10))
				break
			}
		}
		if err := submit(with(func(map[uint]int) {})); err != nil {
			t.Errorf("the token after refused answers: %v", err)
		}
	})

	long := strings.Repeat("é", survey.MaxCommentRunes)
	t.Run("comment length", func(t *testing.T) {
		tok := e.token(xSecrets[4])
		refused(t, ballot(tok, threes, long+"é"), "comment")
		refused(t, ballot(tok, threes, "ok \xff"), "comment")
		// Exactly the limit (in runes, not bytes), surrounding space trimmed.
		if err := submit(ballot(tok, threes, "\n  "+long+"  \t")); err != nil {
			t.Errorf("a comment of %d runes: %v", survey.MaxCommentRunes, err)
		}
	})

	// Tokens obtained while the round is open, spent after it ended.
	late1, late2 := e.token(xSecrets[5]), e.token(rootSecrets[3])

	t.Run("after the closing time", func(t *testing.T) {
		e.clock.Advance(s.round.ClosesAt.Sub(e.clock.Now()))
		before := e.boxState(rid)
		wantIs(t, submit(ballot(late1, threes, "")), survey.ErrRoundClosed)
		if got := e.boxState(rid); got != before {
			t.Errorf("a late submission wrote: %+v -> %+v", before, got)
		}
	})

	t.Run("after close", func(t *testing.T) {
		if err := e.svc.Rounds.Close(e.ctx, rid); err != nil {
			t.Fatal(err)
		}
		wantIs(t, submit(ballot(late2, threes, "")), survey.ErrRoundClosed)
		wantIs(t, submit(ballot(late1, threes, "")), survey.ErrRoundClosed)
		if got := e.boxState(rid); got != (boxState{}) {
			t.Errorf("box %d spent %d after close, want empty", got.box, got.spent)
		}
		// Accepted so far: valid, concurrent, wrong key's retry, tampered's
		// retry, answers' retry, long comment.
		if n := e.countRound("ballots", rid); n != 6 {
			t.Errorf("%d ballots, want 6", n)
		}
		var comments []survey.Comment
		if err := e.db.Where("round_id = ?", rid).Find(&comments).Error; err != nil {
			t.Fatal(err)
		}
		texts := map[string]bool{}
		for _, c := range comments {
			texts[c.Text] = true
			if c.UnitID != s.x {
				t.Errorf("comment of unit %d, want %d", c.UnitID, s.x)
			}
		}
		if len(comments) != 2 || !texts["fine"] || !texts[long] {
			t.Errorf("comments %d (fine: %v, %d runes: %v), want the trimmed two", len(comments), texts["fine"], utf8.RuneCountInString(long), texts[long])
		}
	})
}

// closeOrg is ~200 invitees in three units: Acme (65 direct), Alpha (70)
// and Beta (70).
func closeOrg(e *env) (units []uint) {
	e.t.Helper()
	root := e.root()
	alpha, beta := e.team(root, "Alpha"), e.team(root, "Beta")
	e.people(root, "root", 65)
	e.people(alpha, "alpha", 70)
	e.people(beta, "beta", 70)
	return []uint{root, alpha, beta}
}

// tokens obtains a token for every secret, a few at a time.
func (e *env) tokens(secrets []string) []*survey.Token {
	e.t.Helper()
	out := make([]*survey.Token, len(secrets))
	errs := make([]error, len(secrets))
	var wg sync.WaitGroup
	next := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out[i], errs[i] = e.obtainToken(secrets[i])
			}
		}()
	}
	for i := range secrets {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		e.t.Fatalf("obtain tokens: %v", err)
	}
	return out
}

// unitOfKey maps the round's key ids to their units.
func (e *env) unitOfKey(roundID uint) map[string]uint {
	out := map[string]uint{}
	for u, k := range e.roundKeys(roundID) {
		out[k.KeyID] = u
	}
	return out
}

// seq is 0..n-1.
func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// spearman is the rank correlation of two permutations of 0..n-1 given as
// x[i] = rank of item i on the first scale, y[i] on the second.
func spearman(x, y []int) float64 {
	n := float64(len(x))
	var d2 float64
	for i := range x {
		d := float64(x[i] - y[i])
		d2 += d * d
	}
	return 1 - 6*d2/(n*(n*n-1))
}

func TestCloseRound(t *testing.T) {
	e := newRoundEnv(t)
	units := closeOrg(e)
	r := e.launch(e.program("Pulse").ID)
	var hookCalls []uint
	var hookMu sync.Mutex
	e.useReleaser(releaseFunc(func(ctx context.Context, tx *gorm.DB, roundID uint) error {
		hookMu.Lock()
		defer hookMu.Unlock()
		hookCalls = append(hookCalls, roundID)
		return nil
	}))

	const n = 200
	secrets := e.secrets(r.ID) // sorted by email: grouped by unit
	if len(secrets) != 205 {
		t.Fatalf("%d invitees, want 205", len(secrets))
	}
	// Submit in an order that interleaves the units: the physical order of
	// the results may legitimately follow the unit (rows may be read through
	// the (round, unit) index), and that must not pass for submission order.
	mrand.Shuffle(len(secrets), func(i, j int) { secrets[i], secrets[j] = secrets[j], secrets[i] })
	toks := e.tokens(secrets[:n+1])
	unused := toks[n]
	keyUnit := e.unitOfKey(r.ID)
	qs := e.roundQuestions(r.ID)
	if len(qs) != 8 {
		t.Fatalf("%d questions, want 8", len(qs))
	}

	// Ballot i answers question j with digit j of i in base 5 (plus one), so
	// every result ballot tells which submission it was: 5^8 > 200.
	digits := func(i int) map[uint]int {
		a := map[uint]int{}
		for _, q := range qs {
			a[q.QuestionID] = i/int(math.Pow(5, float64(q.Position)))%5 + 1
		}
		return a
	}
	perUnit := map[uint]int{}
	wantComments := map[string]uint{}
	for i := range n {
		comment := ""
		if i%4 == 0 {
			comment = fmt.Sprintf("comment number %03d", i)
			wantComments[comment] = keyUnit[toks[i].KeyID]
		}
		if err := e.svc.Rounds.SubmitBallot(e.ctx, ballot(toks[i], digits(i), comment)); err != nil {
			t.Fatalf("submission %d: %v", i, err)
		}
		perUnit[keyUnit[toks[i].KeyID]]++
	}
	if got := e.boxState(r.ID); got != (boxState{n, n}) {
		t.Fatalf("before close: box %d spent %d, want %d", got.box, got.spent, n)
	}

	// Positive control of the measurement below: a table written in arrival
	// order (spent tokens), read the same way, does follow arrival order
	// (docs/ANONYMITY.md section 5: a dump taken during an open round shows insertion
	// order; that is why ballots are sealed). If this stops holding, the
	// order check after close proves nothing.
	arrival := map[string]int{}
	for i := range n {
		arrival[sha256Hex(string(toks[i].Message))] = i
	}
	var nullifiers []string
	if err := e.db.Raw("SELECT nullifier FROM spent_tokens WHERE round_id = ?", r.ID).Scan(&nullifiers).Error; err != nil {
		t.Fatal(err)
	}
	boxIndex := make([]int, len(nullifiers))
	for p, nf := range nullifiers {
		boxIndex[p] = arrival[nf]
	}
	if rho := spearman(seq(len(boxIndex)), boxIndex); len(boxIndex) != n || rho < 0.9 {
		t.Errorf("control: %d spent tokens have rho %.3f, want %d rows in arrival order", len(boxIndex), rho, n)
	}

	if err := e.svc.Rounds.Close(e.ctx, r.ID); err != nil {
		t.Fatalf("close: %v", err)
	}

	t.Run("box, spent tokens and private keys are gone", func(t *testing.T) {
		if got := e.boxState(r.ID); got != (boxState{}) {
			t.Errorf("box %d spent %d, want empty", got.box, got.spent)
		}
		if n := e.countWhere("ballot_box", "1 = 1") + e.countWhere("spent_tokens", "1 = 1"); n != 0 {
			t.Errorf("%d box or spent rows left in the database", n)
		}
		keys := e.roundKeys(r.ID)
		if len(keys) != len(units) {
			t.Errorf("%d keys, want %d", len(keys), len(units))
		}
		for u, k := range keys {
			if k.PrivateKey != nil {
				t.Errorf("unit %d: private key kept after close", u)
			}
			if len(k.PublicKey) == 0 {
				t.Errorf("unit %d: public key dropped (the manifest must stay verifiable)", u)
			}
		}
		round, err := e.svc.Rounds.Round(e.ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if round.Status != survey.RoundClosed || round.ClosedAt == nil {
			t.Errorf("round status %q closed at %v, want closed", round.Status, round.ClosedAt)
		}
	})

	t.Run("results", func(t *testing.T) {
		if got := e.countRound("ballots", r.ID); got != n {
			t.Errorf("%d ballots, want %d", got, n)
		}
		if got := e.answerCount(r.ID); got != 8*n {
			t.Errorf("%d answers, want %d", got, 8*n)
		}
		for _, u := range units {
			if got := e.countWhere("ballots", "round_id = ? AND unit_id = ?", r.ID, u); got != int64(perUnit[u]) {
				t.Errorf("unit %d: %d ballots, want %d", u, got, perUnit[u])
			}
		}
	})

	t.Run("comments stored apart", func(t *testing.T) {
		cols, err := e.db.Migrator().ColumnTypes("comments")
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, c := range cols {
			names = append(names, c.Name())
		}
		sort.Strings(names)
		if fmt.Sprint(names) != "[id round_id text unit_id]" {
			t.Errorf("comments columns %v, want only id, round_id, text, unit_id", names)
		}
		var cs []survey.Comment
		if err := e.db.Where("round_id = ?", r.ID).Find(&cs).Error; err != nil {
			t.Fatal(err)
		}
		if len(cs) != len(wantComments) {
			t.Errorf("%d comments, want %d", len(cs), len(wantComments))
		}
		ballotIDs := map[string]bool{}
		var ids []string
		if err := e.db.Table("ballots").Where("round_id = ?", r.ID).Pluck("id", &ids).Error; err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			ballotIDs[id] = true
		}
		for _, c := range cs {
			u, ok := wantComments[c.Text]
			if !ok || u != c.UnitID {
				t.Errorf("comment %q of unit %d unexpected", c.Text, c.UnitID)
			}
			if ballotIDs[c.ID] {
				t.Errorf("comment %s shares its id with a ballot", c.ID)
			}
		}
	})

	t.Run("stored order is not submission order", func(t *testing.T) {
		// The physical order, as a dump or a plain scan shows it: no ORDER BY.
		rows, err := e.db.Raw("SELECT id FROM ballots WHERE round_id = ?", r.ID).Rows()
		if err != nil {
			t.Fatal(err)
		}
		var physical []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			physical = append(physical, id)
		}
		rows.Close()
		var answers []struct {
			BallotID   string
			QuestionID uint
			Value      int
		}
		if err := e.db.Raw("SELECT a.ballot_id, a.question_id, a.value FROM answers a JOIN ballots b ON b.id = a.ballot_id WHERE b.round_id = ?", r.ID).
			Scan(&answers).Error; err != nil {
			t.Fatal(err)
		}
		pos := map[uint]int{}
		for _, q := range qs {
			pos[q.QuestionID] = q.Position
		}
		index := map[string]int{}
		for _, a := range answers {
			index[a.BallotID] += (a.Value - 1) * int(math.Pow(5, float64(pos[a.QuestionID])))
		}
		if len(physical) != n {
			t.Fatalf("scanned %d ballots, want %d", len(physical), n)
		}
		x, y := make([]int, n), make([]int, n)
		seen := make([]bool, n)
		for p, id := range physical {
			i := index[id]
			if i < 0 || i >= n || seen[i] {
				t.Fatalf("ballot %s decodes to submission %d: answers lost or mixed up", id, i)
			}
			seen[i] = true
			x[p], y[p] = p, i
		}
		// Under a uniform shuffle, Spearman's rho of two independent
		// permutations of n items has mean 0 and variance 1/(n-1), and is
		// close to normal: for n=200, sd = 0.071, and |rho| >= 0.3 is 4.2 sd,
		// P ~= 2e-5 (one run in ~40,000 fails by chance). Writing the box in
		// arrival order gives rho ~= 1; grouping by unit alone gives ~0 because
		// units were interleaved at submission.
		rho := spearman(x, y)
		t.Logf("Spearman rho(physical position, submission index) = %.3f", rho)
		if math.Abs(rho) >= 0.3 {
			t.Errorf("|rho| = %.3f >= 0.3: the stored order follows the submission order", rho)
		}
	})

	t.Run("after close", func(t *testing.T) {
		err := e.svc.Rounds.Close(e.ctx, r.ID)
		wantIs(t, err, survey.ErrConflict)
		hookMu.Lock()
		if len(hookCalls) != 1 || hookCalls[0] != r.ID {
			t.Errorf("release calls %v, want [%d]", hookCalls, r.ID)
		}
		hookMu.Unlock()

		v := e.view(secrets[n+2])
		b := blindMessage(t, e.roundKeys(r.ID)[v.UnitID].PublicKey, survey.TokenMessage(r.ID, v.UnitID, nonce(t)))
		_, err = e.svc.Rounds.IssueToken(e.ctx, secrets[n+2], b.blinded)
		wantIs(t, err, survey.ErrRoundClosed)
		_, err = e.svc.Rounds.IssueToken(e.ctx, secrets[0], b.blinded)
		wantIs(t, err, survey.ErrRoundClosed)

		ans := digits(0)
		wantIs(t, e.svc.Rounds.SubmitBallot(e.ctx, ballot(unused, ans, "")), survey.ErrRoundClosed)
		// A spent token whose nullifier was forgotten at close is still refused.
		wantIs(t, e.svc.Rounds.SubmitBallot(e.ctx, ballot(toks[0], ans, "")), survey.ErrRoundClosed)
		if got := e.countRound("ballots", r.ID) + e.countRound("ballot_box", r.ID); got != n {
			t.Errorf("%d ballots after refused late submissions, want %d", got, n)
		}
		if _, err := e.svc.Rounds.Links(e.ctx, r.ID); !errors.Is(err, survey.ErrRoundClosed) {
			t.Errorf("links after close: %v, want ErrRoundClosed", err)
		}
	})
}

func TestCloseUnknownRound(t *testing.T) {
	e := newRoundEnv(t)
	wantIs(t, e.svc.Rounds.Close(e.ctx, 4711), survey.ErrNotFound)
}

func TestCloseReleaseError(t *testing.T) {
	e := newRoundEnv(t)
	s := newSmallRound(e)
	e.useReleaser(releaseFunc(func(context.Context, *gorm.DB, uint) error { return errors.New("release failed") }))
	if err := e.svc.Rounds.Close(e.ctx, s.round.ID); !errors.Is(err, survey.ErrReleasePending) {
		t.Fatalf("close with a failing release: %v, want ErrReleasePending", err)
	}
	// The round is closed all the same (the box was already moved), and
	// it still owes its release.
	r, err := e.svc.Rounds.Round(e.ctx, s.round.ID)
	if err != nil || r.Status != survey.RoundClosed || !r.ReleasePending {
		t.Errorf("round after a failing release: %+v %v", r, err)
	}
}

// Close must not lose a ballot that a concurrent submission acknowledged:
// every submission either lands in the results or is refused as closed.
func TestCloseConcurrentWithSubmissions(t *testing.T) {
	e := newRoundEnv(t)
	root := e.root()
	team := e.team(root, "Team")
	e.people(root, "root", 16)
	e.people(team, "team", 16)
	prog := e.program("Pulse")

	const n = 30
	for iter, delay := range []time.Duration{0, time.Millisecond, 3 * time.Millisecond, 10 * time.Millisecond, 30 * time.Millisecond} {
		r := e.launch(prog.ID)
		toks := e.tokens(e.secrets(r.ID)[:n])
		answers := e.answers(r.ID, func(p int) int { return p%5 + 1 })

		var ok atomic.Int64
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				// Spread the submissions around the close.
				time.Sleep(time.Duration(i%6) * delay / 3)
				if errs[i] = e.svc.Rounds.SubmitBallot(e.ctx, ballot(toks[i], answers, "")); errs[i] == nil {
					ok.Add(1)
				}
			}()
		}
		close(start)
		time.Sleep(delay)
		closeErr := e.svc.Rounds.Close(e.ctx, r.ID)
		wg.Wait()
		if closeErr != nil {
			t.Fatalf("iteration %d: close: %v", iter, closeErr)
		}
		for i, err := range errs {
			if err != nil && !errors.Is(err, survey.ErrRoundClosed) {
				t.Errorf("iteration %d: submission %d: %v, want nil or ErrRoundClosed", iter, i, err)
			}
		}
		ballots := e.countRound("ballots", r.ID)
		t.Logf("iteration %d (delay %v): %d of %d submissions acknowledged, %d ballots", iter, delay, ok.Load(), n, ballots)
		if ballots != ok.Load() {
			t.Errorf("iteration %d: %d acknowledged submissions but %d ballots after close", iter, ok.Load(), ballots)
		}
		if got := e.answerCount(r.ID); got != 8*ballots {
			t.Errorf("iteration %d: %d answers for %d ballots", iter, got, ballots)
		}
		if got := e.boxState(r.ID); got != (boxState{}) {
			t.Errorf("iteration %d: box %d spent %d after close, want empty", iter, got.box, got.spent)
		}
	}
}

// Close must wait for a submission that already passed its open-round
// check: the submission pauses inside its transaction, right after reading
// the round; Close starts and must not finish before it (else the ballot
// would be acknowledged after the box was emptied, and lost).
func TestCloseWaitsForSubmissionInFlight(t *testing.T) {
	e := newRoundEnv(t)
	s := newSmallRound(e)
	tok := e.token(s.byUnit[s.x][0])
	e.installPauses()
	p := newPause(func(table, sql string) bool { return table == "rounds" })

	var submitErr, closeErr error
	submitted, closed := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(submitted)
		submitErr = e.svc.Rounds.SubmitBallot(p.ctx(e.ctx), ballot(tok, e.answers(s.round.ID, func(int) int { return 2 }), ""))
	}()
	select {
	case <-p.reached:
	case <-submitted:
		t.Fatalf("the submission never read its round: %v", submitErr)
	}
	go func() {
		defer close(closed)
		closeErr = e.svc.Rounds.Close(e.ctx, s.round.ID)
	}()
	select {
	case <-closed:
		// Close did not wait; the paused submission goes on below.
		close(p.release)
	case <-time.After(pauseTimeout / 2):
	}
	<-submitted
	<-closed
	if closeErr != nil {
		t.Fatalf("close: %v", closeErr)
	}
	ballots := e.countRound("ballots", s.round.ID)
	t.Logf("submit: %v; ballots after close: %d", submitErr, ballots)
	if submitErr == nil && ballots != 1 {
		t.Errorf("the submission was acknowledged but %d ballots after close: lost", ballots)
	}
	if submitErr != nil && !errors.Is(submitErr, survey.ErrRoundClosed) {
		t.Errorf("submit: %v, want nil or ErrRoundClosed", submitErr)
	}
	if got := e.boxState(s.round.ID); got != (boxState{}) {
		t.Errorf("box %d spent %d after close, want empty", got.box, got.spent)
	}
}

// A submission arriving while Close is moving the box (Close paused right
// after reading it) must be refused or wait, never be acknowledged into a
// box that is about to be emptied.
func TestSubmitWhileCloseMovesTheBox(t *testing.T) {
	e := newRoundEnv(t)
	s := newSmallRound(e)
	answers := e.answers(s.round.ID, func(int) int { return 4 })
	first, late := e.token(s.byUnit[s.x][0]), e.token(s.byUnit[s.x][1])
	if err := e.svc.Rounds.SubmitBallot(e.ctx, ballot(first, answers, "")); err != nil {
		t.Fatal(err)
	}
	e.installPauses()
	p := newPause(func(table, sql string) bool { return table == "ballot_box" })

	var submitErr, closeErr error
	submitted, closed := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(closed)
		closeErr = e.svc.Rounds.Close(p.ctx(e.ctx), s.round.ID)
	}()
	select {
	case <-p.reached:
	case <-closed:
		t.Fatalf("close never read the box: %v", closeErr)
	}
	go func() {
		defer close(submitted)
		submitErr = e.svc.Rounds.SubmitBallot(e.ctx, ballot(late, answers, ""))
	}()
	select {
	case <-submitted:
		close(p.release)
	case <-time.After(pauseTimeout / 2):
	}
	<-closed
	<-submitted
	if closeErr != nil {
		t.Fatalf("close: %v", closeErr)
	}
	ballots := e.countRound("ballots", s.round.ID)
	t.Logf("late submit: %v; ballots after close: %d", submitErr, ballots)
	want := int64(1)
	if submitErr == nil {
		want = 2
	} else if !errors.Is(submitErr, survey.ErrRoundClosed) {
		t.Errorf("late submit: %v, want nil or ErrRoundClosed", submitErr)
	}
	if ballots != want {
		t.Errorf("%d ballots after close, want %d (late submit: %v)", ballots, want, submitErr)
	}
	if got := e.boxState(s.round.ID); got != (boxState{}) {
		t.Errorf("box %d spent %d after close, want empty", got.box, got.spent)
	}
}

// Closing twice at once closes once and releases once.
func TestCloseConcurrentCloses(t *testing.T) {
	e := newRoundEnv(t)
	s := newSmallRound(e)
	var calls atomic.Int64
	e.useReleaser(releaseFunc(func(context.Context, *gorm.DB, uint) error { calls.Add(1); return nil }))
	const n = 4
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = e.svc.Rounds.Close(e.ctx, s.round.ID)
		}()
	}
	close(start)
	wg.Wait()
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, survey.ErrConflict):
			t.Errorf("close %d: %v, want ErrConflict", i, err)
		}
	}
	if ok != 1 || calls.Load() != 1 {
		t.Errorf("%d closes succeeded, the release ran %d times; want 1 and 1", ok, calls.Load())
	}
}

// On SQLite the emptied box must not linger in the database file or its
// write-ahead log: box rows sit there in arrival order (docs/ANONYMITY.md
// section 2: secure_delete, checkpoint and truncate the log at close).
func TestCloseLeavesNoBoxRemnantsSQLite(t *testing.T) {
	if surveytest.Dialect() != "sqlite" {
		t.Skip("SQLite files only; PostgreSQL relies on VACUUM")
	}
	e := newRoundEnv(t)
	s := newSmallRound(e)
	var comments []string
	for i, secret := range append(append([]string{}, s.byUnit[s.root]...), s.byUnit[s.x]...) {
		tok := e.token(secret)
		comments = append(comments, fmt.Sprintf("remnant-marker-%02d", i))
		if err := e.svc.Rounds.SubmitBallot(e.ctx, ballot(tok, e.answers(s.round.ID, func(int) int { return 5 }), comments[i])); err != nil {
			t.Fatal(err)
		}
	}
	var files []struct {
		Seq  int
		Name string
		File string
	}
	if err := e.db.Raw("PRAGMA database_list").Scan(&files).Error; err != nil || len(files) == 0 || files[0].File == "" {
		t.Fatalf("database file: %v %+v", err, files)
	}
	path := files[0].File
	read := func() []byte {
		var all []byte
		for _, f := range []string{path, path + "-wal"} {
			b, err := os.ReadFile(f)
			if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			all = append(all, b...)
		}
		return all
	}
	// A sealed box row keeps its token's prepared message in clear:
	// <32 random bytes>pulse/v1|<round>|<unit>|<nonce>.
	marker := []byte(survey.MessagePrefix + "|")
	open := read()
	if !bytes.Contains(open, marker) {
		t.Fatal("control: the open box is not visible in the files; the check below proves nothing")
	}
	// The comments themselves are sealed while the round is open.
	for _, c := range comments {
		if bytes.Contains(open, []byte(c)) {
			t.Errorf("comment %q is in the files of an open round", c)
		}
	}
	if err := e.svc.Rounds.Close(e.ctx, s.round.ID); err != nil {
		t.Fatal(err)
	}
	if b := read(); bytes.Contains(b, marker) {
		t.Errorf("ballot box payloads remain in %s or its WAL after close (%d occurrences)", path, bytes.Count(b, marker))
	}
}
