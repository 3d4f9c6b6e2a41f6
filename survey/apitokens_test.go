package survey_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/pulse-survey/pulse/survey"
)

func TestAPITokenCreateStoresOnlyTheHash(t *testing.T) {
	e := newOrgEnv(t)
	admin := e.user(survey.RoleAdmin, "hr@acme.example", "correct horse battery")
	tokens := e.svc.APITokens()

	tok, secret, err := tokens.Create(e.ctx, survey.APITokenInput{Name: "  Nightly export ", Role: survey.RoleAdmin, CreatedBy: admin.ID})
	if err != nil {
		t.Fatal(err)
	}
	rest, ok := strings.CutPrefix(secret, "pls_")
	if !ok {
		t.Fatalf("token %q lacks the pls_ prefix", secret)
	}
	if raw, err := base64.RawURLEncoding.DecodeString(rest); err != nil || len(raw) != 32 {
		t.Fatalf("token body %q: %d bytes, %v; want 32 random bytes base64url", rest, len(raw), err)
	}
	sum := sha256.Sum256([]byte(secret))
	if tok.TokenHash != hex.EncodeToString(sum[:]) || tok.Prefix != secret[:12] || tok.Name != "Nightly export" {
		t.Errorf("stored token %+v", tok)
	}
	if tok.CreatedByID == nil || *tok.CreatedByID != admin.ID {
		t.Errorf("created by %v", tok.CreatedByID)
	}

	// The secret is nowhere in the table, whatever the column.
	var rows []map[string]any
	if err := e.db.Table("api_tokens").Find(&rows).Error; err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 {
		t.Fatalf("%d rows", len(rows))
	}
	for col, v := range rows[0] {
		var s string
		switch x := v.(type) {
		case string:
			s = x
		case []byte:
			s = string(x)
		}
		if s != "" && strings.Contains(s, rest[8:]) {
			t.Errorf("column %s holds the token's secret part: %q", col, s)
		}
	}

	// A second token never collides.
	tok2, secret2, err := tokens.Create(e.ctx, survey.APITokenInput{Name: "Other", Role: survey.RoleAdmin, CreatedBy: admin.ID})
	if err != nil {
		t.Fatal(err)
	}
	if secret2 == secret || tok2.TokenHash == tok.TokenHash {
		t.Fatal("two tokens are equal")
	}

	list, err := tokens.List(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != tok2.ID || list[1].ID != tok.ID {
		t.Errorf("list %+v, want newest first", list)
	}
}

func TestAPITokenValidation(t *testing.T) {
	e := newOrgEnv(t)
	tokens := e.svc.APITokens()
	past := e.clock.Now().Add(-time.Minute)
	for _, tc := range []struct {
		name  string
		in    survey.APITokenInput
		field string
	}{
		{"no name", survey.APITokenInput{Role: survey.RoleAdmin}, "name"},
		{"long name", survey.APITokenInput{Name: strings.Repeat("x", 101), Role: survey.RoleAdmin}, "name"},
		{"bad role", survey.APITokenInput{Name: "x", Role: "owner"}, "role"},
		{"leader without teams", survey.APITokenInput{Name: "x", Role: survey.RoleLeader}, "team_ids"},
		{"admin with teams", survey.APITokenInput{Name: "x", Role: survey.RoleAdmin, TeamIDs: []uint{e.root()}}, "team_ids"},
		{"unknown team", survey.APITokenInput{Name: "x", Role: survey.RoleLeader, TeamIDs: []uint{9999}}, "team_ids"},
		{"expired already", survey.APITokenInput{Name: "x", Role: survey.RoleAdmin, ExpiresAt: &past}, "expires_at"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, secret, err := tokens.Create(e.ctx, tc.in)
			wantField(t, err, tc.field)
			if secret != "" {
				t.Error("a secret was returned with an error")
			}
		})
	}
	var n int64
	e.db.Table("api_tokens").Count(&n)
	if n != 0 {
		t.Errorf("%d tokens stored by failed creates", n)
	}
}

func TestAPITokenPrincipal(t *testing.T) {
	e := newOrgEnv(t)
	tokens := e.svc.APITokens()
	root := e.root()
	eng := e.team(root, "Eng")
	platform := e.team(eng, "Platform")
	sales := e.team(root, "Sales")

	_, adminSecret, err := tokens.Create(e.ctx, survey.APITokenInput{Name: "all", Role: survey.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	in := e.clock.Now().Add(time.Hour)
	leaderTok, leaderSecret, err := tokens.Create(e.ctx, survey.APITokenInput{Name: "eng", Role: survey.RoleLeader,
		TeamIDs: []uint{eng, eng}, ExpiresAt: &in})
	if err != nil {
		t.Fatal(err)
	}
	if len(leaderTok.TeamIDs) != 1 {
		t.Errorf("duplicate team kept: %v", leaderTok.TeamIDs)
	}

	p, err := tokens.Principal(e.ctx, adminSecret)
	if err != nil {
		t.Fatal(err)
	}
	if !p.IsAdmin() || !p.All || p.TokenID == 0 || p.User.ID != 0 || p.User.Name != "all" {
		t.Errorf("admin token principal %+v", p)
	}

	p, err = tokens.Principal(e.ctx, leaderSecret)
	if err != nil {
		t.Fatal(err)
	}
	if p.IsAdmin() || p.All || p.TokenID != leaderTok.ID || !p.Can(eng) || !p.Can(platform) || p.Can(sales) || p.Can(root) {
		t.Errorf("leader token principal %+v", p)
	}
	got, err := tokens.Get(e.ctx, leaderTok.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.LastUsedAt == nil || !got.LastUsedAt.Equal(e.clock.Now()) {
		t.Errorf("last used %v, want %v", got.LastUsedAt, e.clock.Now())
	}

	for _, bad := range []string{"", "pls_", "pls_nope", leaderSecret + "x", strings.TrimPrefix(leaderSecret, "pls_"),
		"pls_" + strings.Repeat("a", 500)} {
		if _, err := tokens.Principal(e.ctx, bad); err != survey.ErrInvalidToken {
			t.Errorf("token %q: %v, want ErrInvalidToken", bad, err)
		}
	}

	// Expiry: valid until the instant, not at it.
	e.clock.Advance(time.Hour - time.Second)
	if _, err := tokens.Principal(e.ctx, leaderSecret); err != nil {
		t.Fatalf("one second before expiry: %v", err)
	}
	e.clock.Advance(time.Second)
	wantIs(t, func() error { _, err := tokens.Principal(e.ctx, leaderSecret); return err }(), survey.ErrInvalidToken)

	// Revocation is final and idempotent.
	list, _ := tokens.List(e.ctx)
	adminID := list[len(list)-1].ID
	r, err := tokens.Revoke(e.ctx, adminID)
	if err != nil {
		t.Fatal(err)
	}
	if r.RevokedAt == nil || !r.RevokedAt.Equal(e.clock.Now()) {
		t.Errorf("revoked at %v", r.RevokedAt)
	}
	wantIs(t, func() error { _, err := tokens.Principal(e.ctx, adminSecret); return err }(), survey.ErrInvalidToken)
	e.clock.Advance(time.Hour)
	r2, err := tokens.Revoke(e.ctx, adminID)
	if err != nil {
		t.Fatal(err)
	}
	if !r2.RevokedAt.Equal(*r.RevokedAt) {
		t.Errorf("second revoke moved revoked_at from %v to %v", r.RevokedAt, r2.RevokedAt)
	}
	_, err = tokens.Revoke(e.ctx, 9999)
	wantIs(t, err, survey.ErrNotFound)
}

// TestAuditTokenSchema checks migration 0004 on the live schema.
func TestAuditTokenSchema(t *testing.T) {
	e := newOrgEnv(t)
	m := e.db.Migrator()
	for _, table := range []string{"audit_log", "api_tokens", "api_token_teams"} {
		if !m.HasTable(table) {
			t.Fatalf("table %s missing", table)
		}
	}
	for _, ix := range [][2]string{{"audit_log", "idx_audit_log_at"}, {"audit_log", "idx_audit_log_action"},
		{"api_tokens", "idx_api_tokens_token_hash"}} {
		if !m.HasIndex(ix[0], ix[1]) {
			t.Errorf("index %s on %s missing", ix[1], ix[0])
		}
	}

	// The token hash is unique.
	dup := map[string]any{"name": "a", "token_hash": strings.Repeat("ab", 32), "prefix": "pls_x", "role": "admin",
		"created_at": e.clock.Now()}
	if err := e.db.Table("api_tokens").Create(dup).Error; err != nil {
		t.Fatal(err)
	}
	dup2 := map[string]any{"name": "b", "token_hash": strings.Repeat("ab", 32), "prefix": "pls_y", "role": "admin",
		"created_at": e.clock.Now()}
	if err := e.db.Table("api_tokens").Create(dup2).Error; !errors.Is(err, gorm.ErrDuplicatedKey) {
		t.Errorf("duplicate token hash: %v, want ErrDuplicatedKey", err)
	}

	// Deleting a team drops it from token scopes; deleting an account keeps
	// its tokens (created_by becomes NULL) and the audit log untouched.
	team := e.team(e.root(), "Temp")
	u := e.user(survey.RoleAdmin, "gone@acme.example", "correct horse battery")
	tok, _, err := e.svc.APITokens().Create(e.ctx, survey.APITokenInput{Name: "t", Role: survey.RoleLeader, TeamIDs: []uint{team}, CreatedBy: u.ID})
	if err != nil {
		t.Fatal(err)
	}
	uid := u.ID
	if err := e.svc.Audit().Record(e.ctx, survey.AuditEntry{ActorUserID: &uid, ActorLabel: "Gone", Action: "token.create"}); err != nil {
		t.Fatal(err)
	}
	if err := e.db.Exec("DELETE FROM teams WHERE id = ?", team).Error; err != nil {
		t.Fatal(err)
	}
	if err := e.db.Exec("DELETE FROM users WHERE id = ?", u.ID).Error; err != nil {
		t.Fatal(err)
	}
	got, err := e.svc.APITokens().Get(e.ctx, tok.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.TeamIDs) != 0 || got.CreatedByID != nil {
		t.Errorf("after deletes: teams %v, created by %v", got.TeamIDs, got.CreatedByID)
	}
	page, err := e.svc.Audit().List(e.ctx, survey.AuditFilter{})
	if err != nil || len(page.Entries) != 1 || page.Entries[0].ActorLabel != "Gone" {
		t.Errorf("audit after the account was deleted: %+v %v", page, err)
	}
}
