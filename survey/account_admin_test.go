package survey_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulse-survey/pulse/survey"
)

func TestDeactivateEndsSessionsAndTokens(t *testing.T) {
	e := newOrgEnv(t)
	boss := e.user(survey.RoleAdmin, "boss@example.com", goodPassword)
	ops := e.user(survey.RoleAdmin, "ops@example.com", goodPassword)
	lead := e.user(survey.RoleLeader, "lead@example.com", goodPassword, e.root())
	opsSession, err := e.svc.Accounts.CreateSession(e.ctx, ops.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	leadSession, err := e.svc.Accounts.CreateSession(e.ctx, lead.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	_, opsToken, err := e.svc.APITokens().Create(e.ctx, survey.APITokenInput{Name: "ops bot", Role: survey.RoleAdmin, CreatedBy: ops.ID})
	if err != nil {
		t.Fatal(err)
	}
	_, bossToken, err := e.svc.APITokens().Create(e.ctx, survey.APITokenInput{Name: "boss bot", Role: survey.RoleAdmin, CreatedBy: boss.ID})
	if err != nil {
		t.Fatal(err)
	}
	opsReset, _, err := e.svc.Accounts.CreatePasswordReset(e.ctx, ops.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	u, err := e.svc.Accounts.SetActive(e.ctx, boss.ID, ops.ID, false)
	if err != nil || u.Active {
		t.Fatalf("deactivate: %+v, %v", u, err)
	}
	if _, err := e.svc.Accounts.SessionUser(e.ctx, opsSession); !errors.Is(err, survey.ErrExpired) {
		t.Fatalf("session of a deactivated account: %v", err)
	}
	if _, err := e.svc.APITokens().Principal(e.ctx, opsToken); !errors.Is(err, survey.ErrInvalidToken) {
		t.Fatalf("API token created by a deactivated admin: %v", err)
	}
	if _, err := e.svc.Accounts.Authenticate(e.ctx, "ops@example.com", goodPassword); !errors.Is(err, survey.ErrInvalidCredentials) {
		t.Fatalf("sign-in of a deactivated account: %v", err)
	}
	if _, err := e.svc.Accounts.PasswordResetUser(e.ctx, opsReset); !errors.Is(err, survey.ErrExpired) {
		t.Fatalf("reset link of a deactivated account: %v", err)
	}
	// Others are untouched.
	if _, err := e.svc.APITokens().Principal(e.ctx, bossToken); err != nil {
		t.Fatalf("another admin's token stopped: %v", err)
	}
	if _, err := e.svc.Accounts.SessionUser(e.ctx, leadSession); err != nil {
		t.Fatalf("another account's session ended: %v", err)
	}

	// Reactivated: signs in again; old sessions and tokens stay ended.
	if u, err := e.svc.Accounts.SetActive(e.ctx, boss.ID, ops.ID, true); err != nil || !u.Active {
		t.Fatalf("reactivate: %+v, %v", u, err)
	}
	if _, err := e.svc.Accounts.Authenticate(e.ctx, "ops@example.com", goodPassword); err != nil {
		t.Fatalf("sign-in after reactivation: %v", err)
	}
	if _, err := e.svc.Accounts.SessionUser(e.ctx, opsSession); !errors.Is(err, survey.ErrExpired) {
		t.Fatalf("an old session came back with reactivation: %v", err)
	}
	if _, err := e.svc.APITokens().Principal(e.ctx, opsToken); !errors.Is(err, survey.ErrInvalidToken) {
		t.Fatalf("a revoked token came back with reactivation: %v", err)
	}

	// A leader's session ends too.
	if _, err := e.svc.Accounts.SetActive(e.ctx, boss.ID, lead.ID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Accounts.SessionUser(e.ctx, leadSession); !errors.Is(err, survey.ErrExpired) {
		t.Fatalf("session of a deactivated leader: %v", err)
	}
}

func TestDeactivateRefusals(t *testing.T) {
	e := newOrgEnv(t)
	boss := e.user(survey.RoleAdmin, "boss@example.com", goodPassword)
	ops := e.user(survey.RoleAdmin, "ops@example.com", goodPassword)
	_, err := e.svc.Accounts.SetActive(e.ctx, boss.ID, boss.ID, false)
	wantIs(t, err, survey.ErrConflict)
	if _, err := e.svc.Accounts.SetActive(e.ctx, boss.ID, ops.ID, false); err != nil {
		t.Fatal(err)
	}
	// ops deactivated; boss is the last active admin and cannot be
	// deactivated, even by someone else (an API token: actor 0).
	_, err = e.svc.Accounts.SetActive(e.ctx, 0, boss.ID, false)
	wantIs(t, err, survey.ErrConflict)
	if u, err := e.svc.Accounts.User(e.ctx, boss.ID); err != nil || !u.Active {
		t.Fatalf("last admin: %+v, %v", u, err)
	}
	_, err = e.svc.Accounts.SetActive(e.ctx, boss.ID, 9999, false)
	wantIs(t, err, survey.ErrNotFound)
}

func TestSetLeaderTeams(t *testing.T) {
	e := newOrgEnv(t)
	eng := e.team(e.root(), "Engineering")
	sales := e.team(e.root(), "Sales")
	emea := e.team(sales, "EMEA")
	lead := e.user(survey.RoleLeader, "lead@example.com", goodPassword, eng)
	admin := e.user(survey.RoleAdmin, "admin@example.com", goodPassword)

	if err := e.svc.Accounts.SetLeaderTeams(e.ctx, lead.ID, []uint{sales, sales}); err != nil {
		t.Fatal(err)
	}
	p, err := e.svc.Accounts.Principal(e.ctx, lead)
	if err != nil {
		t.Fatal(err)
	}
	if p.Can(eng) || !p.Can(sales) || !p.Can(emea) || len(p.Roots) != 1 {
		t.Fatalf("scope after change: roots %v teams %v", p.Roots, p.Teams)
	}
	wantField(t, e.svc.Accounts.SetLeaderTeams(e.ctx, lead.ID, nil), "team_ids")
	wantField(t, e.svc.Accounts.SetLeaderTeams(e.ctx, lead.ID, []uint{eng, 9999}), "team_ids")
	wantField(t, e.svc.Accounts.SetLeaderTeams(e.ctx, admin.ID, []uint{eng}), "team_ids")
	wantIs(t, e.svc.Accounts.SetLeaderTeams(e.ctx, 9999, []uint{eng}), survey.ErrNotFound)
	// Refused changes leave the scope as it was.
	p, _ = e.svc.Accounts.Principal(e.ctx, lead)
	if len(p.Roots) != 1 || p.Roots[0] != sales {
		t.Fatalf("a refused change altered the scope: %v", p.Roots)
	}
}

func TestInviteResendAndRevoke(t *testing.T) {
	e := newOrgEnv(t)
	eng := e.team(e.root(), "Engineering")
	first, err := e.svc.Accounts.CreateInvite(e.ctx, survey.InviteInput{Email: "lead@example.com", Role: survey.RoleLeader, TeamIDs: []uint{eng}})
	if err != nil {
		t.Fatal(err)
	}
	other, err := e.svc.Accounts.CreateInvite(e.ctx, survey.InviteInput{Email: "ops@example.com", Role: survey.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	pending, err := e.svc.Accounts.PendingInvites(e.ctx)
	if err != nil || len(pending) != 2 {
		t.Fatalf("pending: %+v, %v", pending, err)
	}
	lead := pending[1]
	if lead.Email != "lead@example.com" || len(lead.TeamIDs) != 1 || lead.TeamIDs[0] != eng || lead.Expired {
		t.Fatalf("pending invite: %+v", lead)
	}

	// Past its expiry, resending makes a new link that works; the old one does not.
	e.clock.Advance(survey.InviteLinkTTL + time.Hour)
	pending, _ = e.svc.Accounts.PendingInvites(e.ctx)
	if !pending[1].Expired {
		t.Fatal("an invitation past its expiry is not marked expired")
	}
	second, inv, err := e.svc.Accounts.ResendInvite(e.ctx, lead.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !inv.ExpiresAt.Equal(e.clock.Now().Add(survey.InviteLinkTTL)) {
		t.Errorf("resent invitation expires %v", inv.ExpiresAt)
	}
	if _, err := e.svc.Accounts.Invite(e.ctx, first); err == nil {
		t.Fatal("the old link still works after a resend")
	}
	u, err := e.svc.Accounts.AcceptInvite(e.ctx, survey.AcceptInput{Token: second, Name: "Lee", Password: goodPassword})
	if err != nil || u.Email != "lead@example.com" {
		t.Fatalf("accept resent link: %+v, %v", u, err)
	}
	// Used invitations are no longer pending and cannot be resent or revoked.
	_, _, err = e.svc.Accounts.ResendInvite(e.ctx, lead.ID)
	wantIs(t, err, survey.ErrNotFound)
	wantIs(t, e.svc.Accounts.RevokeInvite(e.ctx, lead.ID), survey.ErrNotFound)

	// Revoke: the link stops working.
	pending, _ = e.svc.Accounts.PendingInvites(e.ctx)
	if len(pending) != 1 || pending[0].Email != "ops@example.com" {
		t.Fatalf("pending after accept: %+v", pending)
	}
	if err := e.svc.Accounts.RevokeInvite(e.ctx, pending[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Accounts.Invite(e.ctx, other); err == nil {
		t.Fatal("a revoked link still works")
	}
	wantIs(t, e.svc.Accounts.RevokeInvite(e.ctx, pending[0].ID), survey.ErrNotFound)
}

func TestPasswordResetSingleUseAndExpiring(t *testing.T) {
	e := newOrgEnv(t)
	u := e.user(survey.RoleAdmin, "hr@example.com", goodPassword)
	session, err := e.svc.Accounts.CreateSession(e.ctx, u.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	token, expires, err := e.svc.Accounts.CreatePasswordReset(e.ctx, u.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !expires.Equal(e.clock.Now().Add(time.Hour)) {
		t.Errorf("expires %v", expires)
	}
	// A weak password is refused and does not use up the link.
	_, err = e.svc.Accounts.ResetPassword(e.ctx, token, "password1234")
	wantField(t, err, "password")
	const newPassword = "violet tram orbit"
	if _, err := e.svc.Accounts.ResetPassword(e.ctx, token, newPassword); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Accounts.Authenticate(e.ctx, "hr@example.com", newPassword); err != nil {
		t.Fatalf("new password: %v", err)
	}
	if _, err := e.svc.Accounts.Authenticate(e.ctx, "hr@example.com", goodPassword); err == nil {
		t.Fatal("the old password still works")
	}
	if _, err := e.svc.Accounts.SessionUser(e.ctx, session); err == nil {
		t.Fatal("a session from before the reset survived it")
	}
	// Single use.
	_, err = e.svc.Accounts.ResetPassword(e.ctx, token, "another fine phrase")
	wantIs(t, err, survey.ErrExpired)

	// Expiring: a second link is dead after its hour.
	late, _, err := e.svc.Accounts.CreatePasswordReset(e.ctx, u.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Hour)
	_, err = e.svc.Accounts.PasswordResetUser(e.ctx, late)
	wantIs(t, err, survey.ErrExpired)
	_, err = e.svc.Accounts.ResetPassword(e.ctx, late, "another fine phrase")
	wantIs(t, err, survey.ErrExpired)

	// A newer link voids the older one.
	a, _, _ := e.svc.Accounts.CreatePasswordReset(e.ctx, u.ID, time.Hour)
	b, _, _ := e.svc.Accounts.CreatePasswordReset(e.ctx, u.ID, time.Hour)
	_, err = e.svc.Accounts.PasswordResetUser(e.ctx, a)
	wantIs(t, err, survey.ErrExpired)
	if got, err := e.svc.Accounts.PasswordResetUser(e.ctx, b); err != nil || got.ID != u.ID {
		t.Fatalf("newest link: %+v, %v", got, err)
	}
	_, err = e.svc.Accounts.PasswordResetUser(e.ctx, "no-such-token")
	wantIs(t, err, survey.ErrExpired)
}

type recordingMailer struct {
	mu   sync.Mutex
	sent []survey.Email
}

func (m *recordingMailer) Send(_ context.Context, em survey.Email) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, em)
	return nil
}

func TestRequestPasswordReset(t *testing.T) {
	e := newOrgEnv(t)
	e.user(survey.RoleLeader, "lead@example.com", goodPassword, e.root())
	off := e.user(survey.RoleLeader, "off@example.com", goodPassword, e.root())
	admin := e.user(survey.RoleAdmin, "admin@example.com", goodPassword)
	if _, err := e.svc.Accounts.SetActive(e.ctx, admin.ID, off.ID, false); err != nil {
		t.Fatal(err)
	}
	m := &recordingMailer{}
	link := func(tok string) string { return "https://pulse.example/reset/" + tok }
	for _, addr := range []string{"nobody@example.com", "off@example.com", "not an address"} {
		if err := e.svc.Accounts.RequestPasswordReset(e.ctx, m, addr, link); err != nil {
			t.Fatalf("%s: %v", addr, err)
		}
	}
	if len(m.sent) != 0 {
		t.Fatalf("%d emails sent for unknown or deactivated accounts", len(m.sent))
	}
	if err := e.svc.Accounts.RequestPasswordReset(e.ctx, nil, "lead@example.com", link); err != nil {
		t.Fatalf("without a mailer: %v", err)
	}
	if err := e.svc.Accounts.RequestPasswordReset(e.ctx, m, " LEAD@example.com", link); err != nil {
		t.Fatal(err)
	}
	if len(m.sent) != 1 || m.sent[0].To != "lead@example.com" {
		t.Fatalf("sent %+v", m.sent)
	}
	tok := regexp.MustCompile(`/reset/([A-Za-z0-9_-]+)`).FindStringSubmatch(m.sent[0].Text)
	if tok == nil || !strings.Contains(m.sent[0].HTML, tok[0]) || !strings.Contains(m.sent[0].Text, "Acme") {
		t.Fatalf("email without the link or org: %q", m.sent[0].Text)
	}
	if _, err := e.svc.Accounts.ResetPassword(e.ctx, tok[1], "violet tram orbit"); err != nil {
		t.Fatalf("emailed link: %v", err)
	}
}
