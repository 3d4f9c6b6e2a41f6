package survey_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/pulse-survey/pulse/survey"
)

const goodPassword = "correct horse battery"

func TestNeedsSetup(t *testing.T) {
	e := newEnv(t)
	if ok, err := e.svc.Accounts.NeedsSetup(e.ctx); err != nil || !ok {
		t.Fatalf("NeedsSetup on an empty database = %v, %v; want true", ok, err)
	}
	e.user(survey.RoleAdmin, "hr@example.com", goodPassword)
	if ok, err := e.svc.Accounts.NeedsSetup(e.ctx); err != nil || ok {
		t.Fatalf("NeedsSetup with an account = %v, %v; want false", ok, err)
	}
}

func TestSetupLink(t *testing.T) {
	e := newEnv(t)
	token, err := e.svc.Accounts.CreateSetupLink(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(token) < 32 {
		t.Fatalf("setup token %q is too short to be unguessable", token)
	}
	inv, err := e.svc.Accounts.Invite(e.ctx, token)
	if err != nil {
		t.Fatalf("Invite(setup token): %v", err)
	}
	if inv.Role != survey.RoleAdmin || inv.Email != "" {
		t.Fatalf("setup invite = %+v, want an admin link without email", inv)
	}

	u, err := e.svc.Accounts.AcceptInvite(e.ctx, survey.AcceptInput{Token: token, Email: " HR@Example.com ", Name: " Hanna ", Password: goodPassword})
	if err != nil {
		t.Fatal(err)
	}
	if u.ID == 0 || u.Role != survey.RoleAdmin || u.Email != "hr@example.com" || u.Name != "Hanna" || !u.Active {
		t.Fatalf("AcceptInvite created %+v", u)
	}
	if u.PasswordHash == goodPassword || u.PasswordHash == "" {
		t.Fatal("password is not hashed")
	}
	if ok, _ := e.svc.Accounts.NeedsSetup(e.ctx); ok {
		t.Fatal("NeedsSetup still true after the first admin exists")
	}
	if _, err := e.svc.Accounts.Authenticate(e.ctx, "hr@example.com", goodPassword); err != nil {
		t.Fatalf("the new admin cannot sign in: %v", err)
	}

	t.Run("works once", func(t *testing.T) {
		_, err := e.svc.Accounts.AcceptInvite(e.ctx, survey.AcceptInput{Token: token, Email: "other@example.com", Name: "Other", Password: goodPassword})
		wantIs(t, err, survey.ErrExpired)
		_, err = e.svc.Accounts.Invite(e.ctx, token)
		wantIs(t, err, survey.ErrExpired)
	})
	t.Run("no new link once an account exists", func(t *testing.T) {
		_, err := e.svc.Accounts.CreateSetupLink(e.ctx)
		wantIs(t, err, survey.ErrConflict)
	})
}

func TestSetupLinkReplacesPrevious(t *testing.T) {
	e := newEnv(t)
	first, err := e.svc.Accounts.CreateSetupLink(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	second, err := e.svc.Accounts.CreateSetupLink(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if first == second {
		t.Fatal("two setup links share a token")
	}
	_, err = e.svc.Accounts.AcceptInvite(e.ctx, survey.AcceptInput{Token: first, Email: "a@example.com", Name: "A", Password: goodPassword})
	if err == nil {
		t.Fatal("the earlier setup link still works after a new one was made")
	}
	// An invalidated link reads as gone: expired or not found, never a 500.
	if !errors.Is(err, survey.ErrExpired) && !errors.Is(err, survey.ErrNotFound) {
		t.Fatalf("accepting a replaced setup link: %v, want ErrExpired or ErrNotFound", err)
	}
	if ok, _ := e.svc.Accounts.NeedsSetup(e.ctx); !ok {
		t.Fatal("the replaced link created an account")
	}
	if _, err := e.svc.Accounts.AcceptInvite(e.ctx, survey.AcceptInput{Token: second, Email: "b@example.com", Name: "B", Password: goodPassword}); err != nil {
		t.Fatalf("the newest setup link: %v", err)
	}
}

// TestSetupLinkDeadOnceAnAccountExists: a setup link creates the first
// admin only. Once an account exists by another way (the operators' CLI,
// CreateUser), an earlier setup link, perhaps still in the start-up log,
// must not create a second admin.
func TestSetupLinkDeadOnceAnAccountExists(t *testing.T) {
	e := newEnv(t)
	token, err := e.svc.Accounts.CreateSetupLink(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	e.user(survey.RoleAdmin, "ops@example.com", goodPassword)
	u, err := e.svc.Accounts.AcceptInvite(e.ctx, survey.AcceptInput{Token: token, Email: "intruder@example.com", Name: "Intruder", Password: goodPassword})
	if err == nil {
		t.Fatalf("a setup link created the admin %s although an account already existed", u.Email)
	}
	if !errors.Is(err, survey.ErrExpired) && !errors.Is(err, survey.ErrConflict) {
		t.Fatalf("got %v, want ErrExpired or ErrConflict", err)
	}
}

func TestSetupLinkExpires(t *testing.T) {
	e := newEnv(t)
	token, err := e.svc.Accounts.CreateSetupLink(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(survey.SetupLinkTTL - time.Second)
	if _, err := e.svc.Accounts.Invite(e.ctx, token); err != nil {
		t.Fatalf("setup link one second before expiry: %v", err)
	}
	e.clock.Advance(2 * time.Second)
	_, err = e.svc.Accounts.Invite(e.ctx, token)
	wantIs(t, err, survey.ErrExpired)
	_, err = e.svc.Accounts.AcceptInvite(e.ctx, survey.AcceptInput{Token: token, Email: "a@example.com", Name: "A", Password: goodPassword})
	wantIs(t, err, survey.ErrExpired)
	if ok, _ := e.svc.Accounts.NeedsSetup(e.ctx); !ok {
		t.Fatal("an expired link created an account")
	}
}

func TestAcceptInviteValidation(t *testing.T) {
	e := newEnv(t)
	token, err := e.svc.Accounts.CreateSetupLink(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		in    survey.AcceptInput
		field string
	}{
		{"password too short", survey.AcceptInput{Email: "a@example.com", Name: "A", Password: "short"}, "password"},
		{"password one below minimum", survey.AcceptInput{Email: "a@example.com", Name: "A", Password: "river-kite7"}, "password"},
		{"common password", survey.AcceptInput{Email: "a@example.com", Name: "A", Password: "Password1234"}, "password"},
		{"common password with symbols", survey.AcceptInput{Email: "a@example.com", Name: "A", Password: "P@ssw0rd2024"}, "password"},
		{"keyboard walk", survey.AcceptInput{Email: "a@example.com", Name: "A", Password: "1qaz2wsx3edc"}, "password"},
		{"one letter repeated", survey.AcceptInput{Email: "a@example.com", Name: "A", Password: "aaaaaaaaaaaa"}, "password"},
		{"two letters repeated", survey.AcceptInput{Email: "a@example.com", Name: "A", Password: "abababababababab"}, "password"},
		{"password over 72 bytes", survey.AcceptInput{Email: "a@example.com", Name: "A", Password: string(make([]byte, 73))}, "password"},
		{"no name", survey.AcceptInput{Email: "a@example.com", Name: " ", Password: goodPassword}, "name"},
		{"bad email", survey.AcceptInput{Email: "nope", Name: "A", Password: goodPassword}, "email"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			in.Token = token
			_, err := e.svc.Accounts.AcceptInvite(e.ctx, in)
			wantField(t, err, tc.field)
		})
	}
	// Rejected attempts do not use up the link.
	if _, err := e.svc.Accounts.AcceptInvite(e.ctx, survey.AcceptInput{Token: token, Email: "a@example.com", Name: "A", Password: "river-kite-7"}); err != nil {
		t.Fatalf("a password of exactly %d characters: %v", survey.MinPasswordLen, err)
	}
	_, err = e.svc.Accounts.AcceptInvite(e.ctx, survey.AcceptInput{Token: "no-such-token", Email: "a@example.com", Name: "A", Password: goodPassword})
	if err == nil {
		t.Fatal("an unknown token was accepted")
	}
}

func TestAuthenticate(t *testing.T) {
	e := newEnv(t)
	u := e.user(survey.RoleAdmin, "hr@example.com", goodPassword)
	off := e.user(survey.RoleAdmin, "off@example.com", goodPassword)
	if err := e.db.Model(&survey.User{}).Where("id = ?", off.ID).Update("active", false).Error; err != nil {
		t.Fatal(err)
	}

	got, err := e.svc.Accounts.Authenticate(e.ctx, " HR@example.COM ", goodPassword)
	if err != nil {
		t.Fatalf("good credentials: %v", err)
	}
	if got.ID != u.ID || got.LastLoginAt == nil || !got.LastLoginAt.Equal(e.clock.Now()) {
		t.Fatalf("Authenticate returned %+v", got)
	}
	stored, err := e.svc.Accounts.UserByEmail(e.ctx, "hr@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if stored.LastLoginAt == nil || !stored.LastLoginAt.Equal(e.clock.Now()) {
		t.Fatalf("LastLoginAt stored as %v, want %v", stored.LastLoginAt, e.clock.Now())
	}

	bad := []struct {
		name, email, password string
	}{
		{"wrong password", "hr@example.com", "wrong password!"},
		{"password in other case", "hr@example.com", "CORRECT HORSE BATTERY"},
		{"empty password", "hr@example.com", ""},
		{"unknown email", "nobody@example.com", goodPassword},
		{"malformed email", "not an email", goodPassword},
		{"inactive user", "off@example.com", goodPassword},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			u, err := e.svc.Accounts.Authenticate(e.ctx, tc.email, tc.password)
			wantIs(t, err, survey.ErrInvalidCredentials)
			if u != nil {
				t.Fatalf("rejected login returned user %+v", u)
			}
		})
	}
}

func TestSession(t *testing.T) {
	e := newEnv(t)
	u := e.user(survey.RoleAdmin, "hr@example.com", goodPassword)
	token, err := e.svc.Accounts.CreateSession(e.ctx, u.ID, 12*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.svc.Accounts.SessionUser(e.ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != u.ID || got.Email != u.Email {
		t.Fatalf("SessionUser = %+v, want %+v", got, u)
	}
	// The cookie value itself is never stored, only its hash.
	var n int64
	e.db.Model(&survey.Session{}).Where("id = ?", token).Count(&n)
	if n != 0 {
		t.Fatal("the raw session token is stored")
	}

	for _, tok := range []string{"", "bogus", token + "x"} {
		_, err := e.svc.Accounts.SessionUser(e.ctx, tok)
		wantIs(t, err, survey.ErrExpired)
	}

	t.Run("end", func(t *testing.T) {
		if err := e.svc.Accounts.EndSession(e.ctx, token); err != nil {
			t.Fatal(err)
		}
		_, err := e.svc.Accounts.SessionUser(e.ctx, token)
		wantIs(t, err, survey.ErrExpired)
	})
}

func TestSessionAbsoluteExpiry(t *testing.T) {
	e := newEnv(t)
	u := e.user(survey.RoleAdmin, "hr@example.com", goodPassword)
	ttl := 3 * time.Hour
	token, err := e.svc.Accounts.CreateSession(e.ctx, u.ID, ttl)
	if err != nil {
		t.Fatal(err)
	}
	// Used often enough never to be idle, it still ends at its absolute expiry.
	for _, step := range []time.Duration{time.Hour, time.Hour, 59 * time.Minute} {
		e.clock.Advance(step)
		if _, err := e.svc.Accounts.SessionUser(e.ctx, token); err != nil {
			t.Fatalf("session in use %v after login: %v", step, err)
		}
	}
	e.clock.Advance(2 * time.Minute) // ttl + 1m, last use 2m ago
	_, err = e.svc.Accounts.SessionUser(e.ctx, token)
	wantIs(t, err, survey.ErrExpired)
	// Going back in time does not revive it: the expired session was removed.
	e.clock.Advance(-time.Hour)
	_, err = e.svc.Accounts.SessionUser(e.ctx, token)
	wantIs(t, err, survey.ErrExpired)
}

func TestSessionIdleTimeout(t *testing.T) {
	e := newEnv(t)
	u := e.user(survey.RoleAdmin, "hr@example.com", goodPassword)
	token, err := e.svc.Accounts.CreateSession(e.ctx, u.ID, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// Each use within the idle window keeps it alive.
	for i := 0; i < 3; i++ {
		e.clock.Advance(survey.SessionIdleTimeout - time.Minute)
		if _, err := e.svc.Accounts.SessionUser(e.ctx, token); err != nil {
			t.Fatalf("use %d, %v after the previous one: %v", i+1, survey.SessionIdleTimeout-time.Minute, err)
		}
	}
	e.clock.Advance(survey.SessionIdleTimeout + time.Second)
	_, err = e.svc.Accounts.SessionUser(e.ctx, token)
	wantIs(t, err, survey.ErrExpired)
}

func TestSessionEndsWhenUserDeactivated(t *testing.T) {
	e := newEnv(t)
	u := e.user(survey.RoleAdmin, "hr@example.com", goodPassword)
	token, err := e.svc.Accounts.CreateSession(e.ctx, u.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.db.Model(&survey.User{}).Where("id = ?", u.ID).Update("active", false).Error; err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Accounts.SessionUser(e.ctx, token)
	wantIs(t, err, survey.ErrExpired)
}

func TestSetPassword(t *testing.T) {
	e := newEnv(t)
	u := e.user(survey.RoleAdmin, "hr@example.com", goodPassword)
	other := e.user(survey.RoleAdmin, "it@example.com", goodPassword)
	s1, _ := e.svc.Accounts.CreateSession(e.ctx, u.ID, time.Hour)
	s2, _ := e.svc.Accounts.CreateSession(e.ctx, u.ID, time.Hour)
	s3, _ := e.svc.Accounts.CreateSession(e.ctx, other.ID, time.Hour)

	wantField(t, e.svc.Accounts.SetPassword(e.ctx, u.ID, "short"), "password")
	if _, err := e.svc.Accounts.SessionUser(e.ctx, s1); err != nil {
		t.Fatalf("a rejected password change ended the session: %v", err)
	}

	const newPassword = "a brand new passphrase"
	if err := e.svc.Accounts.SetPassword(e.ctx, u.ID, newPassword); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{s1, s2} {
		_, err := e.svc.Accounts.SessionUser(e.ctx, s)
		wantIs(t, err, survey.ErrExpired)
	}
	if _, err := e.svc.Accounts.SessionUser(e.ctx, s3); err != nil {
		t.Fatalf("another user's session ended: %v", err)
	}
	_, err := e.svc.Accounts.Authenticate(e.ctx, "hr@example.com", goodPassword)
	wantIs(t, err, survey.ErrInvalidCredentials)
	if _, err := e.svc.Accounts.Authenticate(e.ctx, "hr@example.com", newPassword); err != nil {
		t.Fatalf("new password: %v", err)
	}
	wantIs(t, e.svc.Accounts.SetPassword(e.ctx, 999999, newPassword), survey.ErrNotFound)
}

// scopeOrg builds Acme with Engineering > Platform > Infra > Storage and
// Engineering > Mobile, and a sibling department Sales > Field.
type scopeOrg struct {
	root, eng, plat, infra, storage, mobile, sales, field uint
}

func newScopeOrg(e *env) scopeOrg {
	var o scopeOrg
	o.root = e.root()
	o.eng = e.team(o.root, "Engineering")
	o.plat = e.team(o.eng, "Platform")
	o.infra = e.team(o.plat, "Infra")
	o.storage = e.team(o.infra, "Storage")
	o.mobile = e.team(o.eng, "Mobile")
	o.sales = e.team(o.root, "Sales")
	o.field = e.team(o.sales, "Field")
	return o
}

func checkEngineeringScope(t *testing.T, p *survey.Principal, o scopeOrg) {
	t.Helper()
	if p.All || p.IsAdmin() {
		t.Fatalf("leader principal has admin powers: %+v", p)
	}
	if len(p.Roots) != 1 || p.Roots[0] != o.eng {
		t.Fatalf("Roots = %v, want [%d]", p.Roots, o.eng)
	}
	for name, id := range map[string]uint{"Engineering": o.eng, "Platform": o.plat, "Infra": o.infra, "Storage": o.storage, "Mobile": o.mobile} {
		if !p.Can(id) {
			t.Errorf("leader of Engineering cannot see %s", name)
		}
	}
	for name, id := range map[string]uint{"root": o.root, "Sales": o.sales, "Sales/Field": o.field, "unknown": 999999} {
		if p.Can(id) {
			t.Errorf("leader of Engineering can see %s", name)
		}
	}
}

func TestPrincipal(t *testing.T) {
	e := newOrgEnv(t)
	o := newScopeOrg(e)

	t.Run("admin", func(t *testing.T) {
		u := e.user(survey.RoleAdmin, "hr@example.com", goodPassword)
		p, err := e.svc.Accounts.Principal(e.ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		if !p.All || !p.IsAdmin() || !p.Can(o.root) || !p.Can(o.field) {
			t.Fatalf("admin principal = %+v", p)
		}
	})
	t.Run("leader", func(t *testing.T) {
		u := e.user(survey.RoleLeader, "lead@example.com", goodPassword, o.eng)
		p, err := e.svc.Accounts.Principal(e.ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		checkEngineeringScope(t, p, o)
	})
	t.Run("leader scope follows the tree", func(t *testing.T) {
		u := e.user(survey.RoleLeader, "lead2@example.com", goodPassword, o.eng)
		newTeam := e.team(o.storage, "Backups")
		if _, err := e.svc.Org.MoveTeam(e.ctx, o.field, o.mobile); err != nil {
			t.Fatal(err)
		}
		p, err := e.svc.Accounts.Principal(e.ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		if !p.Can(newTeam) || !p.Can(o.field) || p.Can(o.sales) {
			t.Fatalf("scope is not resolved against the current tree: %+v", p.Teams)
		}
		if _, err := e.svc.Org.MoveTeam(e.ctx, o.field, o.sales); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("leader without scope sees nothing", func(t *testing.T) {
		u := e.user(survey.RoleLeader, "lost@example.com", goodPassword)
		p, err := e.svc.Accounts.Principal(e.ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		if p.All || p.Can(o.root) || p.Can(o.eng) || len(p.Teams) != 0 {
			t.Fatalf("unscoped leader principal = %+v", p)
		}
	})
}

func TestLeaderInvite(t *testing.T) {
	e := newOrgEnv(t)
	o := newScopeOrg(e)

	token, err := e.svc.Accounts.CreateInvite(e.ctx, survey.InviteInput{Email: "Lead@Example.com", Role: survey.RoleLeader, TeamIDs: []uint{o.eng}})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := e.svc.Accounts.Invite(e.ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	if inv.Email != "lead@example.com" || inv.Role != survey.RoleLeader {
		t.Fatalf("invite = %+v", inv)
	}
	// The invited address wins over whatever the form sends.
	u, err := e.svc.Accounts.AcceptInvite(e.ctx, survey.AcceptInput{Token: token, Email: "someone-else@example.com", Name: "Lea", Password: goodPassword})
	if err != nil {
		t.Fatal(err)
	}
	if u.Email != "lead@example.com" || u.Role != survey.RoleLeader || !u.Active {
		t.Fatalf("AcceptInvite created %+v", u)
	}
	p, err := e.svc.Accounts.Principal(e.ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	checkEngineeringScope(t, p, o)

	t.Run("invalid", func(t *testing.T) {
		tests := []struct {
			name  string
			in    survey.InviteInput
			field string
		}{
			{"leader without teams", survey.InviteInput{Email: "x@example.com", Role: survey.RoleLeader}, "team_ids"},
			{"leader with empty team list", survey.InviteInput{Email: "x@example.com", Role: survey.RoleLeader, TeamIDs: []uint{}}, "team_ids"},
			{"unknown team", survey.InviteInput{Email: "x@example.com", Role: survey.RoleLeader, TeamIDs: []uint{o.eng, 999999}}, "team_ids"},
			{"unknown role", survey.InviteInput{Email: "x@example.com", Role: "owner", TeamIDs: []uint{o.eng}}, "role"},
			{"bad email", survey.InviteInput{Email: "x", Role: survey.RoleAdmin}, "email"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				_, err := e.svc.Accounts.CreateInvite(e.ctx, tc.in)
				wantField(t, err, tc.field)
			})
		}
	})
	t.Run("existing account", func(t *testing.T) {
		_, err := e.svc.Accounts.CreateInvite(e.ctx, survey.InviteInput{Email: "LEAD@example.com", Role: survey.RoleLeader, TeamIDs: []uint{o.sales}})
		wantIs(t, err, survey.ErrConflict)
	})
	t.Run("expires after a week", func(t *testing.T) {
		tok, err := e.svc.Accounts.CreateInvite(e.ctx, survey.InviteInput{Email: "late@example.com", Role: survey.RoleAdmin})
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(survey.InviteLinkTTL)
		_, err = e.svc.Accounts.AcceptInvite(e.ctx, survey.AcceptInput{Token: tok, Name: "Late", Password: goodPassword})
		wantIs(t, err, survey.ErrExpired)
	})
}

func TestAcceptInviteConcurrently(t *testing.T) {
	e := newEnv(t)
	token, err := e.svc.Accounts.CreateSetupLink(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	const n = 10
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		users = make([]*survey.User, n)
		errs  = make([]error, n)
	)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			users[i], errs[i] = e.svc.Accounts.AcceptInvite(e.ctx, survey.AcceptInput{
				Token: token, Email: "hr@example.com", Name: "HR", Password: goodPassword,
			})
		}(i)
	}
	close(start)
	wg.Wait()

	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
			if users[i] == nil || users[i].Role != survey.RoleAdmin {
				t.Errorf("winner %d got %+v", i, users[i])
			}
		case errors.Is(err, survey.ErrExpired):
		default:
			t.Errorf("accept %d: %v, want success or ErrExpired", i, err)
		}
	}
	if won != 1 {
		t.Fatalf("%d concurrent accepts of one link succeeded, want exactly 1", won)
	}
	var count int64
	if err := e.db.Model(&survey.User{}).Count(&count).Error; err != nil {
		t.Fatal(err)
	}
	if count != 1 {
		t.Fatalf("%d accounts exist, want 1", count)
	}
}

// TestSessionSweep: expired sessions of anyone are deleted at the next login.
func TestSessionSweep(t *testing.T) {
	e := newEnv(t)
	a := e.user(survey.RoleAdmin, "a@example.com", goodPassword)
	b := e.user(survey.RoleAdmin, "b@example.com", goodPassword)
	if _, err := e.svc.Accounts.CreateSession(e.ctx, a.ID, time.Hour); err != nil {
		t.Fatal(err)
	}
	live, err := e.svc.Accounts.CreateSession(e.ctx, a.ID, 8*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Hour + time.Second)
	if _, err := e.svc.Accounts.CreateSession(e.ctx, b.ID, time.Hour); err != nil {
		t.Fatal(err)
	}
	var n int64
	if err := e.db.Model(&survey.Session{}).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("%d sessions stored after the sweep, want 2 (the expired one removed)", n)
	}
	if _, err := e.svc.Accounts.SessionUser(e.ctx, live); err != nil {
		t.Fatalf("the sweep ended a live session: %v", err)
	}
}
