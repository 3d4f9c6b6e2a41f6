package survey

import (
	"context"
	"errors"
	"fmt"
	"html"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"
)

// Lifetimes of password reset links.
const (
	// PasswordResetTTL applies to links sent by email on request.
	PasswordResetTTL = time.Hour
	// AdminResetTTL applies to links an admin makes and passes on by hand.
	AdminResetTTL = 24 * time.Hour
)

// PasswordReset is a single-use link that sets a new password. Only the
// token's hash is stored.
type PasswordReset struct {
	ID        uint   `gorm:"primaryKey"`
	TokenHash string `gorm:"size:64;not null;uniqueIndex"`
	UserID    uint   `gorm:"not null;index"`
	ExpiresAt time.Time
	UsedAt    *time.Time
	CreatedAt time.Time
}

// SetActive deactivates or reactivates an account. Deactivation ends the
// account's sessions, revokes the API tokens it created and voids its
// reset links, in one transaction: all stop working at once. The actor may
// not deactivate itself, and the last active admin stays.
func (s *AccountService) SetActive(ctx context.Context, actorID, userID uint, active bool) (*User, error) {
	var u User
	err := tx(ctx, s.db, func(tx *gorm.DB) error {
		if err := tx.First(&u, userID).Error; err != nil {
			return err
		}
		if u.Active == active {
			return nil
		}
		if !active {
			if userID == actorID {
				return Conflict("you cannot deactivate your own account")
			}
			if u.Role == RoleAdmin {
				var n int64
				if err := tx.Model(&User{}).Where("role = ? AND active = ? AND id <> ?", RoleAdmin, true, userID).Count(&n).Error; err != nil {
					return err
				}
				if n == 0 {
					return Conflict("this is the last active admin: make another admin first")
				}
			}
		}
		if err := tx.Model(&User{}).Where("id = ?", userID).Update("active", active).Error; err != nil {
			return err
		}
		u.Active = active
		if active {
			return nil
		}
		if err := tx.Where("user_id = ?", userID).Delete(&Session{}).Error; err != nil {
			return err
		}
		if err := tx.Where("user_id = ? AND used_at IS NULL", userID).Delete(&PasswordReset{}).Error; err != nil {
			return err
		}
		return tx.Model(&APIToken{}).Where("created_by_id = ? AND revoked_at IS NULL", userID).Update("revoked_at", s.now()).Error
	})
	if err != nil {
		return nil, dbErr("set account active", err)
	}
	return &u, nil
}

// SetLeaderTeams replaces a leader's scope. It applies from the leader's
// next request: scopes are resolved per request.
func (s *AccountService) SetLeaderTeams(ctx context.Context, userID uint, teamIDs []uint) error {
	teamIDs = tokenTeamIDs(teamIDs)
	err := tx(ctx, s.db, func(tx *gorm.DB) error {
		var u User
		if err := tx.First(&u, userID).Error; err != nil {
			return err
		}
		if u.Role != RoleLeader {
			return &ValidationError{Fields: map[string]string{"team_ids": "admins see every team: only leaders have teams"}}
		}
		if len(teamIDs) == 0 {
			return &ValidationError{Fields: map[string]string{"team_ids": "choose at least one team the leader may see"}}
		}
		var n int64
		if err := tx.Model(&Team{}).Where("id IN ?", teamIDs).Count(&n).Error; err != nil {
			return err
		}
		if int(n) != len(teamIDs) {
			return &ValidationError{Fields: map[string]string{"team_ids": "choose existing teams"}}
		}
		if err := tx.Where("user_id = ?", userID).Delete(&UserScope{}).Error; err != nil {
			return err
		}
		for _, id := range teamIDs {
			if err := tx.Create(&UserScope{UserID: userID, TeamID: id}).Error; err != nil {
				return err
			}
		}
		return nil
	})
	return dbErr("set leader teams", err)
}

// User returns one account.
func (s *AccountService) User(ctx context.Context, id uint) (*User, error) {
	var u User
	if err := s.db.WithContext(ctx).First(&u, id).Error; err != nil {
		return nil, dbErr("user", err)
	}
	return &u, nil
}

// PendingInvite is an unused invitation of a named person (setup links
// for the first admin are not listed).
type PendingInvite struct {
	ID        uint
	Email     string
	Role      Role
	TeamIDs   []uint
	ExpiresAt time.Time
	CreatedAt time.Time
	Expired   bool
}

// PendingInvites lists unused invitations, newest first, expired ones
// included (they can be sent again).
func (s *AccountService) PendingInvites(ctx context.Context) ([]PendingInvite, error) {
	var invs []AccountInvite
	if err := s.db.WithContext(ctx).Where("used_at IS NULL AND email <> ''").Order("id DESC").Find(&invs).Error; err != nil {
		return nil, dbErr("pending invites", err)
	}
	now := s.now()
	out := make([]PendingInvite, 0, len(invs))
	for _, inv := range invs {
		teams, err := inviteTeams(inv)
		if err != nil {
			return nil, err
		}
		out = append(out, PendingInvite{ID: inv.ID, Email: inv.Email, Role: inv.Role, TeamIDs: teams,
			ExpiresAt: inv.ExpiresAt.UTC(), CreatedAt: inv.CreatedAt.UTC(), Expired: !now.Before(inv.ExpiresAt)})
	}
	return out, nil
}

func inviteTeams(inv AccountInvite) ([]uint, error) {
	ids := []uint{}
	for _, f := range strings.Split(inv.TeamIDs, ",") {
		if f == "" {
			continue
		}
		id, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("survey: invite %d: bad team list", inv.ID)
		}
		ids = append(ids, uint(id))
	}
	return ids, nil
}

// ResendInvite gives an unused invitation a new link and a new expiry; the
// old link stops working. It returns the new token.
func (s *AccountService) ResendInvite(ctx context.Context, id uint) (string, *PendingInvite, error) {
	token := randomToken(24)
	var inv AccountInvite
	err := tx(ctx, s.db, func(tx *gorm.DB) error {
		if err := tx.Where("id = ? AND used_at IS NULL AND email <> ''", id).First(&inv).Error; err != nil {
			return err
		}
		inv.TokenHash, inv.ExpiresAt = hashToken(token), s.now().Add(InviteLinkTTL)
		return tx.Model(&AccountInvite{}).Where("id = ? AND used_at IS NULL", id).
			Updates(map[string]any{"token_hash": inv.TokenHash, "expires_at": inv.ExpiresAt}).Error
	})
	if err != nil {
		return "", nil, dbErr("resend invite", err)
	}
	teams, err := inviteTeams(inv)
	if err != nil {
		return "", nil, err
	}
	return token, &PendingInvite{ID: inv.ID, Email: inv.Email, Role: inv.Role, TeamIDs: teams, ExpiresAt: inv.ExpiresAt,
		CreatedAt: inv.CreatedAt.UTC()}, nil
}

// RevokeInvite deletes an unused invitation: its link stops working.
func (s *AccountService) RevokeInvite(ctx context.Context, id uint) error {
	res := s.db.WithContext(ctx).Where("id = ? AND used_at IS NULL AND email <> ''", id).Delete(&AccountInvite{})
	if res.Error != nil {
		return dbErr("revoke invite", res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("survey: revoke invite: %w", ErrNotFound)
	}
	return nil
}

// CreatePasswordReset makes a single-use link for an active account that
// sets a new password within ttl. Earlier unused links of the account stop
// working.
func (s *AccountService) CreatePasswordReset(ctx context.Context, userID uint, ttl time.Duration) (string, time.Time, error) {
	token := randomToken(32)
	expires := s.now().Add(ttl)
	err := tx(ctx, s.db, func(tx *gorm.DB) error {
		var u User
		if err := tx.First(&u, userID).Error; err != nil {
			return err
		}
		if !u.Active {
			return Conflict("the account is deactivated: reactivate it first")
		}
		if err := tx.Where("user_id = ? AND used_at IS NULL", userID).Delete(&PasswordReset{}).Error; err != nil {
			return err
		}
		return tx.Create(&PasswordReset{TokenHash: hashToken(token), UserID: userID, ExpiresAt: expires}).Error
	})
	if err != nil {
		return "", time.Time{}, dbErr("password reset", err)
	}
	return token, expires, nil
}

// PasswordResetUser returns the account of a usable reset link, or
// ErrExpired (unknown, used, expired, or the account is deactivated).
func (s *AccountService) PasswordResetUser(ctx context.Context, token string) (*User, error) {
	var u *User
	err := tx(ctx, s.db, func(tx *gorm.DB) error {
		_, user, err := s.usableReset(tx, token)
		u = user
		return err
	})
	if err != nil {
		return nil, dbErr("password reset", err)
	}
	return u, nil
}

func (s *AccountService) usableReset(tx *gorm.DB, token string) (*PasswordReset, *User, error) {
	var r PasswordReset
	err := tx.Where("token_hash = ?", hashToken(token)).First(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil, ErrExpired
	}
	if err != nil {
		return nil, nil, err
	}
	if r.UsedAt != nil || !s.now().Before(r.ExpiresAt) {
		return nil, nil, ErrExpired
	}
	var u User
	if err := tx.First(&u, r.UserID).Error; err != nil {
		return nil, nil, err
	}
	if !u.Active {
		return nil, nil, ErrExpired
	}
	return &r, &u, nil
}

// ResetPassword uses a reset link once: it sets the new password, ends
// the account's sessions and voids its other reset links.
func (s *AccountService) ResetPassword(ctx context.Context, token, password string) (*User, error) {
	v := validation{}
	validPassword(v, password)
	if err := v.err(); err != nil {
		return nil, err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), s.bcryptCost())
	if err != nil {
		return nil, err
	}
	var u *User
	err = tx(ctx, s.db, func(tx *gorm.DB) error {
		r, user, err := s.usableReset(tx, token)
		if err != nil {
			return err
		}
		u = user
		// A guarded update: two concurrent uses cannot both win.
		res := tx.Model(&PasswordReset{}).Where("id = ? AND used_at IS NULL", r.ID).Update("used_at", s.now())
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return ErrExpired
		}
		if err := tx.Model(&User{}).Where("id = ?", u.ID).Update("password_hash", string(hash)).Error; err != nil {
			return err
		}
		if err := tx.Where("user_id = ? AND used_at IS NULL", u.ID).Delete(&PasswordReset{}).Error; err != nil {
			return err
		}
		return tx.Where("user_id = ?", u.ID).Delete(&Session{}).Error
	})
	if err != nil {
		return nil, dbErr("reset password", err)
	}
	return u, nil
}

// RequestPasswordReset emails a reset link to the active account with this
// address, if there is one. It answers the same whether or not there is,
// so nobody learns which addresses have accounts; mailer errors are
// returned for logging only. link turns a token into the full URL.
func (s *AccountService) RequestPasswordReset(ctx context.Context, mailer Mailer, email string, link func(token string) string) error {
	if mailer == nil {
		return nil
	}
	addr, ok := NormalizeEmail(email)
	if !ok {
		return nil
	}
	var u User
	err := s.db.WithContext(ctx).Where("email = ? AND active = ?", addr, true).First(&u).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil
	}
	if err != nil {
		return dbErr("password reset", err)
	}
	token, expires, err := s.CreatePasswordReset(ctx, u.ID, PasswordResetTTL)
	if err != nil {
		return err
	}
	org := "Pulse"
	if st, err := s.org.Settings(ctx); err == nil && st.Name != "" {
		org = st.Name
	}
	return mailer.Send(ctx, passwordResetEmail(org, &u, link(token), expires))
}

// AccountLinkEmail is the message that carries an account invitation, so
// that an admin need not pass the link on by hand.
func (s *AccountService) AccountLinkEmail(ctx context.Context, inv *PendingInvite, link string) (Email, error) {
	org := "Pulse"
	st, err := s.org.Settings(ctx)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Email{}, err
	}
	if st != nil && st.Name != "" {
		org = st.Name
	}
	role := "a leader"
	if inv.Role == RoleAdmin {
		role = "an admin"
	}
	expires := inv.ExpiresAt.UTC().Format("2 January 2006, 15:04 UTC")
	text := fmt.Sprintf(`Hello,

you are invited to %s's Pulse as %s. Choose your password with this link
(it works once, until %s):

%s

If you did not expect this, ignore this email.
`, org, role, expires, link)
	return Email{To: inv.Email, Subject: org + " Pulse: your account invitation", Text: text, HTML: plainHTML(text)}, nil
}

func passwordResetEmail(org string, u *User, link string, expires time.Time) Email {
	text := fmt.Sprintf(`Hello %s,

someone asked to reset your password for %s's Pulse. To choose a new one,
open this link (it works once, until %s):

%s

If it was not you, ignore this email: your password stays as it is.
`, u.Name, org, expires.UTC().Format("2 January 2006, 15:04 UTC"), link)
	return Email{To: u.Email, ToName: u.Name, Subject: org + " Pulse: reset your password", Text: text, HTML: plainHTML(text)}
}

// plainHTML is the HTML part of a plain message: the text, escaped.
func plainHTML(text string) string {
	return `<!doctype html><html><body><pre style="font-family:sans-serif;white-space:pre-wrap">` +
		html.EscapeString(text) + "</pre></body></html>"
}
