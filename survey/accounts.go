package survey

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"
)

// Account and session lifetimes.
const (
	SetupLinkTTL  = 24 * time.Hour
	InviteLinkTTL = 7 * 24 * time.Hour
	// SessionIdleTimeout ends a session nobody used for this long.
	SessionIdleTimeout = 2 * time.Hour
	// sessionTouchEvery limits how often LastSeenAt is written.
	sessionTouchEvery = time.Minute
)

// AccountService manages accounts, sessions and one-time account links.
type AccountService struct {
	db   *gorm.DB
	now  func() time.Time
	org  *OrgService
	cost int
}

func (s *AccountService) bcryptCost() int {
	if s.cost == 0 {
		return 12
	}
	return s.cost
}

// dummyHashes holds, per bcrypt cost, a hash compared against when the email
// is unknown, so a login for a missing account takes as long as one with a
// wrong password.
var dummyHashes sync.Map

func (s *AccountService) dummyHash() []byte {
	cost := s.bcryptCost()
	if h, ok := dummyHashes.Load(cost); ok {
		return h.([]byte)
	}
	h, _ := bcrypt.GenerateFromPassword([]byte("pulse-timing-equaliser"), cost)
	dummyHashes.Store(cost, h)
	return h
}

// NeedsSetup reports whether no account exists yet.
func (s *AccountService) NeedsSetup(ctx context.Context) (bool, error) {
	var n int64
	if err := s.db.WithContext(ctx).Model(&User{}).Count(&n).Error; err != nil {
		return false, dbErr("needs setup", err)
	}
	return n == 0, nil
}

// CreateSetupLink returns a one-time token that creates the first admin.
// Earlier unused setup tokens stop working. It is ErrConflict once any
// account exists.
func (s *AccountService) CreateSetupLink(ctx context.Context) (string, error) {
	token := randomToken(24)
	err := tx(ctx, s.db, func(tx *gorm.DB) error {
		var n int64
		if err := tx.Model(&User{}).Count(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			return Conflict("an account already exists: sign in instead")
		}
		if err := tx.Where("role = ? AND email = '' AND used_at IS NULL", RoleAdmin).Delete(&AccountInvite{}).Error; err != nil {
			return err
		}
		return tx.Create(&AccountInvite{TokenHash: hashToken(token), Role: RoleAdmin, ExpiresAt: s.now().Add(SetupLinkTTL)}).Error
	})
	if err != nil {
		return "", dbErr("setup link", err)
	}
	return token, nil
}

// InviteInput describes a leader or admin invited by an admin.
type InviteInput struct {
	Email   string
	Role    Role
	TeamIDs []uint
}

// CreateInvite returns a one-time link token that lets the invitee choose a
// password. Leaders need at least one team in scope.
func (s *AccountService) CreateInvite(ctx context.Context, in InviteInput) (string, error) {
	v := validation{}
	email, ok := NormalizeEmail(in.Email)
	if !ok {
		v.add("email", "enter a valid email address")
	}
	if in.Role != RoleAdmin && in.Role != RoleLeader {
		v.add("role", "choose admin or leader")
	}
	if in.Role == RoleLeader && len(in.TeamIDs) == 0 {
		v.add("team_ids", "choose at least one team the leader may see")
	}
	if err := v.err(); err != nil {
		return "", err
	}
	ids := make([]string, len(in.TeamIDs))
	for i, id := range in.TeamIDs {
		ids[i] = strconv.FormatUint(uint64(id), 10)
	}
	token := randomToken(24)
	err := tx(ctx, s.db, func(tx *gorm.DB) error {
		var n int64
		if err := tx.Model(&User{}).Where("email = ?", email).Count(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			return Conflict("an account with this email already exists")
		}
		if len(in.TeamIDs) > 0 {
			if err := tx.Model(&Team{}).Where("id IN ?", in.TeamIDs).Count(&n).Error; err != nil {
				return err
			}
			if int(n) != len(in.TeamIDs) {
				return &ValidationError{Fields: map[string]string{"team_ids": "choose existing teams"}}
			}
		}
		return tx.Create(&AccountInvite{TokenHash: hashToken(token), Email: email, Role: in.Role,
			TeamIDs: strings.Join(ids, ","), ExpiresAt: s.now().Add(InviteLinkTTL)}).Error
	})
	if err != nil {
		return "", dbErr("create invite", err)
	}
	return token, nil
}

// Invite looks up an unused, unexpired account link.
func (s *AccountService) Invite(ctx context.Context, token string) (*AccountInvite, error) {
	var inv AccountInvite
	if err := s.db.WithContext(ctx).Where("token_hash = ?", hashToken(token)).First(&inv).Error; err != nil {
		return nil, dbErr("invite", err)
	}
	if inv.UsedAt != nil || !s.now().Before(inv.ExpiresAt) {
		return nil, fmt.Errorf("survey: invite: %w", ErrExpired)
	}
	return &inv, nil
}

// AcceptInput completes an account link.
type AcceptInput struct {
	Token    string
	Email    string // used when the link has no email (first admin)
	Name     string
	Password string
}

// AcceptInvite creates the account of a one-time link, exactly once.
func (s *AccountService) AcceptInvite(ctx context.Context, in AcceptInput) (*User, error) {
	return s.Setup(ctx, nil, in)
}

// Setup accepts a one-time link and, when org is not nil, creates the
// organisation in the same transaction: either both happen or neither.
func (s *AccountService) Setup(ctx context.Context, org *SettingsInput, in AcceptInput) (*User, error) {
	var u *User
	err := tx(ctx, s.db, func(tx *gorm.DB) error {
		var inv AccountInvite
		if err := tx.Where("token_hash = ?", hashToken(in.Token)).First(&inv).Error; err != nil {
			return err
		}
		if inv.UsedAt != nil || !s.now().Before(inv.ExpiresAt) {
			return ErrExpired
		}
		if inv.Email == "" {
			// A setup link only ever creates the very first account.
			var n int64
			if err := tx.Model(&User{}).Count(&n).Error; err != nil {
				return err
			}
			if n > 0 {
				return ErrExpired
			}
		}
		v := validation{}
		if org != nil {
			if err := org.validate(); err != nil {
				for k, m := range err.(*ValidationError).Fields {
					v.add("org_"+k, m)
				}
			}
		}
		email := inv.Email
		if email == "" {
			var ok bool
			if email, ok = NormalizeEmail(in.Email); !ok {
				v.add("email", "enter a valid email address")
			}
		}
		name := strings.TrimSpace(in.Name)
		if name == "" {
			v.add("name", "enter your name")
		} else if len(name) > 200 {
			v.add("name", "use at most 200 characters")
		}
		validPassword(v, in.Password)
		if err := v.err(); err != nil {
			return err
		}
		if org != nil {
			if err := initOrg(tx, *org); err != nil {
				return err
			}
		}
		// Mark used with a guarded update so two concurrent accepts cannot both win.
		res := tx.Model(&AccountInvite{}).Where("id = ? AND used_at IS NULL", inv.ID).Update("used_at", s.now())
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return ErrExpired
		}
		var teamIDs []uint
		for _, f := range strings.Split(inv.TeamIDs, ",") {
			if f == "" {
				continue
			}
			id, err := strconv.ParseUint(f, 10, 64)
			if err != nil {
				return fmt.Errorf("invite %d: bad team list", inv.ID)
			}
			teamIDs = append(teamIDs, uint(id))
		}
		var err error
		u, err = s.createUser(tx, email, name, inv.Role, in.Password, teamIDs)
		return err
	})
	if err != nil {
		return nil, dbErr("accept invite", err)
	}
	return u, nil
}

func (s *AccountService) createUser(tx *gorm.DB, email, name string, role Role, password string, teamIDs []uint) (*User, error) {
	hash, err := bcrypt.GenerateFromPassword([]byte(password), s.bcryptCost())
	if err != nil {
		return nil, err
	}
	u := User{Email: email, Name: name, Role: role, PasswordHash: string(hash), Active: true}
	if err := tx.Create(&u).Error; err != nil {
		if errors.Is(err, gorm.ErrDuplicatedKey) {
			return nil, Conflict("an account with this email already exists")
		}
		return nil, err
	}
	for _, id := range teamIDs {
		if err := tx.Create(&UserScope{UserID: u.ID, TeamID: id}).Error; err != nil {
			return nil, err
		}
	}
	return &u, nil
}

// UserInput creates an account directly (demo data, operators' CLI).
type UserInput struct {
	Email    string
	Name     string
	Role     Role
	Password string
	TeamIDs  []uint
}

// CreateUser creates an active account with a password and scope.
func (s *AccountService) CreateUser(ctx context.Context, in UserInput) (*User, error) {
	v := validation{}
	email, ok := NormalizeEmail(in.Email)
	if !ok {
		v.add("email", "enter a valid email address")
	}
	if in.Role != RoleAdmin && in.Role != RoleLeader {
		v.add("role", "choose admin or leader")
	}
	validPassword(v, in.Password)
	if strings.TrimSpace(in.Name) == "" {
		v.add("name", "enter a name")
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	var u *User
	err := tx(ctx, s.db, func(tx *gorm.DB) error {
		var err error
		u, err = s.createUser(tx, email, strings.TrimSpace(in.Name), in.Role, in.Password, in.TeamIDs)
		return err
	})
	if err != nil {
		return nil, dbErr("create user", err)
	}
	return u, nil
}

// SetPassword replaces an account's password and ends its sessions.
func (s *AccountService) SetPassword(ctx context.Context, userID uint, password string) error {
	v := validation{}
	validPassword(v, password)
	if err := v.err(); err != nil {
		return err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), s.bcryptCost())
	if err != nil {
		return err
	}
	err = tx(ctx, s.db, func(tx *gorm.DB) error {
		res := tx.Model(&User{}).Where("id = ?", userID).Update("password_hash", string(hash))
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		return tx.Where("user_id = ?", userID).Delete(&Session{}).Error
	})
	return dbErr("set password", err)
}

// UserByEmail finds an account.
func (s *AccountService) UserByEmail(ctx context.Context, email string) (*User, error) {
	email, _ = NormalizeEmail(email)
	var u User
	if err := s.db.WithContext(ctx).Where("email = ?", email).First(&u).Error; err != nil {
		return nil, dbErr("user", err)
	}
	return &u, nil
}

// Authenticate checks an email and password. Unknown email, wrong password
// and inactive account are all ErrInvalidCredentials.
func (s *AccountService) Authenticate(ctx context.Context, email, password string) (*User, error) {
	email, _ = NormalizeEmail(email)
	var u User
	err := s.db.WithContext(ctx).Where("email = ?", email).First(&u).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		bcrypt.CompareHashAndPassword(s.dummyHash(), []byte(password))
		return nil, ErrInvalidCredentials
	}
	if err != nil {
		return nil, dbErr("authenticate", err)
	}
	if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(password)) != nil || !u.Active {
		return nil, ErrInvalidCredentials
	}
	now := s.now()
	s.db.WithContext(ctx).Model(&User{}).Where("id = ?", u.ID).Update("last_login_at", now)
	u.LastLoginAt = &now
	return &u, nil
}

// CreateSession starts a session and returns the cookie value; only its
// hash is stored.
func (s *AccountService) CreateSession(ctx context.Context, userID uint, ttl time.Duration) (string, error) {
	token := randomToken(32)
	now := s.now()
	sess := Session{ID: hashToken(token), UserID: userID, ExpiresAt: now.Add(ttl), LastSeenAt: now}
	if err := s.db.WithContext(ctx).Create(&sess).Error; err != nil {
		return "", dbErr("create session", err)
	}
	// Expired sessions of anyone are swept on login: cheap and bounded.
	s.db.WithContext(ctx).Where("expires_at < ?", now).Delete(&Session{})
	return token, nil
}

// SessionUser returns the active account of a session cookie value, or
// ErrExpired when the session timed out (absolute or idle) or is unknown.
func (s *AccountService) SessionUser(ctx context.Context, token string) (*User, error) {
	if token == "" {
		return nil, ErrExpired
	}
	var sess Session
	err := s.db.WithContext(ctx).Where("id = ?", hashToken(token)).First(&sess).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrExpired
	}
	if err != nil {
		return nil, dbErr("session", err)
	}
	if sess.Pending {
		return nil, ErrExpired
	}
	now := s.now()
	if !now.Before(sess.ExpiresAt) || now.Sub(sess.LastSeenAt) > SessionIdleTimeout {
		s.db.WithContext(ctx).Delete(&sess)
		return nil, ErrExpired
	}
	var u User
	if err := s.db.WithContext(ctx).First(&u, sess.UserID).Error; err != nil {
		return nil, dbErr("session user", err)
	}
	if !u.Active {
		return nil, ErrExpired
	}
	if now.Sub(sess.LastSeenAt) > sessionTouchEvery {
		s.db.WithContext(ctx).Model(&Session{}).Where("id = ?", sess.ID).Update("last_seen_at", now)
	}
	return &u, nil
}

// EndSession deletes a session (logout).
func (s *AccountService) EndSession(ctx context.Context, token string) error {
	return dbErr("end session", s.db.WithContext(ctx).Where("id = ?", hashToken(token)).Delete(&Session{}).Error)
}

// Principal is an account with its resolved scope: what it may see.
type Principal struct {
	User User
	// All is true for admins: every team is in scope.
	All bool
	// Roots are the teams granted to a leader; Teams is their subtrees.
	Roots []uint
	Teams map[uint]bool
	// TokenID is the API token the request came with, or 0 for a signed-in
	// account. A token's principal has no account: User.ID is 0 and
	// User.Name is the token's name.
	TokenID uint
}

// Can reports whether the principal may see the team's reports.
func (p *Principal) Can(teamID uint) bool {
	return p.All || p.Teams[teamID]
}

// IsAdmin reports whether the principal is an admin.
func (p *Principal) IsAdmin() bool { return p.User.Role == RoleAdmin }

// Principal resolves an account's scope against the current team tree.
func (s *AccountService) Principal(ctx context.Context, u *User) (*Principal, error) {
	p := &Principal{User: *u, Teams: map[uint]bool{}}
	if u.Role == RoleAdmin {
		p.All = true
		return p, nil
	}
	var scopes []UserScope
	if err := s.db.WithContext(ctx).Where("user_id = ?", u.ID).Order("team_id").Find(&scopes).Error; err != nil {
		return nil, dbErr("scope", err)
	}
	if len(scopes) == 0 {
		return p, nil
	}
	tree, err := s.org.Tree(ctx)
	if err != nil {
		return nil, err
	}
	for _, sc := range scopes {
		p.Roots = append(p.Roots, sc.TeamID)
		for _, id := range tree.Subtree(sc.TeamID) {
			p.Teams[id] = true
		}
	}
	return p, nil
}

// Users lists all accounts by name.
func (s *AccountService) Users(ctx context.Context) ([]User, error) {
	var us []User
	if err := s.db.WithContext(ctx).Order("name, id").Find(&us).Error; err != nil {
		return nil, dbErr("users", err)
	}
	return us, nil
}
