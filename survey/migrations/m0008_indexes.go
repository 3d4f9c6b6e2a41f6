package migrations

import (
	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// m0008Indexes adds the indexes the report path needs at scale: a report
// reads a unit's children in the latest release by parent, not the whole
// release; and every leader request counts active people per team to
// resolve the leader's scope, which (active, team_id) answers from the
// index alone, in team order, without a sort or hash. Both dialects accept
// the statements as written.
func m0008Indexes() *gormigrate.Migration {
	return &gormigrate.Migration{
		ID: "0008_indexes",
		Migrate: func(tx *gorm.DB) error {
			for _, q := range []string{
				"CREATE INDEX idx_release_units_round_parent ON release_units (round_id, parent_unit_id)",
				"CREATE INDEX idx_people_active_team ON people (active, team_id)",
			} {
				if err := tx.Exec(q).Error; err != nil {
					return err
				}
			}
			return nil
		},
	}
}
