package migrations

import (
	"time"

	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// m0013TOTP adds optional TOTP two-factor sign-in: the account's secret and
// the last time step used (a code works once), single-use recovery codes,
// and sessions that wait for the second factor.
func m0013TOTP() *gormigrate.Migration {
	type user struct {
		ID           uint   `gorm:"primaryKey"`
		TOTPSecret   string `gorm:"column:totp_secret;size:64;not null;default:''"`
		TOTPLastStep int64  `gorm:"column:totp_last_step;not null;default:0"`
	}
	type session struct {
		ID      string `gorm:"primaryKey;size:64"`
		Pending bool   `gorm:"not null;default:false"`
	}
	type recoveryCode struct {
		ID       uint   `gorm:"primaryKey"`
		UserID   uint   `gorm:"not null;index"`
		User     *user  `gorm:"constraint:OnDelete:CASCADE"`
		CodeHash string `gorm:"size:64;not null;uniqueIndex"`
		UsedAt   *time.Time
	}
	return &gormigrate.Migration{
		ID: "0013_totp",
		Migrate: func(tx *gorm.DB) error {
			m := tx.Migrator()
			for _, f := range []string{"TOTPSecret", "TOTPLastStep"} {
				if err := m.AddColumn(&user{}, f); err != nil {
					return err
				}
			}
			if err := m.AddColumn(&session{}, "Pending"); err != nil {
				return err
			}
			return m.CreateTable(&recoveryCode{})
		},
	}
}
