package migrations

import (
	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// m0003OneOpenRound lets the database itself refuse a second open round of
// one program, whatever the isolation level.
func m0003OneOpenRound() *gormigrate.Migration {
	return &gormigrate.Migration{
		ID: "0003_one_open_round",
		Migrate: func(tx *gorm.DB) error {
			return tx.Exec("CREATE UNIQUE INDEX idx_round_one_open ON rounds (program_id) WHERE status = 'open'").Error
		},
	}
}
