package survey_test

import (
	"crypto/rand"
	"errors"
	"testing"

	"github.com/pulse-survey/pulse/survey"
)

func TestCheckKeyring(t *testing.T) {
	e := newRoundEnv(t)
	if n, err := e.svc.Rounds.CheckKeyring(e.ctx); n != 0 || err != nil {
		t.Fatalf("no round yet: %d, %v; want 0, nil", n, err)
	}
	e.people(e.root(), "p", 6)
	prog := e.program("Pulse")
	r := e.launch(prog.ID)
	if n, err := e.svc.Rounds.CheckKeyring(e.ctx); n != 1 || err != nil {
		t.Errorf("the launching keyring: %d, %v; want 1, nil", n, err)
	}

	other := make([]byte, 32)
	if _, err := rand.Read(other); err != nil {
		t.Fatal(err)
	}
	kr, err := survey.NewKeyring(other)
	if err != nil {
		t.Fatal(err)
	}
	n, err := survey.New(e.db, survey.Options{Keyring: kr}).Rounds.CheckKeyring(e.ctx)
	if n != 1 || !errors.Is(err, survey.ErrWrongKeyring) {
		t.Errorf("another keyring: %d, %v; want 1, ErrWrongKeyring", n, err)
	}
	if _, err := survey.New(e.db, survey.Options{}).Rounds.CheckKeyring(e.ctx); err == nil {
		t.Errorf("no keyring and an open round: no error")
	}

	// A closed round's keys are destroyed: nothing is left to open.
	if err := e.svc.Rounds.Close(e.ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	if n, err := survey.New(e.db, survey.Options{Keyring: kr}).Rounds.CheckKeyring(e.ctx); n != 0 || err != nil {
		t.Errorf("after close: %d, %v; want 0, nil", n, err)
	}
}
