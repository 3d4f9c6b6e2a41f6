package migrations

import (
	"time"

	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// m0004AuditTokens creates the audit log and the API tokens of automation.
// The audit log has no foreign keys: its rows outlive the accounts and
// tokens they name, and the actor's label keeps the name of the time.
func m0004AuditTokens() *gormigrate.Migration {
	type user struct {
		ID uint `gorm:"primaryKey"`
	}
	type team struct {
		ID uint `gorm:"primaryKey"`
	}
	type auditEntry struct {
		ID           uint      `gorm:"primaryKey"`
		At           time.Time `gorm:"not null;index:idx_audit_log_at"`
		ActorUserID  *uint     `gorm:"index:idx_audit_log_actor_user"`
		ActorTokenID *uint
		ActorLabel   string `gorm:"size:400;not null"`
		Action       string `gorm:"size:60;not null;index:idx_audit_log_action"`
		Target       string `gorm:"size:200;not null"`
		Detail       string `gorm:"size:1000;not null"`
	}
	type apiToken struct {
		ID          uint   `gorm:"primaryKey"`
		Name        string `gorm:"size:100;not null"`
		TokenHash   string `gorm:"size:64;not null;uniqueIndex"`
		Prefix      string `gorm:"size:16;not null"`
		Role        string `gorm:"size:20;not null"`
		CreatedByID *uint
		CreatedBy   *user `gorm:"foreignKey:CreatedByID;constraint:OnDelete:SET NULL"`
		CreatedAt   time.Time
		LastUsedAt  *time.Time
		RevokedAt   *time.Time
		ExpiresAt   *time.Time
	}
	type apiTokenTeam struct {
		APITokenID uint      `gorm:"column:api_token_id;primaryKey;autoIncrement:false"`
		APIToken   *apiToken `gorm:"foreignKey:APITokenID;constraint:OnDelete:CASCADE"`
		TeamID     uint      `gorm:"primaryKey;autoIncrement:false"`
		Team       *team     `gorm:"constraint:OnDelete:CASCADE"`
	}
	return &gormigrate.Migration{
		ID: "0004_audit_tokens",
		Migrate: func(tx *gorm.DB) error {
			if err := tx.Table("audit_log").Migrator().CreateTable(&auditEntry{}); err != nil {
				return err
			}
			return tx.Migrator().CreateTable(&apiToken{}, &apiTokenTeam{})
		},
	}
}
