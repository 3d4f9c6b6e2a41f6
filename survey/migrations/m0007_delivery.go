package migrations

import (
	"time"

	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// m0007Delivery creates the scheduler's job table, the delivery status of
// invitation emails and the organisation's email template overrides.
func m0007Delivery() *gormigrate.Migration {
	// job is one unit of background work. Key is unique, so each job exists
	// once however many replicas enqueue it.
	type job struct {
		ID          uint       `gorm:"primaryKey"`
		Kind        string     `gorm:"size:20;not null"`
		Key         string     `gorm:"size:200;not null;uniqueIndex"`
		RunAt       time.Time  `gorm:"not null;index:idx_job_due,priority:2"`
		DoneAt      *time.Time `gorm:"index:idx_job_due,priority:1"`
		Attempts    int        `gorm:"not null"`
		LastError   string     `gorm:"size:1000;not null"`
		LockedUntil *time.Time
		Claim       string `gorm:"size:32;not null"`
		CreatedAt   time.Time
	}
	type invitation struct {
		ID uint `gorm:"primaryKey"`
	}
	// delivery is the status of one email to one invitee.
	type delivery struct {
		InvitationID uint        `gorm:"primaryKey;autoIncrement:false"`
		Invitation   *invitation `gorm:"constraint:OnDelete:CASCADE"`
		Kind         string      `gorm:"primaryKey;size:20"`
		RoundID      uint        `gorm:"not null;index"`
		Status       string      `gorm:"size:20;not null"`
		Reason       string      `gorm:"size:1000;not null"`
		Attempts     int         `gorm:"not null"`
		UpdatedAt    time.Time
	}
	type mailTemplate struct {
		Kind      string `gorm:"primaryKey;size:20"`
		Subject   string `gorm:"size:300;not null"`
		Text      string `gorm:"size:20000;not null"`
		HTML      string `gorm:"size:50000;not null"`
		UpdatedAt time.Time
	}
	return &gormigrate.Migration{
		ID: "0007_delivery",
		Migrate: func(tx *gorm.DB) error {
			if err := tx.Migrator().CreateTable(&job{}); err != nil {
				return err
			}
			if err := tx.Migrator().CreateTable(&delivery{}); err != nil {
				return err
			}
			return tx.Migrator().CreateTable(&mailTemplate{})
		},
	}
}
