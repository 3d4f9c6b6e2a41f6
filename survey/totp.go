package survey

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"gorm.io/gorm"
)

// TOTP parameters: the common authenticator app defaults (RFC 6238, SHA-1,
// 6 digits, 30 s). A code is accepted one step early or late, to allow for
// clock drift, and each step at most once.
const (
	totpPeriod        = 30
	totpSkew          = 1
	recoveryCodeCount = 10
	// PendingSignInTTL bounds the time between password and second factor.
	PendingSignInTTL = 5 * time.Minute
)

// ErrSecondFactor means a TOTP or recovery code is wrong, expired or
// already used.
var ErrSecondFactor = errors.New("the code is wrong or was already used")

// RecoveryCode is a single-use code that replaces a TOTP code when the
// authenticator is lost. Only its hash is stored.
type RecoveryCode struct {
	ID       uint   `gorm:"primaryKey"`
	UserID   uint   `gorm:"not null;index"`
	CodeHash string `gorm:"size:64;not null;uniqueIndex"`
	UsedAt   *time.Time
}

var totpOpts = totp.ValidateOpts{Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// NewTOTPKey makes a TOTP secret for the account to enrol; nothing is
// stored until EnableTOTP confirms a code made from it.
func (s *AccountService) NewTOTPKey(u *User) (*otp.Key, error) {
	return totp.Generate(totp.GenerateOpts{Issuer: "Pulse", AccountName: u.Email, Period: totpPeriod,
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
}

// totpStep returns the time step whose code is code, within the skew, or
// -1.
func totpStep(secret, code string, now time.Time) int64 {
	step := now.Unix() / totpPeriod
	for d := int64(-totpSkew); d <= totpSkew; d++ {
		want, err := totp.GenerateCodeCustom(secret, time.Unix((step+d)*totpPeriod, 0), totpOpts)
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return step + d
		}
	}
	return -1
}

func normalizeCode(code string) string {
	return strings.ToLower(strings.NewReplacer(" ", "", "-", "").Replace(strings.TrimSpace(code)))
}

// EnableTOTP turns two-factor sign-in on with secret once code checks
// out, and returns new recovery codes, shown once.
func (s *AccountService) EnableTOTP(ctx context.Context, userID uint, secret, code string) ([]string, error) {
	secret = strings.ToUpper(strings.TrimSpace(secret))
	if b, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret); err != nil || len(b) < 16 {
		return nil, &ValidationError{Fields: map[string]string{"code": "the setup expired: start again"}}
	}
	step := totpStep(secret, normalizeCode(code), s.now())
	if step < 0 {
		return nil, &ValidationError{Fields: map[string]string{"code": "this code does not match: check the time on your phone and enter the current code"}}
	}
	codes := make([]string, recoveryCodeCount)
	err := tx(ctx, s.db, func(tx *gorm.DB) error {
		res := tx.Model(&User{}).Where("id = ? AND active = ? AND totp_secret = ''", userID, true).
			Updates(map[string]any{"totp_secret": secret, "totp_last_step": step})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return Conflict("two-factor sign-in is already on for this account, or the account is deactivated")
		}
		return s.replaceRecoveryCodes(tx, userID, codes)
	})
	if err != nil {
		return nil, dbErr("enable two-factor", err)
	}
	return codes, nil
}

func (s *AccountService) replaceRecoveryCodes(tx *gorm.DB, userID uint, codes []string) error {
	if err := tx.Where("user_id = ?", userID).Delete(&RecoveryCode{}).Error; err != nil {
		return err
	}
	enc := base32.StdEncoding.WithPadding(base32.NoPadding)
	for i := range codes {
		b := make([]byte, 6)
		if _, err := rand.Read(b); err != nil {
			return err
		}
		c := strings.ToLower(enc.EncodeToString(b)) // 10 characters
		codes[i] = c[:5] + "-" + c[5:]
		if err := tx.Create(&RecoveryCode{UserID: userID, CodeHash: hashToken(c)}).Error; err != nil {
			return err
		}
	}
	return nil
}

// DisableTOTP turns two-factor sign-in off (the account's own choice, or
// an admin's after a lost phone) and deletes the recovery codes.
func (s *AccountService) DisableTOTP(ctx context.Context, userID uint) error {
	err := tx(ctx, s.db, func(tx *gorm.DB) error {
		res := tx.Model(&User{}).Where("id = ?", userID).Updates(map[string]any{"totp_secret": "", "totp_last_step": 0})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		return tx.Where("user_id = ?", userID).Delete(&RecoveryCode{}).Error
	})
	return dbErr("disable two-factor", err)
}

// CheckSecondFactor accepts a current TOTP code (each time step once, so
// a code seen over a shoulder cannot be replayed) or an unused recovery
// code, which is then spent. Anything else is ErrSecondFactor.
func (s *AccountService) CheckSecondFactor(ctx context.Context, userID uint, code string) error {
	code = normalizeCode(code)
	err := tx(ctx, s.db, func(tx *gorm.DB) error {
		var u User
		if err := tx.First(&u, userID).Error; err != nil {
			return err
		}
		if !u.Active || u.TOTPSecret == "" || code == "" {
			return ErrSecondFactor
		}
		if len(code) == 6 {
			step := totpStep(u.TOTPSecret, code, s.now())
			if step < 0 {
				return ErrSecondFactor
			}
			// Guarded: the same step cannot be used twice, even at once.
			res := tx.Model(&User{}).Where("id = ? AND totp_last_step < ?", userID, step).Update("totp_last_step", step)
			if res.Error != nil {
				return res.Error
			}
			if res.RowsAffected != 1 {
				return ErrSecondFactor
			}
			return nil
		}
		res := tx.Model(&RecoveryCode{}).Where("user_id = ? AND code_hash = ? AND used_at IS NULL", userID, hashToken(code)).
			Update("used_at", s.now())
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return ErrSecondFactor
		}
		return nil
	})
	if errors.Is(err, ErrSecondFactor) {
		return ErrSecondFactor
	}
	return dbErr("check second factor", err)
}

// RecoveryCodesLeft counts an account's unused recovery codes.
func (s *AccountService) RecoveryCodesLeft(ctx context.Context, userID uint) (int, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&RecoveryCode{}).Where("user_id = ? AND used_at IS NULL", userID).Count(&n).Error
	return int(n), dbErr("recovery codes", err)
}

// CreatePendingSession starts a sign-in that waits for the second factor;
// the token grants nothing until CompleteSignIn.
func (s *AccountService) CreatePendingSession(ctx context.Context, userID uint) (string, error) {
	token := randomToken(32)
	now := s.now()
	sess := Session{ID: hashToken(token), UserID: userID, ExpiresAt: now.Add(PendingSignInTTL), LastSeenAt: now, Pending: true}
	if err := s.db.WithContext(ctx).Create(&sess).Error; err != nil {
		return "", dbErr("pending session", err)
	}
	return token, nil
}

// PendingUser returns the account of a pending sign-in, or ErrExpired.
func (s *AccountService) PendingUser(ctx context.Context, token string) (*User, error) {
	var sess Session
	err := s.db.WithContext(ctx).Where("id = ? AND pending = ?", hashToken(token), true).First(&sess).Error
	if errors.Is(err, gorm.ErrRecordNotFound) || err == nil && !s.now().Before(sess.ExpiresAt) {
		return nil, fmt.Errorf("survey: pending sign-in: %w", ErrExpired)
	}
	if err != nil {
		return nil, dbErr("pending sign-in", err)
	}
	var u User
	if err := s.db.WithContext(ctx).First(&u, sess.UserID).Error; err != nil {
		return nil, dbErr("pending sign-in", err)
	}
	if !u.Active {
		return nil, fmt.Errorf("survey: pending sign-in: %w", ErrExpired)
	}
	return &u, nil
}
