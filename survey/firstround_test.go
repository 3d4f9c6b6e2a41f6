package survey_test

import (
	"context"
	"errors"
	"testing"

	"github.com/pulse-survey/pulse/survey"
)

// The first-round checklist follows the database step by step: people,
// a leader invitation, a program, a launched round, and links that
// reached people (a links export in the audit log, or an emailed round).
func TestFirstRound(t *testing.T) {
	e := newRoundEnv(t)
	step := func(want survey.FirstRound) {
		t.Helper()
		got, err := e.svc.FirstRound(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if *got != want {
			t.Fatalf("FirstRound = %+v, want %+v", *got, want)
		}
		if got.Done() != (want.People > 0 && want.Leaders > 0 && want.Programs > 0 && want.Launched > 0 && want.Shared) {
			t.Fatalf("Done() = %v for %+v", got.Done(), *got)
		}
	}
	step(survey.FirstRound{})
	e.people(e.root(), "staff", 6)
	step(survey.FirstRound{People: 6})
	if _, err := e.svc.Accounts.CreateInvite(e.ctx, survey.InviteInput{Email: "lead@acme.example", Role: survey.RoleLeader,
		TeamIDs: []uint{e.root()}}); err != nil {
		t.Fatal(err)
	}
	step(survey.FirstRound{People: 6, Leaders: 1})
	p := e.program("Pulse")
	step(survey.FirstRound{People: 6, Leaders: 1, Programs: 1})
	r := e.launch(p.ID)
	step(survey.FirstRound{People: 6, Leaders: 1, Programs: 1, Launched: 1, OpenRound: r.ID})
	admin := e.user(survey.RoleAdmin, "hr@acme.example", "a long enough password")
	// Another admin action in the log is not a links export.
	entry := survey.AuditEntry{Action: survey.AuditRoundLaunch, Target: "round:1"}
	entry.ActorOf(&survey.Principal{User: *admin})
	if err := e.svc.Audit().Record(e.ctx, entry); err != nil {
		t.Fatal(err)
	}
	step(survey.FirstRound{People: 6, Leaders: 1, Programs: 1, Launched: 1, OpenRound: r.ID})
	entry.Action = survey.AuditLinksExport
	if err := e.svc.Audit().Record(e.ctx, entry); err != nil {
		t.Fatal(err)
	}
	step(survey.FirstRound{People: 6, Leaders: 1, Programs: 1, Launched: 1, Shared: true, OpenRound: r.ID})
	if err := e.svc.Rounds.Close(e.ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	step(survey.FirstRound{People: 6, Leaders: 1, Programs: 1, Launched: 1, Shared: true})
}

// unsentMailer turns email on for a scheduler that is only ticked here:
// ticking queues a round's invitations and sends nothing.
type unsentMailer struct{ t *testing.T }

func (m unsentMailer) Send(context.Context, survey.Email) error {
	m.t.Error("an email was sent")
	return errors.New("not sending in this test")
}

// A round whose invitations Pulse emails (email on when the scheduler
// followed the round up) counts as shared links.
func TestFirstRoundEmailed(t *testing.T) {
	e := newRoundEnv(t)
	e.people(e.root(), "staff", 6)
	r := e.launch(e.program("Pulse").ID)
	s := survey.NewScheduler(e.svc, survey.SchedulerOptions{Mailer: unsentMailer{t}, BaseURL: "https://pulse.acme.example"})
	if err := s.Tick(e.ctx); err != nil {
		t.Fatal(err)
	}
	if emailed, err := e.svc.RoundEmailed(e.ctx, r.ID); err != nil || !emailed {
		t.Fatalf("RoundEmailed = %v, %v", emailed, err)
	}
	got, err := e.svc.FirstRound(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Shared {
		t.Fatalf("an emailed round does not count as shared links: %+v", *got)
	}
}
