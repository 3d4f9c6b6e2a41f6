package survey_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"github.com/pulse-survey/pulse/survey"
	"github.com/pulse-survey/pulse/survey/surveytest"
)

// testClock is a clock the test moves by hand. It is safe for concurrent use.
type testClock = surveytest.Clock

func newClock() *testClock { return surveytest.NewClock(time.Time{}) }

// env is one test's fresh database, services and clock.
type env struct {
	t     *testing.T
	ctx   context.Context
	db    *gorm.DB
	svc   *survey.Services
	clock *testClock
	opts  survey.Options // what svc was built with
}

func newEnv(t *testing.T) *env {
	t.Helper()
	db := surveytest.Open(t)
	c := newClock()
	o := survey.Options{BcryptCost: bcrypt.MinCost, Now: c.Now}
	return &env{
		t:     t,
		ctx:   context.Background(),
		db:    db,
		svc:   survey.New(db, o),
		clock: c,
		opts:  o,
	}
}

// newOrgEnv is newEnv with the organisation "Acme" set up (k=5).
func newOrgEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t)
	if _, err := e.svc.Org.Init(e.ctx, survey.SettingsInput{Name: "Acme", TimeZone: "Europe/Berlin", MinGroupSize: 5}); err != nil {
		t.Fatalf("init org: %v", err)
	}
	return e
}

func (e *env) tree() *survey.Tree {
	e.t.Helper()
	tr, err := e.svc.Org.Tree(e.ctx)
	if err != nil {
		e.t.Fatalf("tree: %v", err)
	}
	return tr
}

// root returns the id of the company (root team).
func (e *env) root() uint {
	e.t.Helper()
	tr := e.tree()
	if tr.Root == nil {
		e.t.Fatal("tree has no root")
	}
	return tr.Root.ID
}

// team creates a team under parent and returns its id.
func (e *env) team(parent uint, name string) uint {
	e.t.Helper()
	tm, err := e.svc.Org.CreateTeam(e.ctx, parent, name)
	if err != nil {
		e.t.Fatalf("create team %q: %v", name, err)
	}
	return tm.ID
}

// person creates an active person in team.
func (e *env) person(team uint, email, name string) *survey.Person {
	e.t.Helper()
	p, err := e.svc.Org.CreatePerson(e.ctx, survey.PersonInput{Email: email, Name: name, TeamID: team, Active: true})
	if err != nil {
		e.t.Fatalf("create person %s: %v", email, err)
	}
	return p
}

// user creates an active account with a password.
func (e *env) user(role survey.Role, email, password string, teams ...uint) *survey.User {
	e.t.Helper()
	u, err := e.svc.Accounts.CreateUser(e.ctx, survey.UserInput{Email: email, Name: "User " + email, Role: role, Password: password, TeamIDs: teams})
	if err != nil {
		e.t.Fatalf("create user %s: %v", email, err)
	}
	return u
}

// wantIs fails unless err matches target.
func wantIs(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("got error %v, want %v", err, target)
	}
}

// wantField fails unless err is a *ValidationError naming field.
func wantField(t *testing.T, err error, field string) {
	t.Helper()
	var ve *survey.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("got error %v, want a ValidationError on %q", err, field)
	}
	if _, ok := ve.Fields[field]; !ok {
		t.Fatalf("ValidationError %v does not name field %q", ve, field)
	}
}
