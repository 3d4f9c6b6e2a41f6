package survey

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"gorm.io/gorm"
)

// ErrSSORefused is the base of every refused single sign-on; the wrapped
// errors below say why, in words the person signing in can act on.
var ErrSSORefused = errors.New("single sign-on refused")

// Reasons a verified identity from the identity provider gets no session.
var (
	ErrSSOUnverified  = ssoRefusal("your identity provider has not verified this email address")
	ErrSSODomain      = ssoRefusal("accounts of this email domain may not sign in to Pulse")
	ErrSSONoAccount   = ssoRefusal("no Pulse account uses this email address: ask a Pulse admin to invite you")
	ErrSSODeactivated = ssoRefusal("this Pulse account is deactivated: ask a Pulse admin")
)

func ssoRefusal(msg string) error { return fmt.Errorf("%s: %w", msg, ErrSSORefused) }

// SSOIdentity is what Pulse uses of an identity provider's verified ID
// token: the email address and whether the provider verified it.
type SSOIdentity struct {
	Email         string
	EmailVerified bool
}

// SSOUser matches a signed-in identity to its Pulse account by verified
// email: the address must be verified by the provider, of an allowed
// domain (any when allowedDomains is empty), and belong to an active
// account. Employees have no accounts, so they never get one this way.
func (s *AccountService) SSOUser(ctx context.Context, id SSOIdentity, allowedDomains []string) (*User, error) {
	email, ok := NormalizeEmail(id.Email)
	if !ok || !id.EmailVerified {
		return nil, ErrSSOUnverified
	}
	if len(allowedDomains) > 0 {
		domain := email[strings.LastIndex(email, "@")+1:]
		allowed := false
		for _, d := range allowedDomains {
			if strings.EqualFold(strings.TrimSpace(d), domain) {
				allowed = true
			}
		}
		if !allowed {
			return nil, ErrSSODomain
		}
	}
	var u User
	err := s.db.WithContext(ctx).Where("email = ?", email).First(&u).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrSSONoAccount
	}
	if err != nil {
		return nil, dbErr("single sign-on", err)
	}
	if !u.Active {
		return nil, ErrSSODeactivated
	}
	now := s.now()
	if err := s.db.WithContext(ctx).Model(&User{}).Where("id = ?", u.ID).Update("last_login_at", now).Error; err != nil {
		return nil, dbErr("single sign-on", err)
	}
	u.LastLoginAt = &now
	return &u, nil
}
