package survey_test

import (
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/pulse-survey/pulse/survey"
)

func codeAt(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCode(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestTOTPWithAFixedClock(t *testing.T) {
	e := newOrgEnv(t)
	u := e.user(survey.RoleAdmin, "hr@example.com", goodPassword)
	other := e.user(survey.RoleAdmin, "ops@example.com", goodPassword)
	key, err := e.svc.Accounts.NewTOTPKey(u)
	if err != nil {
		t.Fatal(err)
	}
	secret := key.Secret()
	now := e.clock.Now()

	// Enrolment needs a current code from the secret.
	_, err = e.svc.Accounts.EnableTOTP(e.ctx, u.ID, secret, codeAt(t, secret, now.Add(-5*time.Minute)))
	wantField(t, err, "code")
	codes, err := e.svc.Accounts.EnableTOTP(e.ctx, u.ID, secret, codeAt(t, secret, now))
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != 10 || codes[0] == codes[1] {
		t.Fatalf("recovery codes %v", codes)
	}
	_, err = e.svc.Accounts.EnableTOTP(e.ctx, u.ID, secret, codeAt(t, secret, now))
	wantIs(t, err, survey.ErrConflict)

	check := func(code string) error { return e.svc.Accounts.CheckSecondFactor(e.ctx, u.ID, code) }
	// The code used to enrol is spent.
	wantIs(t, check(codeAt(t, secret, now)), survey.ErrSecondFactor)

	e.clock.Advance(2 * time.Minute)
	now = e.clock.Now()
	if err := check(codeAt(t, secret, now)); err != nil {
		t.Fatalf("good code: %v", err)
	}
	wantIs(t, check(codeAt(t, secret, now)), survey.ErrSecondFactor) // reused
	// One step late or early is accepted once; two steps are not.
	e.clock.Advance(30 * time.Second)
	now = e.clock.Now()
	wantIs(t, check(codeAt(t, secret, now.Add(-60*time.Second))), survey.ErrSecondFactor)
	if err := check(codeAt(t, secret, now.Add(30*time.Second))); err != nil {
		t.Fatalf("code one step ahead: %v", err)
	}
	e.clock.Advance(2 * time.Minute)
	now = e.clock.Now()
	if err := check(codeAt(t, secret, now.Add(-30*time.Second))); err != nil {
		t.Fatalf("code one step behind: %v", err)
	}
	wantIs(t, check(codeAt(t, secret, now.Add(90*time.Second))), survey.ErrSecondFactor)
	wantIs(t, check("000000x"), survey.ErrSecondFactor)

	// A recovery code works once, in any case and with or without its dash.
	if err := check(" " + codes[3][:5] + codes[3][6:] + " "); err != nil {
		t.Fatalf("recovery code: %v", err)
	}
	wantIs(t, check(codes[3]), survey.ErrSecondFactor)
	if left, _ := e.svc.Accounts.RecoveryCodesLeft(e.ctx, u.ID); left != 9 {
		t.Fatalf("%d recovery codes left, want 9", left)
	}
	// Codes belong to their account; an account without TOTP accepts nothing.
	wantIs(t, e.svc.Accounts.CheckSecondFactor(e.ctx, other.ID, codes[4]), survey.ErrSecondFactor)
	wantIs(t, e.svc.Accounts.CheckSecondFactor(e.ctx, other.ID, codeAt(t, secret, now)), survey.ErrSecondFactor)

	// Turned off: neither codes nor recovery codes work; it can be enrolled again.
	if err := e.svc.Accounts.DisableTOTP(e.ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	wantIs(t, check(codeAt(t, secret, e.clock.Now())), survey.ErrSecondFactor)
	wantIs(t, check(codes[5]), survey.ErrSecondFactor)
	if _, err := e.svc.Accounts.EnableTOTP(e.ctx, u.ID, secret, codeAt(t, secret, e.clock.Now())); err != nil {
		t.Fatalf("enrol again: %v", err)
	}
}

func TestPendingSessionGrantsNothing(t *testing.T) {
	e := newOrgEnv(t)
	u := e.user(survey.RoleAdmin, "hr@example.com", goodPassword)
	tok, err := e.svc.Accounts.CreatePendingSession(e.ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Accounts.SessionUser(e.ctx, tok)
	wantIs(t, err, survey.ErrExpired)
	if got, err := e.svc.Accounts.PendingUser(e.ctx, tok); err != nil || got.ID != u.ID {
		t.Fatalf("pending user: %+v, %v", got, err)
	}
	e.clock.Advance(survey.PendingSignInTTL)
	_, err = e.svc.Accounts.PendingUser(e.ctx, tok)
	wantIs(t, err, survey.ErrExpired)
}
