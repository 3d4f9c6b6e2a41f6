package migrations

import (
	"time"

	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// m0002Releases creates the release tables owned by the reports package:
// frozen, suppressed aggregates of closed rounds. Reports read only these.
func m0002Releases() *gormigrate.Migration {
	type round struct {
		ID uint `gorm:"primaryKey"`
	}
	type release struct {
		RoundID      uint   `gorm:"primaryKey;autoIncrement:false"`
		Round        *round `gorm:"constraint:OnDelete:CASCADE"`
		MinGroupSize int    `gorm:"not null"`
		Respondents  int    `gorm:"not null"`
		Invited      int    `gorm:"not null"`
		CreatedAt    time.Time
	}
	type releaseUnit struct {
		RoundID        uint   `gorm:"primaryKey;autoIncrement:false"`
		Round          *round `gorm:"constraint:OnDelete:CASCADE"`
		UnitID         uint   `gorm:"primaryKey;autoIncrement:false;index"`
		ParentUnitID   *uint
		Name           string `gorm:"size:200;not null"`
		Path           string `gorm:"size:2000;not null"`
		Invited        int    `gorm:"not null"`
		Respondents    int    `gorm:"not null"`
		Published      bool   `gorm:"not null"`
		ShowInvited    bool   `gorm:"not null"`
		CommentsShown  bool   `gorm:"not null"`
		OwnRespondents int    `gorm:"not null"`
		Merged         string `gorm:"size:2000;not null"`
	}
	type releaseItem struct {
		RoundID    uint   `gorm:"primaryKey;autoIncrement:false"`
		Round      *round `gorm:"constraint:OnDelete:CASCADE"`
		UnitID     uint   `gorm:"primaryKey;autoIncrement:false"`
		QuestionID uint   `gorm:"primaryKey;autoIncrement:false"`
		Position   int    `gorm:"not null"`
		Dimension  string `gorm:"size:20;not null"`
		Facet      string `gorm:"size:40;not null"`
		Text       string `gorm:"size:300;not null"`
		N          int    `gorm:"not null"`
		Sum        int    `gorm:"not null"`
		SumSq      int    `gorm:"not null"`
		H1         int    `gorm:"not null"`
		H2         int    `gorm:"not null"`
		H3         int    `gorm:"not null"`
		H4         int    `gorm:"not null"`
		H5         int    `gorm:"not null"`
	}
	type releaseDimension struct {
		RoundID   uint   `gorm:"primaryKey;autoIncrement:false"`
		Round     *round `gorm:"constraint:OnDelete:CASCADE"`
		UnitID    uint   `gorm:"primaryKey;autoIncrement:false;index"`
		Dimension string `gorm:"primaryKey;size:20"`
		Items     int    `gorm:"not null"`
		N         int    `gorm:"not null"`
		Sum       int    `gorm:"not null"`
		SumSq     int    `gorm:"not null"`
		Favorable int    `gorm:"not null"`
		Answers   int    `gorm:"not null"`
	}
	type releaseComment struct {
		ID      string `gorm:"primaryKey;size:36"`
		RoundID uint   `gorm:"not null;index:idx_release_comment_round_unit"`
		Round   *round `gorm:"constraint:OnDelete:CASCADE"`
		UnitID  uint   `gorm:"not null;index:idx_release_comment_round_unit"`
		Text    string `gorm:"size:2000;not null"`
		Status  string `gorm:"size:20;not null"`
	}
	return &gormigrate.Migration{
		ID: "0002_releases",
		Migrate: func(tx *gorm.DB) error {
			for _, t := range []any{&release{}, &releaseUnit{}, &releaseItem{}, &releaseDimension{}, &releaseComment{}} {
				if err := tx.Migrator().CreateTable(t); err != nil {
					return err
				}
			}
			return nil
		},
	}
}
