package migrations

import (
	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// m0009ReleasePending adds the mark a round carries from the commit that
// closes it to the commit that writes its release, so a release that a
// crash or an error left undone is completed later instead of being lost.
// Closed rounds without a release (closed by a process that stopped before
// releasing them) are marked, so their results are released too.
func m0009ReleasePending() *gormigrate.Migration {
	type round struct {
		ReleasePending bool `gorm:"not null;default:false"`
	}
	return &gormigrate.Migration{
		ID: "0009_release_pending",
		Migrate: func(tx *gorm.DB) error {
			if err := tx.Migrator().AddColumn(&round{}, "ReleasePending"); err != nil {
				return err
			}
			return tx.Exec("UPDATE rounds SET release_pending = ? WHERE status = ? "+
				"AND NOT EXISTS (SELECT 1 FROM releases WHERE releases.round_id = rounds.id)", true, "closed").Error
		},
	}
}
