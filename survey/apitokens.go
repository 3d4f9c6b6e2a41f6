package survey

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"gorm.io/gorm"
)

// APITokenPrefix starts every API token, so secret scanners and people can
// recognise one.
const APITokenPrefix = "pls_"

// apiTokenShown is how many characters of a token are kept in clear (the
// "pls_" prefix and 8 random characters) to recognise it in lists.
const apiTokenShown = len(APITokenPrefix) + 8

// apiTokenTouchEvery limits how often LastUsedAt is written.
const apiTokenTouchEvery = time.Minute

// ErrInvalidToken means an API token is unknown, revoked or expired.
var ErrInvalidToken = errors.New("API token unknown, revoked or expired")

// APIToken is a credential for automation. It acts as an admin, or as a
// leader of its teams. Only the SHA-256 of the token is stored.
type APIToken struct {
	ID          uint   `gorm:"primaryKey"`
	Name        string `gorm:"size:100;not null"`
	TokenHash   string `gorm:"size:64;not null;uniqueIndex"`
	Prefix      string `gorm:"size:16;not null"`
	Role        Role   `gorm:"size:20;not null"`
	CreatedByID *uint
	CreatedAt   time.Time
	LastUsedAt  *time.Time
	RevokedAt   *time.Time
	ExpiresAt   *time.Time
	// TeamIDs is the scope of a leader token (not a column).
	TeamIDs []uint `gorm:"-"`
}

// Active reports whether the token can be used at now.
func (t *APIToken) Active(now time.Time) bool {
	return t.RevokedAt == nil && (t.ExpiresAt == nil || now.Before(*t.ExpiresAt))
}

// inUTC puts the token's times in UTC, whatever the driver returned.
func (t *APIToken) inUTC() {
	t.CreatedAt = t.CreatedAt.UTC()
	for _, p := range []**time.Time{&t.LastUsedAt, &t.RevokedAt, &t.ExpiresAt} {
		if *p != nil {
			u := (**p).UTC()
			*p = &u
		}
	}
}

// APITokenTeam grants a leader token one team and its whole subtree.
type APITokenTeam struct {
	APITokenID uint `gorm:"column:api_token_id;primaryKey;autoIncrement:false"`
	TeamID     uint `gorm:"primaryKey;autoIncrement:false"`
}

// APITokenService creates, lists, revokes and resolves API tokens.
type APITokenService struct {
	db  *gorm.DB
	now func() time.Time
	org *OrgService
}

// APITokens returns the API token service over the services' database.
func (s *Services) APITokens() *APITokenService {
	return &APITokenService{db: s.DB, now: s.utcClock(), org: s.Org}
}

// APITokenInput describes a new token.
type APITokenInput struct {
	Name    string
	Role    Role
	TeamIDs []uint
	// ExpiresAt is optional; it must be in the future.
	ExpiresAt *time.Time
	// CreatedBy is the admin account creating the token.
	CreatedBy uint
}

// Create makes a token and returns it with its secret, which is shown once
// and never stored.
func (s *APITokenService) Create(ctx context.Context, in APITokenInput) (*APIToken, string, error) {
	v := validation{}
	name := strings.TrimSpace(in.Name)
	switch {
	case name == "":
		v.add("name", "enter a name that says what the token is for")
	case len([]rune(name)) > 100:
		v.add("name", "use at most 100 characters")
	}
	switch in.Role {
	case RoleAdmin:
		if len(in.TeamIDs) > 0 {
			v.add("team_ids", "admin tokens see every team: choose no teams")
		}
	case RoleLeader:
		if len(in.TeamIDs) == 0 {
			v.add("team_ids", "choose at least one team the token may see")
		}
	default:
		v.add("role", "choose admin or leader")
	}
	now := s.now()
	var expires *time.Time
	if in.ExpiresAt != nil {
		e := in.ExpiresAt.UTC()
		if !e.After(now) {
			v.add("expires_at", "choose a time in the future")
		}
		expires = &e
	}
	if err := v.err(); err != nil {
		return nil, "", err
	}
	teams := tokenTeamIDs(in.TeamIDs)
	secret := APITokenPrefix + randomToken(32)
	t := &APIToken{Name: name, TokenHash: hashToken(secret), Prefix: secret[:apiTokenShown], Role: in.Role,
		CreatedAt: now, ExpiresAt: expires, TeamIDs: teams}
	if in.CreatedBy != 0 {
		id := in.CreatedBy
		t.CreatedByID = &id
	}
	err := tx(ctx, s.db, func(tx *gorm.DB) error {
		if len(teams) > 0 {
			var n int64
			if err := tx.Model(&Team{}).Where("id IN ?", teams).Count(&n).Error; err != nil {
				return err
			}
			if int(n) != len(teams) {
				return &ValidationError{Fields: map[string]string{"team_ids": "choose existing teams"}}
			}
		}
		if err := tx.Create(t).Error; err != nil {
			return err
		}
		for _, id := range teams {
			if err := tx.Create(&APITokenTeam{APITokenID: t.ID, TeamID: id}).Error; err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, "", dbErr("create API token", err)
	}
	return t, secret, nil
}

// List returns every token, newest first, revoked ones included.
func (s *APITokenService) List(ctx context.Context) ([]APIToken, error) {
	db := s.db.WithContext(ctx)
	var ts []APIToken
	if err := db.Order("id DESC").Find(&ts).Error; err != nil {
		return nil, dbErr("API tokens", err)
	}
	var scopes []APITokenTeam
	if err := db.Order("api_token_id, team_id").Find(&scopes).Error; err != nil {
		return nil, dbErr("API token scopes", err)
	}
	byToken := map[uint][]uint{}
	for _, sc := range scopes {
		byToken[sc.APITokenID] = append(byToken[sc.APITokenID], sc.TeamID)
	}
	for i := range ts {
		ts[i].TeamIDs = byToken[ts[i].ID]
		ts[i].inUTC()
	}
	return ts, nil
}

// Get returns one token with its scope.
func (s *APITokenService) Get(ctx context.Context, id uint) (*APIToken, error) {
	db := s.db.WithContext(ctx)
	var t APIToken
	if err := db.First(&t, id).Error; err != nil {
		return nil, dbErr("API token", err)
	}
	if err := db.Model(&APITokenTeam{}).Where("api_token_id = ?", id).Order("team_id").Pluck("team_id", &t.TeamIDs).Error; err != nil {
		return nil, dbErr("API token scope", err)
	}
	t.inUTC()
	return &t, nil
}

// Revoke ends a token for good. Revoking a revoked token changes nothing.
func (s *APITokenService) Revoke(ctx context.Context, id uint) (*APIToken, error) {
	res := s.db.WithContext(ctx).Model(&APIToken{}).Where("id = ? AND revoked_at IS NULL", id).Update("revoked_at", s.now())
	if res.Error != nil {
		return nil, dbErr("revoke API token", res.Error)
	}
	return s.Get(ctx, id)
}

// Principal resolves a presented token into the principal it acts as: an
// admin, or a leader of its teams' subtrees. Unknown, revoked and expired
// tokens are ErrInvalidToken.
func (s *APITokenService) Principal(ctx context.Context, secret string) (*Principal, error) {
	if !strings.HasPrefix(secret, APITokenPrefix) || len(secret) > 200 {
		return nil, ErrInvalidToken
	}
	db := s.db.WithContext(ctx)
	var t APIToken
	err := db.Where("token_hash = ?", hashToken(secret)).First(&t).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrInvalidToken
	}
	if err != nil {
		return nil, dbErr("API token", err)
	}
	now := s.now()
	if !t.Active(now) {
		return nil, ErrInvalidToken
	}
	if t.LastUsedAt == nil || now.Sub(*t.LastUsedAt) > apiTokenTouchEvery {
		// Best effort: a failed touch must not fail the request.
		db.Model(&APIToken{}).Where("id = ?", t.ID).Update("last_used_at", now)
	}
	p := &Principal{User: User{Name: t.Name, Role: t.Role, Active: true}, TokenID: t.ID, Teams: map[uint]bool{}}
	switch t.Role {
	case RoleAdmin:
		p.All = true
		return p, nil
	case RoleLeader:
	default:
		return nil, fmt.Errorf("survey: API token %d: unknown role %q", t.ID, t.Role)
	}
	var roots []uint
	if err := db.Model(&APITokenTeam{}).Where("api_token_id = ?", t.ID).Order("team_id").Pluck("team_id", &roots).Error; err != nil {
		return nil, dbErr("API token scope", err)
	}
	if len(roots) == 0 {
		return p, nil
	}
	tree, err := s.org.Tree(ctx)
	if err != nil {
		return nil, err
	}
	for _, id := range roots {
		p.Roots = append(p.Roots, id)
		for _, sub := range tree.Subtree(id) {
			p.Teams[sub] = true
		}
	}
	return p, nil
}

func tokenTeamIDs(ids []uint) []uint {
	seen := map[uint]bool{}
	var out []uint
	for _, id := range ids {
		if id != 0 && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
