package survey_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudflare/circl/blindsign/blindrsa"
	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"github.com/pulse-survey/pulse/reports"
	"github.com/pulse-survey/pulse/survey"
	"github.com/pulse-survey/pulse/survey/surveytest"
)

// newRoundEnv is newOrgEnv (organisation "Acme", k=5) with a keyring, so
// rounds can launch and issue tokens, and Pulse's releaser, so they close.
func newRoundEnv(t *testing.T) *env {
	t.Helper()
	master := make([]byte, 32)
	if _, err := rand.Read(master); err != nil {
		t.Fatal(err)
	}
	kr, err := survey.NewKeyring(master)
	if err != nil {
		t.Fatalf("keyring: %v", err)
	}
	db := surveytest.Open(t)
	c := newClock()
	o := survey.Options{BcryptCost: bcrypt.MinCost, Now: c.Now, Keyring: kr, Releaser: &reports.Releaser{}}
	e := &env{
		t:     t,
		ctx:   t.Context(),
		db:    db,
		svc:   survey.New(db, o),
		clock: c,
		opts:  o,
	}
	if _, err := e.svc.Org.Init(e.ctx, survey.SettingsInput{Name: "Acme", TimeZone: "Europe/Berlin", MinGroupSize: 5}); err != nil {
		t.Fatalf("init org: %v", err)
	}
	return e
}

// useReleaser rebuilds the services with r as their releaser.
func (e *env) useReleaser(r survey.Releaser) {
	e.opts.Releaser = r
	e.svc = survey.New(e.db, e.opts)
}

// releaseFunc is a survey.Releaser that tests write as a function, to
// watch or fail the release step.
type releaseFunc func(ctx context.Context, tx *gorm.DB, roundID uint) error

func (f releaseFunc) ReleaseRound(ctx context.Context, tx *gorm.DB, roundID uint) error {
	return f(ctx, tx, roundID)
}

// counted is Pulse's releaser that also counts its calls per round.
func counted(mu *sync.Mutex, calls map[uint]int) releaseFunc {
	rel := &reports.Releaser{}
	return func(ctx context.Context, tx *gorm.DB, roundID uint) error {
		mu.Lock()
		calls[roundID]++
		mu.Unlock()
		return rel.ReleaseRound(ctx, tx, roundID)
	}
}

// people adds n active people to team in one insert (creating hundreds
// through the service would only slow the suite down). Emails are
// prefix-i@acme.example.
func (e *env) people(team uint, prefix string, n int) []survey.Person {
	e.t.Helper()
	ps := make([]survey.Person, n)
	for i := range ps {
		ps[i] = survey.Person{Email: fmt.Sprintf("%s-%d@acme.example", prefix, i), Name: fmt.Sprintf("%s %d", prefix, i), TeamID: team, Active: true}
	}
	if err := e.db.WithContext(e.ctx).CreateInBatches(ps, 200).Error; err != nil {
		e.t.Fatalf("create people %s: %v", prefix, err)
	}
	return ps
}

// program syncs the built-in bank and creates a program over all of it:
// 8 items per round, k=5, every two weeks, open 5 days.
func (e *env) program(name string) *survey.Program {
	e.t.Helper()
	if err := e.svc.Programs.SyncBuiltinQuestions(e.ctx); err != nil {
		e.t.Fatalf("sync bank: %v", err)
	}
	qs, err := e.svc.Programs.Questions(e.ctx)
	if err != nil {
		e.t.Fatalf("questions: %v", err)
	}
	ids := make([]uint, len(qs))
	for i, q := range qs {
		ids[i] = q.ID
	}
	p, err := e.svc.Programs.CreateProgram(e.ctx, survey.ProgramInput{
		Name: name, Cadence: survey.CadenceWeeks, IntervalWeeks: 2, Weekday: time.Monday, TimeOfDay: "09:00",
		OpenDays: 5, ItemsPerRound: 8, MinGroupSize: 5, QuestionIDs: ids,
	})
	if err != nil {
		e.t.Fatalf("create program %q: %v", name, err)
	}
	return p
}

// launch opens a round of program and fails the test on error.
func (e *env) launch(programID uint) *survey.Round {
	e.t.Helper()
	r, err := e.svc.Rounds.Launch(e.ctx, programID)
	if err != nil {
		e.t.Fatalf("launch program %d: %v", programID, err)
	}
	return r
}

// links returns the round's link secrets by person id.
func (e *env) links(roundID uint) map[uint]string {
	e.t.Helper()
	ls, err := e.svc.Rounds.Links(e.ctx, roundID)
	if err != nil {
		e.t.Fatalf("links of round %d: %v", roundID, err)
	}
	out := make(map[uint]string, len(ls))
	for _, l := range ls {
		out[l.PersonID] = l.Secret
	}
	return out
}

// secrets returns the round's link secrets in a stable order (by email).
func (e *env) secrets(roundID uint) []string {
	e.t.Helper()
	ls, err := e.svc.Rounds.Links(e.ctx, roundID)
	if err != nil {
		e.t.Fatalf("links of round %d: %v", roundID, err)
	}
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.Secret
	}
	return out
}

// view resolves an invitation link.
func (e *env) view(secret string) *survey.SurveyView {
	e.t.Helper()
	v, err := e.svc.Rounds.SurveyBySecret(e.ctx, secret)
	if err != nil {
		e.t.Fatalf("survey by secret: %v", err)
	}
	return v
}

// manifest returns the round's manifest bytes and hash.
func (e *env) manifest(roundID uint) ([]byte, string) {
	e.t.Helper()
	b, h, err := e.svc.Rounds.Manifest(e.ctx, roundID)
	if err != nil {
		e.t.Fatalf("manifest of round %d: %v", roundID, err)
	}
	return b, h
}

// obtainToken does what an invitee's browser does: read the survey view and
// the manifest, blind, have the server sign, unblind and verify.
func (e *env) obtainToken(secret string) (*survey.Token, error) {
	v, err := e.svc.Rounds.SurveyBySecret(e.ctx, secret)
	if err != nil {
		return nil, err
	}
	m, _, err := e.svc.Rounds.Manifest(e.ctx, v.Round.ID)
	if err != nil {
		return nil, err
	}
	return survey.ObtainToken(m, v.Round.ID, v.UnitID, v.KeyID, func(blinded []byte) ([]byte, error) {
		return e.svc.Rounds.IssueToken(e.ctx, secret, blinded)
	})
}

// token is obtainToken that fails the test on error.
func (e *env) token(secret string) *survey.Token {
	e.t.Helper()
	tok, err := e.obtainToken(secret)
	if err != nil {
		e.t.Fatalf("obtain token: %v", err)
	}
	return tok
}

// roundQuestions returns the round's items in position order.
func (e *env) roundQuestions(roundID uint) []survey.RoundQuestion {
	e.t.Helper()
	var qs []survey.RoundQuestion
	if err := e.db.WithContext(e.ctx).Where("round_id = ?", roundID).Order("position").Find(&qs).Error; err != nil {
		e.t.Fatalf("round questions: %v", err)
	}
	return qs
}

// answers gives every item of the round the value value(position).
func (e *env) answers(roundID uint, value func(pos int) int) map[uint]int {
	e.t.Helper()
	out := map[uint]int{}
	for _, q := range e.roundQuestions(roundID) {
		out[q.QuestionID] = value(q.Position)
	}
	return out
}

// ballot is the submission of tok with the given answers, sealed as the
// survey page seals it.
func ballot(tok *survey.Token, answers map[uint]int, comment string) survey.BallotInput {
	in, err := tok.Ballot(answers, comment)
	if err != nil {
		panic(fmt.Sprintf("seal ballot: %v", err))
	}
	return in
}

// countWhere counts the rows of table matching where.
func (e *env) countWhere(table, where string, args ...any) int64 {
	e.t.Helper()
	var n int64
	if err := e.db.WithContext(e.ctx).Table(table).Where(where, args...).Count(&n).Error; err != nil {
		e.t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// countRound counts the rows of table that belong to round.
func (e *env) countRound(table string, roundID uint) int64 {
	e.t.Helper()
	return e.countWhere(table, "round_id = ?", roundID)
}

// answerCount counts the answers of the round's ballots.
func (e *env) answerCount(roundID uint) int64 {
	e.t.Helper()
	return e.countWhere("answers", "ballot_id IN (SELECT id FROM ballots WHERE round_id = ?)", roundID)
}

// roundKeys returns the round's keys by unit.
func (e *env) roundKeys(roundID uint) map[uint]survey.RoundKey {
	e.t.Helper()
	var ks []survey.RoundKey
	if err := e.db.WithContext(e.ctx).Where("round_id = ?", roundID).Find(&ks).Error; err != nil {
		e.t.Fatalf("round keys: %v", err)
	}
	out := map[uint]survey.RoundKey{}
	for _, k := range ks {
		out[k.UnitID] = k
	}
	return out
}

// invitation returns the invitation behind a link secret.
func (e *env) invitation(secret string) survey.Invitation {
	e.t.Helper()
	var inv survey.Invitation
	if err := e.db.WithContext(e.ctx).Where("secret_hash = ?", sha256Hex(secret)).First(&inv).Error; err != nil {
		e.t.Fatalf("invitation: %v", err)
	}
	return inv
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// rsaKey parses a manifest or round_keys public key.
func rsaKey(t *testing.T, spki []byte) *rsa.PublicKey {
	t.Helper()
	pub, err := x509.ParsePKIXPublicKey(spki)
	if err != nil {
		t.Fatalf("parse SPKI: %v", err)
	}
	pk, ok := pub.(*rsa.PublicKey)
	if !ok {
		t.Fatalf("key is %T, want RSA", pub)
	}
	return pk
}

// blinding is a client-side blinding of one message, for tests that need to
// control what is blinded (ObtainToken always builds an honest message).
type blinding struct {
	client   blindrsa.Client
	state    blindrsa.State
	prepared []byte
	blinded  []byte
}

// blindMessage prepares and blinds msg for spki.
func blindMessage(t *testing.T, spki, msg []byte) *blinding {
	t.Helper()
	c, err := blindrsa.NewClient(survey.TokenVariant, rsaKey(t, spki))
	if err != nil {
		t.Fatal(err)
	}
	prepared, err := c.Prepare(rand.Reader, msg)
	if err != nil {
		t.Fatal(err)
	}
	blinded, state, err := c.Blind(rand.Reader, prepared)
	if err != nil {
		t.Fatal(err)
	}
	return &blinding{client: c, state: state, prepared: prepared, blinded: blinded}
}

// finalize unblinds a blind signature into a token for keyID.
func (b *blinding) finalize(t *testing.T, keyID string, blindSig []byte) *survey.Token {
	t.Helper()
	sig, err := b.client.Finalize(b.state, blindSig)
	if err != nil {
		t.Fatalf("finalize: %v", err)
	}
	return &survey.Token{KeyID: keyID, Message: b.prepared, Signature: sig}
}

// sealable gives a token finalized by hand what the survey page takes from
// the manifest to seal its ballot: the round of its key and the round's box
// public key.
func (e *env) sealable(tok *survey.Token) *survey.Token {
	e.t.Helper()
	var k survey.RoundKey
	if err := e.db.Where("key_id = ?", tok.KeyID).First(&k).Error; err != nil {
		e.t.Fatalf("key of token: %v", err)
	}
	var bk survey.RoundBoxKey
	if err := e.db.Where("round_id = ?", k.RoundID).First(&bk).Error; err != nil {
		e.t.Fatalf("box key of round %d: %v", k.RoundID, err)
	}
	tok.Round, tok.BoxKey = k.RoundID, bk.PublicKey
	return tok
}

// nonce is 32 random bytes for a token message.
func nonce(t *testing.T) []byte {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// manifestKeys decodes a manifest.
func manifestKeys(t *testing.T, m []byte) survey.Manifest {
	t.Helper()
	var out survey.Manifest
	if err := json.Unmarshal(m, &out); err != nil {
		t.Fatalf("manifest is not JSON: %v", err)
	}
	return out
}

// pauseKey marks a context whose queries may pause at a pausePoint.
type pauseKey struct{}

// pausePoint holds the operation running under its context right after
// its first query that matches, until release is closed or pauseTimeout
// passes. The timeout matters on SQLite, where the other operation of a
// race usually waits for the paused one's write lock.
type pausePoint struct {
	match   func(table, sql string) bool
	reached chan struct{}
	release chan struct{}
	once    sync.Once
}

const pauseTimeout = 300 * time.Millisecond

func newPause(match func(table, sql string) bool) *pausePoint {
	return &pausePoint{match: match, reached: make(chan struct{}), release: make(chan struct{})}
}

// ctx is parent carrying the pause point.
func (p *pausePoint) ctx(parent context.Context) context.Context {
	return context.WithValue(parent, pauseKey{}, p)
}

// installPauses instruments e's database (this test's own) so that queries
// run with a pausePoint's context stop after the first matching one. sql is
// lower-cased.
func (e *env) installPauses() {
	e.t.Helper()
	err := e.db.Callback().Query().After("gorm:query").Register("pulse_test:pause", func(db *gorm.DB) {
		p, _ := db.Statement.Context.Value(pauseKey{}).(*pausePoint)
		if p == nil || !p.match(db.Statement.Table, strings.ToLower(db.Statement.SQL.String())) {
			return
		}
		p.once.Do(func() {
			close(p.reached)
			select {
			case <-p.release:
			case <-time.After(pauseTimeout):
			}
		})
	})
	if err != nil {
		e.t.Fatal(err)
	}
}
