package migrations

import (
	"time"

	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// m0012Accounts adds single-use password reset links.
func m0012Accounts() *gormigrate.Migration {
	type user struct {
		ID uint `gorm:"primaryKey"`
	}
	type passwordReset struct {
		ID        uint   `gorm:"primaryKey"`
		TokenHash string `gorm:"size:64;not null;uniqueIndex"`
		UserID    uint   `gorm:"not null;index"`
		User      *user  `gorm:"constraint:OnDelete:CASCADE"`
		ExpiresAt time.Time
		UsedAt    *time.Time
		CreatedAt time.Time
	}
	return &gormigrate.Migration{
		ID: "0012_accounts",
		Migrate: func(tx *gorm.DB) error {
			return tx.Migrator().CreateTable(&passwordReset{})
		},
	}
}
