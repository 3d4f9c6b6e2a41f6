package survey

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"time"

	_ "time/tzdata" // time zones must resolve on minimal images too

	"gorm.io/gorm"

	"github.com/pulse-survey/pulse/anonymity"
)

// Default and floor of the minimum group size k, as package anonymity
// sets them (kept here under the names the settings and programs use).
const (
	DefaultMinGroupSize = anonymity.DefaultK
	MinMinGroupSize     = anonymity.MinK
)

// Services bundles the domain services over one database.
type Services struct {
	DB       *gorm.DB
	opts     Options
	Org      *OrgService
	Accounts *AccountService
	Programs *ProgramService
	Rounds   *RoundService
}

// Options tune the services; the zero value is production's.
type Options struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Keyring encrypts round keys and derives invitation links; rounds
	// cannot launch or issue tokens without it.
	Keyring *Keyring
	// Releaser computes the release of a closed round; rounds cannot close
	// without it (package reports provides it).
	Releaser Releaser
	// BcryptCost overrides the password hashing cost (tests use the minimum).
	BcryptCost int
}

// New builds the services over a migrated database.
func New(db *gorm.DB, o Options) *Services {
	if o.Now == nil {
		o.Now = time.Now
	}
	now := func() time.Time { return o.Now().UTC() }
	org := &OrgService{db: db, now: now}
	return &Services{
		DB:       db,
		opts:     o,
		Org:      org,
		Accounts: &AccountService{db: db, now: now, org: org, cost: o.BcryptCost},
		Programs: &ProgramService{db: db, now: now},
		Rounds:   &RoundService{db: db, now: now, keys: o.Keyring, releaser: o.Releaser},
	}
}

// WithClock returns the same services reading time from now (the demo
// replays a year of rounds with it; tests advance time with it).
func (s *Services) WithClock(now func() time.Time) *Services {
	o := s.opts
	o.Now = now
	return New(s.DB, o)
}

// Tx runs fn with services bound to one transaction: all of fn's changes
// are committed together or not at all.
func (s *Services) Tx(ctx context.Context, fn func(*Services) error) error {
	return s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		return fn(New(tx, s.opts))
	})
}

// randomToken returns a URL-safe random string of n bytes of entropy.
func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// hashToken is how one-time secrets are stored: SHA-256, hex.
func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func tx(ctx context.Context, db *gorm.DB, fn func(tx *gorm.DB) error) error {
	return db.WithContext(ctx).Transaction(fn)
}

func encodeB64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
