package reports_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"github.com/pulse-survey/pulse/reports"
	"github.com/pulse-survey/pulse/survey"
	"github.com/pulse-survey/pulse/survey/surveytest"
)

// testClock is a clock the test moves by hand.
type testClock = surveytest.Clock

// env is one test's organisation over a fresh database, with a keyring (so
// rounds launch) and the releaser, so closing a round releases it.
type env struct {
	t     testing.TB
	ctx   context.Context
	db    *gorm.DB
	svc   *survey.Services
	clock *testClock
	prog  *survey.Program
	// next numbers generated people so their emails stay unique.
	next int
}

// newEnv creates the organisation (k = 5) whose root team is named orgName.
func newEnv(t testing.TB, orgName string) *env {
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
	c := surveytest.NewClock(time.Time{})
	svc := survey.New(db, survey.Options{BcryptCost: bcrypt.MinCost, Keyring: kr, Now: c.Now, Releaser: &reports.Releaser{}})
	e := &env{t: t, ctx: context.Background(), db: db, svc: svc, clock: c}
	if _, err := svc.Org.Init(e.ctx, survey.SettingsInput{Name: orgName, TimeZone: "Europe/Berlin", MinGroupSize: 5}); err != nil {
		t.Fatalf("init org: %v", err)
	}
	return e
}

// root returns the root team's id.
func (e *env) root() uint {
	e.t.Helper()
	tr, err := e.svc.Org.Tree(e.ctx)
	if err != nil || tr.Root == nil {
		e.t.Fatalf("tree: %v", err)
	}
	return tr.Root.ID
}

// team creates a team under parent.
func (e *env) team(parent uint, name string) uint {
	e.t.Helper()
	tm, err := e.svc.Org.CreateTeam(e.ctx, parent, name)
	if err != nil {
		e.t.Fatalf("create team %q: %v", name, err)
	}
	return tm.ID
}

// person adds one active person to team.
func (e *env) person(team uint, name string) uint {
	e.t.Helper()
	e.next++
	slug := strings.ToLower(strings.Join(strings.Fields(name), "."))
	p, err := e.svc.Org.CreatePerson(e.ctx, survey.PersonInput{Email: fmt.Sprintf("%s.%d@acme.example", slug, e.next),
		Name: name, TeamID: team, Active: true})
	if err != nil {
		e.t.Fatalf("create person %q: %v", name, err)
	}
	return p.ID
}

// staff adds n people named "Person <Prefix><i>" to team.
func (e *env) staff(team uint, prefix string, n int) []uint {
	e.t.Helper()
	out := make([]uint, n)
	for i := range out {
		out[i] = e.person(team, fmt.Sprintf("Person %s%d", prefix, i))
	}
	return out
}

// program syncs the bank and creates the one program: k = 5, 8 items per
// round, every two weeks, open five days.
func (e *env) program() *survey.Program {
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
	p, err := e.svc.Programs.CreateProgram(e.ctx, survey.ProgramInput{Name: "Team pulse", Cadence: survey.CadenceWeeks,
		IntervalWeeks: 2, Weekday: time.Monday, TimeOfDay: "09:00", OpenDays: 5, ItemsPerRound: 8, MinGroupSize: 5,
		QuestionIDs: ids})
	if err != nil {
		e.t.Fatalf("create program: %v", err)
	}
	e.prog = p
	return p
}

// launch opens the next round of the program (created on first use).
func (e *env) launch() *survey.Round {
	e.t.Helper()
	if e.prog == nil {
		e.program()
	}
	r, err := e.svc.Rounds.Launch(e.ctx, e.prog.ID)
	if err != nil {
		e.t.Fatalf("launch: %v", err)
	}
	return r
}

// questions returns the round's questions in position order.
func (e *env) questions(roundID uint) []survey.RoundQuestion {
	e.t.Helper()
	var qs []survey.RoundQuestion
	if err := e.db.Where("round_id = ?", roundID).Order("position").Find(&qs).Error; err != nil {
		e.t.Fatal(err)
	}
	return qs
}

// answerFunc chooses a respondent's answer to a question.
type answerFunc func(q survey.RoundQuestion) int

// constant answers v to every question.
func constant(v int) answerFunc { return func(survey.RoundQuestion) int { return v } }

// ballot is one person's response.
type ballot struct {
	person  uint
	answer  answerFunc
	comment string
}

// respond does what each person's browser does: open the link, obtain a
// blind-signed token, submit the ballot.
func (e *env) respond(roundID uint, bs ...ballot) {
	e.t.Helper()
	links, err := e.svc.Rounds.Links(e.ctx, roundID)
	if err != nil {
		e.t.Fatalf("links: %v", err)
	}
	secrets := map[uint]string{}
	for _, l := range links {
		secrets[l.PersonID] = l.Secret
	}
	manifest, _, err := e.svc.Rounds.Manifest(e.ctx, roundID)
	if err != nil {
		e.t.Fatalf("manifest: %v", err)
	}
	for _, b := range bs {
		secret, ok := secrets[b.person]
		if !ok {
			e.t.Fatalf("person %d has no invitation to round %d", b.person, roundID)
		}
		v, err := e.svc.Rounds.SurveyBySecret(e.ctx, secret)
		if err != nil {
			e.t.Fatalf("survey by secret: %v", err)
		}
		tok, err := survey.ObtainToken(manifest, roundID, v.UnitID, v.KeyID, func(blinded []byte) ([]byte, error) {
			return e.svc.Rounds.IssueToken(e.ctx, secret, blinded)
		})
		if err != nil {
			e.t.Fatalf("obtain token: %v", err)
		}
		answers := map[uint]int{}
		for _, q := range v.Questions {
			answers[q.QuestionID] = b.answer(q)
		}
		in, err := tok.Ballot(answers, b.comment)
		if err != nil {
			e.t.Fatalf("seal ballot of person %d: %v", b.person, err)
		}
		if err := e.svc.Rounds.SubmitBallot(e.ctx, in); err != nil {
			e.t.Fatalf("submit ballot of person %d: %v", b.person, err)
		}
	}
}

// close closes the round (which writes its release).
func (e *env) close(roundID uint) {
	e.t.Helper()
	if err := e.svc.Rounds.Close(e.ctx, roundID); err != nil {
		e.t.Fatalf("close round %d: %v", roundID, err)
	}
}

// everyone builds ballots for people, all answering with the same function.
func everyone(people []uint, f answerFunc) []ballot {
	out := make([]ballot, len(people))
	for i, p := range people {
		out[i] = ballot{person: p, answer: f}
	}
	return out
}
