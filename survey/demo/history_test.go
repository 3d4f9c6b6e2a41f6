package demo_test

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/pulse-survey/pulse/reports"
	"github.com/pulse-survey/pulse/survey"
	"github.com/pulse-survey/pulse/survey/demo"
	"github.com/pulse-survey/pulse/survey/surveytest"
)

func newServices(t *testing.T) *survey.Services {
	t.Helper()
	master := make([]byte, 32)
	rand.Read(master)
	kr, err := survey.NewKeyring(master)
	if err != nil {
		t.Fatal(err)
	}
	return survey.New(surveytest.Open(t), survey.Options{BcryptCost: bcrypt.MinCost, Keyring: kr, Releaser: &reports.Releaser{}})
}

// TestHistory replays the demo year through the real pipeline and checks
// what a newcomer will see: closed rounds with ballots, empty boxes,
// destroyed keys, and one open round with a working link.
func TestHistory(t *testing.T) {
	if testing.Short() {
		t.Skip("replays 26 rounds")
	}
	ctx := context.Background()
	svc := newServices(t)
	if _, err := demo.Ensure(ctx, svc); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	var p demo.Progress
	secret, err := demo.History(ctx, svc, now, &p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Finished() || p.Done() != demo.HistoryRounds {
		t.Fatalf("progress %d/%d", p.Done(), p.Total())
	}
	rounds, err := svc.Rounds.Rounds(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var closed, open int
	for _, r := range rounds {
		switch r.Status {
		case survey.RoundClosed:
			closed++
			if r.TokensIssued < r.Invited/2 {
				t.Errorf("round %d: only %d of %d took part", r.Number, r.TokensIssued, r.Invited)
			}
		case survey.RoundOpen:
			open++
		}
	}
	if closed != demo.HistoryRounds || open != 1 {
		t.Fatalf("closed %d, open %d", closed, open)
	}
	var box, keys, ballots int64
	svc.DB.Table("ballot_box").Count(&box)
	svc.DB.Table("round_keys").Where("private_key IS NOT NULL").Count(&keys)
	svc.DB.Table("ballots").Count(&ballots)
	if box != 0 || ballots < 26*80 {
		t.Errorf("box %d, ballots %d", box, ballots)
	}
	if keys == 0 {
		t.Error("the open round has no private keys")
	}
	v, err := svc.Rounds.SurveyBySecret(ctx, secret)
	if err != nil || v.TokenIssued || v.Round.Status != survey.RoundOpen {
		t.Fatalf("printed link: %+v, %v", v, err)
	}
	// A second run resumes and adds nothing.
	if _, err := demo.History(ctx, svc, now.Add(time.Hour), &p, nil); err != nil {
		t.Fatal(err)
	}
	after, _ := svc.Rounds.Rounds(ctx)
	if len(after) != len(rounds) {
		t.Fatalf("rerun added rounds: %d -> %d", len(rounds), len(after))
	}
}
